"""One way to read a system's files, whatever holds them.

A *source* is the live root, a mounted root (``--root /mnt/sysimage``), an
extracted sosreport or supportconfig directory, or a tar archive of either
read in place.  Engines ask for logical files -- "/etc/os-release", the
rotated ``messages`` logs, "the output of ``df -h``" -- and get lines that
carry their origin (path and line number); they never care which kind of
source it was.

Paths are root-relative POSIX paths; a leading ``/`` is accepted.  Nothing
here follows a symlink out of the source: mounted roots resolve absolute
links inside the root (as a chroot would), archives resolve links against
their own member list.
"""

import collections
import fnmatch
import os
import posixpath
import re
import shlex
import lzma
import tarfile
import zlib

from . import textio
from .textio import Unreadable

Line = collections.namedtuple("Line", "text origin lineno")
Line.__doc__ = """One line of text with where it came from.

text: decoded line without its newline; origin: display path of the file
(inside the source: ``var/log/messages.1.gz``); lineno: 1-based."""


class SourceError(Exception):
    """A source that cannot be opened at all; message names cause and fix."""


def clean_path(path):
    """Normalise a root-relative path; None when it would leave the root."""
    path = path.replace("\\", "/").lstrip("/")
    normal = posixpath.normpath(path) if path else "."
    if normal == "..":
        return None
    if normal.startswith("../"):
        return None
    return "" if normal == "." else normal


# ---------------------------------------------------------------- rotation

_ROTATION = re.compile(
    r"^(?P<base>.+?)"
    r"(?:[.-](?P<date>\d{8}(?:\d{2})?)|\.(?P<num>\d{1,4}))?"
    r"(?P<ext>\.(?:gz|xz|bz2|zst|lzma))?$"
)


def rotation_key(name, base):
    """Sort key putting the oldest rotation first, or None if not a rotation of base.

    logrotate names rotations ``base.N`` (higher is older), ``base-YYYYMMDD``
    (dateext; later is newer), both optionally compressed; ``base`` itself
    is the newest.
    """
    match = _ROTATION.match(name)
    if not match or match.group("base") != base:
        return None
    if match.group("date"):
        return (0, match.group("date"), 0)
    if match.group("num"):
        return (1, "", -int(match.group("num")))
    if match.group("ext"):
        # "messages.gz" without a number: older than the live file.
        return (1, "", -1)
    return (2, "", 0)


def order_rotations(names, base):
    """The names that are rotations of ``base``, oldest first."""
    keyed = []
    for name in names:
        key = rotation_key(name, base)
        if key is not None:
            keyed.append((key, name))
    keyed.sort()
    return [name for _, name in keyed]


# ---------------------------------------------------------------- commands

def sos_mangle(command):
    """The file name sos gives a command's output under sos_commands/<plugin>/.

    sos drops a leading /bin, /sbin, /usr/bin or /usr/sbin, turns runs of
    characters other than word characters, '-', '.' and '/' into '_', turns
    '/' into '.', and strips ' ._-' from both ends (sos/utilities.py,
    _mangle_command; names are cut at 255 characters).
    """
    name = re.sub(r"^/(usr/|)(bin|sbin)/", "", command.strip())
    name = re.sub(r"[^\w\-./]+", "_", name)
    name = name.replace("/", ".").strip(" ._-")
    return name[:255]


