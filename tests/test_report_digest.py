"""The report's one-pass reading of huge archive members: grep-backed digests
(textio.GrepScanner) see the same lines as the in-process MatchScanner, and
the evidence of kernel reports found in a digest points at real line numbers."""

import io
import os
import re
import tarfile

import pytest

from shared import report_checks, report_engine, sources, textio

LINES = [
    b"Jun  9 06:00:%02d host1 app[12]: request %d served status=200 Link is Up" % (i % 60, i)
    for i in range(3000)
]
PLANTED = {
    500: b"Jun  9 06:10:00 host1 kernel: [  12.5] blk_update_request: I/O error, dev sdb, sector 42",
    1700: b"Jun  9 06:20:00 host1 sshd[99]: Failed password for root from 203.0.113.50 port 22 ssh2",
    2999: b"Jun  9 06:30:00 host1 kernel: [  99.0] Out of memory: Killed process 4242 (java)",
}


def _data(final_newline=True):
    lines = list(LINES)
    for index, line in PLANTED.items():
        lines[index] = line
    data = b"\n".join(lines)
    return data + b"\n" if final_newline else data


def _scan(scanner):
    found = list(scanner)
    return found, scanner.lines


@pytest.mark.parametrize("final_newline", [True, False])
def test_grep_scanner_sees_what_match_scanner_sees(final_newline):
    grep = textio.grep_for_scanning()
    if grep is None:
        pytest.skip("no grep that can do -a -n -F on stdin here")
    regex, anchors = report_checks.keep_regex()
    data = _data(final_newline)
    ours = textio.GrepScanner(io.BytesIO(data), regex, anchors, grep)
    ours.CHUNK = 4096       # many blocks: lines cut between writes
    reference = textio.MatchScanner(io.BytesIO(data), regex, anchors=anchors)
    assert _scan(ours) == _scan(reference)
    numbers = [n for n, _ in _scan(textio.GrepScanner(io.BytesIO(data), regex, anchors, grep))[0]]
    assert numbers == sorted(i + 1 for i in PLANTED)
    assert ours.lines == 3000 and ours.problem is None


def test_grep_scanner_cuts_an_absurd_line_and_keeps_counting():
    grep = textio.grep_for_scanning()
    if grep is None:
        pytest.skip("no grep that can do -a -n -F on stdin here")
    regex, anchors = report_checks.keep_regex()
    data = b"first\n" + b"x" * (3 * textio.GrepScanner.LONG_LINE) + b" I/O error hidden far out\n" + PLANTED[500] + b"\n"
    scanner = textio.GrepScanner(io.BytesIO(data), regex, anchors, grep)
    scanner.CHUNK = 256 * 1024
    found = list(scanner)
    assert [n for n, _ in found] == [3]           # the matching line after the long one, right number
    assert scanner.lines == 3 and scanner.cut_lines == 1


def test_keep_literals_cover_every_rule_hit_in_the_fixtures():
    """Every line of the fixtures' logs a rule matches holds a literal grep looks for."""
    literals = report_checks.keep_literals()
    assert all(len(l) >= 3 for l in literals)          # very short literals make grep slow
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "report")
    rules = [re.compile(rule[4].encode()) for rule in report_checks.RULES]
    texts = []
    for folder, _, files in os.walk(root):
        for name in files:
            full = os.path.join(folder, name)
            if name.endswith((".tar.xz", ".txz")):
                with tarfile.open(full) as tar:
                    for member in tar:
                        if member.isreg() and ("var/log/" in member.name or member.name.endswith(".txt")):
                            texts.append(tar.extractfile(member).read())
            elif name.startswith(("messages", "syslog", "secure", "auth")) or name.endswith(".txt"):
                with open(full, "rb") as handle:
                    texts.append(handle.read())
    hits = 0
    for text in texts:
        for line in text.splitlines():
            if any(r.search(line) for r in rules):
                hits += 1
                assert any(l in line for l in literals), line
    assert hits > 10


def _archive(tmp_path, size_lines):
    path = tmp_path / "sosreport-host1.tar.xz"
    body = _data() * size_lines
    with tarfile.open(str(path), "w:xz", preset=0) as tar:
        for name, data in (("sosreport-host1/sos_commands/host/hostname", b"host1\n"),
                           ("sosreport-host1/var/log/messages", body)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1717920000
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_kernel_reports_in_a_digested_member_point_at_real_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(sources.TarTree, "KEEP_FILE_LIMIT", 64 * 1024)   # force a digest
    path = _archive(tmp_path, 4)
    source = report_engine.open_bundle(path)
    assert source.tree.digest("var/log/messages") is not None
    result = report_engine.analyze(source, report_engine.Options(now=1717920000))
    doc = result.to_dict()
    oom = [f for f in doc["findings"] if f["check"] == "oops.oom"]
    assert oom, [f["check"] for f in doc["findings"]]
    # the OOM line is line 3000 of each copy of the planted block: 3000, 6000, ...
    assert all(e["line"] % 3000 == 0 for e in oom[0]["evidence"])
    io_hits = [f for f in doc["findings"] if f["check"] in ("log.io.block", "oops.io-error")]
    assert any(e["line"] % 3000 == 501 for f in io_hits for e in f["evidence"])


def test_trace_frames_survive_a_digest(tmp_path, monkeypatch):
    """A hung task has no RIP line: the function it hangs in comes only from its
    trace frames, so a digested huge log must keep them."""
    monkeypatch.setattr(sources.TarTree, "KEEP_FILE_LIMIT", 64 * 1024)   # force a digest
    fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "oops", "vm-hung-task-6.1.log")
    with open(fixture, "rb") as handle:
        console = handle.read().split(b"#---\n", 1)[1]
    kernel = [b"Jun  9 06:20:00 host1 kernel: " + l.strip(b"\r")
              for l in console.splitlines() if l.startswith(b"[")]
    body = b"\n".join(LINES * 30 + kernel + LINES * 5) + b"\n"
    path = tmp_path / "sosreport-host1.tar.xz"
    with tarfile.open(str(path), "w:xz", preset=0) as tar:
        for name, data in (("sosreport-host1/sos_commands/host/hostname", b"host1\n"),
                           ("sosreport-host1/var/log/messages", body)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    source = report_engine.open_bundle(str(path))
    assert source.tree.digest("var/log/messages") is not None
    doc = report_engine.analyze(source, report_engine.Options(now=1717920000)).to_dict()
    hung = [f for f in doc["findings"] if f["check"].startswith("oops.") and "hung" in f["check"] + f["title"]]
    assert hung, [f["check"] for f in doc["findings"]]
    assert "mnt_want_write" in hung[0]["title"], hung[0]["title"]
