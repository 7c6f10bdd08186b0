"""perfcollect's on-disk format: gzip'ed JSON Lines segments and a manifest.

A recording directory holds::

    manifest.json                 what was recorded, how, and what happened
    inventory-<stamp>.json        one-time inventory of the box at each start
    segment-000001.jsonl.gz       records, oldest first (numbers only grow)
    segment-000002.jsonl.gz       ...
    snapshots/<stamp>-<n>/        one folder per trigger trip (index.json + text files)
    sysstat/                      sar / pidstat output with --with-sysstat
    perfcollect.pid, perfcollect.lock, perfcollect.log   while it runs (start)

A segment is one gzip stream (RFC 1952) written as raw deflate blocks, each
record followed by a sync flush: everything flushed decodes even when the
gzip trailer is missing, so a SIGKILL or power loss costs at most the record
being written.  Records are single-line JSON objects with a ``type``:

``header`` (first line of every segment), ``sample`` (the metrics of one
interval), ``procs`` (the whole process table, every ``--proc-interval``),
``kmsg`` (kernel messages), ``event`` (triggers, pauses, clock steps,
errors, restarts).  The field lists are in ``perfcollect(8)``.

Numbers are plain JSON numbers, times epoch seconds (UTC, float), metric
names those of ``shared.metrics``.  ``FORMAT_VERSION`` grows when a field
changes meaning; readers skip record types they do not know.
"""

import json
import os
import re
import struct
import zlib

FORMAT = "perfcollect"
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
PIDFILE = "perfcollect.pid"
LOCKFILE = "perfcollect.lock"
LOGFILE = "perfcollect.log"
SNAPSHOTS = "snapshots"
SYSSTAT = "sysstat"
SEGMENT_RE = re.compile(r"^segment-(\d{6,})\.jsonl\.gz$")
INVENTORY_RE = re.compile(r"^inventory-[0-9TZ]+\.json$")

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # no name, mtime 0, unix


def segment_name(number):
    return "segment-%06d.jsonl.gz" % number


def segment_number(name):
    match = SEGMENT_RE.match(name)
    return int(match.group(1)) if match else None


def list_segments(directory):
    """[(number, path)] of the segments in a recording, oldest first."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        number = segment_number(name)
        if number is not None:
            found.append((number, os.path.join(directory, name)))
    found.sort()
    return found


def round_value(value):
    """Floats to 2 decimals (the precision of sysstat's output; compresses far better)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return round(value, 2)
    return value


def round_all(mapping):
    return dict((key, round_value(value)) for key, value in mapping.items())


def dumps(record):
    """One record as a compact JSON line (bytes, newline included)."""
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
            + "\n").encode("utf-8")


# ---------------------------------------------------------------- writing

class SegmentWriter(object):
    """Append records to one segment; every ``append`` ends on a sync flush.

    ``encode(line)`` returns the exact bytes the next ``write`` appends, so
    the caller can check the budget before anything reaches the disk.
    The deflate history spans records: consecutive samples compress to a
    few hundred bytes.
    """

    def __init__(self, path, level=6):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._crc = 0
        self._length = 0
        self.size = 0
        self.records = 0
        self.closed = False
        self._write(_GZIP_HEADER)

    def _write(self, data):
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def encode(self, line):
        """The compressed bytes for ``line`` (state advances: write them next)."""
        self._crc = zlib.crc32(line, self._crc)
        self._length += len(line)
        return self._compressor.compress(line) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def write(self, chunk):
        self._write(chunk)
        self.records += 1

    def append(self, line):
        chunk = self.encode(line)
        self.write(chunk)
        return len(chunk)

    def sync(self):
        try:
            os.fdatasync(self.fd)
        except (OSError, AttributeError):
            pass

    def trailer_size(self):
        return 16  # at most a few bytes of final block + 8 of CRC and length

    def close(self, sync=True):
        """Finish the gzip stream (final block, CRC, length) and close."""
        if self.closed:
            return
        self.closed = True
        try:
            self._write(self._compressor.flush(zlib.Z_FINISH)
                        + struct.pack("<II", self._crc & 0xFFFFFFFF, self._length & 0xFFFFFFFF))
            if sync:
                self.sync()
        finally:
            os.close(self.fd)

    def abandon(self):
        """Close without a trailer (the segment reads back as truncated)."""
        if not self.closed:
            self.closed = True
            os.close(self.fd)


