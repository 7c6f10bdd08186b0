"""The boot-timeline engine below bootlog: wtmp, journalctl, merging, markers, bad input."""

import gzip
import io
import json
import os
import shutil
import time

import pytest

from conftest import fixture_path, run_tool
from scripts import bootlog
from shared import boot_journal, boot_markers, boot_wtmp, boottimeline, findings, runner, sources, textio

BASE = fixture_path("bootlog")


def epoch(text):
    import calendar
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def write_wtmp(path, records):
    with open(path, "wb") as handle:
        for record in records:
            handle.write(record)


# ------------------------------------------------------------------ wtmp

def wtmp_three_boots():
    k1, k2 = "5.14.0-362.8.1.el9_3.x86_64", "5.14.0-427.13.1.el9_4.x86_64"
    return [
        boot_wtmp.boot_record(epoch("2024-04-01 08:00:05"), k1),
        boot_wtmp.runlevel_record(epoch("2024-04-01 08:00:20"), "3", "N", k1),
        boot_wtmp.login_record(epoch("2024-04-01 09:00:00"), "admin"),
        boot_wtmp.shutdown_record(epoch("2024-04-02 10:00:00"), k1),
        boot_wtmp.boot_record(epoch("2024-04-02 10:01:10"), k2),
        boot_wtmp.login_record(epoch("2024-04-02 11:00:00"), "admin"),
        # no shutdown record: the boot ended without one
        boot_wtmp.boot_record(epoch("2024-04-05 03:33:00"), k2),
    ]


def test_wtmp_records_parse_with_kernel_and_types(tmp_path):
    path = str(tmp_path / "wtmp")
    write_wtmp(path, wtmp_three_boots())
    assert os.path.getsize(path) == 7 * 384
    with open(path, "rb") as handle:
        entries = list(boot_wtmp.parse(handle))
    assert [e.kind for e in entries] == ["boot", "runlevel", "shutdown", "boot", "boot"]
    assert entries[0].kernel == "5.14.0-362.8.1.el9_3.x86_64"
    assert entries[1].runlevel == "3"
    assert entries[3].index == 5


def test_wtmp_big_endian_and_partial_record(tmp_path):
    data = b"".join(boot_wtmp.pack(boot_wtmp.BOOT_TIME, epoch("2024-01-01 00:00:00") + n * 3600,
                                   user="reboot", host="6.1.0", layout=boot_wtmp.BIG) for n in range(3))
    warnings = []
    entries = list(boot_wtmp.parse(io.BytesIO(data + b"\x01\x02\x03"), warn=warnings.append))
    assert [e.kind for e in entries] == ["boot"] * 3
    assert any("partial record" in w for w in warnings)


def test_wtmp_alone_gives_boots_and_clean_or_unclean_ends(tmp_path, capsys, utc):
    logdir = tmp_path / "log"
    logdir.mkdir()
    write_wtmp(str(logdir / "wtmp"), wtmp_three_boots())
    code, out, _ = run_tool(bootlog, ["--log-dir", str(logdir), "--json", "--utc"], capsys)
    boots = json.loads(out)["result"]["boots"]
    assert len(boots) == 3
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert [b["kernel"] for b in boots] == ["5.14.0-362.8.1.el9_3.x86_64", "5.14.0-427.13.1.el9_4.x86_64",
                                            "5.14.0-427.13.1.el9_4.x86_64"]
    assert boots[1]["cause"]["kind"] == "none"
    assert boots[0]["evidence"]["end"][0]["origin"] == "wtmp"


