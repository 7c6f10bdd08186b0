"""The corpus is the test (syzkaller style): every file in fixtures/oops/ holds
real-format kernel output and a small header with what the engine must find.

Header (lines before ``#---``)::

    # kind: soft-lockup            (kind of the first primary report, or "none")
    # title: BUG: soft lockup in ieee80211_select_queue
    # guilty: ieee80211_select_queue   ("-" = no guilty function)
    # taint: -                     (taint letters of the first primary report)
    # panicked: no                 (the first primary ended in a panic)
    # corrupted: no                (the first primary is flagged corrupted)
    # reports: 1                   (number of primary reports, noise included)
    # source: where the text came from (also in fixtures/oops/README.md)

Each file is scanned twice: through the prefiltering file reader (the
path ``oops FILE`` and big logs take) and line by line as records (the path
the journal takes); both must agree.
"""

import glob
import os

import pytest

from shared import kernelreport, sources

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "fixtures", "oops")
FILES = sorted(glob.glob(os.path.join(CORPUS, "*.log")))


def expectations(path):
    wanted = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("#---"):
                break
            if line.startswith("# ") and ":" in line:
                key, _, value = line[2:].partition(":")
                wanted[key.strip()] = value.strip()
    return wanted


def none_if_dash(value):
    return None if value in ("-", "") else value


def test_corpus_is_there():
    assert len(FILES) >= 30, "the corpus shrank: %d files" % len(FILES)
    kinds_covered = set(expectations(path).get("kind") for path in FILES)
    missing = set(kernelreport.kinds.KINDS) - kinds_covered
    assert not missing, "kinds without a fixture: %s" % ", ".join(sorted(missing))


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_corpus_file(path):
    wanted = expectations(path)
    for key in ("kind", "title", "reports", "source"):
        assert key in wanted, "%s: header lacks '%s'" % (os.path.basename(path), key)
    reports, warnings = kernelreport.scan_path(path, utc=True)
    assert warnings == []
    primaries = kernelreport.primaries(reports)
    assert len(primaries) == int(wanted["reports"]), [r.title for r in primaries]
    if wanted["kind"] == "none":
        return
    first = primaries[0]
    assert first.kind == wanted["kind"]
    assert first.title == wanted["title"]
    if "guilty" in wanted:
        assert first.guilty == none_if_dash(wanted["guilty"])
    if "taint" in wanted:
        assert first.taint == (none_if_dash(wanted["taint"]) or "")
    if "panicked" in wanted:
        assert first.panicked == (wanted["panicked"] == "yes")
    if "corrupted" in wanted:
        assert first.corrupted == (wanted["corrupted"] == "yes"), first.problems


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_record_path_agrees_with_file_path(path):
    from_file, _ = kernelreport.scan_path(path, utc=True)
    with open(path, "rb") as handle:  # lines end at \n only, as in the kernel's own logs
        lines = [sources.Line(raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace"), path, number)
                 for number, raw in enumerate(handle, 1)]
    from_records = kernelreport.scan(lines, utc=True)
    assert [(r.kind, r.title, r.lineno, r.end_lineno, r.panicked) for r in from_file] == \
        [(r.kind, r.title, r.lineno, r.end_lineno, r.panicked) for r in from_records]


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_every_report_serialises(path):
    import json
    reports, _ = kernelreport.scan_path(path, utc=True)
    for report in reports:
        document = json.loads(json.dumps(report.to_dict()))
        assert document["kind"] == report.kind and document["title"] == report.title


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_grep_indexed_path_agrees_with_the_stream_path(path, monkeypatch):
    """Big files are indexed with grep; small ones stream: both must find the same."""
    from shared import runner
    if not runner.which("grep"):
        pytest.skip("grep not available")
    monkeypatch.setattr(kernelreport, "GREP_MIN_SIZE", 1 << 60)
    streamed, _ = kernelreport.scan_path(path, utc=True)
    monkeypatch.setattr(kernelreport, "GREP_MIN_SIZE", 0)
    indexed, _ = kernelreport.scan_path(path, utc=True)
    assert [(r.kind, r.title, r.lineno, r.end_lineno, r.corrupted) for r in indexed] == \
        [(r.kind, r.title, r.lineno, r.end_lineno, r.corrupted) for r in streamed]
