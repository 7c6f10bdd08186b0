"""bootlog on a real serial console capture of a kdump: panic, capture kernel, reboot.

fixtures/bootlog/console/qemu-debian12-kdump.log was captured in qemu (see
fixtures/bootlog/README.md): the first kernel loads a crash kernel (kexec -p)
and panics through SysRq, the capture kernel boots with elfcorehdr=, saves the
vmcore with makedumpfile and reboots into the normal kernel, which powers off.
"""

import json
import os

from conftest import fixture_path, run_tool
from scripts import bootlog
from test_bootlog import check_golden

CAPTURE = fixture_path("bootlog", "console", "qemu-debian12-kdump.log")


def boots_of(argv, capsys):
    code, out, _ = run_tool(bootlog, argv + ["--json"], capsys)
    document = json.loads(out)
    return code, document["result"]


def test_panic_then_capture_kernel_then_reboot(capsys):
    code, result = boots_of([CAPTURE], capsys)
    boots = result["boots"]
    assert code == 0
    assert len(boots) == 3
    assert [b["kdump_kernel"] for b in boots] == [False, True, False]
    # 1: the panic, named, and the kexec into the capture kernel
    assert boots[0]["ending"] == "unclean"
    assert boots[0]["cause"]["kind"] == "kdump"
    assert "sysrq triggered crash" in boots[0]["cause"]["title"]
    assert [e["line"] for e in boots[0]["cause"]["evidence"]] == [376, 419]
    # 2: the capture kernel is not a normal boot: it saved the vmcore and rebooted
    assert "elfcorehdr=" in boots[1]["cmdline"]
    assert boots[1]["kdump_dump"] == "saved"
    assert boots[1]["action"] == "reboot"
    assert boots[1]["how"].startswith("kdump capture kernel")
    # 3: back in the normal kernel, powered off cleanly
    assert "elfcorehdr=" not in boots[2]["cmdline"] and "crashkernel=256M" in boots[2]["cmdline"]
    assert (boots[2]["ending"], boots[2]["action"]) == ("clean", "poweroff")
    assert result["summary"]["kdump_captures"] == 1
    assert result["summary"]["loops"] == []
    kdump = [f for f in result["findings"] if f["check"] == "bootlog.kdump"]
    assert [(f["severity"], f["evidence"][-1]["line"]) for f in kdump] == [("info", 818)]


def test_text_output_golden(capsys, monkeypatch):
    monkeypatch.chdir(os.path.dirname(CAPTURE))
    code, out, _ = run_tool(bootlog, [os.path.basename(CAPTURE)], capsys)
    assert "kdump saved, reboot" in out
    assert "1 kdump capture" in out
    assert "is the kdump capture kernel" in out
    check_golden("console-kdump", out)


def test_a_failed_dump_is_called_out(tmp_path, capsys):
    with open(CAPTURE, "rb") as handle:
        data = handle.read()
    # the same capture with the dump target full: makedumpfile fails, the kdump script says so
    data = data.replace(b"The dumpfile is saved to", b"write error: No space left on device; not saved to")
    data = data.replace(b"kdump: saving vmcore complete", b"kdump: saving vmcore failed")
    path = str(tmp_path / "console.log")
    with open(path, "wb") as handle:
        handle.write(data)
    _, result = boots_of([path], capsys)
    assert result["boots"][1]["kdump_dump"] == "failed"
    kdump = [f for f in result["findings"] if f["check"] == "bootlog.kdump"]
    assert kdump[0]["severity"] == "warning" and "FAILED" in kdump[0]["title"]
    code, out, _ = run_tool(bootlog, [path], capsys)
    assert "kdump FAILED, reboot" in out
    assert "saving the vmcore FAILED" in out


def test_capture_kernel_that_never_finished(tmp_path, capsys):
    with open(CAPTURE, "rb") as handle:
        lines = handle.read().split(b"\n")
    # cut the capture while makedumpfile was still copying: no reboot, no next boot
    cut = next(i for i, line in enumerate(lines) if b"kdump: saving vmcore\r" in line or
               line.endswith(b"kdump: saving vmcore"))
    path = str(tmp_path / "console.log")
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines[:cut + 1]) + b"\n")
    _, result = boots_of([path], capsys)
    boots = result["boots"]
    assert len(boots) == 2
    assert boots[1]["kdump_kernel"] is True and boots[1]["kdump_dump"] is None
    assert boots[1]["ending"] == "unknown"