def test_wtmp_and_syslog_of_the_same_boots_are_merged(tmp_path, capsys, utc):
    root = str(tmp_path / "rhel8")
    shutil.copytree(os.path.join(BASE, "rhel8"), root)
    for line in open(os.path.join(BASE, "MTIMES")):
        if line.startswith("rhel8/"):
            path, stamp = line.split()
            os.utime(os.path.join(str(tmp_path), path), (int(stamp), int(stamp)))
    kernel = "4.18.0-513.5.1.el8_9.x86_64"
    # systemd writes the boot record a few seconds after the kernel started
    write_wtmp(os.path.join(root, "var", "log", "wtmp"), [
        boot_wtmp.boot_record(epoch("2024-05-20 09:14:15"), kernel),
        boot_wtmp.shutdown_record(epoch("2024-05-27 03:00:14"), kernel),
        boot_wtmp.boot_record(epoch("2024-05-27 03:02:44"), kernel),
        boot_wtmp.boot_record(epoch("2024-05-30 14:31:20"), kernel),
        boot_wtmp.shutdown_record(epoch("2024-06-04 18:00:03"), kernel),
        boot_wtmp.boot_record(epoch("2024-06-05 08:00:57"), kernel),
    ])
    code, out, _ = run_tool(bootlog, ["--root", root, "--json", "--utc", "--no-journal"], capsys)
    boots = json.loads(out)["result"]["boots"]
    assert len(boots) == 4
    assert all(set(b["inputs"]) == {"var/log/messages*", "wtmp"} for b in boots)
    assert [b["ending"] for b in boots] == ["clean", "unclean", "clean", "unknown"]


# ------------------------------------------------------------------ journalctl

OLD_LIST = """\
-2 6f1d7c2b9e5a4a0b8c3d2e1f0a9b8c7d Thu 2024-05-02 06:30:11 UTC\u2014Fri 2024-05-03 12:30:11 UTC
-1 0b9a8c7d6e5f40312a1b2c3d4e5f6a7b Fri 2024-05-03 12:41:37 UTC\u2014Fri 2024-05-03 14:41:39 UTC
 0 d41c7a3e2b9f4c8a8e0f1a2b3c4d5e6f Mon 2024-05-06 08:05:00 UTC\u2014Mon 2024-05-06 08:20:00 UTC
"""

NEW_LIST = """\
IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY
 -2 6f1d7c2b9e5a4a0b8c3d2e1f0a9b8c7d Thu 2024-05-02 06:30:11 UTC Fri 2024-05-03 12:30:11 UTC
 -1 0b9a8c7d6e5f40312a1b2c3d4e5f6a7b Fri 2024-05-03 12:41:37 UTC Fri 2024-05-03 14:41:39 UTC
  0 d41c7a3e2b9f4c8a8e0f1a2b3c4d5e6f Mon 2024-05-06 08:05:00 UTC Mon 2024-05-06 08:20:00 UTC
"""


@pytest.mark.parametrize("text", [OLD_LIST, NEW_LIST], ids=["before-251", "header-line"])
def test_list_boots_both_shapes(text):
    rows = boot_journal.parse_list_boots(text)
    assert [r.index for r in rows] == [-2, -1, 0]
    assert rows[0].boot_id == "6f1d7c2b9e5a4a0b8c3d2e1f0a9b8c7d"
    assert rows[0].first == epoch("2024-05-02 06:30:11")
    assert rows[2].last == epoch("2024-05-06 08:20:00")


class FakeJournalctl(object):
    """Answers journalctl calls from the JSON fixture, like the binary journal would."""

    def __init__(self, listing):
        self.listing = listing
        self.calls = []
        with open(os.path.join(BASE, "journal-json", "journal.json")) as handle:
            self.entries = [json.loads(line) for line in handle if line.strip()]

    def __call__(self, argv, timeout=30, cap=None, env=None, **kwargs):
        self.calls.append(list(argv))
        assert env and env.get("TZ") == "UTC"
        if "--list-boots" in argv:
            return runner.CommandResult(argv, 0, self.listing, "", 0.0, "ok")
        boot = argv[argv.index("-b") + 1]
        chosen = [e for e in self.entries if e["_BOOT_ID"] == boot]
        if "--until" in argv:
            until = float(argv[argv.index("--until") + 1][1:])
            chosen = [e for e in chosen if int(e["__REALTIME_TIMESTAMP"]) / 1e6 <= until]
        if "-n" in argv:
            chosen = chosen[-int(argv[argv.index("-n") + 1]):]
        text = "".join(json.dumps(e) + "\n" for e in chosen)
        return runner.CommandResult(argv, 0, text, "", 0.0, "ok")


