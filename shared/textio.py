"""Opening logs and text files: compression by content, lenient decoding.

Rescue tools meet rotated and compressed logs, truncated downloads, NUL
padding left by a crash, binary junk and megabyte-long lines.  Everything
here degrades to "the lines we could read, plus one warning", never an
exception escaping to the user.
"""

import bz2
import collections
import gzip
import io
import lzma
import os
import queue
import re
import zlib

# A line longer than this is cut (the rest is still consumed, not returned):
# nothing useful lives past it and keeping it would unbound memory.
MAX_LINE = 64 * 1024

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x5d\x00\x00", "lzma"),
)


class Unreadable(Exception):
    """A file that cannot be read at all; the message says why and what to do."""


def sniff_compression(head):
    """Name the compression of a file from its first bytes, or None."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            if name == "bzip2" and (len(head) < 4 or head[3:4] not in b"123456789"):
                continue
            return name
    return None


def wrap_decompressor(raw, kind):
    """A binary stream that decompresses ``raw`` (a binary file object)."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind in ("xz", "lzma"):
        return lzma.LZMAFile(raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw, mode="rb")
    if kind == "zstd":
        raise Unreadable("zstd-compressed (Python has no zstd module; decompress it first with "
                         "'zstd -d FILE', or install zstd and retry)")
    return raw


def open_binary_stream(raw):
    """Peek at ``raw`` (a seekable or buffered binary stream) and decompress by content."""
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw) if isinstance(raw, io.RawIOBase) else _Peekable(raw)
    head = raw.peek(8)[:8]
    return wrap_decompressor(raw, sniff_compression(head))


class _Peekable(io.RawIOBase):
    """Give any binary file object a ``peek`` (tar members and pipes lack one)."""

    def __init__(self, inner):
        io.RawIOBase.__init__(self)
        self._inner = inner
        self._buffer = b""

    def readable(self):
        return True

    def peek(self, size=1):
        if len(self._buffer) < size:
            self._buffer += self._inner.read(size - len(self._buffer)) or b""
        return self._buffer

    def readinto(self, target):
        want = len(target)
        if self._buffer:
            chunk, self._buffer = self._buffer[:want], self._buffer[want:]
        else:
            chunk = self._inner.read(want) or b""
        target[:len(chunk)] = chunk
        return len(chunk)

    def read(self, size=-1):
        if size is None or size < 0:
            data = self._buffer + (self._inner.read() or b"")
            self._buffer = b""
            return data
        if self._buffer:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
            if len(chunk) < size:
                chunk += self._inner.read(size - len(chunk)) or b""
            return chunk
        return self._inner.read(size) or b""

    def readline(self, size=-1):
        # Serve the peeked bytes first, then delegate.
        if self._buffer:
            cut = self._buffer.find(b"\n")
            if cut >= 0 and (size < 0 or cut < size):
                line, self._buffer = self._buffer[:cut + 1], self._buffer[cut + 1:]
                return line
            head, self._buffer = self._buffer, b""
            more = size - len(head) if size >= 0 else -1
            return head + (self._inner.readline(more) if more != 0 else b"")
        return self._inner.readline(size)

    def close(self):
        try:
            self._inner.close()
        finally:
            io.RawIOBase.close(self)


def open_path(path):
    """Open a file for binary reading, decompressing by content.

    Raises Unreadable with a message naming the cause and the fix.
    """
    try:
        raw = open(path, "rb")
    except IsADirectoryError:
        raise Unreadable("is a directory")
    except PermissionError:
        raise Unreadable("permission denied (run as root, or copy the file somewhere readable)")
    except FileNotFoundError:
        raise Unreadable("no such file")
    except OSError as error:
        raise Unreadable(error.strerror or str(error))
    try:
        return open_binary_stream(raw)
    except Unreadable:
        raw.close()
        raise


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


def strip_terminal(text):
    """Remove colour/cursor escapes and CRs that serial consoles and
    systemd's coloured status lines leave in captured logs."""
    if "\x1b" in text:
        text = _TERMINAL_CODES.sub("", text)
    if "\r" in text:
        text = text.replace("\r", "")
    return text


