"""Binary members of a bundle for ``report``: a private temp folder and copies into it.

Some readers need a real file (``sadf`` and ``journalctl --file`` take a
path; perfcollect's analysis reads a folder).  ``PrivateDir`` makes one
folder with ``tempfile.mkdtemp`` (mode 0700, removed on ``close()``, also
after errors); when no writable temp folder exists it says so in one line
(``.problem``) and the caller goes on without.  ``copy_member`` streams
one member's stored bytes (``tree.open_raw``: no decompression by content)
into it, within a byte cap.
"""

import os
import shutil
import tempfile

from .logs import CONVERTED_JOURNAL
from .textio import Unreadable

CHUNK = 1 << 20


class PrivateDir(object):
    """A private temp folder, or ``path`` None and ``problem`` saying why not."""

    def __init__(self, purpose="report"):
        self.path = None
        self.problem = None
        try:
            self.path = tempfile.mkdtemp(prefix="rescuekit-%s-" % purpose)
            os.chmod(self.path, 0o700)
        except (OSError, IOError) as error:
            self.problem = ("no writable temp folder (%s; set TMPDIR to a writable folder)"
                            % (getattr(error, "strerror", None) or error))

    def file(self, name):
        """A path inside the folder for ``name`` (its base name only)."""
        return os.path.join(self.path, os.path.basename(name) or "member")

    def close(self):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_raw(source, path):
    """The stored bytes of ``path`` in a source (raises Unreadable)."""
    opener = getattr(source.tree, "open_raw", None)
    if opener is None:
        raise Unreadable("this kind of source cannot give raw bytes")
    return opener(path)


def copy_member(source, path, target, cap=None):
    """Copy the stored bytes of ``path`` to the host file ``target`` (created 0600,
    never following a link).  ``cap``: stop after that many bytes.  Returns the
    bytes written; raises Unreadable or OSError."""
    handle = open_raw(source, path)
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    try:
        with handle:
            while cap is None or written < cap:
                data = handle.read(CHUNK if cap is None else min(CHUNK, cap - written))
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                written += len(data)
    finally:
        os.close(fd)
    return written


# ---------------------------------------------------------------- --extract

class ExtractError(Exception):
    """The extraction cannot start (one line: what, cause, fix)."""


class Extraction(object):
    """What ``extract`` did: files written, members refused (by reason), problems."""

    def __init__(self, dest):
        self.dest = dest
        self.files = 0
        self.bytes = 0
        self.refused = {}
        self.problem = None

    def refuse(self, why):
        self.refused[why] = self.refused.get(why, 0) + 1

    def warnings(self):
        out = ["--extract: %d member(s) not extracted: %s" % (count, why)
               for why, count in sorted(self.refused.items())]
        if self.problem:
            out.append("--extract: %s" % self.problem)
        return out


def _inside_parent(dest, rel):
    """The host folder for a member's parent, created as real folders only (a
    link met on the way means the member is refused: None)."""
    folder = dest
    for part in rel.split("/")[:-1]:
        folder = os.path.join(folder, part)
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            os.mkdir(folder, 0o755)
            continue
        import stat
        if not stat.S_ISDIR(info.st_mode):
            return None
    return folder


