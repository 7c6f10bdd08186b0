"""Decompressing a multi-block .xz file on several cores, in order.

``xz -T`` (which ``sos report`` runs as ``xz -2 -T4``) writes its output as
independent blocks listed in an index at the end of the file.  Python's
lzma decodes a file on one thread, which makes a gigabyte sos archive
wait about 5 s on one core.  Here each block is cut out of the file,
wrapped as a one-block .xz stream of its own (so liblzma still checks the
block header, its CRC and the sizes the index declares) and decoded on a
worker thread (lzma releases the GIL); the reader hands the bytes back in
file order.  Anything unusual -- one block, several streams, an index that
does not add up, blocks too big to hold a few in memory, a damaged tail --
returns None, and the caller reads the file with Python's lzma as before.
"""

import collections
import lzma
import os
import struct
import threading
import zlib

HEADER_MAGIC = b"\xfd7zXZ\x00"
FOOTER_MAGIC = b"YZ"
# Blocks decoded ahead are held in memory: above this block size the
# parallel reader is not used (xz -9 -T writes 192 MiB blocks), and the
# look-ahead window shrinks so that the blocks in flight stay within
# MAX_AHEAD_BYTES (sos's 6 MiB blocks: 4 ahead; xz -6 -T's 24 MiB: 2).
MAX_BLOCK = 32 * 1024 * 1024
MAX_AHEAD_BYTES = 64 * 1024 * 1024
MAX_BLOCKS = 1000000
# Blocks are decoded into pieces of this size: a block's bytes are never
# joined into one buffer (that would hold each block twice at the end).
PIECE = 1024 * 1024


class NotParallel(Exception):
    """The file cannot be decoded block by block (the caller reads it whole)."""


def _varint(data, offset):
    """(value, next offset) of an xz multibyte integer."""
    value = 0
    for shift in range(0, 63, 7):
        if offset >= len(data):
            raise NotParallel("index ends inside a number")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
    raise NotParallel("index number too long")


def _encode_varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _pad4(size):
    return (size + 3) & ~3


def read_index(handle, file_size):
    """(stream flags, [(offset, padded size, unpadded size, uncompressed size)]) of a
    single-stream .xz file; NotParallel when it is not one or does not add up."""
    handle.seek(0)
    header = handle.read(12)
    if len(header) != 12 or not header.startswith(HEADER_MAGIC) or \
            struct.unpack("<I", header[8:12])[0] != zlib.crc32(header[6:8]) & 0xFFFFFFFF:
        raise NotParallel("no xz stream header")
    flags = header[6:8]
    end = file_size
    while True:         # stream padding: zero bytes in groups of four after the footer
        if end < 24:
            raise NotParallel("too short")
        handle.seek(end - 4)
        if handle.read(4) != b"\0\0\0\0":
            break
        end -= 4
    handle.seek(end - 12)
    footer = handle.read(12)
    if footer[10:12] != FOOTER_MAGIC or footer[8:10] != flags or \
            struct.unpack("<I", footer[0:4])[0] != zlib.crc32(footer[4:10]) & 0xFFFFFFFF:
        raise NotParallel("no matching xz stream footer (truncated, or several streams)")
    index_size = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
    index_start = end - 12 - index_size
    if index_start < 12:
        raise NotParallel("index larger than the file")
    handle.seek(index_start)
    index = handle.read(index_size)
    if len(index) != index_size or index[0:1] != b"\0" or \
            struct.unpack("<I", index[-4:])[0] != zlib.crc32(index[:-4]) & 0xFFFFFFFF:
        raise NotParallel("damaged xz index")
    count, offset = _varint(index, 1)
    if count > MAX_BLOCKS:
        raise NotParallel("too many blocks")
    blocks = []
    position = 12
    for _ in range(count):
        unpadded, offset = _varint(index, offset)
        uncompressed, offset = _varint(index, offset)
        padded = _pad4(unpadded)
        blocks.append((position, padded, unpadded, uncompressed))
        position += padded
    if position != index_start or _pad4(offset) != index_size - 4:
        raise NotParallel("index does not match the blocks")
    return flags, blocks


