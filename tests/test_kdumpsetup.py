"""kdumpsetup from the command line: check verdicts, dry-run plans, JSON, options, test.

Golden files (fixtures/kdumpsetup/golden/) hold the exact check report and
the planned steps of a dry run for every fixture root; regenerate them on
purpose with RESCUEKIT_UPDATE_GOLDEN=1 and review the diff.
"""

import json
import os
import re
import shutil

import pytest

from conftest import fixture_path, run_tool
from scripts import kdumpsetup
from shared import kdump, runner
from shared.runner import RecordingRunner

FIXTURES = fixture_path("kdumpsetup")
GOLDEN = os.path.join(FIXTURES, "golden")
UPDATE = bool(os.environ.get("RESCUEKIT_UPDATE_GOLDEN"))
ROOTS = ["debian12", "ubuntu2204", "ubuntu2404", "rhel7", "rhel8", "rhel9", "fedora40", "sles15", "arch",
         "unknown-void"]
READY = {"ubuntu2204", "rhel7"}


@pytest.fixture(autouse=True)
def no_commands(monkeypatch):
    """Nothing may run a real command; kernelreport summaries are tested on their own."""
    recorder = RecordingRunner()
    monkeypatch.setattr(runner, "run", recorder)
    monkeypatch.setattr(kdump, "_kernelreport_summary", lambda lines: None)
    return recorder


def golden(name, text):
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert text == handle.read(), "output differs from %s (RESCUEKIT_UPDATE_GOLDEN=1 to accept)" % path


# ------------------------------------------------------------ check

