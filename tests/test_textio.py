"""Compression by content, lenient decoding, and the fast match scanner."""

import bz2
import gzip
import io
import lzma
import re

import pytest

from shared import textio


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress, lambda d: d])
def test_compression_is_detected_by_content_not_name(tmp_path, compress):
    path = tmp_path / "messages.1"  # no telling extension
    path.write_bytes(compress(b"line one\nline two\n"))
    stream = textio.open_path(str(path))
    assert [t for _, t in textio.LineReader(stream)] == ["line one", "line two"]


def test_zstd_is_refused_with_advice(tmp_path):
    path = tmp_path / "x.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    with pytest.raises(textio.Unreadable) as error:
        textio.open_path(str(path))
    assert "zstd -d" in str(error.value)


def test_crlf_and_invalid_utf8():
    lines = list(textio.LineReader(io.BytesIO(b"a\r\nb\xff\r\n")))
    assert lines == [(1, "a"), (2, "b\ufffd")]


def test_match_scanner_counts_lines_and_keeps_the_previous_line():
    data = b"".join(b"noise %d\n" % i for i in range(100000))
    data = data.replace(b"noise 50000\n", b"Linux version 6.1.0\n").replace(b"noise 99999\n", b"Linux version 6.2\n")
    scanner = textio.MatchScanner(io.BytesIO(data), re.compile(b"Linux version"), previous=True)
    scanner.CHUNK = 4096  # force matches across chunk boundaries
    found = []
    for lineno, text in scanner:
        found.append((lineno, text, scanner.before))
    assert found == [(50001, "Linux version 6.1.0", "noise 49999"), (100000, "Linux version 6.2", "noise 99998")]
    assert scanner.lines == 100000 and scanner.last_line == "Linux version 6.2"


def test_match_scanner_matches_grep_on_random_text():
    import random
    rng = random.Random(7)
    words = [b"alpha", b"BUG: soft lockup", b"beta", b"Out of memory", b"", b"x" * 300]
    data = b"\n".join(rng.choice(words) for _ in range(20000)) + b"\n"
    regex = re.compile(b"BUG: |Out of memory")
    expected = [n for n, line in enumerate(data.split(b"\n"), 1) if regex.search(line)]
    scanner = textio.MatchScanner(io.BytesIO(data), regex)
    scanner.CHUNK = 1000
    assert [n for n, _ in scanner] == expected
