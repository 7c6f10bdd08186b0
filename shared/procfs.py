"""Reading /proc and /sys under a movable root.

Modelled on psutil's _pslinux: one root path (``--root`` of a mounted
system or a captured tree, ``/`` live); a process that vanishes between
listing and reading is expected, not an error; permission errors become
"access denied"; ``/proc/<pid>/stat`` is split at the *last* ``)`` because
process names may contain spaces and parentheses; missing fields become
None with one warning, never a crash.  Bytes are decoded leniently.
"""

import os

from .textio import decode


class AccessDenied(Exception):
    """Reading needs privileges we do not have."""


class ProcFS(object):
    """Root-aware reader for proc and sys files.

    All methods return None (or an empty container) for files that do not
    exist or vanished; AccessDenied is raised only by the ``strict`` calls.
    ``warnings`` collects one line per distinct problem.
    """

    def __init__(self, root="/"):
        self.root = os.path.abspath(root or "/")
        self.warnings = []
        self._warned = set()
        self.denied = set()
        self.denied_count = 0
        self._stat_fds = None
        self._stat_budget = 0

    def warn(self, message):
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def path(self, relative):
        return os.path.join(self.root, relative.lstrip("/"))

    def read_bytes(self, relative, limit=8 * 1024 * 1024):
        """Raw bytes or None; permission problems recorded in ``denied``."""
        try:
            fd = os.open(self.path(relative), os.O_RDONLY)
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
            return None
        except PermissionError:
            self.denied.add(relative)
            return None
        except (OSError, ValueError):
            return None
        try:
            # Reads of at most 1 MiB at a time: /proc/sys handlers allocate
            # the whole read size and fail a large read with ENOMEM (seen on
            # 6.x: an 8 MiB read of .../boot_id).  The first read asks for
            # 64 KiB (most /proc and /sys files fit; a 1 MiB request costs an
            # allocation of that size every time), later ones up to 1 MiB.
            chunks = []
            left = limit
            step = 65536
            while left > 0:
                try:
                    chunk = os.read(fd, min(left, step))
                    step = 1024 * 1024
                except OSError:
                    if not chunks:
                        raise
                    break  # an attribute that refuses a second read: keep the first
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]
        except PermissionError:
            self.denied.add(relative)
            return None
        except OSError:
            # ESRCH from a dying process, EIO from sysfs attributes that
            # refuse reads, EISDIR: all mean "no value", not "crash".
            return None
        finally:
            os.close(fd)

    def read_raw(self, relative, limit=65536):
        """Bytes with a single open/read: the cheap path for files read every
        interval for every process (samplers).  None when missing, vanished or
        refused; refusals are counted in ``denied_count`` rather than listed in
        ``denied`` (per-process paths would grow that set without end)."""
        try:
            fd = os.open(self.root.rstrip("/") + "/" + relative.lstrip("/"), os.O_RDONLY)
        except PermissionError:
            self.denied_count += 1
            return None
        except (OSError, ValueError):
            return None
        try:
            return os.read(fd, limit)
        except PermissionError:
            self.denied_count += 1
            return None
        except OSError:
            return None
        finally:
            os.close(fd)

    def pid_stat_raw(self, pid, limit=4096):
        """/proc/<pid>/stat bytes, or None when the process is gone or refused.

        On the live root the file stays open between calls and is re-read
        with one pread (the kernel renders it afresh at offset 0): a third
        of the system calls of open/read/close, for the file a sampler
        reads for every process every interval.  The descriptor names the
        process, not the number: once it has exited the read fails with
        ESRCH and a reused pid is opened anew.  At most ``STAT_FDS`` (or
        RLIMIT_NOFILE less 128) stay open; beyond that, and under a
        root other than /, plain reads.  ``forget_pids(live)`` closes the
        descriptors of processes no longer listed.
        """
        fds = self._stat_fds
        if fds is None:
            fds = self._stat_fds = {} if self.root == "/" else False
            self._stat_budget = _fd_budget()
        if fds is False:
            return self.read_raw("proc/%d/stat" % pid, limit)
        fd = fds.get(pid)
        if fd is not None:
            try:
                data = os.pread(fd, limit, 0)
                if data:
                    return data
            except OSError:
                pass
            del fds[pid]
            os.close(fd)
        path = "/proc/%d/stat" % pid
        try:
            fd = os.open(path, os.O_RDONLY)
        except PermissionError:
            self.denied_count += 1
            return None
        except (OSError, ValueError):
            return None
        try:
            data = os.read(fd, limit)
        except OSError:
            data = None
        if data and len(fds) < self._stat_budget:
            fds[pid] = fd
        else:
            os.close(fd)
        return data or None

    def forget_pids(self, live):
        """Close kept /proc/<pid>/stat descriptors of pids not in ``live``."""
        fds = self._stat_fds
        if not fds:
            return
        for pid in [pid for pid in fds if pid not in live]:
            try:
                os.close(fds.pop(pid))
            except OSError:
                pass

    def close(self):
        """Close the kept descriptors (also done when the object goes away)."""
        self.forget_pids(())

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def read(self, relative):
        data = self.read_bytes(relative)
        return None if data is None else decode(data)

    def lines(self, relative):
        text = self.read(relative)
        return text.splitlines() if text is not None else []

    def read_int(self, relative):
        text = self.read(relative)
        if text is None:
            return None
        try:
            return int(text.strip().split()[0])
        except (ValueError, IndexError):
            return None

    def exists(self, relative):
        return os.path.exists(self.path(relative))

    def listdir(self, relative):
        try:
            return sorted(os.listdir(self.path(relative)))
        except OSError:
            return []

    def readlink(self, relative):
        try:
            return os.readlink(self.path(relative))
        except OSError:
            return None

    def pids(self):
        """Numeric entries of /proc, ascending."""
        return sorted(int(n) for n in self.listdir("proc") if n.isdigit())

    # ------------------------------------------------------------- parsers

    def key_values(self, relative, separator=":"):
        """``Key: value`` files (meminfo, status) as dict of str -> str."""
        result = {}
        for line in self.lines(relative):
            key, sep, value = line.partition(separator)
            if sep:
                result[key.strip()] = value.strip()
        return result

    def meminfo_kib(self):
        """/proc/meminfo as dict name -> KiB (int); HugePages_* counts stay counts."""
        result = {}
        for key, value in self.key_values("proc/meminfo").items():
            try:
                result[key] = int(value.split()[0])
            except (ValueError, IndexError):
                continue
        return result

    def pid_stat(self, pid):
        """Parsed /proc/<pid>/stat or None if the process is gone."""
        text = self.read("proc/%d/stat" % pid)
        if not text:
            return None
        return parse_pid_stat(text)

    def pid_status(self, pid):
        return self.key_values("proc/%d/status" % pid)

    def pid_cmdline(self, pid):
        data = self.read_bytes("proc/%d/cmdline" % pid)
        if data is None:
            return None
        return [decode(part) for part in data.rstrip(b"\0").split(b"\0")] if data else []


