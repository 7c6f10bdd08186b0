"""bootlog on real-format fixtures: exact boot counts, how each boot ended, and why.

Each fixture is copied to a temporary folder and given the file times listed
in fixtures/bootlog/MTIMES (year-less syslog stamps take their year from the
mtime, and git does not keep mtimes); TZ is UTC so zone-less stamps read the
same everywhere.  Golden text outputs live in fixtures/bootlog/golden/;
regenerate them on purpose with RESCUEKIT_UPDATE_GOLDEN=1 and review the diff.
"""

import json
import os
import shutil

import pytest

from conftest import fixture_path, run_tool
from scripts import bootlog

BASE = fixture_path("bootlog")
GOLDEN = os.path.join(BASE, "golden")


def mtimes():
    table = {}
    with open(os.path.join(BASE, "MTIMES")) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                path, stamp = line.split()
                table[path] = int(stamp)
    return table


@pytest.fixture
def case(tmp_path, utc):
    """Copy fixtures/bootlog/<name> to tmp and set its mtimes; returns the copy's path."""
    def make(name):
        target = str(tmp_path / name)
        shutil.copytree(os.path.join(BASE, name), target)
        for path, stamp in mtimes().items():
            if path.startswith(name + "/"):
                os.utime(os.path.join(str(tmp_path), path), (stamp, stamp))
        return target
    return make


def result_of(argv, capsys):
    code, out, err = run_tool(bootlog, argv + ["--json", "--utc"], capsys)
    document = json.loads(out)
    return code, document


def endings(document):
    return [b["ending"] for b in document["result"]["boots"]]


def check_golden(name, text):
    path = os.path.join(GOLDEN, name + ".txt")
    if os.environ.get("RESCUEKIT_UPDATE_GOLDEN"):
        if not os.path.isdir(GOLDEN):
            os.makedirs(GOLDEN)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert text == handle.read(), "output differs from %s (RESCUEKIT_UPDATE_GOLDEN=1 to regenerate)" % path


# ------------------------------------------------------------------ RHEL 8: rotated rsyslog files

def test_rhel_rotated_messages_four_boots(case, capsys):
    root = case("rhel8")
    code, doc = result_of(["--root", root, "--no-journal"], capsys)
    assert code == 0
    boots = doc["result"]["boots"]
    assert len(boots) == 4
    assert endings(doc) == ["clean", "unclean", "clean", "unknown"]
    assert [b["action"] for b in boots[:3]] == ["reboot", None, "poweroff"]
    assert [b["start"] for b in boots] == ["2024-05-20T09:14:03Z", "2024-05-27T03:02:31Z",
                                           "2024-05-30T14:31:08Z", "2024-06-05T08:00:44Z"]
    assert all(b["kernel"] == "4.18.0-513.5.1.el8_9.x86_64" for b in boots)
    # the boot that crossed two rotations ended in the gzipped one
    assert boots[0]["evidence"]["start"]["origin"] == "var/log/messages-20240526"
    assert boots[0]["evidence"]["end"][-1]["origin"] == "var/log/messages-20240602.gz"


def test_rhel_unclean_boot_names_the_lockup_and_the_next_boot_corroborates(case, capsys):
    root = case("rhel8")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    second = doc["result"]["boots"][1]
    assert second["cause"]["kind"] in ("soft-lockup", "soft lockup")
    assert "soft lockup" in second["cause"]["title"]
    assert second["recovery_next_boot"], "XFS recovery in boot 3 should corroborate the unclean end"
    assert "recovery" in second["recovery_next_boot"][0]["excerpt"]
    assert second["end"] == "2024-05-30T14:21:35Z"


def test_rhel_logger_restart_and_hup_are_not_boots(case, capsys):
    root = case("rhel8")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    first = doc["result"]["boots"][0]
    assert first["logger_restarts"] >= 1
    assert doc["result"]["summary"]["boots"] == 4


def test_rhel_problems_startup_time_and_security_agent(case, capsys):
    root = case("rhel8")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    boots = doc["result"]["boots"]
    assert boots[0]["target_s"] == pytest.approx(17.924)
    problems = boots[2]["problems"]
    assert [p["kind"] for p in problems] == ["security-agent"]
    assert "CrowdStrike Falcon Sensor" in problems[0]["title"]
    assert not boots[0]["problems"]


def test_rhel_text_golden(case, capsys):
    root = case("rhel8")
    code, out, err = run_tool(bootlog, ["--root", root, "--no-journal", "--utc"], capsys)
    assert code == 0
    assert "reading %s" % root in err
    assert all(len(line) <= 80 for line in out.splitlines())
    check_golden("rhel8", out)


# ------------------------------------------------------------------ Debian: syslog + kern.log, one boot each

def test_debian_syslog_and_kern_log_are_not_double_counted(case, capsys):
    root = case("debian11")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    boots = doc["result"]["boots"]
    assert len(boots) == 3
    assert all(set(b["inputs"]) == {"var/log/syslog*", "var/log/kern.log*"} for b in boots)
    assert endings(doc) == ["clean", "unclean", "unknown"]
    # rsyslog read the ring buffer six seconds after the boot (15:52:40) and stamped the
    # kernel lines 15:52:46: the start is taken from the monotonic stamps instead
    start = boots[2]["start_epoch"]
    assert 1709653960 <= start < 1709653966 - 2