def test_binary_journal_through_journalctl(tmp_path, monkeypatch, capsys, utc):
    journal = tmp_path / "var" / "log" / "journal" / "3b1f0c2d4e5a69788796a5b4c3d2e1f0"
    journal.mkdir(parents=True)
    (journal / "system.journal").write_bytes(b"LPKSHHRH")
    monkeypatch.setattr(runner, "which", lambda name, path=None: "/usr/bin/" + name)
    fake = FakeJournalctl(NEW_LIST)
    source = sources.open_source(str(tmp_path))
    timeline = boottimeline.timeline(source, runner_fn=fake)
    assert [b.ending for b in timeline.boots] == ["unclean", "clean", "unknown"]
    assert [sorted(b.boot_ids) for b in timeline.boots][0] == ["6f1d7c2b9e5a4a0b8c3d2e1f0a9b8c7d"]
    assert timeline.boots[0].start == epoch("2024-05-02 06:30:11")
    assert fake.calls[0][-1] == "--list-boots"
    assert "-D" in fake.calls[0] and fake.calls[0][fake.calls[0].index("-D") + 1].endswith("var/log/journal")
    assert len(fake.calls) == 1 + 2 * 3        # list-boots, then a head and a tail per boot
    # --last 1 asks journalctl about the last boots only
    fake = FakeJournalctl(OLD_LIST)
    timeline = boottimeline.timeline(sources.open_source(str(tmp_path)), runner_fn=fake, last=1)
    assert len(timeline.boots) == 1 and timeline.boots[0].ending == "unknown"
    assert len(fake.calls) < 1 + 2 * 3


def test_journalctl_missing_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    journal = tmp_path / "var" / "log" / "journal" / "x"
    journal.mkdir(parents=True)
    (journal / "system.journal").write_bytes(b"LPKSHHRH")
    monkeypatch.setattr(runner, "which", lambda name, path=None: None)
    source = sources.open_source(str(tmp_path))
    timeline = boottimeline.timeline(source)
    assert timeline.boots == []
    assert any("journalctl is not available" in w for w in source.warnings)


# ------------------------------------------------------------------ markers

@pytest.mark.parametrize("message,program,expected", [
    ("Reached target Shutdown.", "systemd", ("end", "shutdown")),
    ("Reached target System Reboot.", "systemd", ("end", "reboot")),
    ("Reached target Final Step.", "systemd", ("end", "shutdown")),
    ("Shutting down.", "systemd", ("end", "shutdown")),
    ("reboot: Restarting system", "kernel", ("end", "reboot")),
    ("reboot: Power down", "kernel", ("end", "poweroff")),
    ("Switching to runlevel: 6", "init", ("end", "reboot")),
    ("shutting down for system halt", "shutdown", ("end", "poweroff")),
    ("System is rebooting.", "systemd-logind", ("intent", "reboot")),
    ("Power key pressed short.", "systemd-logind", ("initiator", "power button")),
    ("hv_utils: Shutdown request received - graceful shutdown initiated", "kernel",
     ("initiator", "hypervisor request")),
    ("The audit daemon is now halting the system", "auditd", ("initiator", "auditd halt")),
    ("EXT4-fs (sda1): recovery complete", "kernel", ("recovery", "filesystem recovery")),
    ("XFS (dm-0): Starting recovery (logdev: internal)", "kernel", ("recovery", "filesystem recovery")),
    ("Failed to start CrowdStrike Falcon Sensor.", "systemd", ("problem", "failed-unit")),
    ("Reached target Emergency Mode.", "systemd", ("problem", "emergency")),
    ("mount: /: cannot remount /dev/mapper/rhel-root read-write, is write-protected.", "systemd-remount-fs",
     ("problem", "read-only-root")),
    ("/dev/sda2: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.", "systemd-fsck", ("problem", "fsck-repair")),
    ("Failed to load SELinux policy. Freezing.", "systemd", ("problem", "security-policy")),
])
def test_classify_real_message_shapes(message, program, expected):
    found = boot_markers.classify(message, program)
    assert found is not None and found[:2] == expected


