"""oops: the command line, and the kernel-report engine's behaviour around the corpus."""

import io
import json
import os
import random
import re

import pytest

from conftest import run_tool
from shared import findings, kernelreport, logs, runner, sources, textio
from scripts import oops

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(ROOT, "fixtures", "oops")


def corpus(name):
    return os.path.join(CORPUS, name)


def body(name):
    """The log text of a corpus file without its expectation header."""
    with open(corpus(name), "rb") as handle:
        return handle.read().split(b"#---\n", 1)[1]


# ------------------------------------------------------------------ command line

def test_text_output_names_the_report_and_the_next_steps(capsys):
    code, out, err = run_tool(oops, [corpus("soft-lockup-syslog-6.0.log"), "--utc"], capsys)
    assert code == 0 and err == ""
    assert "1 kernel report in 1 group, times in UTC" in out
    assert "== 1. BUG: soft lockup in ieee80211_select_queue" in out
    assert "ieee80211_select_queue+0x1b [mac80211]" in out
    assert "softlockup_panic" in out          # advice on making the next one panic
    assert max(len(line) for line in out.splitlines()) <= 80
    assert all(ord(ch) < 128 for ch in out)


def test_json_is_only_the_envelope_with_the_documented_fields(capsys):
    code, out, _ = run_tool(oops, [corpus("vm-oom-memcg-6.1.log"), "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["tool"] == "oops" and document["schema"] == 1
    report = document["result"]["reports"][0]
    for key in ("kind", "title", "guilty", "time", "count", "origin", "line", "cpu", "pid", "comm", "kernel",
                "taint", "hardware", "pc", "trace", "modules_flagged", "panicked", "corrupted", "problems",
                "details", "primary", "follow_ons", "text"):
        assert key in report
    oom = report["details"]["oom"]
    assert report["kind"] == "memcg-oom"
    assert oom["memcg"] == "/app" and oom["memcg_limit_kb"] == 40960
    assert oom["victim"]["comm"] == "rk_helper" and oom["victim"]["rss_kb"] > 30000
    assert document["result"]["groups"][0]["count"] == 1


def test_kind_filter_keeps_only_that_kind(capsys):
    files = [corpus("vm-oom-global-6.1.log"), corpus("soft-lockup-syslog-6.0.log")]
    code, out, _ = run_tool(oops, files + ["--kind", "oom", "--json"], capsys)
    kinds = set(r["kind"] for r in json.loads(out)["result"]["reports"])
    assert code == 0 and kinds == {"oom"}


def test_unknown_kind_is_a_usage_error(capsys):
    code, _, err = run_tool(oops, [corpus("vm-oom-global-6.1.log"), "--kind", "oopsie"], capsys)
    assert code == 2 and "unknown --kind: oopsie" in err


def test_fail_on_panic_for_monitoring(capsys):
    code, _, _ = run_tool(oops, [corpus("vm-sysrq-crash-6.1.log"), "--fail-on", "panic", "--summary"], capsys)
    assert code == 1
    code, _, _ = run_tool(oops, [corpus("soft-lockup-syslog-6.0.log"), "--fail-on", "panic", "--summary"],
                          capsys)
    assert code == 0
    code, _, _ = run_tool(oops, [corpus("soft-lockup-syslog-6.0.log"), "--fail-on", "soft-lockup"], capsys)
    assert code == 1
    code, _, err = run_tool(oops, [corpus("soft-lockup-syslog-6.0.log"), "--fail-on", "meltdown"], capsys)
    assert code == 2 and "unknown --fail-on value" in err


def test_segfaults_are_noise_until_all(capsys):
    code, out, _ = run_tool(oops, [corpus("vm-segfault-6.1.log")], capsys)
    assert code == 0 and "not shown: 2 userspace crashes (--all lists them)" in out
    assert "segfault in rk_helper" not in out
    code, out, _ = run_tool(oops, [corpus("vm-segfault-6.1.log"), "--all"], capsys)
    assert "userspace crashes (2):" in out and "segfault in rk_helper (rk_helper)" in out


def test_stdin_is_read_with_a_dash(capsys, monkeypatch):
    class Stdin(object):
        buffer = io.BytesIO(body("vm-sysrq-crash-6.1.log"))
    monkeypatch.setattr("sys.stdin", Stdin())
    code, out, _ = run_tool(oops, ["-", "--summary"], capsys)
    assert code == 0 and "kernel panic: sysrq triggered crash" in out and "<stdin>" in out


def test_missing_file_is_one_line_not_a_traceback(capsys, tmp_path):
    code, out, err = run_tool(oops, [str(tmp_path / "nope.log")], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("oops: nothing could be read") and "Traceback" not in err


def test_one_missing_file_among_good_ones_is_a_partial_result(capsys, tmp_path):
    code, out, err = run_tool(oops, [corpus("vm-oom-global-6.1.log"), str(tmp_path / "nope.log")], capsys)
    assert code == 3 and "out of memory: killed rk_helper" in out and "no such file" in err


def test_binary_input_is_refused_with_a_hint(capsys, tmp_path):
    path = tmp_path / "vmcore"
    path.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    code, out, err = run_tool(oops, [str(path)], capsys)
    assert "binary data" in err and "crash(8)" in err


def test_help_shows_examples_and_exit_codes(capsys):
    code, out, _ = run_tool(oops, ["--help"], capsys)
    assert code == 0 and "examples:" in out and "--fail-on panic,hard-lockup" in out and "exit status:" in out


def test_since_until_select_by_wall_clock(capsys, tmp_path):
    text = body("soft-lockup-syslog-6.0.log").decode()
    iso = re.sub(r"^Nov  8 (\d\d:\d\d:\d\d)", r"2022-11-08T\1+00:00", text, flags=re.M)
    path = tmp_path / "messages"
    path.write_text(iso)
    code, out, _ = run_tool(oops, [str(path), "--since", "2022-11-08T19:38:00Z", "--json"], capsys)
    assert len(json.loads(out)["result"]["reports"]) == 1
    code, out, _ = run_tool(oops, [str(path), "--until", "2022-11-08T19:37:00Z", "--json"], capsys)
    assert json.loads(out)["result"]["reports"] == []


# ------------------------------------------------------------------ sources

def make_root(tmp_path, crash_kernel_loaded="0"):
    root = tmp_path / "root"
    (root / "var/log").mkdir(parents=True)
    (root / "var/crash/127.0.0.1-2024-06-09-06:06:20").mkdir(parents=True)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "sys/kernel").mkdir(parents=True)
    lockup = body("soft-lockup-syslog-6.0.log")
    (root / "var/log/messages").write_bytes(lockup)
    # the same report again in kdump's dmesg (raw stamps only) and a panic
    raw = b"\n".join(line.split(b"kernel: ", 1)[1] for line in lockup.splitlines() if b"kernel: " in line)
    (root / "var/crash/127.0.0.1-2024-06-09-06:06:20/vmcore-dmesg.txt").write_bytes(
        raw + b"\n[  440.000001] Kernel panic - not syncing: softlockup: hung tasks\n")
    for name, value in (("watchdog_thresh", "10"), ("softlockup_panic", "0"), ("hung_task_timeout_secs", "120"),
                        ("panic", "0"), ("panic_on_oops", "1")):
        (root / "proc/sys/kernel" / name).write_text(value + "\n")
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
    (root / "sys/kernel/kexec_crash_loaded").write_text(crash_kernel_loaded + "\n")
    return root


def test_root_scan_merges_the_same_report_from_two_logs_and_reads_the_watchdog_settings(capsys, tmp_path):
    root = make_root(tmp_path)
    code, out, _ = run_tool(oops, ["--root", str(root), "--json", "--no-journal"], capsys)
    result = json.loads(out)["result"]
    lockups = [r for r in result["reports"] if r["kind"] == "soft-lockup"]
    assert len(lockups) == 1 and lockups[0]["also_in"]
    assert result["settings"]["kernel/watchdog_thresh"] == "10"
    assert result["settings"]["kernel/softlockup_panic"] == "0"
    assert result["dump_possible"] is False
    code, out, _ = run_tool(oops, ["--root", str(root), "--no-journal"], capsys)
    assert "kernel.watchdog_thresh=10" in out and "kdumpsetup" in out


def test_live_ring_buffer_is_read_through_the_runner(tmp_path):
    tree = sources.DirTree(str(tmp_path))
    source = sources.RootSource(tree, "/", "live")
    dmesg = body("vm-sysrq-crash-6.1.log").decode("utf-8", "replace")
    fake = runner.RecordingRunner({"dmesg": (0, dmesg, "")})
    reports = kernelreport.scan_source(source, runner_fn=fake, journal=False)
    assert "dmesg" in fake.calls
    assert [r.title for r in kernelreport.primaries(reports)] == ["kernel panic: sysrq triggered crash"]
    assert reports[0].origin == "dmesg (ring buffer)"


def test_pstore_files_are_scanned(tmp_path):
    root = tmp_path / "root"
    (root / "sys/fs/pstore").mkdir(parents=True)
    lines = [b"Panic#1 Part1"] + [b"<4>" + line for line in body("vm-sysrq-crash-6.1.log").splitlines()
                                   if line.startswith(b"[")]
    (root / "sys/fs/pstore/dmesg-ramoops-0").write_bytes(b"\n".join(lines) + b"\n")
    source = sources.open_source(str(root))
    reports = kernelreport.scan_source(source, journal=False)
    assert [r.origin for r in reports] == ["sys/fs/pstore/dmesg-ramoops-0"]
    assert reports[0].title == "kernel panic: sysrq triggered crash"


def test_settings_and_dump_detection(tmp_path):
    root = make_root(tmp_path, crash_kernel_loaded="1")
    assert kernelreport.dump_possible(str(root)) is True
    settings = kernelreport.read_settings(str(root))
    assert settings["kernel/panic_on_oops"] == "1" and settings["kernel/hardlockup_panic"] is None
    (root / "sys/kernel/kexec_crash_loaded").unlink()
    assert kernelreport.dump_possible(str(root)) is False
    (root / "proc/cmdline").unlink()
    assert kernelreport.dump_possible(str(root)) is None


# ------------------------------------------------------------------ engine behaviour

def scan_text(text, origin="t"):
    return kernelreport.scan(sources.Line(line, origin, number)
                             for number, line in enumerate(text.splitlines(), 1))


def test_a_truncated_report_is_still_reported_and_flagged():
    lines = body("gpf-kdump-loaded-6.16.log").decode().splitlines()[:6]
    reports = scan_text("\n".join(lines))
    assert len(reports) == 1 and reports[0].kind == "gpf"
    assert reports[0].corrupted and "before the call trace" in reports[0].problems[0]


def test_interleaved_output_without_caller_ids_is_flagged():
    report = scan_text(body("divide-error-interleaved-5.0.log").decode())[0]
    assert report.interleaved and report.corrupted and not report.separated
    assert any("interleaved" in problem for problem in report.problems)


def test_caller_ids_separate_interleaved_reports():
    reports = scan_text(body("interleaved-caller-ids-5.15.log").decode())
    assert [r.kind for r in reports] == ["ubsan", "hung-task"]
    assert all(r.separated and not r.corrupted for r in reports)
    assert reports[1].guilty == "mnt_want_write" and reports[0].caller == "T6479"


def test_taint_letters_and_flagged_modules_are_decoded():
    report = scan_text(body("invalid-opcode-oot-module-4.19.log").decode())[0]
    assert report.taint == "POE"
    meanings = dict((letter, text) for letter, _, text in report.taint_flags)
    assert "proprietary" in meanings["P"] and "out-of-tree" in meanings["O"] and "unsigned" in meanings["E"]
    flagged = dict((name, flags) for name, flags, _ in report.modules_flagged)
    assert flagged["zfs"] == "POE" and flagged["DDDD"] == "OE-"
    assert report.panicked and report.follow_ons[0].kind == "panic"


def test_repeats_are_folded_and_grouped():
    text = body("vm-io-error-6.1.log").decode("utf-8", "replace")
    reports = kernelreport.scan((sources.Line(l, "x", n) for n, l in enumerate(text.splitlines(), 1)),
                                keep_per_title=3)
    groups = dict((g.title, g) for g in kernelreport.group_reports(reports))
    assert groups["I/O error on vda"].count == 10 and len(groups["I/O error on vda"].reports) == 3
    assert groups["Buffer I/O error on vda"].count == 10


def test_reports_near_an_unclean_end():
    reports = scan_text(body("vm-mce-fatal-6.1.log").decode("utf-8", "replace"))
    near = kernelreport.reports_near(reports, mono=12.5, before=60)
    assert [r.kind for r in near] == ["machine-check"] and near[0].panicked
    assert kernelreport.reports_near(reports, mono=500.0, before=60) == []


def test_summary_findings_are_findings():
    reports = scan_text(body("vm-sysrq-crash-6.1.log").decode("utf-8", "replace"))
    result = kernelreport.summary_findings(reports, dump_possible=False)
    assert len(result) == 1 and isinstance(result[0], findings.Finding)
    assert result[0].check == "oops.panic" and result[0].severity == "critical"
    assert result[0].evidence[0].excerpt.startswith("Kernel panic - not syncing")


def test_records_from_the_journal_are_scanned_like_lines():
    entries = []
    for number, line in enumerate(body("vm-oom-global-6.1.log").decode("utf-8", "replace").splitlines(), 1):
        match = re.match(r"^\[\s*(\d+)\.(\d+)\] (.*)$", line)
        if match:
            entries.append({"MESSAGE": match.group(3), "_TRANSPORT": "kernel",
                            "_SOURCE_MONOTONIC_TIMESTAMP": str(int(match.group(1)) * 1000000 + int(match.group(2))),
                            "__REALTIME_TIMESTAMP": str(1717913180000000 + number), "_BOOT_ID": "b1"})
    entries.insert(5, {"MESSAGE": "Started Session 4 of User admin.", "SYSLOG_IDENTIFIER": "systemd",
                       "__REALTIME_TIMESTAMP": "1717913180000000"})
    records = [logs.journal_record(e, sources.Line(e["MESSAGE"], "journal", n)) for n, e in enumerate(entries, 1)]
    reports = kernelreport.scan(records)
    assert [r.title for r in reports] == ["out of memory: killed rk_helper"]
    assert reports[0].stamp is not None and reports[0].details["oom"]["victim"]["pid"] == 102


def test_garbage_and_mutated_reports_never_raise():
    rng = random.Random(4)
    pieces = [body(name).decode("utf-8", "replace").splitlines()
              for name in ("kasan-uaf-syzbot-5.2.log", "vm-oom-global-6.1.log", "lockdep-circular-btrfs-6.12.log")]
    for _ in range(60):
        lines = list(rng.choice(pieces))
        for _ in range(rng.randint(1, 40)):
            where = rng.randrange(len(lines))
            action = rng.random()
            if action < 0.3:
                del lines[where]
            elif action < 0.6:
                lines[where] = lines[where][:rng.randrange(len(lines[where]) + 1)]
            elif action < 0.8:
                lines.insert(where, "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(80))))
            else:
                lines[where] = lines[rng.randrange(len(lines))]
        for report in scan_text("\n".join(lines)):
            json.dumps(report.to_dict())
    assert scan_text("\x00\xff" * 1000) == []
    assert scan_text("") == []


# ------------------------------------------------------------------ shared additions

def test_logs_reads_console_captures_stamped_by_the_capture_tool():
    record = logs.LineParser(utc=True, mtime=1631700000).parse(
        sources.Line("Sep 15 14:44:48.518439 [ 1613.227909] rpc-worker: page allocation failure: order:4",
                     "console", 1))
    assert record.mono == pytest.approx(1613.227909)
    assert record.message.startswith("rpc-worker: page allocation failure")
    assert record.stamp is not None and record.host is None


def test_logs_reads_raw_priority_prefixes():
    record = logs.LineParser().parse(sources.Line("<4>[   12.500000] Kernel panic - not syncing: x", "p", 1))
    assert record.mono == pytest.approx(12.5) and record.message == "Kernel panic - not syncing: x"


def test_match_scanner_follow_yields_the_lines_after_a_match():
    data = b"".join(b"noise %d\n" % i for i in range(5000)) + b"HEADER\nbody 1\nbody 2\nbody 3\nnoise\n"
    scanner = textio.MatchScanner(io.BytesIO(data), re.compile(b"HEADER"))
    scanner.CHUNK = 4096     # the report crosses a chunk boundary
    seen = []
    for lineno, text in scanner:
        seen.append((lineno, text))
        if text.startswith(("HEADER", "body")) and text != "body 3":
            scanner.follow(1)
    assert seen == [(5001, "HEADER"), (5002, "body 1"), (5003, "body 2"), (5004, "body 3")]
    assert scanner.lines == 5005


def test_match_scanner_follow_zero_stops_following():
    data = b"HEADER\nbody 1\nbody 2\nHEADER again\nmore\n"
    scanner = textio.MatchScanner(io.BytesIO(data), re.compile(b"HEADER"))
    seen = []
    for lineno, text in scanner:
        seen.append(lineno)
        scanner.follow(5 if text == "HEADER" else 0)
    assert seen == [1, 2, 4]