def test_debian_oom_storm_and_ext4_recovery(case, capsys):
    root = case("debian11")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    second, third = doc["result"]["boots"][1:]
    assert second["cause"]["kind"] == "out of memory"
    assert second["cause"]["title"].startswith("OOM storm")
    assert any("recovery complete" in e["excerpt"] or "orphan" in e["excerpt"]
               for e in second["recovery_next_boot"])
    assert [p["kind"] for p in third["problems"]] == ["security-agent"]
    assert "AppArmor" in third["problems"][0]["title"]


def test_debian_text_golden(case, capsys):
    root = case("debian11")
    code, out, _ = run_tool(bootlog, ["--root", root, "--no-journal", "--utc"], capsys)
    assert code == 0
    check_golden("debian11", out)


# ------------------------------------------------------------------ SUSE: ISO stamps with zone

def test_suse_iso_stamps_hypervisor_and_power_button(case, capsys):
    root = case("sles15")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    boots = doc["result"]["boots"]
    assert len(boots) == 3
    assert endings(doc) == ["clean", "unclean", "unknown"]
    assert boots[0]["start_epoch"] == pytest.approx(1710148502.123, abs=0.01)   # +01:00 read right
    assert [i["kind"] for i in boots[0]["initiators"]] == ["hypervisor request"]
    assert boots[1]["cause"]["kind"] == "power button"
    assert boots[1]["how"] == "shutdown began, did not finish"


def test_suse_clock_stepped_back_keeps_the_boots(case, capsys):
    root = case("sles15")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    second = doc["result"]["boots"][1]
    assert second["uptime_s"] > 4 * 3600       # the boot ran five hours despite the step back


# ------------------------------------------------------------------ journal text export in a sosreport

def test_sos_journal_export_with_reboot_separators_and_initrd_switch(case, capsys):
    root = case("sos-rhel9")
    code, doc = result_of(["--root", root], capsys)
    assert code == 0
    boots = doc["result"]["boots"]
    assert len(boots) == 3, "the initrd -> root switch two minutes in is not a shutdown or a boot"
    assert endings(doc) == ["clean", "clean", "unknown"]
    assert [b["action"] for b in boots[:2]] == ["reboot", "reboot"]
    assert boots[0]["target_s"] == pytest.approx(145.13)
    assert [p["kind"] for p in boots[1]["problems"]] == ["emergency"]
    assert len(boots[1]["problems"][0]["evidence"]) == 2      # Emergency Shell + Emergency Mode
    assert boots[0]["start"] == "2024-04-08T05:59:58Z"


# ------------------------------------------------------------------ journal JSON export

def test_journal_json_export(utc, capsys):
    code, doc = result_of([os.path.join(BASE, "journal-json", "journal.json")], capsys)
    boots = doc["result"]["boots"]
    assert len(boots) == 3
    assert endings(doc) == ["unclean", "clean", "unknown"]
    assert boots[0]["boot_ids"] == ["6f1d7c2b9e5a4a0b8c3d2e1f0a9b8c7d"]
    assert "NULL pointer dereference" in boots[0]["cause"]["title"]
    assert boots[1]["action"] == "poweroff"
    assert [i["kind"] for i in boots[1]["initiators"]] == ["command"]
    assert boots[2]["target_s"] == pytest.approx(9.003)


# ------------------------------------------------------------------ serial console: real qemu capture

CONSOLE = os.path.join(BASE, "console", "qemu-debian12-4boots.log")


def test_serial_console_capture_several_boots_no_wall_clock(utc, capsys):
    code, doc = result_of(["--serial-console-log", CONSOLE], capsys)
    boots = doc["result"]["boots"]
    assert len(boots) == 4
    assert all(b["clock"] == "monotonic" and b["start"] is None and b["end"] is None for b in boots)
    assert endings(doc) == ["clean", "unclean", "unclean", "clean"]
    assert [b["action"] for b in boots] == ["reboot", None, None, "poweroff"]
    assert boots[1]["cause"]["kind"] == "panic"
    assert "sysrq triggered crash" in boots[1]["cause"]["title"]
    assert boots[2]["cause"]["kind"] == "sysrq"
    assert [b["evidence"]["start"]["line"] for b in boots] == [1, 380, 794, 1168]
    assert doc["result"]["summary"]["monotonic_only"] is True


def test_serial_console_is_not_merged_by_kernel_build_date(utc, capsys, monkeypatch):
    # The public script of this kind dates boots by the kernel build date in the
    # banner and merges boots of one kernel; here every boot stays its own.
    monkeypatch.chdir(os.path.dirname(CONSOLE))
    code, out, _ = run_tool(bootlog, [os.path.basename(CONSOLE), "--utc"], capsys)
    assert "2026-11-16" not in out.split("summary:")[0]
    assert out.count("(no clock)") == 4
    assert "only monotonic time" in out
    check_golden("console", out)