def extract(archive, dest, progress=None):
    """Extract a bundle archive into the empty (or new) folder ``dest`` with the
    rules of reading in place (sources.TarTree): absolute and '..' names refused,
    devices and FIFOs skipped, symbolic links kept only when they point inside
    ``dest`` (relative, not climbing out), hard links only to members already
    extracted, nothing written through a link, nothing overwritten (O_EXCL),
    extraction stopped before a decompression bomb.  Returns an Extraction;
    raises ExtractError when it cannot start."""
    import posixpath
    import tarfile
    import zlib
    import lzma
    from . import runner, sources, textio
    if os.path.exists(dest):
        if not os.path.isdir(dest):
            raise ExtractError("--extract %s: not a folder (name a new or empty folder)" % dest)
        if os.listdir(dest):
            raise ExtractError("--extract %s: the folder is not empty (name a new or empty folder; "
                               "nothing is overwritten)" % dest)
    else:
        try:
            os.makedirs(dest, 0o755)
        except OSError as error:
            raise ExtractError("--extract %s: cannot create the folder (%s; choose a writable place)"
                               % (dest, error.strerror or error))
    try:
        with open(archive, "rb") as handle:
            head = handle.read(16)
        compressed = os.path.getsize(archive)
    except OSError as error:
        raise ExtractError("--extract: cannot read %s (%s)" % (archive, error.strerror or error))
    process = None
    try:
        if textio.sniff_compression(head) == "zstd":
            zstd = runner.which("zstd")
            if not zstd:
                raise ExtractError("--extract: %s is zstd-compressed and the zstd program is not installed "
                                   "(install zstd)" % archive)
            process = runner.stream_output([zstd, "-dc", "--", archive])
            if process is None:
                raise ExtractError("--extract: cannot start zstd (check the installation)")
            tar = tarfile.open(fileobj=process.stdout, mode="r|*")
        else:
            tar = tarfile.open(archive, "r|*")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ExtractError("--extract: %s: cannot read as a tar archive (%s)" % (archive, error))
    done = Extraction(dest)
    written = {}          # member path -> host path of regular files extracted
    declared = 0
    limits = sources.TarTree
    try:
        for count, info in enumerate(tar, 1):
            name = info.name
            rel = sources.clean_path(name)
            if name.startswith("/") or rel is None:
                done.refuse("absolute or '..' name")
                continue
            if not rel:
                continue
            if info.isreg():
                declared += max(0, info.size)
                if count > limits.MAX_MEMBERS or declared > limits.MAX_UNPACKED or (
                        declared > limits.BOMB_FLOOR and declared > limits.BOMB_RATIO * compressed):
                    done.problem = ("stopped reading at %s: the members declare %d MiB from a %d KiB archive "
                                    "(a decompression bomb?)" % (name[:200], declared >> 20,
                                                                 max(1, compressed >> 10)))
                    break
            if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
                done.refuse("device or FIFO")
                continue
            parent = _inside_parent(dest, rel)
            if parent is None:
                done.refuse("path through a link or a file")
                continue
            target = os.path.join(parent, posixpath.basename(rel))
            if info.isdir():
                if not os.path.lexists(target):
                    os.mkdir(target, 0o755)
                elif not os.path.isdir(target) or os.path.islink(target):
                    done.refuse("path through a link or a file")
                continue
            if os.path.lexists(target):
                done.refuse("duplicate name (never overwritten)")
                continue
            if info.issym():
                link = info.linkname
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
                if link.startswith("/") or joined == ".." or joined.startswith("../"):
                    done.refuse("link pointing outside the bundle")
                    continue
                os.symlink(link, target)
                continue
            if info.islnk():
                source_rel = sources.clean_path(info.linkname)
                if source_rel not in written:
                    done.refuse("hard link to a member outside the bundle or not extracted")
                    continue
                os.link(written[source_rel], target)
                continue
            handle = tar.extractfile(info)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            try:
                while handle is not None:
                    data = handle.read(CHUNK)
                    if not data:
                        break
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    done.bytes += len(data)
            finally:
                os.close(fd)
            try:
                os.utime(target, (info.mtime, info.mtime))
            except (OSError, OverflowError):
                pass
            written[rel] = target
            done.files += 1
            if progress is not None:
                progress(done.bytes)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as error:
        done.problem = "%s: archive ends early or is corrupt (%s); the members before the damage were " \
                       "extracted" % (archive, str(error).splitlines()[0][:200] if str(error) else type(error).__name__)
    except OSError as error:
        done.problem = "writing %s failed (%s; check the free space)" % (dest, error.strerror or error)
    finally:
        tar.close()
        if process is not None:
            problem = runner.finish_stream(process)
            if problem and not done.problem:
                done.problem = "zstd: %s" % problem
    return done


# ---------------------------------------------------------------- binary sar (sadc files)

SAR_BINARY_GLOBS = ("var/log/sa/sa[0-9]*", "var/log/sysstat/sa[0-9]*")
SA_MAGIC = (b"\x96\xd5", b"\xd5\x96")         # sysstat's file magic 0xd596, either byte order
SAR_FILE_CAP = 256 * 1024 * 1024
SADF_ARGS = ("-u", "-r", "-S", "-q", "-d", "-n", "DEV")


