"""report on hostile and damaged bundles: traversal, link escapes, devices, bombs,
truncated / corrupt compression, a 2 GB single-line log, huge members read in one pass.

Each gives a clear message or a report that flags the damage, writes nothing
outside the output path and stays within bounded memory."""

import gzip
import io
import os
import resource
import subprocess
import sys
import tarfile


from conftest import ROOT, fixture_path, run_tool
from scripts import report as tool
from shared import report_engine, sources

SYSLOG = ("Jun  9 06:00:01 host1 kernel: Linux version 5.14.0-1 (builder@example) #1 SMP\n"
          "Jun  9 06:00:02 host1 kernel: Command line: root=/dev/vda ro\n"
          "Jun  9 06:10:00 host1 kernel: blk_update_request: I/O error, dev sdb, sector 2048 op 0x0:(READ)\n")


def _add(tar, name, data=b"", kind=tarfile.REGTYPE, link=None, size=None):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = 1717920000
    if link is not None:
        info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data) if size is None else size
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def _sos_members(tar, top="sosreport-host1-2024-06-09-abc"):
    _add(tar, top, kind=tarfile.DIRTYPE)
    _add(tar, top + "/sos_commands", kind=tarfile.DIRTYPE)
    _add(tar, top + "/sos_commands/host/hostname", b"host1\n")
    _add(tar, top + "/etc/os-release", b'ID="rhel"\nVERSION_ID="9.4"\nPRETTY_NAME="RHEL 9.4"\n')
    _add(tar, top + "/var/log/messages", SYSLOG.encode())
    return top


def run_in(folder, argv, capsys):
    """Run the tool with cwd = folder; return (code, out, err, new files in folder)."""
    before = set(os.listdir(folder))
    old = os.getcwd()
    os.chdir(folder)
    try:
        code, out, err = run_tool(tool, argv, capsys)
    finally:
        os.chdir(old)
    return code, out, err, sorted(set(os.listdir(folder)) - before)


def hostile_archive(tmp_path, more=None):
    """A sos .tar.gz with a traversal, an absolute name, symlinks and a hardlink
    pointing at tmp_path/outside-secret, a device and a FIFO; ``more(tar, top)``
    adds members after them.  Returns the archive path."""
    archive = str(tmp_path / "hostile.tar.gz")
    outside = tmp_path / "outside-secret"
    outside.write_text("SECRET-OUTSIDE-THE-BUNDLE\n")
    with tarfile.open(archive, "w:gz") as tar:
        top = _sos_members(tar)
        _add(tar, top + "/../../evil-traversal", b"x")
        _add(tar, "/tmp/evil-absolute-%d" % os.getpid(), b"x")
        _add(tar, top + "/var/log/syslog", kind=tarfile.SYMTYPE, link="../../../../" + str(outside))
        _add(tar, top + "/var/log/kern.log", kind=tarfile.SYMTYPE, link=str(outside))
        _add(tar, top + "/var/log/secure", kind=tarfile.LNKTYPE, link="../../outside-secret")
        _add(tar, top + "/dev/sda", kind=tarfile.BLKTYPE)
        _add(tar, top + "/var/log/fifo", kind=tarfile.FIFOTYPE)
        if more is not None:
            more(tar, top)
    return archive