def decode(data):
    """Bytes to text, never failing: UTF-8, bad bytes replaced, NULs dropped."""
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
    return data.decode("utf-8", "replace")


class LineReader(object):
    """Iterate over the decoded lines of a binary stream, with problems noted.

    Yields ``(lineno, text)`` with the newline and a trailing CR removed.
    After iteration, ``problem`` holds a one-line description of what cut
    the read short (truncated compression, I/O error), or None.
    """

    def __init__(self, stream, max_line=MAX_LINE):
        self.stream = stream
        self.max_line = max_line
        self.problem = None
        self.cut_lines = 0
        self.binary_lines = 0

    def __iter__(self):
        lineno = 0
        readline = self.stream.readline
        limit = self.max_line
        while True:
            try:
                raw = readline(limit + 1)
            except (EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as error:
                self.problem = describe_read_error(error)
                return
            if not raw:
                return
            if len(raw) > limit and not raw.endswith(b"\n"):
                self.cut_lines += 1
                raw = raw[:limit]
                if not self._skip_rest_of_line():
                    return
            lineno += 1
            text = decode(raw.rstrip(b"\n").rstrip(b"\r"))
            yield lineno, text

    def _skip_rest_of_line(self):
        """Consume the remainder of an over-long line; False when the stream ended."""
        while True:
            try:
                more = self.stream.readline(1 << 20)
            except (EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as error:
                self.problem = describe_read_error(error)
                return False
            if not more:
                return True
            if more.endswith(b"\n"):
                return True


def describe_read_error(error):
    """One line for a read that failed part-way."""
    if isinstance(error, EOFError):
        return "compressed data ends early (truncated file; the lines before the cut were read)"
    if isinstance(error, (zlib.error, lzma.LZMAError)) or "CRC" in str(error) or "Invalid data" in str(error):
        return "corrupt compressed data (%s; the lines before it were read)" % (error,)
    if isinstance(error, OSError) and error.strerror:
        return "read error: %s (the lines before it were read)" % (error.strerror,)
    return "read error: %s (the lines before it were read)" % (error,)


def looks_binary(head):
    """True when the first bytes of a decompressed stream are not text.

    NUL bytes are ignored: a log written when the machine lost power often
    holds runs of NULs (preallocated blocks) between real lines.  Other
    control characters beyond tab, newline, CR, form feed and ESC (colour
    codes) are rare in text and common in binary data.
    """
    sample = head[:4096].replace(b"\x00", b"")
    if not sample:
        return False
    control = sum(1 for byte in bytearray(sample) if byte < 32 and byte not in (9, 10, 12, 13, 27))
    return control * 33 > len(sample)


def read_text(path, limit=16 * 1024 * 1024):
    """Whole small text file, decoded leniently; raises Unreadable."""
    stream = open_path(path)
    try:
        data = stream.read(limit)
    except (EOFError, zlib.error, lzma.LZMAError, OSError) as error:
        raise Unreadable(describe_read_error(error))
    finally:
        stream.close()
    return decode(data)


def file_mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class MatchScanner(object):
    """Yield only the lines of a binary stream that match a bytes regex, fast.

    Scanning a multi-gigabyte log line by line in Python is ten times
    slower than grep; searching big chunks with one compiled regex and
    counting newlines in C keeps us near grep's speed.  Yields
    ``(lineno, text)`` for matching lines (decoded leniently, cut at
    MAX_LINE), and, when ``previous`` is set, each match carries the line
    before it as ``self.before`` (the last line of a boot is the line
    before the next banner).  After iteration: ``lines`` is the number of
    lines, ``last_line`` the final line, ``problem`` a read problem.

    ``follow(n)`` (called by the consumer between two yields) makes the
    scanner also yield the next ``n`` lines whether they match or not, like
    ``grep -A``: a parser that found the start of a multi-line record reads
    the rest of it and no more (``follow(0)`` once the record has ended).

    ``anchors`` (optional, a sequence of bytes literals): every line the
    regex can match contains at least one of them.  The scanner then finds
    candidate lines with ``bytes.find`` (several times faster than a regex
    alternation in Python's ``re``) and confirms each with the regex on
    that line alone, so ``^``/``$`` need ``re.M``.  ``offset`` is the byte
    offset of the line just yielded in the (decompressed) stream, and
    ``length`` the bytes read after iteration: callers can come back to a
    region around a match.
    """

    CHUNK = 4 * 1024 * 1024

    def __init__(self, stream, regex, previous=False, anchors=None):
        self.stream = stream
        self.regex = regex
        self.previous = previous
        self.anchors = tuple(anchors) if anchors else None
        self.before = None
        self.lines = 0
        self.last_line = None
        self.problem = None
        self.offset = None
        self.length = 0
        self._follow = 0

    def _candidates(self, data, begin, size):
        """Starts of the lines of data[begin:size] that hold an anchor and match, in order."""
        search = self.regex.search
        seen = set()
        starts = []
        for anchor in self.anchors:
            found = data.find(anchor, begin, size)
            while found >= 0:
                start = max(begin, data.rfind(b"\n", begin, found) + 1)
                end = data.find(b"\n", found, size)
                if end < 0:
                    end = size
                if start not in seen:
                    seen.add(start)
                    if search(data, start, end):
                        starts.append(start)
                found = data.find(anchor, end + 1, size)
        starts.sort()
        return starts

    def follow(self, count):
        """Also yield the next ``count`` lines after the current one (at least); 0 stops following."""
        if count <= 0:
            self._follow = 0
        elif count > self._follow:
            self._follow = count

    def __iter__(self):
        # Each block is searched in place: only the line cut by the previous
        # block (carry + the block's first line) is copied, never the block.
        carry = b""
        self._lineno = 0
        skipping = False     # inside the rest of an absurdly long line, already counted
        while True:
            try:
                block = self.stream.read(self.CHUNK)
            except (EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as error:
                self.problem = describe_read_error(error)
                block = b""
            if skipping and block:
                newline = block.find(b"\n")
                if newline < 0:
                    self.length += len(block)
                    continue
                self.length += newline + 1
                block = block[newline + 1:]
                skipping = False
                if not block:
                    continue
            if not block:
                if carry:
                    for item in self._region(carry, 0, len(carry), final=True):
                        yield item
                break
            first = block.find(b"\n")
            if first < 0:
                carry += block
                if len(carry) > MAX_LINE * 16:
                    # one absurd line: keep its head, count the rest as read
                    head = carry[:MAX_LINE] + b"\n"
                    dropped = len(carry) - MAX_LINE
                    for item in self._region(head, 0, len(head)):
                        yield item
                    self.length += dropped - 1
                    carry = b""
                    skipping = True
                    self.cut_lines = getattr(self, "cut_lines", 0) + 1
                continue
            head = carry + block[:first + 1]
            for item in self._region(head, 0, len(head)):
                yield item
            cut = block.rfind(b"\n")
            if cut > first:
                for item in self._region(block, first + 1, cut + 1):
                    yield item
            carry = block[cut + 1:]
        self.lines = self._lineno

    def _region(self, data, begin, size, final=False):
        """Matching lines of data[begin:size] (whole lines; the last may lack its newline if final)."""
        search = self.regex.search
        lineno = self._lineno
        position = begin          # start of the next line not yet counted
        if self.anchors:
            candidates = self._candidates(data, begin, size)
            next_candidate = 0
        while position < size:
            if self._follow > 0:
                start = position
                self._follow -= 1
            elif self.anchors:
                while next_candidate < len(candidates) and candidates[next_candidate] < position:
                    next_candidate += 1
                if next_candidate >= len(candidates):
                    break
                start = candidates[next_candidate]
                next_candidate += 1
                lineno += data.count(b"\n", position, start)
            else:
                match = search(data, position, size)
                if not match:
                    break
                newline = data.rfind(b"\n", position, match.start())
                start = newline + 1 if newline >= 0 else position
                lineno += data.count(b"\n", position, start)
            end = data.find(b"\n", start, size)
            if end < 0:
                end = size
            if self.previous:
                if start > begin:
                    prev_start = max(begin, data.rfind(b"\n", begin, start - 1) + 1)
                    self.before = decode(data[prev_start:start - 1].rstrip(b"\r"))
                else:
                    self.before = self.last_line
            line = data[start:end]
            if len(line) > MAX_LINE:
                line = line[:MAX_LINE]
            lineno += 1
            position = end + 1
            self.offset = self.length + (start - begin)
            self._lineno = lineno
            yield lineno, decode(line.rstrip(b"\r"))
        if position < size:
            lineno += data.count(b"\n", position, size)
            if final and not data.endswith(b"\n", begin, size):
                lineno += 1
        self._lineno = lineno
        if size > begin:
            stop = size
            while stop > begin and data[stop - 1] == 10:      # trailing newlines
                stop -= 1
            if stop > begin:
                last_start = max(begin, data.rfind(b"\n", begin, stop) + 1)
                self.last_line = decode(data[last_start:stop][:MAX_LINE].rstrip(b"\r"))
                if self.previous:
                    self.before = self.last_line
        self.length += size - begin


_GREP_STATE = {}

# From this many literals on, GNU grep finds lines faster through one ERE
# alternation (its DFA) than through -F's multi-pattern search.  Measured on
# 1 GiB of syslog with grep 3.8 (CPU seconds, -E vs -F): 184 literals 2.9 vs
# 8.3, 82 literals 2.6 vs 4.4, 41 literals 1.6 vs 2.0, 8 literals 1.2 vs 2.1
# -- while 2 and 4 long literals are faster with -F (1.4 vs 2.0, 1.2 vs 1.6).
# The literals must go in as ONE pattern: as separate -e patterns grep
# turns them back into -F.
GREP_ERE_FROM = 8
_ERE_SPECIAL = re.compile(r"([][.*+?(){}|^$\\])")


def grep_any_of(literals):
    """grep arguments selecting the lines that hold any of ``literals`` (str).

    Same lines either way; only the speed differs (see GREP_ERE_FROM)."""
    literals = list(literals)
    if len(literals) < GREP_ERE_FROM:
        argv = ["-F"]
        for literal in literals:
            argv += ["-e", literal]
        return argv
    return ["-E", "-e", "|".join(_ERE_SPECIAL.sub(r"\\\1", literal) for literal in literals)]


def grep_for_scanning():
    """Path of a grep that can do ``-a -n`` with -F and -E on stdin (probed once), or None."""
    if "grep" not in _GREP_STATE:
        from . import runner
        found = runner.which("grep")
        if found:
            probes = ((["b\x1e"], "2:b\x1e\n"), (["b\x1e", "z.["] * GREP_ERE_FROM, "2:b\x1e\n4:z.[\n"))
            for literals, expected in probes:
                probe = runner.run([found, "-a", "-n"] + grep_any_of(literals), timeout=10,
                                   stdin_data=b"a\nb\x1e\nzz[\nz.[\n")
                if not (probe.ok and probe.stdout == expected):
                    found = None
                    break
        _GREP_STATE["grep"] = found
    return _GREP_STATE["grep"]


class GrepScanner(object):
    """MatchScanner's job (``anchors`` + confirming ``regex``) with the literal
    search done by ``grep -F`` in a child process fed through a pipe.

    For streams read once that are too big for Python-level searching (a
    gigabyte of syslog inside an xz archive): this process decompresses and
    writes, grep (on another core, with its multi-pattern search) finds the
    lines holding an anchor, and only those come back to be confirmed with
    ``regex`` and decoded.  Yields ``(lineno, text)`` in file order like
    MatchScanner; afterwards ``lines`` is the number of lines (grep numbers
    a sentinel line written after the data), ``length`` the bytes read,
    ``problem`` a read problem, ``cut_lines`` lines over LONG_LINE bytes (only
    their head reaches grep, so a 2 GB line costs neither process memory).
    No ``follow``/``previous``.  Use ``scanner_for`` to get this or a
    MatchScanner when grep is missing.
    """

    CHUNK = 4 * 1024 * 1024
    QUEUED = 3              # blocks waiting for the writer thread (memory: QUEUED x CHUNK)
    LONG_LINE = MAX_LINE * 16
    SENTINEL = b"\x1erescuekit end of input\x1e"

    def __init__(self, stream, regex, anchors, grep):
        self.stream = stream
        self.regex = regex
        self.anchors = tuple(anchors)
        self.grep = grep
        self.lines = 0
        self.length = 0
        self.problem = None
        self.cut_lines = 0
        self.offset = None
        self._found = collections.deque()
        self._open = 0          # bytes of the current (unterminated) line already seen
        self._cut_this = False
        self._total = None

    def _drain(self, out):
        skipping = False
        append = self._found.append
        while True:
            raw = out.readline(MAX_LINE + 32)
            if not raw:
                return
            if skipping:
                skipping = not raw.endswith(b"\n")
                continue
            if not raw.endswith(b"\n"):
                skipping = True
            append(raw)

    def _results(self):
        found = self._found
        search = self.regex.search
        while found:
            raw = found.popleft()
            colon = raw.find(b":")
            if colon <= 0 or not raw[:colon].isdigit():
                continue
            text = raw[colon + 1:].rstrip(b"\n")
            lineno = int(raw[:colon])
            if text == self.SENTINEL:
                self._total = lineno - 1
                continue
            if search(text):
                self.offset = None
                yield lineno, decode(text[:MAX_LINE].rstrip(b"\r"))

    def _write_all(self, blocks, pipe):
        """The writer thread: blocks from the queue to grep, then the sentinel line;
        after a broken pipe it keeps draining the queue so the reader never blocks."""
        write = pipe.write
        broken = False
        while True:
            block = blocks.get()
            if block is None:
                break
            if not broken:
                try:
                    self._feed(write, block)
                except (BrokenPipeError, OSError, ValueError):
                    broken = True
        try:
            if not broken:
                write((b"\n" if self._open else b"") + self.SENTINEL + b"\n")
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            pipe.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _feed(self, write, block):
        first = block.find(b"\n")
        head = block if first < 0 else block[:first]
        room = self.LONG_LINE - self._open
        if room > 0:
            write(head[:room])
        if len(head) > room and not self._cut_this:
            self.cut_lines += 1
            self._cut_this = True
        self._open += len(head)
        if first >= 0:
            write(block[first:])
            self._open = len(block) - block.rfind(b"\n") - 1
            self._cut_this = False

    def __iter__(self):
        import threading
        from . import runner
        argv = [self.grep, "-a", "-n"] + grep_any_of(
            anchor.decode("utf-8", "surrogateescape") for anchor in self.anchors + (self.SENTINEL,))
        process = runner.filter_process(argv)
        if process is None:
            self.problem = "cannot start grep"
            return
        reader = threading.Thread(target=self._drain, args=(process.stdout,))
        reader.daemon = True
        reader.start()
        # A writer thread feeds grep while this one decompresses the next block
        # (lzma and zlib release the GIL): decompression and grep overlap on two
        # cores instead of taking turns through a 64 KiB pipe.  A few blocks in
        # the queue bound the memory.
        blocks = queue.Queue(maxsize=self.QUEUED)
        writer = threading.Thread(target=self._write_all, args=(blocks, process.stdin))
        writer.daemon = True
        writer.start()
        try:
            while True:
                try:
                    block = self.stream.read(self.CHUNK)
                except (EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as error:
                    self.problem = describe_read_error(error)
                    block = b""
                if not block:
                    break
                self.length += len(block)
                blocks.put(block)
                for item in self._results():
                    yield item
        finally:
            blocks.put(None)
            writer.join()
            reader.join()
            problem = runner.finish_stream(process)
        for item in self._results():
            yield item
        if self._total is None:
            self.problem = self.problem or "grep %s; the lines after the failure were not searched" % (
                problem or "ended early")
            self._total = 0
        self.lines = self._total


def scanner_for(stream, regex, anchors=None, big=True):
    """A GrepScanner for a big stream with anchors when grep can do it, else a MatchScanner."""
    grep = grep_for_scanning() if (anchors and big) else None
    if grep:
        return GrepScanner(stream, regex, anchors, grep)
    return MatchScanner(stream, regex, anchors=anchors)