# ---------------------------------------------------------------- reading

class SegmentReader(object):
    """Records of one segment, tolerant of everything a crash leaves behind.

    Iterating yields dicts.  Afterwards ``problem`` says why reading stopped
    early (no gzip trailer: killed or still being written; corrupt data:
    power loss), ``bad_lines`` counts lines that were not JSON.
    """

    CHUNK = 1 << 16

    def __init__(self, path):
        self.path = path
        self.problem = None
        self.bad_lines = 0
        self.complete = False
        self.records = 0

    def lines(self):
        try:
            handle = open(self.path, "rb")
        except OSError as error:
            self.problem = "unreadable (%s)" % (error.strerror or error)
            return
        with handle:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = b""
            while True:
                try:
                    data = handle.read(self.CHUNK)
                except OSError as error:
                    self.problem = "read error (%s)" % (error.strerror or error)
                    break
                if not data:
                    break
                while data:
                    saved = decompressor.copy()
                    try:
                        out = decompressor.decompress(data)
                    except zlib.error:
                        # keep what decodes before the damage, byte-exactly
                        out, decompressor = _salvage(saved, data)
                        self.problem = "corrupt data after the last good record (power loss or a damaged disk)"
                        data = b""
                    pending += out
                    if pending:
                        parts = pending.split(b"\n")
                        pending = parts.pop()
                        for part in parts:
                            yield part
                    if decompressor.eof:
                        self.complete = True
                        data = decompressor.unused_data
                        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        if data.strip(b"\0"):
                            self.complete = False
                        else:
                            data = b""
                    else:
                        data = b""
                if self.problem:
                    break
            if not self.complete and self.problem is None:
                self.problem = "no end marker (the recorder was killed, lost power, or is still writing)"
            if pending.strip():
                self.bad_lines += 1  # the record being written when it stopped

    def __iter__(self):
        for raw in self.lines():
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(record, dict):
                self.records += 1
                yield record
            else:
                self.bad_lines += 1


def _salvage(decompressor, data):
    """(output, decompressor) for the longest prefix of ``data`` that decompresses."""
    outputs = []
    while data:
        size = len(data)
        while size > 0:
            trial = decompressor.copy()
            try:
                out = trial.decompress(data[:size])
            except zlib.error:
                size //= 2
                continue
            decompressor = trial
            outputs.append(out)
            data = data[size:]
            break
        if size == 0:
            break
    return b"".join(outputs), decompressor


def read_segment(path):
    """All records of a segment: (records, problem)."""
    reader = SegmentReader(path)
    records = list(reader)
    return records, reader.problem


# ---------------------------------------------------------------- manifest

def write_json_atomic(path, document, sync=True):
    """Write JSON to path via a temporary file and rename (never half a file)."""
    data = (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, default=str)
            + "\n").encode("utf-8")
    temporary = path + ".tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            try:
                os.fdatasync(fd)
            except (OSError, AttributeError):
                pass
    finally:
        os.close(fd)
    os.rename(temporary, path)
    return len(data)


def read_json(path):
    """(document, problem): a dict or None, and a one-line problem or None."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(64 * 1024 * 1024)
    except FileNotFoundError:
        return None, "missing"
    except OSError as error:
        return None, "unreadable (%s)" % (error.strerror or error)
    try:
        document = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None, "not valid JSON (cut short by a crash?)"
    if not isinstance(document, dict):
        return None, "not a JSON object"
    return document, None


def read_manifest(directory):
    return read_json(os.path.join(directory, MANIFEST))


def directory_size(directory):
    """Bytes used by every file below ``directory`` (apparent sizes)."""
    total = 0
    for folder, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def is_recording(directory):
    """True when the folder looks like a perfcollect recording."""
    return os.path.exists(os.path.join(directory, MANIFEST)) or bool(list_segments(directory))