def _one_block_stream(flags, block, unpadded, uncompressed):
    """A complete .xz stream holding one block: its own header, index and footer."""
    header = HEADER_MAGIC + flags + struct.pack("<I", zlib.crc32(flags) & 0xFFFFFFFF)
    records = b"\0" + _encode_varint(1) + _encode_varint(unpadded) + _encode_varint(uncompressed)
    records += b"\0" * (_pad4(len(records)) - len(records))
    index = records + struct.pack("<I", zlib.crc32(records) & 0xFFFFFFFF)
    backward = struct.pack("<I", len(index) // 4 - 1)
    footer = struct.pack("<I", zlib.crc32(backward + flags) & 0xFFFFFFFF) + backward + flags + FOOTER_MAGIC
    return header + block + index + footer


class ParallelXZReader(object):
    """``read(size)`` of the decompressed bytes, decoded ``workers`` blocks at a
    time.  A damaged block raises lzma.LZMAError when the reader reaches it,
    after every byte before it was returned (like lzma.LZMAFile)."""

    def __init__(self, path, flags, blocks, workers):
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self._flags = flags
        self._blocks = blocks
        biggest = max(block[3] for block in blocks)
        self._ahead = max(2, min(workers, MAX_AHEAD_BYTES // max(1, biggest)))
        self._todo = collections.deque(range(len(blocks)))
        self._results = {}          # block number -> bytes or exception
        self._next = 0              # the block the reader wants next
        self._queued = 0            # blocks handed to workers so far
        self._lock = threading.Condition()
        self._closed = False
        self._pieces = collections.deque()     # of the current block, not yet read
        self._position = 0                      # in _pieces[0]
        self._threads = []
        for _ in range(workers):
            thread = threading.Thread(target=self._work)
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def _decode(self, number):
        offset, padded, unpadded, uncompressed = self._blocks[number]
        block = os.pread(self._fd, padded, offset)
        if len(block) != padded:
            raise lzma.LZMAError("block %d ends early (file truncated?)" % number)
        decoder = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        piece = decoder.decompress(_one_block_stream(self._flags, block, unpadded, uncompressed),
                                   max_length=PIECE)
        del block
        pieces = collections.deque()
        total = 0
        while True:
            if piece:
                pieces.append(piece)
                total += len(piece)
            if total > uncompressed or decoder.eof or decoder.needs_input:
                break
            piece = decoder.decompress(b"", max_length=PIECE)
        if total != uncompressed or not decoder.eof:
            raise lzma.LZMAError("block %d does not hold the size its index declares" % number)
        return pieces

    def _work(self):
        while True:
            with self._lock:
                while not self._closed and (not self._todo or self._todo[0] >= self._next + self._ahead):
                    self._lock.wait()
                if self._closed:
                    return
                number = self._todo.popleft()
            try:
                result = self._decode(number)
            except Exception as error:      # noqa -- any error: a worker that died would hang the reader
                result = error
            with self._lock:
                self._results[number] = result
                self._lock.notify_all()

    def _advance(self):
        """Make the next block current; False at the end."""
        with self._lock:
            if self._next >= len(self._blocks):
                return False
            while self._next not in self._results:
                self._lock.wait()
            result = self._results.pop(self._next)
            self._next += 1
            self._lock.notify_all()
        if isinstance(result, Exception):
            self._next = len(self._blocks)      # nothing after damage
            if isinstance(result, lzma.LZMAError):
                raise result
            raise lzma.LZMAError(str(result))
        self._pieces = result
        self._position = 0
        return True

    def read_piece(self, size):
        """At most ``size`` bytes from one decoded piece (no joining)."""
        while not self._pieces:
            if not self._advance():
                return b""
        piece = self._pieces[0]
        start = self._position
        if start == 0 and size >= len(piece):
            self._pieces.popleft()
            return piece
        data = piece[start:start + size]
        self._position += len(data)
        if self._position == len(piece):
            self._pieces.popleft()
            self._position = 0
        return data

    def read(self, size=-1):
        parts = []
        wanted = size if size is not None and size >= 0 else None
        pieces = self._pieces
        while wanted is None or wanted > 0:
            if not pieces:
                if not self._advance():
                    break
                pieces = self._pieces
                continue
            piece = pieces[0]
            left = len(piece) - self._position
            take = left if wanted is None else min(left, wanted)
            parts.append(piece if take == len(piece) else piece[self._position:self._position + take])
            self._position += take
            if wanted is not None:
                wanted -= take
            if self._position == len(piece):
                pieces.popleft()
                self._position = 0
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self):
        with self._lock:
            self._closed = True
            self._results.clear()
            self._lock.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def open_parallel(path, workers=None):
    """A ParallelXZReader for ``path``, or None when block-parallel decoding does
    not apply (fewer than 2 cores or blocks, or a file not shaped for it)."""
    if workers is None:
        try:
            cpus = len(os.sched_getaffinity(0))     # a container's or taskset's share
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
        workers = min(cpus, 4)
    if workers < 2 or not hasattr(os, "pread"):
        return None
    try:
        with open(path, "rb") as handle:
            flags, blocks = read_index(handle, os.fstat(handle.fileno()).st_size)
    except (NotParallel, OSError, struct.error):
        return None
    if len(blocks) < 2 or max(block[3] for block in blocks) > MAX_BLOCK:
        return None
    try:
        return ParallelXZReader(path, flags, blocks, workers)
    except (OSError, RuntimeError):
        return None