STAT_FIELDS = (
    "state", "ppid", "pgrp", "session", "tty_nr", "tpgid", "flags",
    "minflt", "cminflt", "majflt", "cmajflt", "utime", "stime", "cutime",
    "cstime", "priority", "nice", "num_threads", "itrealvalue", "starttime",
    "vsize", "rss", "rsslim", "startcode", "endcode", "startstack",
    "kstkesp", "kstkeip", "signal", "blocked", "sigignore", "sigcatch",
    "wchan", "nswap", "cnswap", "exit_signal", "processor", "rt_priority",
    "policy", "delayacct_blkio_ticks", "guest_time", "cguest_time",
)


def parse_pid_stat(text):
    """Split /proc/<pid>/stat: comm between the first '(' and the LAST ')'.

    Returns a dict with pid, comm and every field of STAT_FIELDS present
    (integers except ``state``); fields missing on old kernels are absent.
    """
    text = text.strip()
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    try:
        pid = int(text[:open_paren].strip())
    except ValueError:
        return None
    result = {"pid": pid, "comm": text[open_paren + 1:close_paren]}
    rest = text[close_paren + 1:].split()
    for name, value in zip(STAT_FIELDS, rest):
        if name == "state":
            result[name] = value
            continue
        try:
            result[name] = int(value)
        except ValueError:
            result[name] = None
    return result


STAT_FDS = 4096


def _fd_budget():
    """How many /proc/<pid>/stat descriptors a ProcFS may keep open."""
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        return 0
    if soft == resource.RLIM_INFINITY:
        return STAT_FDS
    # the samplers' other files, the recorder's segments, tc's pipes: well under 128
    return max(0, min(STAT_FDS, soft - 128, soft * 7 // 8))


def clock_ticks():
    """SC_CLK_TCK (jiffies per second for /proc times)."""
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


def page_size():
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4096