def command_words(command):
    """A command line as words with the directory of the program removed."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if words:
        words[0] = posixpath.basename(words[0])
    return words


# ---------------------------------------------------------------- trees

class _Tree(object):
    """Raw file access below some top; subclasses for directories and tars."""

    def exists(self, path):
        raise NotImplementedError

    def isdir(self, path):
        raise NotImplementedError

    def listdir(self, path):
        raise NotImplementedError

    def open(self, path):
        raise NotImplementedError

    def mtime(self, path):
        raise NotImplementedError

    def size(self, path):
        raise NotImplementedError

    def close(self):
        pass


class DirTree(_Tree):
    """A directory; symlinks resolved as if the directory were ``/``."""

    def __init__(self, top, confine=True):
        self.top = os.path.abspath(top)
        # The live root needs no confinement: '/' is '/'.
        self.confine = confine and self.top != "/"

    def real(self, path):
        """Host path for a root-relative path, or None if it escapes."""
        path = clean_path(path)
        if path is None:
            return None
        if not self.confine:
            return os.path.join(self.top, path)
        return self._resolve(path)

    def _resolve(self, path):
        # Walk component by component so an absolute or climbing link in a
        # mounted root points inside the root, never at the rescue system.
        parts = [p for p in path.split("/") if p]
        done = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            if part == ".":
                continue
            candidate = os.path.join(self.top, *(done + [part]))
            if os.path.islink(candidate):
                hops += 1
                if hops > 40:
                    return None
                try:
                    target = os.readlink(candidate)
                except OSError:
                    return None
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p] + parts
                continue
            done.append(part)
        return os.path.join(self.top, *done) if done else self.top

    def exists(self, path):
        real = self.real(path)
        return real is not None and os.path.exists(real)

    def isdir(self, path):
        real = self.real(path)
        return real is not None and os.path.isdir(real)

    def listdir(self, path):
        real = self.real(path)
        if real is None:
            return []
        try:
            return sorted(os.listdir(real))
        except OSError:
            return []

    def open(self, path):
        real = self.real(path)
        if real is None:
            raise Unreadable("path leaves the source")
        if os.path.exists(real) and not os.path.isfile(real) and not os.path.isdir(real):
            # FIFOs and devices would block or be endless.
            if not real.startswith(("/proc/", "/sys/")):
                raise Unreadable("not a regular file")
        return textio.open_path(real)

    def open_raw(self, path):
        """The bytes as stored (no decompression): binary sar, journals, gzip segments."""
        real = self.real(path)
        if real is None:
            raise Unreadable("path leaves the source")
        if not os.path.isfile(real):
            raise Unreadable("not a regular file")
        try:
            return open(real, "rb")
        except OSError as error:
            raise Unreadable(error.strerror or str(error))

    def mtime(self, path):
        real = self.real(path)
        return textio.file_mtime(real) if real else None

    def size(self, path):
        real = self.real(path)
        try:
            return os.stat(real).st_size if real else None
        except OSError:
            return None


def _one_line(error, limit=300):
    """An exception as one short line (3.13's tarfile errors span several)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Digest(object):
    """What was kept of a big member read in one pass: numbered lines.

    ``lines``: [(lineno, text)] in file order (matching lines, then the
    tail); ``lines_total``: lines in the member; ``dropped``: matching lines
    not kept (oldest first) because of the byte budget; ``problem``: a read
    problem (truncated compression)."""

    def __init__(self, size):
        self.size = size
        self.lines = collections.deque()
        self.kept_bytes = 0
        self.dropped = 0
        self.lines_total = 0
        self.problem = None
        self.tail_from = None

    def add(self, lineno, text, budget):
        self.lines.append((lineno, text))
        self.kept_bytes += len(text) + 1
        while self.kept_bytes > budget and self.lines:
            _, old = self.lines.popleft()
            self.kept_bytes -= len(old) + 1
            self.dropped += 1

    def finish(self, tail_bytes, total, cut=True):
        tail = tail_bytes.split(b"\n")
        if tail and tail[-1] == b"":
            tail.pop()
        if cut and len(tail) > 1:
            tail = tail[1:]  # the first piece is a partial line
        first = total - len(tail) + 1
        self.tail_from = first
        kept = [item for item in self.lines if item[0] < first]
        kept.extend((first + index, textio.decode(raw.rstrip(b"\r")[:textio.MAX_LINE]))
                    for index, raw in enumerate(tail))
        self.lines = kept

    def note(self):
        return ("read in one pass (%d MiB): kept %d matching line(s)%s and the lines from %s on"
                % (self.size >> 20, sum(1 for n, _ in self.lines if n < (self.tail_from or 0)),
                   " (%d older ones dropped)" % self.dropped if self.dropped else "",
                   self.tail_from))

    def text(self):
        return "".join(text + "\n" for _, text in self.lines)


class _TailKeeper(object):
    """A read-through stream that remembers the last ``limit`` bytes."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.chunks = collections.deque()
        self.held = 0
        self.cut = False

    def read(self, size=-1):
        data = self.stream.read(size)
        if data:
            self.chunks.append(data)
            self.held += len(data)
            while self.held - len(self.chunks[0]) >= self.limit:
                self.held -= len(self.chunks.popleft())
                self.cut = True
        return data

    def data(self):
        joined = b"".join(self.chunks)
        if len(joined) > self.limit:
            self.cut = True
            joined = joined[-self.limit:]
        return joined


class ForwardReader(object):
    """A stream of tar bytes (a pipe from zstd, xzblocks' reader) as the file
    tarfile's seekable mode reads, while it only goes forward: tarfile's
    stream mode joins and slices every block it reads (about 2 s of this
    process's time per GiB); here member data reaches the reader in one copy.
    Going back is allowed within the last BEHIND bytes (tarfile re-reads one
    byte before each header); further back is an OSError."""

    BEHIND = 4096

    def __init__(self, stream, name=None):
        self.stream = stream
        self.name = name
        self.position = 0
        self._read_to = 0       # how far the stream has been read
        self._window = b""      # the last bytes read from the stream, ending at _read_to

    def tell(self):
        return self.position

    def seekable(self):
        return True

    def readable(self):
        return True

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self.position
        elif whence != 0:
            raise OSError("cannot seek from the end of a stream")
        if offset < self._read_to - len(self._window):
            raise OSError("cannot seek back to %d in a stream (at %d)" % (offset, self.position))
        if offset <= self._read_to:
            self.position = offset
            return offset
        self.position = self._read_to
        while self.position < offset:
            if not self.read(min(offset - self.position, 1 << 20)):
                break
        return self.position

    def read(self, size=-1):
        behind = self._read_to - self.position
        again = self._window[len(self._window) - behind:] if behind else b""
        if size is not None and 0 <= size <= len(again):
            self.position += size
            return again[:size]
        fresh = self.stream.read() if size is None or size < 0 else self.stream.read(size - len(again))
        self._took(fresh)
        return again + fresh if again else fresh

    def read_piece(self, size):
        """At most ``size`` bytes: one decoded piece of a stream that has them
        (xzblocks: no joining), else a full read (Python's decompressors return
        small pieces from read1, which would mean many small writes to grep)."""
        behind = self._read_to - self.position
        if behind:
            return self.read(min(size, behind))
        fresh = self.stream.read_piece(size) if hasattr(self.stream, "read_piece") else self.stream.read(size)
        self._took(fresh)
        return fresh

    def _took(self, fresh):
        self._read_to += len(fresh)
        self.position = self._read_to
        self._window = fresh[-self.BEHIND:] if len(fresh) >= self.BEHIND else \
            (self._window + fresh)[-self.BEHIND:]

    def close(self):
        pass


class _MemberStream(object):
    """The member being passed over, read straight from the ForwardReader in
    the stream's own blocks: a gigabyte log is not copied into tarfile's
    buffers on its way to grep.  ``peek`` for textio.open_binary_stream."""

    def __init__(self, forward, start, size):
        forward.seek(start)
        self.forward = forward
        self.left = size
        self._head = b""

    def peek(self, size=1):
        if not self._head and self.left:
            self._head = self._next(max(size, 1))
        return self._head

    def _next(self, size):
        data = self.forward.read_piece(min(size, self.left))
        if not data:
            raise tarfile.ReadError("unexpected end of data")
        self.left -= len(data)
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self.read(1 << 20)]
            while parts[-1]:
                parts.append(self.read(1 << 20))
            return b"".join(parts)
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._next(size) if self.left and size else b""

    def close(self):
        pass


# The folders of a root file system (FHS): an archive's single top folder with
# one of these names is part of the root, not a bundle's wrapper folder.
ROOT_FOLDERS = frozenset(("bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc",
                          "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"))


class TarTree(_Tree):
    """A tar archive read in place.

    One pass builds the member index and keeps small regular files in
    memory (most of a support bundle is small files read many times);
    larger members are read on demand.  Absolute and ``..`` names are
    rejected, devices and FIFOs ignored, and symlinks resolved against the
    member list only.  A single top-level folder (``sosreport-host-date/``)
    is treated as the root.
    """

    CACHE_FILE_LIMIT = 512 * 1024
    CACHE_TOTAL_LIMIT = 96 * 1024 * 1024
    # Members a caller marks as wanted (``keep``: logs it will scan) are kept
    # whole up to KEEP_FILE_LIMIT while KEEP_TOTAL_LIMIT lasts; larger ones
    # are *digested* in the same pass: the lines matching ``keep_regex``
    # (at most DIGEST_BYTES, newest kept) plus the last DIGEST_TAIL bytes,
    # with their real line numbers.  Reading a member again later would
    # decompress the archive again from the start (xz cannot seek back).
    KEEP_FILE_LIMIT = 24 * 1024 * 1024
    KEEP_TOTAL_LIMIT = 48 * 1024 * 1024
    DIGEST_BYTES = 8 * 1024 * 1024
    DIGEST_TAIL = 512 * 1024
    # Decompression-bomb limits: stop indexing (before decompressing the
    # member) once the declared sizes pass BOMB_FLOOR bytes *and* BOMB_RATIO
    # times the archive's size, or MAX_UNPACKED bytes, or MAX_MEMBERS members.
    BOMB_RATIO = 1000
    BOMB_FLOOR = 2 * 1024 * 1024 * 1024
    MAX_UNPACKED = 256 * 1024 * 1024 * 1024
    MAX_MEMBERS = 2000000
    # Digest big members with grep (textio.GrepScanner) when it exists; tests turn it off
    # to compare with the in-process MatchScanner.
    GREP_DIGESTS = True

    def __init__(self, archive, keep=None, keep_regex=None, anchors=None, fileobj=None,
                 progress=None, reopen=False):
        """``keep(path) -> bool`` marks wanted members (root-relative, top folder
        removed); ``keep_regex`` (bytes regex, with ``anchors`` literals as in
        textio.MatchScanner) picks the lines kept from members too big to keep
        whole; ``fileobj`` reads the archive as a stream (a pipe from zstd,
        xzblocks' parallel reader): then only kept members can be read, unless
        ``reopen`` says Python can open ``archive`` itself for the others;
        ``progress(bytes_done)`` is called now and then during the pass."""
        self.archive = archive
        self.warnings = []
        self.members = {}      # path -> TarInfo (regular files)
        self.links = {}        # path -> target path (symlinks, hardlinks)
        self.dirs = set([""])
        self.cache = {}
        self.digests = {}      # path -> Digest of a wanted member too big to keep
        self.prefix = ""
        self.from_stream = fileobj is not None
        self.streamed = self.from_stream and not reopen   # members not kept cannot be read later
        self.stopped = None    # why the index pass stopped early, if it did
        self.unpacked = 0      # declared bytes of the members indexed
        self._keep = keep
        self._keep_regex = keep_regex
        self._anchors = anchors
        self._progress = progress
        self._tar = None
        self._random_tar = None     # the archive opened again for members read after a stream pass
        try:
            if fileobj is not None:
                self._tar = tarfile.open(fileobj=ForwardReader(fileobj, archive), mode="r:")
            else:
                self._tar = tarfile.open(archive, "r:*")
        except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise SourceError("%s: cannot read as a tar archive (%s; check the download, "
                              "or unpack it and pass the folder)" % (archive, _one_line(error)))
        try:
            self.compressed = os.path.getsize(archive)
        except (OSError, TypeError):
            self.compressed = None
        self._index()

    def _verify_end(self):
        """Read the compressed stream to its end so its checksum is verified (gzip
        CRC32, xz CRC64): damage in member data otherwise goes unnoticed."""
        fileobj = getattr(self._tar, "fileobj", None)
        if fileobj is None or self.streamed or not hasattr(fileobj, "read"):
            return
        for _ in range(4096):   # the end-of-archive padding is small; bounded anyway
            if not fileobj.read(1 << 20):
                break

    def _wanted(self, path):
        if self._keep is None:
            return False
        rest = path.split("/", 1)[1] if "/" in path else path
        return bool(self._keep(rest) or self._keep(path))

    def _bomb(self, info, count):
        total = self.unpacked + max(0, info.size)
        if count > self.MAX_MEMBERS:
            return "more than %d members" % self.MAX_MEMBERS
        if total > self.MAX_UNPACKED:
            return "members declare more than %d GiB" % (self.MAX_UNPACKED >> 30)
        if self.compressed and total > self.BOMB_FLOOR and total > self.BOMB_RATIO * self.compressed:
            return "members declare %d MiB from a %d KiB archive (over %dx: a decompression bomb?)" % (
                total >> 20, max(1, self.compressed >> 10), self.BOMB_RATIO)
        return None

    def _index(self):
        cached = 0
        kept = 0
        rejected = 0
        count = 0
        raw = []
        try:
            for info in self._tar:
                count += 1
                if info.isreg():
                    why = self._bomb(info, count)
                    if why:
                        self.stopped = why
                        self.warnings.append(
                            "%s: stopped reading at member %s: %s; the members before it were read "
                            "(if the bundle is genuine, unpack it with tar and pass the folder)"
                            % (self.archive, info.name[:200], why))
                        break
                    self.unpacked += info.size
                name = info.name
                if name.startswith("/") or clean_path(name) is None:
                    rejected += 1
                    continue
                path = clean_path(name)
                if not path:
                    continue
                raw.append((path, info))
                if not info.isreg():
                    continue
                if info.size <= self.CACHE_FILE_LIMIT and cached + info.size <= self.CACHE_TOTAL_LIMIT:
                    handle = self._tar.extractfile(info)
                    data = handle.read() if handle else b""
                    self.cache[path] = data
                    cached += len(data)
                elif self._wanted(path):
                    if info.size <= self.KEEP_FILE_LIMIT and kept + info.size <= self.KEEP_TOTAL_LIMIT:
                        handle = self._tar.extractfile(info)
                        data = handle.read() if handle else b""
                        self.cache[path] = data
                        kept += len(data)
                    else:
                        self.digests[path] = self._digest(path, info)
                if self._progress is not None:
                    self._progress(self.unpacked)
            else:
                self._verify_end()
        except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as error:
            self.warnings.append("%s: archive ends early or is corrupt (%s); read the members "
                                 "before the damage" % (self.archive, _one_line(error)))
        if rejected:
            self.warnings.append("%s: ignored %d member(s) with absolute or '..' names"
                                 % (self.archive, rejected))
        tops = set(path.split("/", 1)[0] for path, _ in raw)
        # 'tar czf varlog.tgz /var/log' has one top folder too: a root's own
        # folder names are never a bundle's wrapper
        if len(tops) == 1 and next(iter(tops)) not in ROOT_FOLDERS:
            top = tops.pop()
            if any(info.isdir() and path == top for path, info in raw) or \
                    all(path.startswith(top + "/") for path, _ in raw):
                self.prefix = top + "/"
        for path, info in raw:
            if self.prefix:
                if not path.startswith(self.prefix):
                    continue
                path = path[len(self.prefix):]
            if not path:
                continue
            parent = posixpath.dirname(path)
            while parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)
            if info.isdir():
                self.dirs.add(path)
            elif info.isreg():
                self.members[path] = info
                if (self.prefix + path) in self.cache:
                    self.cache[path] = self.cache.pop(self.prefix + path)
                if (self.prefix + path) in self.digests:
                    self.digests[path] = self.digests.pop(self.prefix + path)
            elif info.issym():
                target = info.linkname
                if target.startswith("/"):
                    joined = target.lstrip("/")
                else:
                    joined = posixpath.join(posixpath.dirname(path), target)
                self.links[path] = joined
            elif info.islnk():
                target = clean_path(info.linkname)
                if target is not None and self.prefix and target.startswith(self.prefix):
                    target = target[len(self.prefix):]
                if target is not None:
                    self.links[path] = target
            # devices and FIFOs are ignored on purpose

    def _resolve(self, path):
        path = clean_path(path)
        for _ in range(40):
            if path is None:
                return None
            if path in self.members or path in self.dirs:
                return path
            # Resolve links in any leading component too.
            parts = path.split("/")
            for cut in range(len(parts), 0, -1):
                head = "/".join(parts[:cut])
                if head in self.links:
                    rest = "/".join(parts[cut:])
                    target = self.links[head]
                    path = clean_path(posixpath.join(target, rest) if rest else target)
                    break
            else:
                return None
        return None

    def exists(self, path):
        return self._resolve(path) is not None

    def isdir(self, path):
        return self._resolve(path) in self.dirs

    def listdir(self, path):
        real = self._resolve(path)
        if real is None or real not in self.dirs:
            return []
        prefix = real + "/" if real else ""
        names = set()
        for collection in (self.members, self.links, self.dirs):
            for member in collection:
                if member.startswith(prefix) and member != real:
                    rest = member[len(prefix):]
                    if rest and "/" not in rest:
                        names.add(rest)
        return sorted(names)

    def _digest(self, path, info):
        """Read a big wanted member once: matching lines and the tail, numbered."""
        digest = Digest(info.size)
        if self.from_stream and not info.issparse():
            handle = _MemberStream(self._tar.fileobj, info.offset_data, info.size)
        else:
            handle = self._tar.extractfile(info)
        if handle is None:
            return digest
        try:
            stream = textio.open_binary_stream(handle)
        except Unreadable as error:
            digest.problem = str(error)
            return digest
        tail = _TailKeeper(stream, self.DIGEST_TAIL)
        regex = self._keep_regex or re.compile(b"(?!)")
        # grep -F in a child finds the anchored lines on the other core while this
        # process decompresses (textio.GrepScanner); MatchScanner when grep is missing.
        scanner = textio.scanner_for(tail, regex, anchors=self._anchors, big=self.GREP_DIGESTS)
        for lineno, text in scanner:
            digest.add(lineno, text, self.DIGEST_BYTES)
        digest.lines_total = scanner.lines
        digest.problem = scanner.problem
        data = tail.data()
        digest.finish(data, scanner.lines, tail.cut)
        return digest

    def digest(self, path):
        """The Digest of a big wanted member (kept lines), or None."""
        real = self._resolve(path)
        return self.digests.get(real) if real else None

    def open(self, path):
        real = self._resolve(path)
        if real is None or real not in self.members:
            raise Unreadable("no such file in the archive")
        if real in self.cache:
            import io
            # Buffered and seekable: readers that go back (boot windows) work as on files.
            return textio.open_binary_stream(io.BufferedReader(io.BytesIO(self.cache[real])))
        if real in self.digests:
            import io
            return io.BufferedReader(io.BytesIO(self.digests[real].text().encode("utf-8")))
        if self.streamed:
            raise Unreadable("not kept from an archive read as a stream (unpack it with "
                             "'tar --zstd -xf FILE' and pass the folder to read everything)")
        return textio.open_binary_stream(self._member_handle(real))

    def _member_handle(self, real):
        """The stored bytes of a member of a seekable archive, as a file object."""
        try:
            tar = self._tar
            if self.from_stream:
                # The pass read a stream; members read later come from the archive
                # opened by Python (forward seeks only, so a later member costs the
                # decompression up to it, once).
                if self._random_tar is None:
                    self._random_tar = tarfile.open(self.archive, "r:*")
                tar = self._random_tar
            handle = tar.extractfile(self.members[real])
        except (tarfile.TarError, EOFError, OSError) as error:
            raise Unreadable("archive member unreadable (%s)" % (error,))
        if handle is None:
            raise Unreadable("not a regular file")
        return handle

    def open_raw(self, path):
        """The member's bytes as stored (no decompression by content); a member
        too big to keep from a streamed archive, or only digested, is Unreadable."""
        import io
        real = self._resolve(path)
        if real is None or real not in self.members:
            raise Unreadable("no such file in the archive")
        if real in self.cache:
            return io.BytesIO(self.cache[real])
        if self.streamed:
            raise Unreadable("not kept from an archive read as a stream (unpack it and pass the folder)")
        return self._member_handle(real)

    def mtime(self, path):
        real = self._resolve(path)
        info = self.members.get(real) if real else None
        return float(info.mtime) if info is not None else None

    def size(self, path):
        real = self._resolve(path)
        info = self.members.get(real) if real else None
        return info.size if info is not None else None

    def close(self):
        for tar in (self._tar, self._random_tar):
            if tar is not None:
                tar.close()


# ---------------------------------------------------------------- sources

class Source(object):
    """Base for every kind of source: file access, logs, commands.

    kind: "live", "root" (mounted or copied root), "sos", "supportconfig".
    label: what to show the user.  warnings: one-line problems met so far.
    """

    kind = "root"

    def __init__(self, tree, label, kind):
        self.tree = tree
        self.label = label
        self.kind = kind
        self.warnings = list(getattr(tree, "warnings", []))
        self._warned = set()
        self.runner = None

    @property
    def live(self):
        return self.kind == "live"

    def warn(self, message):
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    # -- files
    def exists(self, path):
        return self.tree.exists(path)

    def isdir(self, path):
        return self.tree.isdir(path)

    def listdir(self, path):
        return self.tree.listdir(path)

    def glob(self, pattern):
        """Paths matching a root-relative glob (``*`` within one component)."""
        parts = [p for p in clean_path(pattern or "").split("/") if p] if clean_path(pattern or "") else []
        found = [""]
        for part in parts:
            nxt = []
            for base in found:
                if any(ch in part for ch in "*?["):
                    for name in self.listdir(base):
                        if fnmatch.fnmatchcase(name, part):
                            nxt.append(posixpath.join(base, name) if base else name)
                else:
                    candidate = posixpath.join(base, part) if base else part
                    if self.exists(candidate):
                        nxt.append(candidate)
            found = nxt
        return sorted(found)

    def mtime(self, path):
        return self.tree.mtime(path)

    def size(self, path):
        return self.tree.size(path)

    def open(self, path):
        """Binary stream, decompressed by content; raises Unreadable."""
        return self.tree.open(path)

    def origin(self, path):
        return clean_path(path) or path

    def read_text(self, path, warn=True):
        """Whole small file as text, or None (missing; unreadable with a warning)."""
        if not self.exists(path):
            return None
        try:
            stream = self.open(path)
        except Unreadable as error:
            if warn:
                self.warn("%s: %s" % (self.origin(path), error))
            return None
        try:
            data = stream.read(16 * 1024 * 1024)
        except (EOFError, OSError, ValueError) as error:
            if warn:
                self.warn("%s: %s" % (self.origin(path), textio.describe_read_error(error)))
            return None
        finally:
            stream.close()
        return textio.decode(data)

    def lines(self, path):
        """Iterate Line objects of one file; problems become warnings."""
        origin = self.origin(path)
        digest = self.tree.digest(path) if hasattr(self.tree, "digest") else None
        if digest is not None:
            self.warn("%s: %s" % (origin, digest.note()))
            if digest.problem:
                self.warn("%s: %s" % (origin, digest.problem))
            for lineno, text in digest.lines:
                yield Line(text, origin, lineno)
            return
        try:
            stream = self.open(path)
        except Unreadable as error:
            self.warn("%s: %s" % (origin, error))
            return
        try:
            head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
            if textio.looks_binary(head):
                self.warn("%s: binary data, not a text log (skipped)" % (origin,))
                return
            reader = textio.LineReader(stream)
            for lineno, text in reader:
                yield Line(text, origin, lineno)
            if reader.problem:
                self.warn("%s: %s" % (origin, reader.problem))
            if reader.cut_lines:
                self.warn("%s: %d over-long line(s) cut at %d KiB"
                          % (origin, reader.cut_lines, textio.MAX_LINE // 1024))
        finally:
            stream.close()

    # -- logs
    def log_files(self, base, folder="var/log"):
        """Rotations of ``folder/base``, oldest first (root-relative paths)."""
        names = order_rotations(self.listdir(folder), base)
        return [posixpath.join(folder, name) for name in names
                if not self.isdir(posixpath.join(folder, name))]

    def log_lines(self, base, folder="var/log"):
        """Lines of every rotation of a log, oldest first."""
        for path in self.log_files(base, folder):
            for line in self.lines(path):
                yield line

    # -- commands
    def command_output(self, *commands):
        """(text, origin) of the first command whose captured output exists, else None.

        A live source runs the command through the shared runner (no shell,
        timeout, LC_ALL=C); a mounted root has no command output.
        """
        return None


class RootSource(Source):
    """The live system or a mounted / copied root filesystem."""

    def command_output(self, *commands):
        if not self.live:
            return None
        from . import runner as runner_module
        run = self.runner or runner_module.run
        for command in commands:
            result = run(shlex.split(command))
            if result.available and result.rc == 0:
                return result.stdout, "command: " + command
        return None


class SosSource(Source):
    """An extracted or archived sosreport: a mirrored root plus sos_commands/."""

    def __init__(self, tree, label):
        Source.__init__(self, tree, label, "sos")
        self._commands = None

    def _command_index(self):
        if self._commands is None:
            self._commands = {}
            for plugin in self.listdir("sos_commands"):
                folder = "sos_commands/" + plugin
                for name in self.listdir(folder):
                    self._commands.setdefault(name, folder + "/" + name)
        return self._commands

    def command_output(self, *commands):
        index = self._command_index()
        for command in commands:
            path = index.get(sos_mangle(command))
            if path:
                text = self.read_text(path)
                if text is not None:
                    return text, path
        return None


_SC_HEADER = re.compile(r"^#==\[ (?P<kind>[^\]]+?) \]=+#\s*(?P<rest>.*)$")
_SC_PATH_NOTE = re.compile(r"^(?P<path>/\S*)(?: - (?P<note>.*))?$")


class SupportconfigSource(Source):
    """A SUSE supportconfig: flat ``*.txt`` files made of sections.

    Each section starts with ``#==[ Kind ]====#``; the next line is
    ``# /path/to/file`` (optionally `` - Last N Lines`` or `` - File not
    found``) for Configuration File / Log File sections, or ``# command
    args`` for Command sections.  The sections become virtual files at
    their original paths and command outputs, so engines read
    ``etc/os-release`` or ``var/log/messages`` as from any other source;
    the bundle's own files stay reachable by their names.
    """

    SECTION_FILES = ("Configuration File", "Log File", "File")

    def __init__(self, tree, label):
        Source.__init__(self, tree, label, "supportconfig")
        self.virtual = {}   # root-relative path -> (txt file, first line, lines list, note)
        self.commands = []  # (words, txt file, first line, lines)
        self._index()

    def _index(self):
        for name in self.tree.listdir(""):
            if not name.endswith(".txt"):
                continue
            current = None
            try:
                stream = self.tree.open(name)
            except Unreadable as error:
                self.warn("%s: %s" % (name, error))
                continue
            reader = textio.LineReader(stream)
            try:
                pending = None
                for lineno, text in reader:
                    header = _SC_HEADER.match(text)
                    if header:
                        current = None
                        pending = (header.group("kind"), lineno)
                        rest = header.group("rest").strip()
                        if rest.startswith("# "):
                            rest = rest[2:]
                        if rest:
                            current = self._start(name, pending, rest, lineno)
                            pending = None
                        continue
                    if pending is not None:
                        if text.startswith("# "):
                            current = self._start(name, pending, text[2:].strip(), lineno)
                        pending = None
                        continue
                    if current is not None:
                        current[2].append(text)
            finally:
                stream.close()
            if reader.problem:
                self.warn("%s: %s" % (name, reader.problem))
        for entry in list(self.virtual.values()) + [c[1:] for c in self.commands]:
            lines = entry[2]
            while lines and not lines[-1].strip():
                lines.pop()

    def _start(self, txt, pending, described, lineno):
        kind = pending[0]
        if kind in self.SECTION_FILES:
            match = _SC_PATH_NOTE.match(described)
            if not match:
                return None
            note = match.group("note") or ""
            if "not found" in note.lower():
                return None
            path = clean_path(match.group("path"))
            if path is None:
                return None
            entry = (txt, lineno + 1, [], note)
            self.virtual[path] = entry
            return entry
        if kind == "Command":
            entry = (txt, lineno + 1, [])
            self.commands.append((command_words(described), txt, lineno + 1, entry[2]))
            return entry
        return None

    def exists(self, path):
        cleaned = clean_path(path)
        return cleaned in self.virtual or self.tree.exists(path) or self.isdir(path)

    def isdir(self, path):
        cleaned = clean_path(path)
        if cleaned is None:
            return False
        if cleaned == "" or self.tree.isdir(path):
            return True
        prefix = cleaned + "/"
        return any(v.startswith(prefix) for v in self.virtual)

    def listdir(self, path):
        cleaned = clean_path(path)
        if cleaned is None:
            return []
        names = set(self.tree.listdir(path))
        prefix = cleaned + "/" if cleaned else ""
        for virtual in self.virtual:
            if virtual.startswith(prefix):
                names.add(virtual[len(prefix):].split("/", 1)[0])
        return sorted(names)

    def open(self, path):
        cleaned = clean_path(path)
        if cleaned in self.virtual:
            import io
            data = ("\n".join(self.virtual[cleaned][2]) + "\n").encode("utf-8")
            return io.BufferedReader(io.BytesIO(data))
        return self.tree.open(path)

    def mtime(self, path):
        cleaned = clean_path(path)
        if cleaned in self.virtual:
            return self.tree.mtime(self.virtual[cleaned][0])
        return self.tree.mtime(path)

    def lines(self, path):
        cleaned = clean_path(path)
        if cleaned in self.virtual:
            txt, first, body, note = self.virtual[cleaned]
            if note and "last" in note.lower():
                self.warn("/%s: only the %s were captured (%s)" % (cleaned, note.lower(), txt))
            for offset, text in enumerate(body):
                yield Line(text, txt, first + offset)
            return
        for line in Source.lines(self, path):
            yield line

    def command_output(self, *commands):
        for command in commands:
            wanted = command_words(command)
            for words, txt, first, body in self.commands:
                if words == wanted:
                    return "\n".join(body) + "\n", "%s:%d" % (txt, first)
        return None


# ---------------------------------------------------------------- opening

def _looks_encrypted(head):
    return head.startswith(b"-----BEGIN PGP") or (len(head) > 1 and head[0:1] in (b"\x85", b"\x8c")
                                                   and b"\x03" in head[1:4])


def _classify_tree(tree):
    top = set(tree.listdir(""))
    if top & set(["sos_commands", "sos_reports", "sos_logs"]):
        return "sos"
    if "basic-environment.txt" in top or "supportconfig.txt" in top:
        return "supportconfig"
    return "root"


def open_source(path=None, live_ok=True, **tar_options):
    """Open whatever ``path`` is: None or '/' for the live system, a folder, an archive.

    ``tar_options`` go to TarTree for archives (``keep``, ``keep_regex``,
    ``anchors``, ``progress``): members the caller will read are read in the
    single pass over the archive.  A zstd archive is read as a stream
    through the ``zstd`` binary when it exists; a multi-block xz archive is
    decoded on several cores (shared/xzblocks).
    Raises SourceError with a message naming the cause and the fix.
    """
    if path in (None, "", "/"):
        return RootSource(DirTree("/", confine=False), "/", "live")
    if not os.path.exists(path):
        raise SourceError("%s: no such file or directory (check the path)" % (path,))
    if os.path.isdir(path):
        tree = DirTree(path)
        kind = _classify_tree(tree)
        if kind == "root":
            # A folder that holds exactly one extracted bundle.
            entries = [e for e in tree.listdir("") if tree.isdir(e)]
            if len(entries) == 1 and len(tree.listdir("")) == 1:
                inner = DirTree(os.path.join(path, entries[0]))
                if _classify_tree(inner) != "root":
                    tree, kind = inner, _classify_tree(inner)
        return _make(tree, path, kind)
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise SourceError("%s: cannot read (%s; run as root or check permissions)"
                          % (path, error.strerror or error))
    if _looks_encrypted(head) or path.endswith((".gpg", ".asc")):
        raise SourceError("%s: encrypted bundle (decrypt it first: gpg --decrypt FILE > FILE.tar.xz)"
                          % (path,))
    compression = textio.sniff_compression(head)
    if compression == "zstd":
        return _open_zstd(path, tar_options)
    reader = _decompressed(path, compression)
    if reader is None:
        tree = TarTree(path, **tar_options)     # a plain tar: tarfile seeks in it
    else:
        try:
            tree = TarTree(path, fileobj=reader, reopen=True, **tar_options)
        finally:
            reader.close()
    return _make(tree, path, _classify_tree(tree))


# A multi-block xz archive (sos writes them with 'xz -2 -T4') is decoded on
# several cores by shared/xzblocks; tests turn it off to compare with lzma.
PARALLEL_XZ = True
# Other compressed archives are read in the pass through Python's own
# decompressor as a stream (ForwardReader: no copies through tarfile's member
# buffers); tests turn it off to compare with tarfile's own reading.
STREAM_PASS = True
_DECOMPRESSORS = {"gzip": "gzip.GzipFile", "xz": "lzma.LZMAFile", "lzma": "lzma.LZMAFile",
                  "bzip2": "bz2.BZ2File"}


def _decompressed(path, compression):
    """The decompressed bytes of an archive as a stream for the one pass, or None."""
    if compression == "xz" and PARALLEL_XZ:
        from . import xzblocks
        reader = xzblocks.open_parallel(path)
        if reader is not None:
            return reader
    if not STREAM_PASS or compression not in _DECOMPRESSORS:
        return None
    import importlib
    module, _, name = _DECOMPRESSORS[compression].partition(".")
    try:
        return getattr(importlib.import_module(module), name)(path, "rb")
    except (OSError, ValueError):
        return None


def _open_zstd(path, tar_options):
    """A .tar.zst through the zstd binary, read once as a stream."""
    from . import runner
    zstd = runner.which("zstd")
    if not zstd:
        raise SourceError("%s: zstd-compressed archive (Python cannot read zstd and the zstd "
                          "program is not installed: install zstd, or unpack it elsewhere with "
                          "'tar --zstd -xf FILE' and pass the folder)" % (path,))
    process = runner.stream_output([zstd, "-dc", "--", path])
    if process is None:
        raise SourceError("%s: cannot start zstd (check the installation)" % (path,))
    try:
        tree = TarTree(path, fileobj=process.stdout, **tar_options)
    finally:
        problem = runner.finish_stream(process)
    if problem:
        tree.warnings.append("%s: zstd: %s" % (path, problem))
    return _make(tree, path, _classify_tree(tree))


def _make(tree, label, kind):
    if kind == "sos":
        return SosSource(tree, label)
    if kind == "supportconfig":
        return SupportconfigSource(tree, label)
    return RootSource(tree, label, "root")
