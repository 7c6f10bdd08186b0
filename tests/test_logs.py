"""Log line shapes across distributions, and log discovery in every kind of source."""

import json
import os
import time

import pytest

from shared import logs, sources


def parse(text, mtime=None):
    return logs.LineParser(mtime=mtime, utc=True).parse(sources.Line(text, "f", 1))


def test_rfc3164_with_kernel_monotonic_stamp():
    record = parse("Jun  9 06:06:20 web1 kernel: [   12.345678] Linux version 5.14.0-284.el9.x86_64",
                   mtime=1718000000)
    assert record.host == "web1" and record.program == "kernel"
    assert record.mono == pytest.approx(12.345678)
    assert record.message.startswith("Linux version 5.14.0")
    assert time.gmtime(record.stamp)[:6] == (2024, 6, 9, 6, 6, 20)
    assert not record.zone_known


def test_rsyslog_iso_with_zone():
    record = parse("2024-06-09T08:06:20.123456+02:00 sles15 systemd[1]: Reached target Shutdown.")
    assert record.stamp == pytest.approx(1717913180.123456)
    assert (record.host, record.program, record.pid) == ("sles15", "systemd", 1)
    assert record.zone_known and record.message == "Reached target Shutdown."


def test_journal_short_iso_and_precise():
    record = parse("2024-06-09T06:06:20+0000 host sshd[812]: Server listening on 0.0.0.0 port 22.")
    assert record.stamp == 1717913180 and record.pid == 812
    record = parse("Jun 09 06:06:20.654321 host systemd-logind[700]: Power key pressed.", mtime=1718000000)
    assert record.stamp % 1 == pytest.approx(0.654321)
    assert record.program == "systemd-logind"


def test_raw_dmesg_with_caller_id_and_dmesg_T():
    record = parse("[  123.456789] [ T4021] BUG: kernel NULL pointer dereference, address: 0000000000000008")
    assert record.stamp is None and record.mono == pytest.approx(123.456789)
    assert record.caller == "T4021" and record.message.startswith("BUG: kernel NULL")
    record = parse("[Sun Jun  9 06:06:20 2024] Out of memory: Killed process 1234 (java)")
    assert time.gmtime(record.stamp)[:6] == (2024, 6, 9, 6, 6, 20)
    assert record.program == "kernel"


def test_console_line_without_any_stamp():
    record = parse("Kernel panic - not syncing: Fatal exception")
    assert record.stamp is None and record.mono is None
    assert record.message == "Kernel panic - not syncing: Fatal exception"


def test_journal_json_with_byte_array_message():
    entry = {"__REALTIME_TIMESTAMP": "1717913180000000", "__MONOTONIC_TIMESTAMP": "9000000",
             "_BOOT_ID": "0" * 32, "_TRANSPORT": "kernel", "MESSAGE": [104, 105, 255],
             "_HOSTNAME": "h"}
    record = parse(json.dumps(entry))
    assert record.stamp == 1717913180 and record.mono == 9 and record.boot_id == "0" * 32
    assert record.program == "kernel" and record.message.startswith("hi")


def test_journal_markers():
    for text in ("-- Reboot --", "-- Boot 0123456789abcdef0123456789abcdef --",
                 "-- Logs begin at Mon 2024-06-03 10:00:00 UTC, end at Sun 2024-06-09 06:06:20 UTC. --",
                 "-- No entries --"):
        assert logs.JOURNAL_MARKER.match(text), text
    assert not logs.JOURNAL_MARKER.match("-- MARK --")


def test_discover_in_a_sos_tree(tmp_path):
    base = str(tmp_path)
    for name, text in (("var/log/messages", "x\n"), ("var/log/messages-20240601", "y\n"),
                       ("var/log/kern.log", "k\n"), ("sos_commands/logs/journalctl_--no-pager", "j\n"),
                       ("sos_commands/kernel/dmesg", "[ 1.0] d\n"), ("sos_reports/manifest.json", "{}")):
        path = os.path.join(base, name)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "w") as handle:
            handle.write(text)
    source = sources.open_source(base)
    found = dict((log.name, log) for log in logs.discover(source, journal=False))
    assert found["var/log/messages*"].paths == ["var/log/messages-20240601", "var/log/messages"]
    assert found["sos_commands/logs/journalctl_--no-pager"].kind == "journal-text"
    assert found["sos_commands/kernel/dmesg"].kind == "dmesg"
    texts = [r.message for r in logs.records(source, found["var/log/messages*"])]
    assert texts == ["y", "x"]