def _head(source, path, size=4):
    try:
        with open_raw(source, path) as handle:
            return handle.read(size)
    except (Unreadable, OSError):
        return b""


def binary_sar_files(source):
    """Root-relative paths of sadc data files (by their magic, not their name)."""
    found = []
    for pattern in SAR_BINARY_GLOBS:
        for path in source.glob(pattern):
            if path not in found and not source.isdir(path) and _head(source, path)[:2] in SA_MAGIC:
                found.append(path)
    return found


def _sadf_reason(result):
    """One line: why sadf could not read a file."""
    text = "%s\n%s" % (result.stderr or "", result.stdout or "")
    for pattern in ("cannot read the format of this file", "Invalid system activity file",
                    "Cannot open", "End of data collecting unexpected"):
        for line in text.splitlines():
            if pattern in line:
                created = [l for l in text.splitlines() if l.startswith("File created by")]
                return line.strip() + ("; " + created[0].strip() if created and created[0] != line else "")
    first = [l for l in text.splitlines() if l.strip()]
    return first[0].strip()[:200] if first else "sadf exited %s" % result.rc


def convert_sar(source, paths, run):
    """sadf -d of each binary sar file -> ([(path, text)], [problem lines]).
    The member is streamed into a private temp file (sadf needs a path),
    removed afterwards.  A problem that stops everything (no sadf, no temp
    folder) is returned alone."""
    texts, problems = [], []
    scratch = PrivateDir("sar")
    if scratch.path is None:
        return [], [scratch.problem]
    try:
        for path in paths:
            size = source.size(path) or 0
            if size > SAR_FILE_CAP:
                problems.append("%s: over %d MiB, not converted" % (path, SAR_FILE_CAP >> 20))
                continue
            target = scratch.file(path)
            try:
                copy_member(source, path, target)
            except (Unreadable, OSError) as error:
                problems.append("%s: unreadable (%s)" % (path, error))
                continue
            result = run(["sadf", "-d", target, "--"] + list(SADF_ARGS), timeout=120, cap=64 * 1024 * 1024)
            os.unlink(target)
            if result.status == "not available":
                return [], ["sadf not installed (install sysstat, or ask for 'sar -A -f FILE' text)"]
            if result.status != "ok" or not (result.stdout or "").strip():
                problems.append("%s: %s" % (path, _sadf_reason(result)))
                continue
            texts.append((path, result.stdout))
    finally:
        scratch.close()
    return texts, problems


# ---------------------------------------------------------------- binary journals

JOURNAL_GLOBS = ("var/log/journal/*/*.journal", "var/log/journal/*/*.journal~",
                 "run/log/journal/*/*.journal", "run/log/journal/*/*.journal~")
JOURNAL_MAGIC = b"LPKSHHRH"
JOURNAL_CAP = 256 * 1024 * 1024       # journal file bytes converted (the newest files first)
JOURNAL_LINES = 200000                # entries kept (the newest), journalctl -n
JOURNAL_OUTPUT_CAP = 48 * 1024 * 1024
# Where the converted text appears in the source (shared.logs.discover lists
# it, so the log rules, the oops and the bootlog engines all read it).
JOURNAL_TEXT = CONVERTED_JOURNAL


def binary_journal_files(source):
    """Journal files of a bundle (by their magic), newest first."""
    found = []
    for pattern in JOURNAL_GLOBS:
        for path in source.glob(pattern):
            if path not in found and not source.isdir(path) and _head(source, path, 8) == JOURNAL_MAGIC:
                found.append(path)
    found.sort(key=lambda p: (source.mtime(p) or 0, p.endswith("/system.journal"), p), reverse=True)
    return found


class JournalText(object):
    """What convert_journals made: text, files converted / left out, problems."""

    def __init__(self):
        self.text = None
        self.converted = []
        self.left_out = []
        self.bytes = 0
        self.problems = []
        self.stopper = None      # a reason nothing could be converted
        self.capped_lines = False


