"""Block-parallel xz decoding (shared/xzblocks) and the one-pass tar reading
over it (sources.ForwardReader): the same bytes, the same report and the
same damage handling as Python's lzma, on archives written the way sos
writes them (``xz -T``: several blocks)."""

import io
import json
import lzma
import os
import random
import shutil
import subprocess
import tarfile
import threading

import pytest

from shared import report_engine, sources, xzblocks

XZ = shutil.which("xz")
needs_xz = pytest.mark.skipif(XZ is None, reason="the xz program is not installed (Debian: xz-utils)")


def _varied(size, seed=1):
    """Text that compresses like logs, not like zeros."""
    rng = random.Random(seed)
    words = [b"kernel", b"sshd", b"request", b"served", b"status=200", b"eth0", b"Link", b"up", b"session"]
    out = []
    total = 0
    number = 0
    while total < size:
        line = b"Jun  9 06:%02d:%02d host1 %s[%d]: %s\n" % (
            number // 60 % 60, number % 60, rng.choice(words), rng.randint(1, 99999),
            b" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
        out.append(line)
        total += len(line)
        number += 1
    return b"".join(out)[:size]


def _xz_blocks(data, path, block_size="64KiB"):
    """``data`` compressed by the xz program into blocks of ``block_size``."""
    with open(path, "wb") as out:
        subprocess.run([XZ, "-2", "-T2", "--block-size=" + block_size, "-c"], input=data, stdout=out, check=True)
    return path


@needs_xz
def test_blocks_come_back_in_order_whatever_the_read_sizes(tmp_path):
    data = _varied(3 * 1024 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    reader = xzblocks.open_parallel(path, workers=3)
    assert reader is not None, "a multi-block file must be read block-parallel"
    assert len(reader._blocks) > 10
    rng = random.Random(5)
    got = []
    try:
        while True:
            size = rng.choice([1, 7, 512, 4096, 65536, 70000, 1 << 20])
            piece = reader.read_piece(size) if rng.random() < 0.5 else reader.read(size)
            if not piece:
                break
            assert len(piece) <= size
            got.append(piece)
    finally:
        reader.close()
    assert b"".join(got) == data


@needs_xz
def test_read_all_and_close_half_way_stop_the_workers(tmp_path):
    data = _varied(1024 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    reader = xzblocks.open_parallel(path, workers=2)
    assert reader.read() == data
    reader.close()
    before = threading.active_count()
    reader = xzblocks.open_parallel(path, workers=2)
    assert reader.read(1000) == data[:1000]
    reader.close()                 # workers blocked on the look-ahead window must end
    assert threading.active_count() <= before


def test_files_not_shaped_for_it_are_left_to_lzma(tmp_path):
    data = _varied(256 * 1024)
    single = tmp_path / "single.xz"
    single.write_bytes(lzma.compress(data))          # Python writes one block
    assert xzblocks.open_parallel(str(single), workers=2) is None
    assert xzblocks.open_parallel(str(single), workers=1) is None
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    assert xzblocks.open_parallel(str(plain), workers=2) is None
    empty = tmp_path / "empty.xz"
    empty.write_bytes(b"")
    assert xzblocks.open_parallel(str(empty), workers=2) is None


@needs_xz
def test_truncated_or_concatenated_files_are_left_to_lzma(tmp_path):
    data = _varied(512 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    whole = open(path, "rb").read()
    cut = tmp_path / "cut.xz"
    cut.write_bytes(whole[:len(whole) - 100])         # footer and index gone
    assert xzblocks.open_parallel(str(cut), workers=2) is None
    two = tmp_path / "two.xz"
    two.write_bytes(whole + whole)                     # two streams
    assert xzblocks.open_parallel(str(two), workers=2) is None
    padded = tmp_path / "padded.xz"
    padded.write_bytes(whole + b"\0" * 8)               # stream padding is fine
    reader = xzblocks.open_parallel(str(padded), workers=2)
    assert reader is not None and reader.read() == data
    reader.close()


@needs_xz
def test_big_blocks_are_not_held_in_memory(tmp_path, monkeypatch):
    data = _varied(512 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    monkeypatch.setattr(xzblocks, "MAX_BLOCK", 32 * 1024)
    assert xzblocks.open_parallel(path, workers=2) is None


@needs_xz
def test_a_damaged_block_stops_the_reader_after_the_good_ones(tmp_path):
    data = _varied(1024 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    raw = bytearray(open(path, "rb").read())
    reader = xzblocks.open_parallel(path, workers=2)
    blocks = reader._blocks
    reader.close()
    offset, padded = blocks[5][0], blocks[5][1]
    raw[offset + padded // 2] ^= 0x55                 # inside block 5's compressed data
    damaged = tmp_path / "damaged.xz"
    damaged.write_bytes(bytes(raw))
    reader = xzblocks.open_parallel(str(damaged), workers=2)
    good = sum(block[3] for block in blocks[:5])
    got = reader.read(good)
    assert got == data[:good]
    with pytest.raises(lzma.LZMAError):
        while reader.read(65536):
            pass
    reader.close()


@needs_xz
def test_an_index_that_lies_about_sizes_is_refused(tmp_path):
    """A block bigger than its index says (a bomb in disguise) is an error, not memory."""
    data = _varied(512 * 1024)
    path = _xz_blocks(data, str(tmp_path / "log.xz"))
    with open(path, "rb") as handle:
        flags, blocks = xzblocks.read_index(handle, os.path.getsize(path))
    offset, padded, unpadded, uncompressed = blocks[0]
    reader = xzblocks.ParallelXZReader(path, flags, [(offset, padded, unpadded, uncompressed - 1000)] + blocks[1:], 2)
    with pytest.raises(lzma.LZMAError):
        reader.read(1 << 20)
    reader.close()


def test_forward_reader_goes_back_only_within_its_window():
    data = bytes(range(256)) * 64
    forward = sources.ForwardReader(io.BufferedReader(io.BytesIO(data)))
    assert forward.read(1000) == data[:1000]
    forward.seek(999)
    assert forward.read(2) == data[999:1001]
    forward.seek(5000)                  # forward: skipped by reading
    assert forward.tell() == 5000 and forward.read_piece(100) == data[5000:5100]
    with pytest.raises(OSError):
        forward.seek(10)                # further back than the window
    forward.seek(5100 - 50)
    assert forward.read() == data[5050:]


def _tar_bytes(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1717920000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _sos_members():
    top = "sosreport-host1-2024-06-09-abcdef/"
    body = _varied(3 * 1024 * 1024, seed=3)
    planted = (b"Jun  9 06:40:00 host1 kernel: [  99.0] Out of memory: Killed process 4242 (java) "
               b"total-vm:8123456kB, anon-rss:6512336kB\n"
               b"Jun  9 06:40:01 host1 kernel: [  99.1] blk_update_request: I/O error, dev sdb, sector 42\n")
    return [
        (top + "sos_commands/host/hostname", b"host1\n"),
        (top + "sos_commands/kernel/uname_-a", b"Linux host1 5.14.0-362.el9.x86_64 #1 SMP x86_64 GNU/Linux\n"),
        (top + "sos_commands/filesys/df_-al_-x_autofs",
         b"Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/vda1 1000000 970000 30000 97% /\n"),
        (top + "etc/os-release", b'ID="rhel"\nVERSION_ID="9.3"\n'),
        (top + "var/log/messages", body[:body.index(b"\n", len(body) // 2) + 1] + planted
         + body[body.index(b"\n", len(body) // 2) + 1:]),
        (top + "var/log/big-unread.bin", _varied(700 * 1024, seed=9)),   # not kept: read later
        (top + "var/log/secure", planted),
        (top + "var/log/messages-20240602.gz", _gzip(body[:600 * 1024] + planted)),
    ]


def _gzip(data):
    import gzip
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


MODES = {"parallel": (True, True), "stream": (False, True), "tarfile": (False, False)}


def _mode(monkeypatch, mode):
    """parallel: xzblocks; stream: Python's decompressor read as a stream; tarfile: tarfile's own reading."""
    parallel, stream = MODES[mode]
    monkeypatch.setattr(sources, "PARALLEL_XZ", parallel)
    monkeypatch.setattr(sources, "STREAM_PASS", stream)
    used = []
    real = xzblocks.open_parallel

    def spy(*args, **kwargs):
        reader = real(*args, **kwargs)
        used.append(reader is not None)
        return reader
    monkeypatch.setattr(xzblocks, "open_parallel", spy)
    return used


def _report(path, mode, monkeypatch, grep=True):
    used = _mode(monkeypatch, mode)
    monkeypatch.setattr(sources.TarTree, "GREP_DIGESTS", grep)
    monkeypatch.setattr(sources.TarTree, "CACHE_FILE_LIMIT", 16 * 1024)
    monkeypatch.setattr(sources.TarTree, "KEEP_FILE_LIMIT", 64 * 1024)    # digest the big logs
    source = report_engine.open_bundle(path)
    try:
        doc = report_engine.analyze(source, report_engine.Options(now=1717920000)).to_dict()
        late = source.tree.open("var/log/big-unread.bin").read()
        assert source.tree.from_stream == (mode != "tarfile")
        assert any(used) == (mode == "parallel"), "block-parallel decoding %s" % (
            "not used" if mode == "parallel" else "used")
        assert source.tree.digest("var/log/messages") is not None
        assert source.tree.digest("var/log/messages-20240602.gz") is not None     # gzip inside, digested
        return doc, late
    finally:
        source.tree.close()


def _comparable(doc):
    doc = json.loads(json.dumps(doc))
    doc.pop("elapsed_s", None)
    return doc


@needs_xz
@pytest.mark.parametrize("grep", [True, False], ids=["grep-digests", "python-digests"])
def test_a_sos_style_multi_block_archive_gives_the_same_report(tmp_path, monkeypatch, grep):
    members = _sos_members()
    path = _xz_blocks(_tar_bytes(members), str(tmp_path / "sosreport-host1.tar.xz"), "256KiB")
    reference, late = _report(path, "tarfile", monkeypatch, grep)
    assert late == members[5][1]
    checks = set(f["check"] for f in reference["findings"])
    assert "oops.oom" in checks, sorted(checks)
    for mode in ("parallel", "stream"):
        doc, late = _report(path, mode, monkeypatch, grep)
        assert late == members[5][1], "%s: a member not kept must still be readable after the pass" % mode
        assert _comparable(doc) == _comparable(reference), mode


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_other_compressions_read_as_a_stream_give_the_same_report(tmp_path, monkeypatch, suffix):
    members = _sos_members()
    path = str(tmp_path / ("sosreport-host1.tar." + suffix))
    with tarfile.open(path, "w:" + suffix) as tar:     # Python's tarfile: one xz block
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1717920000
            tar.addfile(info, io.BytesIO(data))
    reference, late_reference = _report(path, "tarfile", monkeypatch)
    doc, late = _report(path, "stream", monkeypatch)
    assert late == late_reference == members[5][1]
    assert _comparable(doc) == _comparable(reference)


@needs_xz
@pytest.mark.parametrize("mode", ["parallel", "stream"])
def test_a_damaged_block_in_a_sos_archive_is_flagged_and_the_rest_reported(tmp_path, monkeypatch, mode):
    members = _sos_members()
    path = _xz_blocks(_tar_bytes(members), str(tmp_path / "sosreport-host1.tar.xz"), "256KiB")
    raw = bytearray(open(path, "rb").read())
    with open(path, "rb") as handle:
        _, blocks = xzblocks.read_index(handle, len(raw))
    offset, padded = blocks[-2][0], blocks[-2][1]     # near the end: the small members come first
    raw[offset + padded // 2] ^= 0x55
    damaged = tmp_path / "sosreport-host1-damaged.tar.xz"
    damaged.write_bytes(bytes(raw))
    outputs = {}
    for each in (mode, "tarfile"):
        _mode(monkeypatch, each)
        source = report_engine.open_bundle(str(damaged))
        try:
            assert source.tree.from_stream == (each != "tarfile")
            warnings = [w for w in source.warnings if "corrupt" in w]
            assert warnings, source.warnings
            assert source.read_text("sos_commands/host/hostname") == "host1\n"
            outputs[each] = warnings
        finally:
            source.tree.close()
    # the same one-line cause either way (liblzma's words)
    assert outputs[mode] == outputs["tarfile"]


@needs_xz
def test_big_blocks_keep_the_report_under_the_memory_bar(tmp_path):
    """The biggest blocks still decoded in parallel (MAX_BLOCK): the whole report,
    workers and grep included, stays under the 200 MB bar."""
    import sys
    top = "sosreport-host1-2024-06-09-abcdef/"
    line = b"Jun  9 06:00:00 host1 app[12]: request served status=200 bytes=5123 in 12 ms\n"
    body = line * (200 * 1024 * 1024 // len(line))
    body += b"Jun  9 06:40:00 host1 kernel: [  99.0] Out of memory: Killed process 4242 (java)\n"
    path = str(tmp_path / "sosreport-host1.tar.xz")
    with open(path, "wb") as out:
        xz = subprocess.Popen([XZ, "-0", "-T2", "--block-size=%d" % xzblocks.MAX_BLOCK, "-c"],
                              stdin=subprocess.PIPE, stdout=out)
        with tarfile.open(fileobj=xz.stdin, mode="w|") as tar:
            for name, data in ((top + "sos_commands/host/hostname", b"host1\n"), (top + "var/log/messages", body)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        xz.stdin.close()
        assert xz.wait() == 0
    del body
    with open(path, "rb") as handle:
        _, blocks = xzblocks.read_index(handle, os.path.getsize(path))
    assert len(blocks) >= 6 and max(b[3] for b in blocks) == xzblocks.MAX_BLOCK
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # a fresh parent, so the peak is this report's (and its grep's), not an earlier test's child
    measure = ("import resource, subprocess, sys\n"
               "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
               "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    result = subprocess.run([sys.executable, "-c", measure, sys.executable, os.path.join(root, "scripts", "report.py"),
                             path, "--json", "-o", str(tmp_path / "r.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    rc, peak_kib = (int(word) for word in result.stdout.split())
    assert rc == 0, result.stderr
    assert peak_kib < 200 * 1024, "peak %d MiB" % (peak_kib // 1024)
    doc = json.loads((tmp_path / "r.json").read_text())["result"]
    assert any(f["check"] == "oops.oom" for f in doc["findings"])