@pytest.mark.parametrize("message,program", [
    ("Stopped target Initrd Default Target.", "systemd"),      # the initrd -> root switch
    ("Journal stopped", "systemd-journald"),
    ("Switching root.", "systemd"),
    ("cupsd shutdown succeeded", "cups"),                        # a service stopping
    ("Stopped target Switch Root.", "systemd"),
    ("Started Session 4 of user root.", "systemd"),
])
def test_not_shutdowns(message, program):
    found = boot_markers.classify(message, program)
    assert found is None or found[0] not in ("end", "intent")


def test_logger_events_only_for_the_logger():
    start = ('[origin software="rsyslogd" swVersion="8.2102.0" x-pid="402" x-info="https://www.rsyslog.com"]'
             ' start')
    assert boot_markers.logger_event(start, "rsyslogd") == "start"
    assert boot_markers.logger_event("syslogd 1.4.1: restart.", "syslogd") == "start"
    assert boot_markers.logger_event("exiting on signal 15", "syslogd") == "stop"
    assert boot_markers.logger_event("ntpd exiting on signal 15", "ntpd") is None
    assert boot_markers.logger_event("exiting on signal 15", "ntpd") is None


def test_systemd_durations():
    assert boot_markers.parse_systemd_duration("2min 25.130s") == pytest.approx(145.13)
    assert boot_markers.parse_systemd_duration("712ms") == pytest.approx(0.712)
    assert boot_markers.parse_systemd_duration("nothing") is None


def test_grep_pattern_is_a_valid_ere_with_the_same_markers(tmp_path):
    grep = runner.which("grep")
    if not grep:
        pytest.skip("grep not installed")
    sample = tmp_path / "s.log"
    lines = ["Jun  9 06:06:20 h kernel: [    0.000000] Linux version 6.1.0 (x)",
             "Jun  9 06:06:20 h kernel: Command line: ro quiet",
             "-- Reboot --",
             'Jun  9 06:06:21 h rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="1" '
             'x-info="https://www.rsyslog.com"] start',
             "Jun  9 06:06:22 h sshd[1]: Accepted publickey for admin",
             "Jun  9 06:06:23 h ntpd[2]: ntpd exiting on signal 15"]
    sample.write_text("\n".join(lines) + "\n")
    result = runner.run([grep, "-E", "-c", boot_markers.grep_pattern(), str(sample)])
    regex = boot_markers.scan_regex()
    ours = sum(1 for line in lines if regex.search(line.encode()))
    assert int(result.stdout) == ours == 2      # the banner and the logger start


# ------------------------------------------------------------------ the prefilter