def test_traversal_absolute_links_and_devices_are_refused(tmp_path, capsys):
    archive = hostile_archive(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    code, out, err, new = run_in(str(work), [archive, "-o", "out.html"], capsys)
    assert code == 0
    assert new == ["out.html"]
    assert not os.path.exists("/tmp/evil-absolute-%d" % os.getpid())
    assert not (tmp_path.parent / "evil-traversal").exists()
    page = (work / "out.html").read_text()
    assert "SECRET-OUTSIDE-THE-BUNDLE" not in page
    assert "absolute or &#x27;..&#x27; names" in page          # the warning, in the report
    assert "block device I/O errors" in page or "I/O error on sdb" in page   # the real content still read


def test_decompression_bomb_stops_before_the_bomb(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sources.TarTree, "BOMB_FLOOR", 8 * 1024 * 1024)
    monkeypatch.setattr(sources.TarTree, "BOMB_RATIO", 100)
    archive = str(tmp_path / "bomb.tar.gz")
    with gzip.open(archive, "wb", compresslevel=9) as raw:
        with tarfile.open(fileobj=raw, mode="w") as tar:
            top = _sos_members(tar)
            info = tarfile.TarInfo(top + "/var/log/zeros")
            info.size = 64 * 1024 * 1024
            tar.addfile(info, _Zeros(info.size))
            _add(tar, top + "/var/log/after-the-bomb", b"never read\n")
    assert os.path.getsize(archive) < 200 * 1024
    work = tmp_path / "work"
    work.mkdir()
    code, out, err, new = run_in(str(work), [archive, "-o", "r.json"], capsys)
    assert code == 3                                            # partial: the damage is flagged
    assert new == ["r.json"]
    import json
    doc = json.loads((work / "r.json").read_text())["result"]
    damaged = [f for f in doc["findings"] if f["check"] == "bundle.damaged"]
    assert damaged and "decompression bomb" in damaged[0]["detail"]
    source = report_engine.open_bundle(archive)
    assert source.exists("var/log/messages") and not source.exists("var/log/after-the-bomb")


class _Zeros(object):
    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return b"\0" * size


def test_truncated_xz_archive_gives_a_flagged_partial_report(tmp_path, capsys):
    data = open(fixture_path("report", "sos4-debian12.tar.xz"), "rb").read()
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(data[:len(data) * 2 // 3])
    code, out, err = run_tool(tool, [str(cut), "--format", "text"], capsys)
    assert code == 3
    assert "the bundle is damaged" in out
    assert "report: host001" in out                             # what was before the cut is reported


def test_corrupt_gzip_archive(tmp_path, capsys):
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        _sos_members(tar)
        _add(tar, "sosreport-host1-2024-06-09-abc/var/log/big",
             b"".join(b"Jun  9 06:00:%02d host1 app: line %d\n" % (i % 60, i) for i in range(60000)))
    data = bytearray(archive.read_bytes())
    for index in range(len(data) // 2, len(data) // 2 + 64):
        data[index] ^= 0x5A
    archive.write_bytes(bytes(data))
    code, out, err = run_tool(tool, [str(archive), "--format", "text"], capsys)
    assert code == 3
    assert "the bundle is damaged" in out and "report: host1" in out


def test_not_an_archive_is_one_clear_line(tmp_path, capsys):
    junk = tmp_path / "bundle.tar.xz"
    junk.write_bytes(b"this is not a tar archive at all\n" * 10)
    code, out, err = run_tool(tool, [str(junk)], capsys)
    assert code == 1 and out == ""
    assert "cannot read as a tar archive" in err and len(err.strip().splitlines()) == 1


def test_two_gigabyte_single_line_log(tmp_path):
    """A sparse 2 GiB line (never stored): read through, memory bounded, the line after it found."""
    top = tmp_path / "sosreport-big"
    (top / "sos_commands" / "host").mkdir(parents=True)
    (top / "sos_commands" / "host" / "hostname").write_text("host1\n")
    log = top / "var" / "log"
    log.mkdir(parents=True)
    with open(str(log / "messages"), "wb") as handle:
        handle.write(SYSLOG.encode())
        handle.write(b"Jun  9 06:20:00 host1 app: " + b"x" * 8192)
        handle.seek(2 * 1024 * 1024 * 1024)
        handle.write(b"\nJun  9 06:30:00 host1 kernel: Buffer I/O error on dev sdc1, logical block 7\n")
    out = tmp_path / "r.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # every reader of the file counts: our process, its parallel workers and the grep helpers
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "report.py"), str(top), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(peak_kib, before) < 300 * 1024                   # KiB on Linux: well under 300 MB
    import json
    doc = json.loads(out.read_text())["result"]
    evidence = [e for f in doc["findings"] for e in f["evidence"] if "sdc1" in (e["excerpt"] or "")]
    assert evidence and evidence[0]["line"] == 5                # counted past the 2 GiB line
    assert any("over-long line" in w for w in doc["warnings"])


def test_big_member_is_digested_in_one_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(sources.TarTree, "KEEP_FILE_LIMIT", 256 * 1024)
    monkeypatch.setattr(sources.TarTree, "CACHE_FILE_LIMIT", 64 * 1024)
    monkeypatch.setattr(sources.TarTree, "DIGEST_TAIL", 16 * 1024)
    lines = ["Jun  9 06:%02d:%02d host1 app[1]: routine line %d" % ((i // 60) % 60, i % 60, i) for i in range(40000)]
    lines[20000] = "Jun  9 06:33:20 host1 kernel: EXT4-fs error (device sdb1): ext4_lookup:1234: bad inode"
    archive = str(tmp_path / "big.tar.xz")
    with tarfile.open(archive, "w:xz") as tar:
        top = _sos_members(tar)
        _add(tar, top + "/var/log/syslog", ("\n".join(lines) + "\n").encode())
    source = report_engine.open_bundle(archive)
    assert source.tree.digest("var/log/syslog") is not None
    got = dict((l.lineno, l.text) for l in source.lines("var/log/syslog"))
    assert got[20001].endswith("bad inode")                     # real line number kept
    assert 40000 in got and 30000 not in got                    # the tail, not the middle
    assert any("read in one pass" in w for w in source.warnings)
    doc = report_engine.analyze(source, report_engine.Options(engines=False)).to_dict()
    fs = [f for f in doc["findings"] if f["check"] == "log.fs.errors"]
    assert fs and fs[0]["evidence"][0]["line"] == 20001


def test_cached_members_are_seekable(tmp_path):
    """Readers that go back (the boot-timeline windows) see the same bytes as on a folder."""
    archive = str(tmp_path / "a.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        _sos_members(tar)
    source = sources.open_source(archive)
    stream = source.open("var/log/messages")
    first = stream.read(20)
    stream.seek(0)
    assert stream.read(20) == first