# ------------------------------------------------------------------ year rollover, loops

def test_year_rollover_dec_to_jan(case, capsys):
    root = case("rollover")
    _, doc = result_of(["--root", root, "--no-journal"], capsys)
    boots = doc["result"]["boots"]
    assert [b["start"][:16] for b in boots] == ["2024-12-30T08:00", "2024-12-31T23:58", "2025-01-01T00:03"]
    assert endings(doc) == ["clean", "clean", "unknown"]
    assert boots[1]["uptime_s"] < 600


def test_reboot_loop_stays_separate_and_is_called_out(case, capsys):
    root = case("loop")
    code, doc = result_of(["--root", root, "--no-journal", "--fail-on", "loop"], capsys)
    assert code == 1
    boots = doc["result"]["boots"]
    assert len(boots) == 6
    assert [b["loop"] for b in boots] == [True] * 5 + [False]
    assert endings(doc) == ["unclean"] * 5 + ["unknown"]
    assert doc["result"]["summary"]["loops"][0]["first"] == 1
    assert doc["result"]["summary"]["loops"][0]["last"] == 5
    checks = [f["check"] for f in doc["result"]["findings"]]
    assert "bootlog.loop" in checks


def test_loop_text_golden(case, capsys):
    root = case("loop")
    code, out, _ = run_tool(bootlog, ["--root", root, "--no-journal", "--utc"], capsys)
    assert "boot loop: #1-#5" in out
    check_golden("loop", out)


# ------------------------------------------------------------------ interface

def test_fail_on_unclean_returns_findings_code(case, capsys):
    root = case("rhel8")
    code, _, _ = run_tool(bootlog, ["--root", root, "--no-journal", "--fail-on", "unclean"], capsys)
    assert code == 1
    root = case("rollover")
    code, _, _ = run_tool(bootlog, ["--root", root, "--no-journal", "--fail-on", "unclean"], capsys)
    assert code == 0


def test_fail_on_rejects_unknown_values(capsys):
    code, _, err = run_tool(bootlog, ["--fail-on", "everything", CONSOLE], capsys)
    assert code == 2
    assert "unknown --fail-on value" in err


def test_last_since_until(case, capsys):
    root = case("rhel8")
    _, doc = result_of(["--root", root, "--no-journal", "--last", "2"], capsys)
    assert [b["number"] for b in doc["result"]["boots"]] == [3, 4]
    assert doc["result"]["summary"]["boots_total"] == 4
    _, doc = result_of(["--root", root, "--no-journal", "--since", "2024-05-28", "--until", "2024-06-01"],
                       capsys)
    assert [b["number"] for b in doc["result"]["boots"]] == [2, 3]


def test_log_dir_and_current_directory_like_linuxrebootcheck(case, capsys, monkeypatch):
    root = case("rhel8")
    logdir = os.path.join(root, "var", "log")
    code, doc = result_of(["--log-dir", logdir], capsys)
    assert len(doc["result"]["boots"]) == 4
    monkeypatch.chdir(logdir)
    code, out, err = run_tool(bootlog, ["--utc"], capsys)
    assert "the current directory" in err and "looks like a log directory" in err
    assert "4 boots" in out


def test_json_is_only_the_envelope(case, capsys):
    root = case("sles15")
    code, out, err = run_tool(bootlog, ["--root", root, "--json", "--no-journal"], capsys)
    document = json.loads(out)
    assert set(document) == {"tool", "version", "schema", "host", "generated", "source", "warnings", "result"}
    assert document["tool"] == "bootlog"
    result = document["result"]
    assert set(result) == {"boots", "summary", "inputs", "cause_engine", "window", "findings"}
    boot = result["boots"][0]
    for key in ("number", "clock", "start", "end", "uptime_s", "kernel", "ending", "action", "how", "cause",
                "initiators", "recovery_next_boot", "target_s", "problems", "loop", "inputs", "evidence"):
        assert key in boot
    assert err == ""


def test_help_has_examples(capsys):
    code, out, _ = run_tool(bootlog, ["--help"], capsys)
    assert code == 0
    assert "--serial-console-log" in out and "--log-dir" in out and "examples:" in out


def test_no_logs_is_one_line_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_tool(bootlog, ["--log-dir", str(empty)], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("bootlog: no logs found")
    assert "Traceback" not in err


def test_missing_file_is_usage_error(tmp_path, capsys):
    code, _, err = run_tool(bootlog, [str(tmp_path / "nope.log")], capsys)
    assert code == 2
    assert "no such file" in err


def test_archived_root_is_read_in_place(case, capsys, tmp_path):
    import tarfile
    root = case("rhel8")
    archive = str(tmp_path / "rhel8.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="rhel8")
    _, doc = result_of(["--root", archive, "--no-journal"], capsys)
    assert endings(doc) == ["clean", "unclean", "clean", "unknown"]
    assert doc["result"]["boots"][1]["evidence"]["start"]["origin"] == "var/log/messages-20240602.gz"
