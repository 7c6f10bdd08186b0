"""bootlog's fast paths find exactly what the plain in-process paths find.

Big plain files are indexed with grep (first pass) and the windows' marker
lines found with one grep (second pass); the kernel-report engine is loaded
only for a window holding a report marker.  Each shortcut is checked here
against the slow path on real-format fixtures, by forcing the thresholds to
zero -- no timing assertions.
"""

import json
import os
import re
import shutil

import pytest

from conftest import fixture_path
from shared import boot_markers, boottimeline, logs, runner, sources, textio
from shared.sources import Line


BASE = fixture_path("bootlog")
HAVE_GREP = runner.which("grep") is not None and runner.which("wc") is not None
needs_grep = pytest.mark.skipif(not HAVE_GREP, reason="grep and wc are not installed")


def fixture_copy(tmp_path, name):
    target = str(tmp_path / name)
    shutil.copytree(os.path.join(BASE, name), target)
    for line in open(os.path.join(BASE, "MTIMES")):
        if line.startswith(name + "/"):
            path, stamp = line.split()
            os.utime(os.path.join(str(tmp_path), path), (int(stamp), int(stamp)))
    return target


def syslog_lines(root):
    """Every line of the fixture's syslog files (plain and compressed)."""
    out = []
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if name.startswith(("messages", "syslog", "kern.log")):
                stream = textio.open_path(os.path.join(folder, name))
                try:
                    out.extend(text for _, text in textio.LineReader(stream))
                finally:
                    stream.close()
    return out


def big_log(path, copies=3):
    """Real fixture lines (rhel8 + debian11 + loop) repeated, a CRLF line and no final newline."""
    lines = []
    for name in ("rhel8", "debian11", "loop"):
        lines.extend(syslog_lines(os.path.join(BASE, name)))
    body = "\n".join(lines * copies)
    body += "\nJun  9 06:06:20 host kernel: Linux version 6.1.0-21-amd64 (crlf) #1\r\nlast line"
    with open(path, "w") as handle:
        handle.write(body)
    return body


@needs_grep
@pytest.mark.parametrize("kind", ["fast", "journal"])
def test_grep_index_finds_the_same_boot_markers_as_the_scanner(tmp_path, monkeypatch, kind):
    path = str(tmp_path / "messages")
    big_log(path)
    monkeypatch.setattr(boottimeline, "GREP_MIN", 0)
    indexed = boottimeline._indexed_scan(path, kind)
    assert indexed is not None, "grep was there but the indexed scan gave up"
    anchors = boot_markers.SCAN_ANCHORS if kind == "fast" else boot_markers.JOURNAL_ANCHORS
    with open(path, "rb") as handle:
        scanned = boottimeline._scan(handle, boot_markers.scan_regex(kind), anchors)
    assert indexed[0] == scanned[0]            # (lineno, offset, text, line before) of every marker
    assert indexed[1:3] == scanned[1:3]        # bytes and lines (the last line has no newline)
    assert len(indexed[0]) > 10
    assert indexed[0][-1][2].endswith("(crlf) #1")


@needs_grep
def test_grep_index_gives_up_when_grep_is_missing(tmp_path, monkeypatch):
    path = str(tmp_path / "messages")
    big_log(path, copies=1)
    monkeypatch.setattr(boottimeline, "GREP_MIN", 0)
    recording = runner.RecordingRunner({})
    assert boottimeline._indexed_scan(path, "fast", run=recording) is None
    assert recording.calls and recording.calls[-1].startswith("grep ")


def windows_of(root):
    """Windows like the second pass reads: stretches of the fixture's syslog lines."""
    data = "\n".join(syslog_lines(root)).encode("utf-8") + b"\n"
    return [data[:40000], data[40000:90000], b"", data[90000:] + b"no newline at the end"]


