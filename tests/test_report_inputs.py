"""report inputs beyond sos/supportconfig text: perfcollect recordings (folder and
tarball, found by content), --extract, binary sar files, binary journals."""

import json
import io
import os
import shutil
import tarfile
import tempfile

import pytest

from conftest import fixture_path, run_tool
from scripts import report as tool
from shared import perf_format, report_engine, report_perf

PERF = fixture_path("report", "perfcollect-quick.tar.gz")


def _analyze(path, **options):
    source = report_engine.open_bundle(path)
    try:
        return report_engine.analyze(source, report_engine.Options(**options)).to_dict()
    finally:
        tree = getattr(source, "tree", None)
        if tree is not None:
            tree.close()


def _extract(archive, into):
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            assert not member.name.startswith("/") and ".." not in member.name.split("/")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(str(into), filter="data")
        else:
            tar.extractall(str(into))
    return [str(into / name) for name in os.listdir(str(into))][0]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A TMPDIR of our own, to see what the report leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _section(doc, key):
    return [s for s in doc["sections"] if s["id"] == key]


# ------------------------------------------------------------ perfcollect

def test_perfcollect_tarball_found_by_content_not_name(tmp_path, private_tmp):
    odd = tmp_path / "case-1234.data"           # no 'perfcollect' in the name, no .tar.gz
    shutil.copy(PERF, str(odd))
    doc = _analyze(str(odd))
    assert doc["bundle"]["kind"] == "perfcollect"
    assert doc["bundle"]["tool"] == "perfcollect"
    assert doc["engines"]["perfcollect"].startswith("ok:")
    checks = [f["check"] for f in doc["findings"]]
    assert any(c.startswith("perfcollect.") for c in checks)
    # the bundle checks are one not-evaluated line, not fifteen
    assert checks.count("bundle.checks") == 1
    assert not [f for f in doc["findings"] if f["check"] == "fs.space"]
    assert os.listdir(str(private_tmp)) == []    # the temp copy is gone


def test_perfcollect_shows_triggers_snapshots_inventory_and_charts(private_tmp):
    doc = _analyze(PERF)
    manifest_fired = None
    with tarfile.open(PERF) as tar:
        for member in tar.getmembers():
            if member.name.endswith("/manifest.json"):
                manifest_fired = json.loads(tar.extractfile(member).read().decode())["fired"]
    section = _section(doc, "perfcollect")[0]
    tables = dict((i.get("title", "").split(" (")[0], i) for i in section["items"] if i["type"] == "table")
    fired = tables["triggers fired"]
    assert [row[3] for row in fired["rows"]] == [f["snapshot"] for f in manifest_fired]
    assert [row[1] for row in fired["rows"]] == [f["trigger"] for f in manifest_fired]
    snapshot_kv = [i for i in section["items"] if i["type"] == "kv" and i["rows"][0][0] == "snapshot"]
    assert manifest_fired[0]["snapshot"] in snapshot_kv[0]["rows"][0][1]
    assert "meminfo.txt" in snapshot_kv[0]["rows"][1][1]
    inventory = dict(tables["inventory"]["rows"])
    assert inventory["host"] == "host001"
    assert "Debian" in inventory["OS"]
    ids = [c["id"] for c in doc["charts"]]
    assert "cpu" in ids and "load" in ids
    markers = doc["charts"][0]["markers"]
    assert any(m["kind"] == "trigger" and manifest_fired[0]["trigger"] in m["label"] for m in markers)
    assert any(e["kind"] == "metric" and "trigger" in e["title"] for e in doc["timeline"])
    assert doc["facts"]["hostname"] == "host001"


def test_perfcollect_folder_is_read_in_place(tmp_path, private_tmp):
    folder = _extract(PERF, tmp_path / "x")
    from_folder = _analyze(folder)
    from_parent = _analyze(str(tmp_path / "x"))     # the folder holding the recording folder
    from_tar = _analyze(PERF)
    for doc in (from_folder, from_parent):
        assert [f["check"] for f in doc["findings"]] == [f["check"] for f in from_tar["findings"]]
        assert [c["id"] for c in doc["charts"]] == [c["id"] for c in from_tar["charts"]]
    assert os.listdir(str(private_tmp)) == []