@pytest.mark.parametrize("name", ROOTS)
def test_check_verdict_exit_code_and_golden_report(name, capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    code, out, err = run_tool(kdumpsetup, ["--root", name], capsys)
    assert code == (0 if name in READY else 1)
    assert ("verdict: READY" in out) == (name in READY)
    assert all(len(line) <= 80 for line in out.splitlines()), "check output wider than 80 columns"
    golden("%s.check.txt" % name, out)


@pytest.mark.parametrize("name", ROOTS)
def test_check_only_flag_is_the_same_as_check(name, capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    first = run_tool(kdumpsetup, ["check", "--root", name], capsys)
    second = run_tool(kdumpsetup, ["--check-only", "--root", name], capsys)
    assert first == second


def test_check_json_is_one_envelope_with_findings(capsys):
    code, out, err = run_tool(kdumpsetup, ["--root", os.path.join(FIXTURES, "rhel9"), "--json"], capsys)
    assert code == 1
    document = json.loads(out)
    assert document["tool"] == "kdumpsetup" and document["schema"] == 1
    result = document["result"]
    assert result["verdict"] == "NOT READY" and result["ready"] is False
    checks = dict((f["check"], f["severity"]) for f in result["findings"])
    assert checks["kdump.crashkernel.next"] == "critical"
    assert checks["kdump.reserved"] == "critical"
    assert result["facts"]["bootloader"]["stubs"] == ["boot/efi/EFI/redhat/grub.cfg"]
    assert result["facts"]["distro"]["family"] == "rhel"


def test_check_names_exact_fixes(capsys):
    _, out, _ = run_tool(kdumpsetup, ["--root", os.path.join(FIXTURES, "ubuntu2404")], capsys)
    flat = " ".join(out.split())
    assert "GRUB defaults add crashkernel= 2 times" in flat
    assert "fix: regenerate it: update-grub" in flat
    assert "set USE_KDUMP=1 in /etc/default/kdump-tools" in flat
    _, out, _ = run_tool(kdumpsetup, ["--root", os.path.join(FIXTURES, "rhel8")], capsys)
    assert "systemctl enable kdump.service" in out


def test_check_of_a_sosreport(tmp_path, capsys):
    sos = tmp_path / "sosreport-host-2024"
    shutil.copytree(os.path.join(FIXTURES, "rhel9"), str(sos), symlinks=True)
    (sos / "sos_commands/kdump").mkdir(parents=True)
    (sos / "sos_commands/systemd").mkdir(parents=True)
    (sos / "sos_commands/systemd/systemctl_list-units_--all").write_text(
        "  UNIT             LOAD   ACTIVE SUB    DESCRIPTION\n"
        "  kdump.service    loaded failed failed Crash recovery kernel arming\n")
    code, out, _ = run_tool(kdumpsetup, ["--root", str(sos), "--json"], capsys)
    result = json.loads(out)["result"]
    assert result["facts"]["source_kind"] == "sos"
    assert result["facts"]["service_active"] is False
    assert code == 1


def test_rhel9_crashkernel_auto_is_called_unsupported(tmp_path, capsys):
    root = tmp_path / "r"
    shutil.copytree(os.path.join(FIXTURES, "rhel9"), str(root), symlinks=True)
    for entry in (root / "boot/loader/entries").iterdir():
        entry.write_text(entry.read_text().replace("options root=", "options crashkernel=auto root="))
    code, out, _ = run_tool(kdumpsetup, ["--root", str(root)], capsys)
    assert code == 1
    assert "crashkernel=auto is not supported by this kernel" in out


def test_small_box_whose_range_matches_nothing(tmp_path, capsys):
    root = tmp_path / "r"
    shutil.copytree(os.path.join(FIXTURES, "rhel9"), str(root), symlinks=True)
    for entry in (root / "boot/loader/entries").iterdir():
        entry.write_text(entry.read_text().replace("options root=", "options crashkernel=1G-4G:192M root="))
    meminfo = (root / "proc/meminfo").read_text()
    (root / "proc/meminfo").write_text(re.sub(r"MemTotal:\s+\d+", "MemTotal:         901120", meminfo))
    _, out, _ = run_tool(kdumpsetup, ["--root", str(root)], capsys)
    assert "crashkernel=1G-4G:192M reserves nothing with 880M of RAM" in " ".join(out.split())


def test_bad_inputs_become_warnings_not_tracebacks(tmp_path, capsys):
    root = tmp_path / "r"
    shutil.copytree(os.path.join(FIXTURES, "debian12"), str(root), symlinks=True)
    (root / "proc/meminfo").write_bytes(b"\x00\x00garbage\xff\xfe\n")
    (root / "sys/kernel/kexec_crash_size").write_text("not a number\n")
    (root / "etc/default/grub").write_bytes(b'GRUB_CMDLINE_LINUX="unterminated\n\x00\xff')
    code, out, err = run_tool(kdumpsetup, ["--root", str(root)], capsys)
    assert code == 1
    assert "Traceback" not in err and "internal error" not in err
    assert "not evaluated" in out or "N/A" in out


def test_missing_root_is_a_usage_error(capsys):
    code, out, err = run_tool(kdumpsetup, ["--root", "/nonexistent/root"], capsys)
    assert code == 2
    assert err.startswith("kdumpsetup: /nonexistent/root: no such file or directory")


# ------------------------------------------------------------ enable (dry run)

def plan_text(document, root):
    """The planned steps of a dry run with the root path replaced by ROOT."""
    result = document["result"]
    lines = ["crashkernel: %s (%s)" % (" ".join(result["crashkernel"]), result["crashkernel_origin"])]
    if result["crashkernel_kept"]:
        lines.append("kept: %s" % " ".join(result["crashkernel_kept"]))
    for note in result["notes"]:
        lines.append("note: %s" % note)
    for number, step in enumerate(result["steps"], 1):
        lines.append("%d. %s" % (number, step["why"]))
        if step["kind"] == "command":
            lines.append("   $ %s" % step["command"].replace(root, "ROOT"))
            if step["undo"]:
                lines.append("   undo: %s" % "; ".join(u.replace(root, "ROOT") for u in step["undo"]))
        else:
            lines.append(step["diff"].rstrip("\n"))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", [n for n in ROOTS if n != "unknown-void"])
def test_dry_run_changes_nothing_and_matches_golden_plan(name, tmp_path, capsys, no_commands):
    root = str(tmp_path / name)
    shutil.copytree(os.path.join(FIXTURES, name), root, symlinks=True)
    before = sorted(os.walk(root))
    code, out, err = run_tool(kdumpsetup, ["enable", "--root", root, "--json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert document["result"]["mode"] in ("dry-run", "unchanged")
    assert sorted(os.walk(root)) == before
    assert not os.path.exists(os.path.join(root, "var/lib/rescuekit"))
    assert no_commands.calls == []
    golden("%s.enable.txt" % name, plan_text(document, root))
    # The text form shows the same steps, diffs and commands.
    code, text, _ = run_tool(kdumpsetup, ["enable", "--root", root], capsys)
    for step in document["result"]["steps"]:
        if step["kind"] == "file":
            assert step["diff"] in text
    if document["result"]["steps"]:
        assert "nothing was changed (dry run)" in text


def test_enable_refuses_unknown_distribution_with_details(capsys, tmp_path):
    root = str(tmp_path / "void")
    shutil.copytree(os.path.join(FIXTURES, "unknown-void"), root, symlinks=True)
    code, out, _ = run_tool(kdumpsetup, ["enable", "--root", root, "--yes"], capsys)
    assert code == 4
    assert "unsupported distribution -- nothing was changed" in out
    assert "os-release: Void Linux [ID=void]" in out
    assert "add crashkernel=" in out
    assert not os.path.exists(os.path.join(root, "var/lib/rescuekit"))


def test_enable_refuses_a_sosreport(tmp_path, capsys):
    sos = tmp_path / "sosreport-x"
    shutil.copytree(os.path.join(FIXTURES, "rhel9"), str(sos), symlinks=True)
    (sos / "sos_commands").mkdir()
    code, _, err = run_tool(kdumpsetup, ["enable", "--root", str(sos), "--yes"], capsys)
    assert code == 2
    assert "cannot enable a sos" in err


def test_rpm_ostree_is_refused_with_rpm_ostree_commands(tmp_path, capsys):
    root = tmp_path / "r"
    shutil.copytree(os.path.join(FIXTURES, "fedora40"), str(root), symlinks=True)
    (root / "run").mkdir()
    (root / "run/ostree-booted").write_text("")
    code, out, _ = run_tool(kdumpsetup, ["enable", "--root", str(root)], capsys)
    assert code == 4
    assert "rpm-ostree kargs --append-if-missing=crashkernel=" in " ".join(out.split())


# ------------------------------------------------------------ options

@pytest.mark.parametrize("argv, message", [
    (["check", "--crashkernel", "512M"], "--crashkernel only applies to 'enable'"),
    (["undo", "--panic-profile", "forensic"], "--panic-profile only applies to 'enable'"),
    (["enable", "--no-sysrq", "--sysrq-mask", "8"], "contradict"),
    (["check", "--i-understand-this-crashes-the-machine"], "only applies to 'test'"),
    (["enable", "--check-only"], "--check-only cannot be combined with 'enable'"),
])
def test_contradictory_options_are_usage_errors(argv, message, capsys):
    code, out, err = run_tool(kdumpsetup, argv + ["--root", os.path.join(FIXTURES, "rhel9")], capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_sysrq_mask_range_is_checked(capsys):
    code, _, err = run_tool(kdumpsetup, ["enable", "--sysrq-mask", "4096"], capsys)
    assert code == 2 and "0-511" in err


def test_help_shows_examples_and_exit_codes(capsys):
    code, out, _ = run_tool(kdumpsetup, ["--help"], capsys)
    assert code == 0
    assert "kdumpsetup enable --yes" in out and "exit status:" in out
    assert "--i-understand-this-crashes-the-machine" in out


# ------------------------------------------------------------ test action

def test_test_explains_and_never_crashes_without_the_flag(capsys, tmp_path, monkeypatch):
    trigger = tmp_path / "sysrq-trigger"
    trigger.write_text("")
    monkeypatch.setattr(kdumpsetup, "SYSRQ_TRIGGER", str(trigger))
    code, out, _ = run_tool(kdumpsetup, ["test", "--root", os.path.join(FIXTURES, "ubuntu2204")], capsys)
    assert code == 0
    assert "echo c > /proc/sysrq-trigger" in out and "kdump here: READY" in out
    assert trigger.read_text() == ""


def test_test_with_the_flag_refuses_a_root_and_a_box_not_ready(capsys, tmp_path, monkeypatch):
    trigger = tmp_path / "sysrq-trigger"
    trigger.write_text("")
    monkeypatch.setattr(kdumpsetup, "SYSRQ_TRIGGER", str(trigger))
    code, _, err = run_tool(kdumpsetup, ["test", "--root", os.path.join(FIXTURES, "ubuntu2204"),
                                         "--i-understand-this-crashes-the-machine"], capsys)
    assert code == 2 and "--root makes no sense" in err
    assert trigger.read_text() == ""


def test_test_with_the_flag_writes_c_to_the_trigger(capsys, tmp_path, monkeypatch):
    trigger = tmp_path / "sysrq-trigger"
    trigger.write_text("")
    monkeypatch.setattr(kdumpsetup, "SYSRQ_TRIGGER", str(trigger))
    monkeypatch.setattr(os, "sync", lambda: None)
    ready = kdump.gather
    fixture = os.path.join(FIXTURES, "ubuntu2204")

    def gather_ready(source, run=None):
        from shared import sources
        return ready(sources.open_source(fixture), run)
    monkeypatch.setattr(kdump, "gather", gather_ready)
    code, _, err = run_tool(kdumpsetup, ["test", "--i-understand-this-crashes-the-machine"], capsys)
    assert code == 0
    assert trigger.read_text() == "c"
    assert "crashing the kernel now" in err


def test_test_on_a_box_that_is_not_ready_needs_force(capsys, tmp_path, monkeypatch):
    trigger = tmp_path / "sysrq-trigger"
    trigger.write_text("")
    monkeypatch.setattr(kdumpsetup, "SYSRQ_TRIGGER", str(trigger))
    ready = kdump.gather
    fixture = os.path.join(FIXTURES, "rhel9")

    def gather_rhel9(source, run=None):
        from shared import sources
        return ready(sources.open_source(fixture), run)
    monkeypatch.setattr(kdump, "gather", gather_rhel9)
    code, _, err = run_tool(kdumpsetup, ["test", "--i-understand-this-crashes-the-machine"], capsys)
    assert code == 1 and "NOT READY" in err
    assert trigger.read_text() == ""