def test_match_scanner_anchors_find_the_same_lines_with_offsets():
    lines = []
    for n in range(4000):
        lines.append("Jun  9 06:%02d:%02d h prog[%d]: ordinary line %d" % (n // 60 % 60, n % 60, n, n))
        if n % 997 == 0:
            lines.append("Jun  9 06:00:00 h kernel: [    0.%06d] Linux version 6.1.%d (b)\r" % (n, n))
        if n % 1503 == 0:
            lines.append("-- Reboot --")
    data = ("\n".join(lines) + "\n").encode()
    regex = boot_markers.scan_regex("journal")
    plain = list(textio.MatchScanner(io.BytesIO(data), regex))
    scanner = textio.MatchScanner(io.BytesIO(data), regex, anchors=boot_markers.JOURNAL_ANCHORS)
    scanner.CHUNK = 4096       # many chunk boundaries
    anchored = []
    for lineno, text in scanner:
        assert data[scanner.offset:].startswith(text.encode())
        anchored.append((lineno, text))
    assert anchored == plain
    assert len(anchored) == sum(1 for line in lines if regex.search(line.encode())) == 8
    # the line before each match, across block boundaries, is the same with or without anchors
    befores = []
    for chunk, anchors in ((4096, None), (4093, boot_markers.JOURNAL_ANCHORS), (1 << 22, None)):
        scanner = textio.MatchScanner(io.BytesIO(data), regex, previous=True, anchors=anchors)
        scanner.CHUNK = chunk
        befores.append([(lineno, scanner.before) for lineno, _ in scanner])
        assert scanner.lines == len(lines)
    assert befores[0] == befores[1] == befores[2]
    assert befores[0][2][1] == lines[befores[0][2][0] - 2].rstrip("\r")
    assert scanner.length == len(data) and scanner.lines == len(lines)


# ------------------------------------------------------------------ bad input

def test_garbage_inputs_warn_once_and_keep_the_rest(tmp_path, capsys, utc):
    logdir = tmp_path / "log"
    logdir.mkdir()
    source_dir = os.path.join(BASE, "rollover", "var", "log")
    shutil.copy(os.path.join(source_dir, "messages"), str(logdir / "messages"))
    os.utime(str(logdir / "messages"), (1735808402, 1735808402))
    (logdir / "syslog").write_bytes(os.urandom(8192))                      # binary junk
    with gzip.open(str(logdir / "kern.log.1.gz"), "wb") as handle:
        handle.write(b"Dec 30 08:00:00 node01 kernel: Linux version 3.10.0 (x)\n" * 5000)
    whole = (logdir / "kern.log.1.gz").read_bytes()
    (logdir / "kern.log.1.gz").write_bytes(whole[:len(whole) // 2])      # truncated
    (logdir / "kern.log").write_bytes(b"\x00" * 4096 + b"Jan  1 00:03:10 node01 kernel: " + b"x" * (1 << 20) +
                                      b"\nJan  1 00:03:10 node01 kernel: ok\n")
    code, out, err = run_tool(bootlog, ["--log-dir", str(logdir), "--utc"], capsys)
    assert code == 3
    assert "Traceback" not in err
    assert "syslog: binary data" in err
    assert "kern.log.1.gz: compressed data ends early" in err
    assert "3 boots" in out           # messages still read in full


def test_unreadable_file_as_non_root(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("runs as root: permissions do not stop root from reading, so this case cannot happen")
    path = tmp_path / "messages"
    path.write_text("Jun  9 06:06:20 h kernel: Linux version 6.1.0 (x)\n")
    path.chmod(0)
    code, out, err = run_tool(bootlog, [str(path)], capsys)
    assert code == 3 and "permission denied" in err


def test_timeline_api_for_report_and_triage(utc):
    source = sources.open_source(os.path.join(BASE, "sos-rhel9"))
    timeline = boottimeline.timeline(source)
    assert len(timeline.boots) == 3
    assert all(set(("number", "ending", "start")) <= set(b.to_dict()) for b in timeline.boots)
    found = timeline.findings()
    assert all(isinstance(f, findings.Finding) for f in found)
    assert {f.check for f in found} >= {"bootlog.problem.emergency", "bootlog.unclean"}
    assert [f.severity for f in found if f.check == "bootlog.unclean"] == [findings.OK]
    json.dumps(timeline.to_dict())


def test_no_boot_markers_is_not_evaluated_never_ok(tmp_path):
    logdir = tmp_path / "log"
    logdir.mkdir()
    (logdir / "messages").write_text("Jun  9 06:06:20 h sshd[1]: Accepted publickey for admin\n")
    source = sources.RootSource(sources.DirTree(str(logdir)), str(logdir), "root")
    timeline = boottimeline.timeline(source, log_dir="")
    assert timeline.boots == []
    found = timeline.findings()
    assert [f.severity for f in found] == [findings.NOT_EVALUATED]
    assert "boot markers" in found[0].detail


def test_boots_minutes_apart_in_two_inputs_are_not_merged_into_one(tmp_path, utc):
    """Two logs of a reboot loop: each boot pairs with its twin, never with a neighbour."""
    logdir = tmp_path / "log"
    logdir.mkdir()
    text = open(os.path.join(BASE, "loop", "var", "log", "syslog")).read()
    (logdir / "syslog").write_text(text)
    kernel_only = "\n".join(line for line in text.splitlines() if " kernel: " in line) + "\n"
    (logdir / "kern.log").write_text(kernel_only)
    for name in ("syslog", "kern.log"):
        os.utime(str(logdir / name), (1720925626, 1720925626))
    source = sources.RootSource(sources.DirTree(str(logdir)), str(logdir), "root")
    timeline = boottimeline.timeline(source, log_dir="", journal=False)
    assert len(timeline.boots) == 6
    assert all(len(b.pieces) == 2 for b in timeline.boots)