def test_perfcollect_series_match_the_recorded_samples(tmp_path):
    folder = _extract(PERF, tmp_path / "x")
    series = report_perf.read_series(folder)
    expected = []
    for _, path in perf_format.list_segments(folder):
        for record in perf_format.SegmentReader(path):
            if record.get("type") == "sample" and "load1" in record.get("m", {}):
                expected.append((record["t"], record["m"]["load1"]))
    assert series["load1"] == sorted(expected)
    assert not [name for name in series if name.startswith("cpu.0.")]   # per-CPU metrics not charted


def test_series_keep_peaks_when_thinned():
    series = report_perf.Series()
    total = report_perf.POINTS * 3
    for index in range(total):
        series.add(float(index), 100.0 if index == 5001 else 1.0)
    points = series.finish()
    assert len(points) < report_perf.POINTS
    assert max(v for _, v in points) == 100.0


def test_perfcollect_without_a_writable_temp_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "does-not-exist"))
    doc = _analyze(PERF)
    assert any("no writable temp folder" in w for w in doc["warnings"])
    assert any(f["check"] == "perfcollect.recording" and f["severity"] == "not evaluated" for f in doc["findings"])


def test_a_damaged_segment_still_gives_a_report(tmp_path, private_tmp):
    folder = _extract(PERF, tmp_path / "x")
    segment = perf_format.list_segments(folder)[0][1]
    with open(segment, "rb") as handle:
        data = handle.read()
    with open(segment, "wb") as handle:
        handle.write(data[:len(data) * 2 // 3])       # power loss mid-write
    doc = _analyze(folder)
    assert doc["engines"]["perfcollect"].startswith("ok:")
    assert any("segment-000001" in w for w in doc["warnings"])
    assert doc["charts"]


def test_a_foreign_manifest_is_not_a_recording(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    (tmp_path / "etc").mkdir()
    doc = _analyze(str(tmp_path))
    assert doc["bundle"]["kind"] == "root"
    assert doc["engines"]["perfcollect"] == "no recording in this source"


def test_sos_bundles_say_no_recording():
    doc = _analyze(fixture_path("report", "sos3-rhel7"))
    assert doc["engines"]["perfcollect"] == "no recording in this source"
    assert not _section(doc, "perfcollect")


def test_perfcollect_cli_text_and_html(tmp_path, capsys, private_tmp):
    code, out, err = run_tool(tool, [PERF, "--format", "text"], capsys)
    assert code == 0
    assert "PERFCOLLECT RECORDING" in out and "triggers fired (1)" in out
    page = tmp_path / "p.html"
    code, out, err = run_tool(tool, [PERF, "-o", str(page)], capsys)
    assert code == 0
    html = page.read_text()
    assert "Performance recording (perfcollect)" in html
    assert html.count("<svg") >= 3
    assert os.listdir(str(private_tmp)) == []


# ------------------------------------------------------------ --extract

def _tree(folder):
    found = []
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.append(os.path.relpath(os.path.join(top, name), folder))
    return sorted(found)


def test_extract_refuses_hostile_members_and_reports_from_the_folder(tmp_path, capsys):
    from test_report_hostile import _add, hostile_archive

    def more(tar, top):
        # a link inside the bundle, then a member written "through" it
        _add(tar, top + "/escape", kind=tarfile.SYMTYPE, link="var")
        _add(tar, top + "/escape/log/via-link", b"must not be written through a link")
        # a second member of the same name must not overwrite the first
        _add(tar, top + "/var/log/messages", b"OVERWRITTEN\n")
        _add(tar, top + "/messages-link", kind=tarfile.SYMTYPE, link="var/log/messages")
    archive = hostile_archive(tmp_path, more)
    dest = tmp_path / "case"
    before = set(os.listdir(str(tmp_path)))
    code, out, err = run_tool(tool, [archive, "--extract", str(dest), "--format", "text"], capsys)
    assert code == 0
    assert set(os.listdir(str(tmp_path))) - before == {"case"}
    assert not os.path.exists("/tmp/evil-absolute-%d" % os.getpid())
    assert not (tmp_path.parent / "evil-traversal").exists()
    files = _tree(str(dest))
    bundle = "sosreport-host1-2024-06-09-abc"
    assert sorted(f.split("/", 1)[1] for f in files if "/" in f) == sorted([
        "escape", "etc", "etc/os-release", "messages-link", "sos_commands", "sos_commands/host",
        "sos_commands/host/hostname", "var", "var/log", "var/log/messages"])
    assert files[0] == bundle
    for path in files:
        real = os.path.realpath(os.path.join(str(dest), path))
        assert real.startswith(os.path.realpath(str(dest)) + os.sep)
    with open(os.path.join(str(dest), bundle, "var/log/messages")) as handle:
        assert "OVERWRITTEN" not in handle.read()
    assert "SECRET-OUTSIDE-THE-BUNDLE" not in out
    assert "I/O error" in out or "sdb" in out                  # the report came from the extracted folder
    assert "refused" in err and "member(s) not extracted" in out


def test_extract_refuses_a_non_empty_folder_in_one_line(tmp_path, capsys):
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n")
    code, out, err = run_tool(tool, [fixture_path("report", "sos4-debian12.tar.xz"), "--extract", str(dest)],
                              capsys)
    assert code == 2
    assert err.count("\n") == 1 and "not empty" in err
    assert os.listdir(str(dest)) == ["keep.txt"]


def test_extract_needs_an_archive(tmp_path, capsys):
    code, out, err = run_tool(tool, [fixture_path("report", "sos3-rhel7"), "--extract", str(tmp_path / "x")],
                              capsys)
    assert code == 2 and "--extract needs an archive" in err
    assert not (tmp_path / "x").exists()


def test_extracted_report_matches_reading_in_place(tmp_path, capsys):
    archive = fixture_path("report", "sos4-debian12.tar.xz")
    dest = tmp_path / "case"
    code, out, err = run_tool(tool, [archive, "--extract", str(dest), "--json"], capsys)
    assert code == 0
    extracted = json.loads(out)["result"]
    in_place = _analyze(archive, now=None)
    assert [f["check"] for f in extracted["findings"]] == [f["check"] for f in in_place["findings"]]


def test_extract_of_a_truncated_archive_flags_the_damage(tmp_path, capsys):
    data = open(fixture_path("report", "sos4-debian12.tar.xz"), "rb").read()
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(data[:len(data) * 2 // 3])
    code, out, err = run_tool(tool, [str(cut), "--extract", str(tmp_path / "case"), "--format", "text"], capsys)
    assert code == 3
    assert "the bundle is damaged" in out
    assert "report: host001" in out


def test_extract_stops_before_a_decompression_bomb(tmp_path, monkeypatch):
    from test_report_hostile import _Zeros, _sos_members
    import gzip
    from shared import report_binary, sources
    monkeypatch.setattr(sources.TarTree, "BOMB_FLOOR", 8 * 1024 * 1024)
    monkeypatch.setattr(sources.TarTree, "BOMB_RATIO", 100)
    archive = str(tmp_path / "bomb.tar.gz")
    with gzip.open(archive, "wb", compresslevel=9) as raw:
        with tarfile.open(fileobj=raw, mode="w") as tar:
            top = _sos_members(tar)
            info = tarfile.TarInfo(top + "/var/log/zeros")
            info.size = 64 * 1024 * 1024
            tar.addfile(info, _Zeros(info.size))
    done = report_binary.extract(archive, str(tmp_path / "case"))
    assert "decompression bomb" in done.problem
    assert not os.path.exists(str(tmp_path / "case" / top / "var/log/zeros"))
    assert os.path.exists(str(tmp_path / "case" / top / "var/log/messages"))


# ------------------------------------------------------------ binary sar

BINARY_ARCHIVE = fixture_path("report", "sos-binary-logs.tar.xz")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """The sos-binary-logs bundle extracted: (folder, path of its sa26)."""
    folder = _extract(BINARY_ARCHIVE, tmp_path_factory.mktemp("binary"))
    return folder, os.path.join(folder, "var", "log", "sa", "sa26")
need_sadf = pytest.mark.skipif(not shutil.which("sadf") or not shutil.which("sar"),
                               reason="sysstat (sadf, sar) not installed")


def _sar_text(path, *flags):
    import subprocess
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(["sar"] + list(flags) + ["-f", path], stdout=subprocess.PIPE,
                          universal_newlines=True, env=env).stdout


def _chart_series(doc, name):
    for chart in doc["charts"]:
        for series in chart["series"]:
            if series["name"] == name:
                return [tuple(p) for p in series["points"]]
    return None


@need_sadf
def test_binary_sar_is_charted_through_sadf(binary, monkeypatch):
    from shared import report_sar
    BINARY, SA = binary
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    try:
        doc = _analyze(BINARY)
        # the same file read by sar as text, through the text parser
        text = report_sar.parse(_sar_text(SA, "-u", "-q").splitlines(), utc=True)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert doc["engines"]["sar-binary"].startswith("ok: 1 of 1")
    busy = _chart_series(doc, "cpu.busy_pct")
    assert busy == [(round(t, 1), v) for t, v in text.series["cpu.busy_pct"]]
    assert _chart_series(doc, "load1") == [(round(t, 1), v) for t, v in text.series["load1"]]
    assert not [f for f in doc["findings"] if f["check"] == "sar.binary"]


@need_sadf
def test_binary_sar_from_an_archive_uses_a_private_temp_copy(binary, private_tmp):
    BINARY, SA = binary
    doc = _analyze(BINARY_ARCHIVE)
    assert doc["engines"]["sar-binary"].startswith("ok:")
    assert _chart_series(doc, "cpu.busy_pct") == _chart_series(_analyze(BINARY), "cpu.busy_pct")
    assert os.listdir(str(private_tmp)) == []


def test_binary_sar_without_sadf_is_not_evaluated():
    from shared import runner
    recorder = runner.RecordingRunner()
    source = report_engine.open_bundle(BINARY_ARCHIVE)
    doc = report_engine.analyze(source, report_engine.Options(converter=recorder)).to_dict()
    found = [f for f in doc["findings"] if f["check"] == "sar.binary"]
    assert found and found[0]["severity"] == "not evaluated"
    assert found[0]["detail"].startswith("not evaluated (binary sar: sadf not installed")
    assert any(call.startswith("sadf -d ") for call in recorder.calls)
    assert not doc["charts"]


@need_sadf
def test_binary_sar_of_another_format_version_says_what_sadf_said(tmp_path, binary):
    BINARY, SA = binary
    folder = tmp_path / "b"
    shutil.copytree(BINARY, str(folder))
    path = folder / "var" / "log" / "sa" / "sa26"
    data = bytearray(path.read_bytes())
    data[2] ^= 0x04                      # the format magic of another sysstat version
    path.write_bytes(bytes(data))
    doc = _analyze(str(folder))
    found = [f for f in doc["findings"] if f["check"] == "sar.binary"][0]
    assert "cannot read the format of this file" in found["detail"]
    assert found["detail"].startswith("not evaluated (binary sar: var/log/sa/sa26: ")


@need_sadf
def test_text_sar_is_preferred_over_binary(tmp_path, binary):
    from shared import runner
    BINARY, SA = binary
    folder = tmp_path / "b"
    shutil.copytree(BINARY, str(folder))
    (folder / "sos_commands" / "sar").mkdir()
    (folder / "sos_commands" / "sar" / "sar26").write_text(_sar_text(SA, "-A"))
    recorder = runner.RecordingRunner()
    source = report_engine.open_bundle(str(folder))
    doc = report_engine.analyze(source, report_engine.Options(converter=recorder)).to_dict()
    assert doc["engines"]["sar-binary"].startswith("not converted: text sar present")
    assert not [c for c in recorder.calls if c.startswith("sadf")]
    assert _chart_series(doc, "cpu.busy_pct")


def test_binary_sar_without_a_temp_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    doc = _analyze(BINARY_ARCHIVE)
    found = [f for f in doc["findings"] if f["check"] == "sar.binary"][0]
    assert "no writable temp folder" in found["detail"]


# ------------------------------------------------------------ binary journals

need_journalctl = pytest.mark.skipif(not shutil.which("journalctl"), reason="journalctl (systemd) not installed")
JOURNAL_DIR = os.path.join("var", "log", "journal", "11112222333344445555666677778888")


def _journal_lines(path, *args):
    import subprocess
    return subprocess.run(["journalctl", "--no-pager", "-o", "short-iso", "--file", path] + list(args),
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines()


def _assert_journal_read(doc, folder):
    """The fixture journal's I/O errors and unclean boot reached the rules and engines, from the converted text."""
    from shared import report_binary
    assert doc["engines"]["journal"].startswith("ok: 1 of 1 file(s)")
    expected = [l for l in _journal_lines(os.path.join(folder, JOURNAL_DIR, "system.journal")) if "I/O error" in l]
    io = [f for f in doc["findings"] if f["check"] == "oops.io-error" or f["check"].startswith("log.io")]
    assert io and len(io[0]["evidence"]) == len(expected) == 3
    assert all(e["origin"] == report_binary.JOURNAL_TEXT for e in io[0]["evidence"])
    unclean = [f for f in doc["findings"] if f["check"] == "bootlog.unclean"]
    assert unclean and unclean[0]["severity"] == "critical"


@need_journalctl
def test_binary_journal_feeds_log_rules_oops_and_bootlog(binary, private_tmp):
    folder, _ = binary
    doc = _analyze(BINARY_ARCHIVE)
    _assert_journal_read(doc, folder)
    assert any(f["check"].startswith("oops.") and "EXT4-fs error" in f["title"] for f in doc["findings"])
    assert os.listdir(str(private_tmp)) == []


@need_journalctl
@pytest.mark.parametrize("suffix", ["xz", "gz"])
def test_an_archived_roots_binary_journal_is_read_too(binary, tmp_path, private_tmp, suffix):
    """A tarball of a journal-only root (Debian 12 keeps no text syslog): 'tar czf root.tgz etc var/log'.
    No journalctl -D can read inside it, so report converts its journal files like a sos bundle's."""
    folder, _ = binary
    archive = str(tmp_path / ("root-host001." + ("tar.xz" if suffix == "xz" else "tgz")))
    with tarfile.open(archive, "w:" + suffix) as tar:
        tar.add(os.path.join(folder, "etc", "os-release"), "etc/os-release")
        tar.add(os.path.join(folder, "sos_commands", "host", "hostname"), "etc/hostname")
        tar.add(os.path.join(folder, JOURNAL_DIR, "system.journal"), JOURNAL_DIR.replace(os.sep, "/")
                + "/system.journal")
    source = report_engine.open_bundle(archive)
    assert source.kind == "root"
    source.tree.close()
    doc = _analyze(archive)
    _assert_journal_read(doc, folder)
    assert os.listdir(str(private_tmp)) == []


def test_a_tarball_of_var_log_is_read_as_a_root(tmp_path):
    """'tar czf varlog.tgz /var/log': one top folder, 'var', which is the root's own, not a wrapper."""
    archive = str(tmp_path / "varlog.tgz")
    syslog = (b"Nov 26 03:05:12 host001 kernel: [68712.200002] EXT4-fs error (device sdb1): "
              b"ext4_find_entry:1658: inode #2: comm app: reading directory lblock 0\n")
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("var/log/syslog")
        info.size = len(syslog)
        info.mtime = 1795662312
        tar.addfile(info, io.BytesIO(syslog))
    source = report_engine.open_bundle(archive)
    try:
        assert source.kind == "root" and source.log_files("syslog") == ["var/log/syslog"]
    finally:
        source.tree.close()
    doc = _analyze(archive)
    assert any("EXT4-fs error" in f["title"] for f in doc["findings"]), [f["title"] for f in doc["findings"]]


def test_a_mounted_roots_journal_is_not_converted(binary, tmp_path):
    """A folder root (mounted or copied) is read by journalctl -D through the engines, not converted."""
    from shared import runner
    recorder = runner.RecordingRunner()
    root = tmp_path / "root"
    os.makedirs(str(root / JOURNAL_DIR))
    shutil.copy(os.path.join(binary[0], JOURNAL_DIR, "system.journal"), str(root / JOURNAL_DIR))
    source = report_engine.open_bundle(str(root))
    assert source.kind == "root"
    doc = report_engine.analyze(source, report_engine.Options(converter=recorder)).to_dict()
    assert "journal" not in doc["engines"] or not doc["engines"]["journal"].startswith("ok")
    assert not [c for c in recorder.calls if "--file" in c]


def test_binary_journal_without_journalctl_is_said(tmp_path):
    from shared import runner
    recorder = runner.RecordingRunner()
    source = report_engine.open_bundle(BINARY_ARCHIVE)
    doc = report_engine.analyze(source, report_engine.Options(converter=recorder)).to_dict()
    found = [f for f in doc["findings"] if f["check"] == "journal.binary"]
    assert found and found[0]["detail"].startswith("not evaluated (binary journal: journalctl not installed")
    assert doc["engines"]["journal"].startswith("not evaluated (binary journal: journalctl not installed")
    assert any("binary journal" in w and "journalctl" in w for w in doc["warnings"])
    assert any(c.startswith("journalctl --no-pager -o short-iso") for c in recorder.calls)
    assert not [f for f in doc["findings"] if "io" in f["check"].split(".")[-1]]


def test_journal_text_export_is_preferred(tmp_path, binary):
    from shared import runner
    folder = tmp_path / "b"
    shutil.copytree(binary[0], str(folder))
    (folder / "sos_commands" / "logs").mkdir()
    (folder / "sos_commands" / "logs" / "journalctl_--no-pager").write_text(
        "Nov 26 12:00:00 host001 kernel: I/O error, dev sdc, sector 9 op 0x0:(READ) flags 0x0\n")
    recorder = runner.RecordingRunner()
    source = report_engine.open_bundle(str(folder))
    doc = report_engine.analyze(source, report_engine.Options(converter=recorder)).to_dict()
    assert doc["engines"]["journal"].startswith("not converted: journal text present")
    assert not [c for c in recorder.calls if c.startswith("journalctl")]


@need_journalctl
def test_big_journals_are_capped_newest_first(tmp_path, binary, monkeypatch):
    from shared import report_binary
    folder = tmp_path / "b"
    shutil.copytree(binary[0], str(folder))
    journal = folder / JOURNAL_DIR
    older = journal / "system@0000000000000000000000000000000a-0000000000000001-0005d1a2b3c4d5e6.journal"
    shutil.copy(str(journal / "system.journal"), str(older))
    os.utime(str(older), (1700000000, 1700000000))
    size = os.path.getsize(str(older))
    monkeypatch.setattr(report_binary, "JOURNAL_CAP", size + 1)
    doc = _analyze(str(folder))
    assert "ok: 1 of 2 file(s)" in doc["engines"]["journal"]
    assert any("1 older file(s) left out" in w for w in doc["warnings"])


@need_journalctl
def test_journal_entries_are_capped_to_the_newest(binary, monkeypatch):
    from shared import report_binary
    folder, _ = binary
    monkeypatch.setattr(report_binary, "JOURNAL_LINES", 5)
    newest = _journal_lines(os.path.join(folder, JOURNAL_DIR, "system.journal"), "-n", "5")
    source = report_engine.open_bundle(BINARY_ARCHIVE)
    try:
        doc = report_engine.analyze(source, report_engine.Options()).to_dict()
        text = source.read_text(report_binary.JOURNAL_TEXT)
    finally:
        source.tree.close()
    assert text.splitlines() == newest
    assert any("the newest 5 entries kept" in w for w in doc["warnings"])
    assert not [f for f in doc["findings"] if "io" in f["check"].split(".")[-1]]   # older than the newest 5


# ------------------------------------------------------------ multipath

def _with_multipath(tmp_path, sample, name):
    folder = tmp_path / "sos"
    shutil.copytree(fixture_path("report", "minimal"), str(folder))
    (folder / "sos_commands" / "multipath").mkdir()
    shutil.copy(fixture_path("report", "multipath", sample), str(folder / "sos_commands" / "multipath" / name))
    return str(folder)


def test_failed_multipath_paths_are_flagged_per_map(tmp_path):
    doc = _analyze(_with_multipath(tmp_path, "multipath_-v4_-ll", "multipath_-v4_-ll"))
    found = dict((f["title"].split(":")[0], f) for f in doc["findings"] if f["check"] == "multipath.failed")
    assert sorted(found) == ["multipath mpatha", "multipath mpathb"]
    assert found["multipath mpathb"]["severity"] == "critical"
    assert "2 of 2 path(s) failed, NO path left (sdc sde)" in found["multipath mpathb"]["title"]
    assert found["multipath mpatha"]["severity"] == "warning"
    assert "1 of 4 path(s) failed (sdd)" in found["multipath mpatha"]["title"]
    lines = open(fixture_path("report", "multipath", "multipath_-v4_-ll")).read().splitlines()
    for finding in found.values():
        for evidence in finding["evidence"]:
            assert evidence["origin"] == "sos_commands/multipath/multipath_-v4_-ll"
            assert " | " not in lines[evidence["line"] - 1][:24]          # never a -v4 debug line
    section = [s for s in doc["sections"] if s["id"] == "storage"][0]
    assert any(i.get("title") == "multipath -ll" for i in section["items"])


def test_healthy_multipath_with_standby_paths_is_ok(tmp_path):
    doc = _analyze(_with_multipath(tmp_path, "multipath_-ll.healthy", "multipath_-ll"))
    found = [f for f in doc["findings"] if f["check"] == "multipath.failed"]
    assert [(f["severity"], f["title"]) for f in found] == [("ok", "multipath: 1 map(s), all 2 path(s) active")]