@needs_grep
@pytest.mark.parametrize("name", ["rhel8", "debian11", "loop", "sles15"])
def test_grep_window_marks_equal_the_in_process_marks(name, monkeypatch):
    windows = windows_of(os.path.join(BASE, name))
    monkeypatch.setattr(boottimeline, "WINDOW_GREP_MIN", 0)
    marks = boottimeline._grep_marks(windows)
    assert marks is not None
    for data, marked in zip(windows, marks):
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        assert marked == boottimeline._marked_lines(data, lines, set())
    assert any(marks), "the fixture has shutdown and boot markers"


def test_window_screen_covers_every_anchor():
    # the lower-cased screen must see every line an exact anchor sees
    for anchor in boot_markers.WINDOW_ANCHORS:
        assert any(literal in anchor.lower() for literal in boot_markers.WINDOW_SCREEN), anchor


def classify_every_rule(message, program):
    """The plain walk over every rule (what classify did before its literals index)."""
    if not message or not boot_markers._SCREEN.search(message):
        return None
    for kind, detail, regex, programs in boot_markers.RULES:
        if programs is not None and (program or "") not in programs:
            continue
        match = regex.search(message)
        if match:
            return kind, detail, match.group(0)
    return None


def test_classify_with_literal_index_equals_the_walk_over_every_rule():
    parser = logs.LineParser(mtime=None)
    seen = 0
    for name in ("rhel8", "debian11", "loop", "sles15", "rollover", "console", "sos-rhel9"):
        for number, text in enumerate(syslog_lines(os.path.join(BASE, name)) or
                                      _console_lines(os.path.join(BASE, name)), 1):
            record = parser.parse(Line(text, name, number))
            message = record.message or ""
            got = boot_markers.classify(message, record.program)
            got = None if got is None else (got[0], got[1], got[2].group(0))
            assert got == classify_every_rule(message, record.program), text
            seen += got is not None
    assert seen > 20


def _console_lines(folder):
    out = []
    for current, _, names in os.walk(folder):
        for name in sorted(names):
            stream = textio.open_path(os.path.join(current, name))
            try:
                out.extend(textio.strip_terminal(text) for _, text in textio.LineReader(stream))
            finally:
                stream.close()
    return out


def timeline_json(root, journal=False):
    source = sources.open_source(root)
    result = boottimeline.timeline(source, journal=journal, utc=True).to_dict()
    return json.dumps(result, sort_keys=True)


@needs_grep
@pytest.mark.parametrize("name", ["rhel8", "debian11", "loop", "sles15", "sos-rhel9"])
def test_whole_timeline_is_the_same_through_grep(tmp_path, monkeypatch, utc, name):
    root = fixture_copy(tmp_path, name)
    # the big-file paths: the fast marker set (no kernel timestamps), then grep for both passes
    monkeypatch.setattr(boot_markers, "FULL_SCAN_LIMIT", 0)
    plain = timeline_json(root)
    monkeypatch.setattr(boottimeline, "GREP_MIN", 0)
    monkeypatch.setattr(boottimeline, "WINDOW_GREP_MIN", 0)
    calls = []
    real_run = runner.run

    def counting(argv, **kwargs):
        calls.append(argv[0])
        return real_run(argv, **kwargs)

    monkeypatch.setattr(runner, "run", counting)
    assert timeline_json(root) == plain
    assert "grep" in calls


def test_engine_is_not_loaded_for_a_window_without_a_report():
    parser = logs.LineParser(mtime=None)
    quiet = [parser.parse(Line("Jun  9 06:06:20 host systemd[1]: Started Session 4 of user deploy.", "x", 1))]
    panic = [parser.parse(Line("Jun  9 06:06:20 host kernel: Kernel panic - not syncing: Fatal exception",
                               "x", 2))]
    assert not boottimeline._report_candidate(quiet)
    assert boottimeline._report_candidate(panic)
    found, _ = boottimeline.kernel_causes(panic, end_stamp=panic[0].stamp)
    assert found and "panic" in found[0][1].lower()
    assert boottimeline.kernel_causes(quiet, end_stamp=quiet[0].stamp)[0] == []


def test_screen_patterns_compile():
    assert re.compile(b"|".join(re.escape(a) for a in boot_markers.WINDOW_SCREEN))