def convert_journals(source, paths, run, cap=None, lines=None):
    """journalctl --file ... -o short-iso over the newest journal files (within
    ``cap`` bytes), the newest ``lines`` entries, merged in time order."""
    cap = JOURNAL_CAP if cap is None else cap
    lines = JOURNAL_LINES if lines is None else lines
    done = JournalText()
    scratch = PrivateDir("journal")
    if scratch.path is None:
        done.stopper = scratch.problem
        return done
    try:
        files = []
        budget = cap
        for index, path in enumerate(paths):
            size = source.size(path) or 0
            if size > budget and files:
                done.left_out.append(path)
                continue
            target = os.path.join(scratch.path, "%03d-%s" % (index, os.path.basename(path).replace("~", "")))
            if not target.endswith(".journal"):
                target += ".journal"        # journalctl --file wants the suffix
            try:
                copy_member(source, path, target, cap=max(budget, 0) if size > budget else None)
            except (Unreadable, OSError) as error:
                done.problems.append("%s: unreadable (%s)" % (path, error))
                continue
            budget -= size
            files.append(target)
            done.converted.append(path)
            done.bytes += min(size, cap)
        if not files:
            done.stopper = done.problems[0] if done.problems else "no readable journal file"
            return done
        argv = ["journalctl", "--no-pager", "-o", "short-iso", "-n", str(lines)]
        for target in files:
            argv += ["--file", target]
        result = run(argv, timeout=300, cap=JOURNAL_OUTPUT_CAP)
        if result.status == "not available":
            done.stopper = "journalctl not installed (read the files on a box with systemd: " \
                           "journalctl --file FILE -o short-iso)"
            done.converted = []
            return done
        text = result.stdout or ""
        if result.status != "ok" and not text.strip():
            done.stopper = "journalctl failed: %s" % ((result.stderr or "").strip().splitlines() or
                                                      ["exit %s" % result.rc])[0][:200]
            done.converted = []
            return done
        if result.status != "ok":
            done.problems.append("journalctl: %s" % ((result.stderr or "").strip().splitlines() or
                                                     ["exit %s" % result.rc])[0][:200])
        entries = len([l for l in text.splitlines() if l and not l.startswith("-- ")])
        done.capped_lines = entries >= lines
        done.text = text
    finally:
        scratch.close()
    return done


class OverlayTree(object):
    """A source tree plus files made in memory (converted binary members)."""

    def __init__(self, tree, files, mtime=None):
        self._tree = tree
        self._files = dict((path, data) for path, data in files.items())
        self._mtime = mtime

    def __getattr__(self, name):
        found = getattr(self._tree, name)
        if name == "real":           # host paths: none for the files made in memory
            from .sources import clean_path

            def real(path):
                return None if clean_path(path) in self._files else found(path)
            return real
        return found

    def _dirs(self):
        out = set()
        for path in self._files:
            parts = path.split("/")[:-1]
            for cut in range(len(parts) + 1):
                out.add("/".join(parts[:cut]))
        return out

    def exists(self, path):
        from .sources import clean_path
        return clean_path(path) in self._files or clean_path(path) in self._dirs() or self._tree.exists(path)

    def isdir(self, path):
        from .sources import clean_path
        return clean_path(path) in self._dirs() or self._tree.isdir(path)

    def listdir(self, path):
        from .sources import clean_path
        prefix = clean_path(path)
        prefix = prefix + "/" if prefix else ""
        names = set(self._tree.listdir(path))
        for item in list(self._files) + list(self._dirs()):
            if item.startswith(prefix) and item != prefix.rstrip("/"):
                rest = item[len(prefix):]
                if rest:
                    names.add(rest.split("/", 1)[0])
        return sorted(names)

    def open(self, path):
        import io
        from .sources import clean_path
        data = self._files.get(clean_path(path))
        if data is None:
            return self._tree.open(path)
        return io.BufferedReader(io.BytesIO(data))

    def open_raw(self, path):
        return self.open(path)

    def mtime(self, path):
        from .sources import clean_path
        return self._mtime if clean_path(path) in self._files else self._tree.mtime(path)

    def size(self, path):
        from .sources import clean_path
        data = self._files.get(clean_path(path))
        return len(data) if data is not None else self._tree.size(path)

    def digest(self, path):
        from .sources import clean_path
        if clean_path(path) in self._files:
            return None
        digest = getattr(self._tree, "digest", None)
        return digest(path) if digest is not None else None

    def close(self):
        self._tree.close()
