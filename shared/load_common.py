"""Common machinery for the load generators (toaster): workers, guards, targets.

Workers are processes from an explicit ``fork`` context (a memory copy or a
hash loop holds the GIL; threads would measure the interpreter, not the
machine).  Each worker asks the kernel to SIGKILL it when its parent dies
(``PR_SET_PDEATHSIG`` through ctypes), raises its own ``oom_score_adj`` so
the OOM killer takes a load worker before sshd, ignores SIGINT/SIGHUP (the
parent coordinates the stop) and publishes its counters in shared memory
the parent samples once a second.  A stop flag in shared memory ends every
worker within a fraction of a second; stragglers are killed after a grace.

Also here: latency histograms that merge across workers (log-linear
buckets, ~3 % resolution, exact maximum), a token-bucket rate limiter,
mount discovery from ``/proc/self/mountinfo`` (LVM / device-mapper names
from sysfs, RAM-backed file systems named as such), memory and cgroup
headroom, CPU quota, and the run directory with its lock and the stale-run
cleanup used by ``toaster cleanup`` after a SIGKILL.
"""

import ctypes
import errno
import fcntl
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import stat
import time

from . import lockfile, procfs, timeparse

PR_SET_PDEATHSIG = 1
WORKER_OOM_SCORE_ADJ = 1000
STOP_GRACE = 0.8          # seconds a worker gets to report after the stop flag
RUN_PREFIX = "toaster-run."
MARKER = ".toaster-run"
STATE_ENV = "RESCUEKIT_TOASTER_STATE"

COUNTER_FIELDS = ("ops", "bytes", "errors", "aux")
_NFIELDS = len(COUNTER_FIELDS)


def fork_context():
    return multiprocessing.get_context("fork")


class GuardError(Exception):
    """A safety guard refused or stopped a request: what, cause, fix (one line each)."""

    def __init__(self, what, cause, fix):
        Exception.__init__(self, what)
        self.what, self.cause, self.fix = what, cause, fix


# ------------------------------------------------------------------ process hygiene

_libc = []


def libc():
    if not _libc:
        try:
            _libc.append(ctypes.CDLL(None, use_errno=True))
        except OSError:
            _libc.append(None)
    return _libc[0]


def set_pdeathsig(sig=signal.SIGKILL):
    """Ask the kernel to send ``sig`` to this process when its parent exits."""
    lib = libc()
    if lib is None:
        return False
    try:
        return lib.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (AttributeError, OSError):
        return False


def set_oom_score_adj(value=WORKER_OOM_SCORE_ADJ, path="/proc/self/oom_score_adj"):
    try:
        with open(path, "w") as handle:
            handle.write("%d\n" % value)
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ latency histogram

class Latency(object):
    """Latencies in nanoseconds in log-linear buckets (32 per power of two).

    Values below 64 ns are kept exactly; above, the bucket width is 1/32 of
    the power of two, so a percentile is off by at most ~3 %.  The maximum
    and the sum are exact.  ``to_dict``/``merge`` let worker processes send
    their histograms to the parent.
    """

    def __init__(self):
        self.counts = {}
        self.count = 0
        self.total = 0
        self.max = 0

    def add(self, ns):
        ns = int(ns)
        if ns < 0:
            ns = 0
        bits = ns.bit_length()
        key = ns if bits <= 6 else (bits << 5) | ((ns >> (bits - 6)) & 31)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.count += 1
        self.total += ns
        if ns > self.max:
            self.max = ns

    @staticmethod
    def _value(key):
        if key < 64:
            return key
        bits, sub = key >> 5, key & 31
        low = (32 | sub) << (bits - 6)
        return low + ((1 << (bits - 6)) >> 1)

    def percentile(self, pct):
        if not self.count:
            return None
        rank = max(1, int(math.ceil(self.count * pct / 100.0)))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return min(self._value(key), self.max)
        return self.max

    def summary_us(self):
        """{"p50", "p99", "max", "mean"} in microseconds, or None when empty."""
        if not self.count:
            return None
        return {"p50": round(self.percentile(50) / 1000.0, 1),
                "p99": round(self.percentile(99) / 1000.0, 1),
                "max": round(self.max / 1000.0, 1),
                "mean": round(self.total / float(self.count) / 1000.0, 1),
                "samples": self.count}

    def to_dict(self):
        return {"counts": self.counts, "count": self.count, "total": self.total, "max": self.max}

    def merge(self, data):
        if not data:
            return self
        for key, value in data.get("counts", {}).items():
            key = int(key)
            self.counts[key] = self.counts.get(key, 0) + value
        self.count += data.get("count", 0)
        self.total += data.get("total", 0)
        self.max = max(self.max, data.get("max", 0))
        return self


# ------------------------------------------------------------------ rate limiting

class RateLimiter(object):
    """Token bucket: ``take(n)`` sleeps so the long-run rate stays at ``rate``/s.

    ``rate`` None or 0 means unlimited.  Sleeping happens in slices of at
    most 0.1 s and ends early when ``stopped()`` becomes true.
    """

    def __init__(self, rate, burst_seconds=0.02, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(rate) if rate else 0.0
        self.burst = self.rate * burst_seconds
        self.tokens = 0.0
        self.clock = clock
        self.sleep = sleep
        self.last = clock()

    def take(self, amount, stopped=None):
        if not self.rate:
            return
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate) - amount
        self.last = now
        if self.tokens >= 0:
            return
        # the debt is repaid by the time slept (counted at the next take)
        until = now - self.tokens / self.rate
        while True:
            left = until - self.clock()
            if left <= 1e-9:
                return
            if stopped is not None and stopped():
                return
            self.sleep(min(0.1, left))


# ------------------------------------------------------------------ workers

class WorkerContext(object):
    """What a worker function sees: its index, parameters, counters, the stop flag."""

    def __init__(self, index, params, shared, slot):
        self.index = index
        self.params = params
        self._shared = shared
        self._counters = shared.counters
        self._base = slot * _NFIELDS
        self._slot = slot
        self.deadline = None
        self.started = None
        self._checked = 0.0

    def add(self, ops=0, nbytes=0, errors=0):
        counters = self._counters
        base = self._base
        if ops:
            counters[base] += ops
        if nbytes:
            counters[base + 1] += nbytes
        if errors:
            counters[base + 2] += errors

    def set_aux(self, value):
        self._counters[self._base + 3] = value

    def stopping(self):
        """True when the parent asked to stop or the deadline passed."""
        if self._shared.stop.value:
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return False

    def stopping_hard(self):
        """For receivers: past the deadline they go on (data in flight) for ``recv_grace`` s."""
        if self._shared.stop.value:
            return True
        grace = self.params.get("recv_grace", 3.0)
        return self.deadline is not None and time.monotonic() >= self.deadline + grace

    def ready(self):
        """Preparation done: wait for the common start, then return the start time."""
        self._shared.ready[self._slot] = 1
        while not self._shared.go.value:
            if self._shared.stop.value:
                break
            time.sleep(0.005)
        self.started = time.monotonic()
        duration = self.params.get("duration")
        self.deadline = self.started + duration if duration else None
        return self.started

    def sleep(self, seconds):
        """Sleep up to ``seconds``, waking early on stop; returns False when stopping."""
        end = time.monotonic() + seconds
        while True:
            if self.stopping():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(0.05, left))


class _Shared(object):
    def __init__(self, ctx, slots):
        self.counters = ctx.RawArray("d", slots * _NFIELDS)
        self.ready = ctx.RawArray("b", slots)
        self.stop = ctx.RawValue("b", 0)
        self.go = ctx.RawValue("b", 0)


def _worker_entry(function, index, params, shared, slot, conn, parent_pid):
    set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent_pid:     # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)   # a closed peer is an error to report, not death
    set_oom_score_adj()
    context = WorkerContext(index, params, shared, slot)
    try:
        result = function(context)
    except MemoryError:
        result = {"error": "out of memory in the worker (lower --size or --workers)"}
    except Exception as error:  # reported in the summary, never a traceback
        result = {"error": "%s: %s" % (type(error).__name__, error)}
    if result is None:
        result = {}
    result.setdefault("index", index)
    if context.started is not None:
        result.setdefault("elapsed", time.monotonic() - context.started)
    try:
        conn.send(result)
        conn.close()
    except (OSError, ValueError):
        pass


class Group(object):
    """Workers of one workload: a name, a function and one params dict per worker."""

    def __init__(self, name, function, params_list):
        self.name = name
        self.function = function
        self.params_list = params_list
        self.slots = []
        self.results = {}
        self.procs = []


class Pool(object):
    """Start the workers of several groups, sample them, stop them, collect results.

    ``tick(pool)`` is called about every ``tick_interval`` seconds; it may
    call ``pool.request_stop(reason)``.  The run ends when every worker
    reported (work done or deadline) or after a stop plus a grace period.
    """

    def __init__(self, groups, tick=None, tick_interval=0.25, grace=STOP_GRACE):
        self.groups = groups
        self.ctx = fork_context()
        total = sum(len(group.params_list) for group in groups)
        self.shared = _Shared(self.ctx, max(1, total))
        self.tick = tick
        self.tick_interval = tick_interval
        self.grace = grace
        self.stop_reason = None
        self.stop_time = None
        self.started = None
        self.ended = None
        self._conns = {}
        self.killed = 0

    # -- control
    def request_stop(self, reason):
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_time = time.monotonic()
        self.shared.stop.value = 1
        self.shared.go.value = 1

    def counters(self, slot):
        base = slot * _NFIELDS
        return tuple(self.shared.counters[base:base + _NFIELDS])

    def group_counters(self, group):
        total = [0.0] * _NFIELDS
        for slot in group.slots:
            for index, value in enumerate(self.counters(slot)):
                total[index] += value
        return total

    def alive(self):
        return [proc for group in self.groups for proc in group.procs if proc.is_alive()]

    # -- running
    def start(self):
        parent = os.getpid()
        slot = 0
        for group in self.groups:
            for index, params in enumerate(group.params_list):
                receiver, sender = self.ctx.Pipe(duplex=False)
                proc = self.ctx.Process(target=_worker_entry, name="toaster-%s-%d" % (group.name, index),
                                        args=(group.function, index, params, self.shared, slot, sender,
                                              parent))
                proc.daemon = True
                proc.start()
                sender.close()
                group.slots.append(slot)
                group.procs.append(proc)
                self._conns[receiver] = (group, index, proc)
                slot += 1

    def wait_ready(self, timeout=None):
        """Wait until every worker finished preparing (or stopped); then start the clock."""
        total = len(self._conns) + sum(len(g.results) for g in self.groups)
        begun = time.monotonic()
        while True:
            self._collect(0.01)
            done = sum(1 for i in range(total) if self.shared.ready[i])
            finished = sum(len(g.results) for g in self.groups)
            if done + finished >= total or self.shared.stop.value:
                break
            if self.tick is not None:
                self.tick(self, preparing=True)
            if timeout is not None and time.monotonic() - begun > timeout:
                break
        self.started = time.monotonic()
        self.shared.go.value = 1
        return self.started

    def _collect(self, timeout):
        if not self._conns:
            time.sleep(timeout)
            return
        try:
            ready = multiprocessing.connection.wait(list(self._conns), timeout)
        except InterruptedError:   # pragma: no cover - PEP 475 retries
            ready = []
        for conn in ready:
            group, index, proc = self._conns.pop(conn)
            try:
                result = conn.recv()
            except (EOFError, OSError):
                code = proc.exitcode
                if code is None:
                    proc.join(0.2)
                    code = proc.exitcode
                if code is not None and code < 0:
                    result = {"error": "worker killed by signal %d" % -code}
                else:
                    result = {"error": "worker ended without a report (exit code %s)" % code}
            conn.close()
            group.results[index] = result

    def run(self):
        """Loop until all workers reported; returns the elapsed seconds of the timed part."""
        next_tick = time.monotonic()
        while self._conns:
            now = time.monotonic()
            if self.stop_time is not None and now - self.stop_time > self.grace:
                self._kill_rest()
                break
            self._collect(min(self.tick_interval, max(0.0, next_tick - now)) or 0.01)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self.tick_interval
                if self.tick is not None:
                    self.tick(self)
        self.ended = time.monotonic()
        for group in self.groups:
            for proc in group.procs:
                proc.join(0.5)
        return self.ended - (self.started or self.ended)

    def _kill_rest(self):
        for conn, (group, index, proc) in list(self._conns.items()):
            if proc.is_alive():
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.killed += 1
            proc.join(1.0)
            group.results[index] = {"error": "did not stop within %.1fs after the stop; killed"
                                    % self.grace, "index": index}
            conn.close()
            del self._conns[conn]

    def terminate(self):
        """Last resort (exceptions in the parent): kill every worker now."""
        self.shared.stop.value = 1
        for group in self.groups:
            for proc in group.procs:
                if proc.is_alive():
                    try:
                        os.kill(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
        for group in self.groups:
            for proc in group.procs:
                proc.join(1.0)


class StopSignals(object):
    """Route SIGINT, SIGTERM and SIGHUP to a callback while a run is active."""

    SIGNALS = (("SIGINT", "interrupted (Ctrl-C)"), ("SIGTERM", "terminated (SIGTERM)"),
               ("SIGHUP", "hung up (SIGHUP)"))

    def __init__(self, callback):
        self.callback = callback
        self.previous = {}
        self.received = None

    def __enter__(self):
        for name, reason in self.SIGNALS:
            number = getattr(signal, name)
            try:
                self.previous[number] = signal.signal(number, self._handler(reason))
            except (ValueError, OSError):   # not the main thread
                pass
        return self

    def _handler(self, reason):
        def handle(signum, frame):
            if self.received is None:
                self.received = reason
            self.callback(reason)
        return handle

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            try:
                signal.signal(number, handler)
            except (ValueError, OSError, TypeError):
                pass
        return False


# ------------------------------------------------------------------ mounts

RAM_FSTYPES = ("tmpfs", "ramfs", "devtmpfs", "hugetlbfs")
PSEUDO_FSTYPES = ("proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs",
                  "securityfs", "pstore", "bpf", "configfs", "fusectl", "binfmt_misc", "autofs",
                  "efivarfs", "rpc_pipefs", "nsfs", "selinuxfs", "hugetlbfs", "devtmpfs")


def _unescape(text):
    # mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134
    out = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 4 <= len(text) and text[index + 1:index + 4].isdigit():
            try:
                out.append(chr(int(text[index + 1:index + 4], 8)))
                index += 4
                continue
            except ValueError:
                pass
        out.append(text[index])
        index += 1
    return "".join(out)


class Mount(object):
    __slots__ = ("mount_id", "parent", "major", "minor", "root", "mountpoint", "options", "fstype",
                 "source", "super_options", "device_name", "dm_name", "ram_backed", "ram_reason")

    def to_dict(self):
        return {"mountpoint": self.mountpoint, "fstype": self.fstype, "source": self.source,
                "device": "%d:%d" % (self.major, self.minor), "device_name": self.device_name,
                "dm_name": self.dm_name, "ram_backed": self.ram_backed, "ram_reason": self.ram_reason,
                "options": self.options}

    def describe(self):
        what = self.source
        if self.dm_name:
            what = "/dev/mapper/%s" % self.dm_name
        text = "%s (%s on %s)" % (self.mountpoint, self.fstype, what)
        if self.ram_backed:
            text += ", RAM-backed: %s" % self.ram_reason
        return text


def parse_mountinfo(text):
    """Lines of /proc/<pid>/mountinfo to Mount objects (malformed lines skipped)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        try:
            major, minor = (int(x) for x in fields[2].split(":"))
            mount = Mount()
            mount.mount_id = int(fields[0])
            mount.parent = int(fields[1])
        except ValueError:
            continue
        mount.major, mount.minor = major, minor
        mount.root = _unescape(fields[3])
        mount.mountpoint = _unescape(fields[4])
        mount.options = fields[5]
        rest = fields[dash + 1:]
        mount.fstype = rest[0] if rest else "?"
        mount.source = _unescape(rest[1]) if len(rest) > 1 else "none"
        mount.super_options = rest[2] if len(rest) > 2 else ""
        mount.device_name = None
        mount.dm_name = None
        mount.ram_backed = False
        mount.ram_reason = None
        mounts.append(mount)
    return mounts


def _describe_device(mount, proc):
    base = "sys/dev/block/%d:%d" % (mount.major, mount.minor)
    link = proc.readlink(base)
    if link:
        mount.device_name = os.path.basename(link)
    dm = proc.read(base + "/dm/name")
    if dm:
        mount.dm_name = dm.strip()
    name = mount.device_name or ""
    if mount.fstype in RAM_FSTYPES:
        mount.ram_backed, mount.ram_reason = True, "%s keeps files in memory" % mount.fstype
    elif name.startswith("zram"):
        mount.ram_backed, mount.ram_reason = True, "%s is a compressed RAM disk" % name
    elif name.startswith("ram") or mount.major == 1:
        mount.ram_backed, mount.ram_reason = True, "%s is a RAM disk (brd)" % (name or "major 1")
    elif mount.dm_name or name.startswith("dm-"):
        # A device-mapper stack on a RAM disk is still RAM.
        for slave in proc.listdir(base + "/slaves"):
            if slave.startswith(("zram", "ram")):
                mount.ram_backed, mount.ram_reason = True, "device-mapper on %s (RAM disk)" % slave


def mounts(root="/"):
    """Mounts of this process (from /proc/self/mountinfo under ``root``), described."""
    proc = procfs.ProcFS(root)
    text = proc.read("proc/self/mountinfo") or proc.read("proc/1/mountinfo") or ""
    result = parse_mountinfo(text)
    for mount in result:
        _describe_device(mount, proc)
    return result


def mount_for(path, mount_list=None):
    """The Mount holding ``path`` (device numbers, then the longest mountpoint prefix)."""
    mount_list = mount_list if mount_list is not None else mounts()
    real = os.path.realpath(path)
    try:
        st_dev = os.stat(real).st_dev
        dev = (os.major(st_dev), os.minor(st_dev))
    except OSError:
        dev = None
    best = None
    for mount in mount_list:
        point = mount.mountpoint.rstrip("/") or "/"
        inside = real == point or real.startswith(point + "/") or point == "/"
        if not inside:
            continue
        if dev is not None and (mount.major, mount.minor) != dev:
            continue
        if best is None or len(point) >= len(best.mountpoint.rstrip("/") or "/"):
            best = mount
    if best is None and dev is not None:
        return mount_for_prefix(real, mount_list)
    return best


def mount_for_prefix(real, mount_list):
    best = None
    for mount in mount_list:
        point = mount.mountpoint.rstrip("/") or "/"
        if real == point or real.startswith(point + "/") or point == "/":
            if best is None or len(point) >= len(best.mountpoint.rstrip("/") or "/"):
                best = mount
    return best


_ANONYMOUS_REAL = ("tmpfs", "ramfs", "btrfs", "zfs", "nfs", "nfs4", "cifs", "smb3", "overlay", "fuseblk",
                   "ceph", "bcachefs", "virtiofs", "9p")


def disk_targets(root="/"):
    """Mounts worth testing: block-backed or RAM-backed file systems, no pseudo ones."""
    seen = set()
    result = []
    every = mounts(root)
    whole = set((m.major, m.minor) for m in every if m.root == "/")
    for mount in every:
        if mount.root != "/" and (mount.major, mount.minor) in whole:
            continue    # a bind mount of part of a file system listed anyway
        if mount.fstype in PSEUDO_FSTYPES:
            continue
        if mount.major == 0 and mount.fstype not in _ANONYMOUS_REAL:
            continue
        if "ro" in mount.options.split(",") or mount.mountpoint.startswith(("/proc", "/sys")):
            continue
        if mount.mountpoint in seen:
            continue
        seen.add(mount.mountpoint)
        result.append(mount)
    return result


def fs_space(path):
    """(total, free for unprivileged users, free for root) bytes of the file system at path."""
    info = os.statvfs(path)
    return (info.f_blocks * info.f_frsize, info.f_bavail * info.f_frsize, info.f_bfree * info.f_frsize)


def disk_floor(total, override=None):
    """Bytes that must stay free: max(5 %, 1 GiB) unless overridden ("2G" or "3%")."""
    if override is not None:
        return parse_amount(override, total)
    return max(int(total * 0.05), 1024 ** 3)


def parse_amount(text, whole):
    """'2G' -> bytes; '25%' -> that share of ``whole``.  Raises ValueError."""
    text = str(text).strip()
    if text.endswith("%"):
        pct = float(text[:-1])
        if not 0 <= pct <= 100:
            raise ValueError("percentage out of range: %r" % text)
        return int(whole * pct / 100.0)
    return timeparse.parse_size(text)


# ------------------------------------------------------------------ memory and cgroups

def _cgroup_paths(proc):
    """{controller: path} from /proc/self/cgroup; the v2 path is under key ''."""
    result = {}
    for line in proc.lines("proc/self/cgroup"):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(","):
            result[controller] = parts[2]
    return result


def _cgroup_dirs(proc, controller):
    """Directories of our cgroup for a controller, innermost first, up to the mount root."""
    paths = _cgroup_paths(proc)
    text = proc.read("proc/self/mountinfo") or ""
    for mount in parse_mountinfo(text):
        if controller and mount.fstype == "cgroup" and controller in mount.super_options.split(","):
            path = paths.get(controller)
        elif mount.fstype == "cgroup2" and "" in paths and (not controller or controller not in paths):
            path = paths.get("")
        else:
            continue
        if path is None:
            continue
        relative = path
        if mount.root != "/" and relative.startswith(mount.root):
            relative = relative[len(mount.root):]
        dirs = []
        current = relative.strip("/")
        while True:
            dirs.append(os.path.join(mount.mountpoint, current) if current else mount.mountpoint)
            if not current:
                break
            current = os.path.dirname(current)
        return mount.fstype, dirs
    return None, []


def _read_int_file(path):
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _stat_value(path, key):
    try:
        with open(path) as handle:
            for line in handle:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def cgroup_memory(proc=None):
    """The tightest memory limit over our cgroup and its parents, or None.

    {"limit", "usage", "path", "version"}; usage excludes inactive file
    cache (the kernel reclaims it before it counts towards an OOM).
    """
    proc = proc or procfs.ProcFS("/")
    kind, dirs = _cgroup_dirs(proc, "memory")
    best = None
    for folder in dirs:
        if kind == "cgroup":
            limit = _read_int_file(os.path.join(folder, "memory.limit_in_bytes"))
            usage = _read_int_file(os.path.join(folder, "memory.usage_in_bytes"))
            inactive = _stat_value(os.path.join(folder, "memory.stat"), "total_inactive_file")
        else:
            limit = _read_int_file(os.path.join(folder, "memory.max"))
            usage = _read_int_file(os.path.join(folder, "memory.current"))
            inactive = _stat_value(os.path.join(folder, "memory.stat"), "inactive_file")
        if limit is None or usage is None or limit >= (1 << 60):
            continue
        usage = max(0, usage - (inactive or 0))
        if best is None or limit - usage < best["limit"] - best["usage"]:
            best = {"limit": limit, "usage": usage, "path": folder, "version": 1 if kind == "cgroup" else 2}
    return best


def memory_state(proc=None, floor_pct=10.0):
    """Memory now and the headroom a load may take before the guard trips.

    Returns {"total", "available", "floor", "headroom", "margin", "cgroup"}
    in bytes (``margin`` is the headroom before clamping at 0: negative means
    the guard is crossed):
    the floor keeps ``floor_pct`` % of MemTotal available, and inside a
    memory-limited cgroup the same share of the cgroup limit free.
    """
    proc = proc or procfs.ProcFS("/")
    info = proc.meminfo_kib()
    total = info.get("MemTotal", 0) * 1024
    available = info.get("MemAvailable")
    if available is None:   # kernels before 3.14
        available = info.get("MemFree", 0) + info.get("Cached", 0) + info.get("Buffers", 0)
    available *= 1024
    floor = int(total * floor_pct / 100.0)
    headroom = available - floor
    group = cgroup_memory(proc)
    if group is not None:
        group_room = group["limit"] - group["usage"] - int(group["limit"] * floor_pct / 100.0)
        headroom = min(headroom, group_room)
    return {"total": total, "available": available, "floor": floor, "headroom": max(0, headroom),
            "margin": headroom, "cgroup": group, "floor_pct": floor_pct}


def cpu_quota(proc=None):
    """CPUs' worth of the cgroup CPU quota (float), or None when unlimited."""
    proc = proc or procfs.ProcFS("/")
    kind, dirs = _cgroup_dirs(proc, "cpu")
    best = None
    for folder in dirs:
        if kind == "cgroup":
            quota = _read_int_file(os.path.join(folder, "cpu.cfs_quota_us"))
            period = _read_int_file(os.path.join(folder, "cpu.cfs_period_us"))
            if quota is None or quota <= 0 or not period:
                continue
            value = quota / float(period)
        else:
            try:
                with open(os.path.join(folder, "cpu.max")) as handle:
                    parts = handle.read().split()
            except OSError:
                continue
            if len(parts) != 2 or parts[0] == "max":
                continue
            try:
                value = int(parts[0]) / float(parts[1])
            except (ValueError, ZeroDivisionError):
                continue
        best = value if best is None else min(best, value)
    return best


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def parse_cpu_list(text):
    """'0-3,6' -> [0, 1, 2, 3, 6].  Raises ValueError."""
    result = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            low, high = int(low), int(high)
            if high < low:
                raise ValueError("bad CPU range %r" % part)
            result.update(range(low, high + 1))
        else:
            result.add(int(part))
    if not result:
        raise ValueError("empty CPU list")
    return sorted(result)


def format_cpu_list(cpus):
    cpus = sorted(cpus)
    parts = []
    start = prev = None
    for cpu in cpus + [None]:
        if start is None:
            start = prev = cpu
            continue
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        parts.append(str(start) if start == prev else "%d-%d" % (start, prev))
        start = prev = cpu
    return ",".join(parts)


# ------------------------------------------------------------------ run directory, lock, cleanup

def state_dir():
    """Where run records live: $RESCUEKIT_TOASTER_STATE, /run/toaster, or the temp dir."""
    candidates = []
    if os.environ.get(STATE_ENV):
        candidates.append(os.environ[STATE_ENV])
    candidates.append("/run/rescuekit-toaster")
    import tempfile
    candidates.append(os.path.join(tempfile.gettempdir(), "rescuekit-toaster-%d" % os.getuid()))
    for folder in candidates:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return None


def _try_lock(path):
    """An fd locking an existing file, or None if another process holds it (or it is gone)."""
    try:
        return lockfile.try_lock(path, create=False)
    except OSError:
        return None


class RunRecord(object):
    """One lock per run: a record in the state dir, held (flock) while the run lives.

    The record lists the run directories on the targets; each run directory
    carries a marker file that is locked too, so ``cleanup`` can tell a live
    run from a dead one even without the state dir.
    """

    def __init__(self, workloads, folder=None):
        self.folder = folder if folder is not None else state_dir()
        self.path = None
        self.fd = None
        self.dirs = []
        self._marker_fds = []
        self.info = {"pid": os.getpid(), "started": time.time(), "workloads": workloads,
                     "host": socket.gethostname(), "dirs": []}
        if self.folder:
            self.path = os.path.join(self.folder, "run-%d-%d.json" % (os.getpid(), int(time.time() * 1000)))
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._write()
            except OSError:
                self.fd = None
                self.path = None

    def _write(self):
        if self.fd is None:
            return
        data = json.dumps(self.info).encode("utf-8")
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, data)

    def make_dir(self, parent):
        """Create <parent>/toaster-run.<pid>.<n> with a locked marker; returns the path."""
        name = "%s%d.%d" % (RUN_PREFIX, os.getpid(), len(self.dirs))
        path = os.path.join(parent, name)
        os.mkdir(path, 0o700)
        self.dirs.append(path)
        self.info["dirs"].append(path)
        self._write()
        marker = os.path.join(path, MARKER)
        fd = os.open(marker, os.O_RDWR | os.O_CREAT, 0o600)
        os.write(fd, json.dumps({"pid": os.getpid(), "record": self.path}).encode("utf-8"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        self._marker_fds.append(fd)
        return path

    def release(self):
        """Remove the run directories and the record; returns problems as strings."""
        problems = []
        for fd in self._marker_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._marker_fds = []
        for path in self.dirs:
            try:
                shutil.rmtree(path)
            except FileNotFoundError:
                pass
            except OSError as error:
                problems.append("could not remove %s (%s)" % (path, error.strerror or error))
        self.dirs = []
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        return problems


def _remove_run_dir(path, removed, problems, live):
    marker = os.path.join(path, MARKER)
    if not os.path.exists(marker):
        return
    fd = _try_lock(marker)
    if fd is None:
        live.append(path)
        return
    try:
        shutil.rmtree(path)
        removed.append(path)
    except OSError as error:
        problems.append("could not remove %s (%s)" % (path, error.strerror or error))
    finally:
        os.close(fd)


def cleanup(extra_dirs=(), folder=None):
    """Remove what dead runs left: run dirs from records and under ``extra_dirs``.

    Returns {"removed": [...], "live": [...], "problems": [...], "records": n}.
    A run whose lock is still held is alive and left alone.
    """
    folder = folder if folder is not None else state_dir()
    removed, problems, live = [], [], []
    records = 0
    if folder and os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if not (name.startswith("run-") and name.endswith(".json")):
                continue
            path = os.path.join(folder, name)
            fd = _try_lock(path)
            if fd is None:
                live.append(path)
                continue
            records += 1
            try:
                try:
                    with open(path) as handle:
                        info = json.load(handle)
                except (OSError, ValueError):
                    info = {}
                for run_dir in info.get("dirs", []):
                    if os.path.basename(run_dir).startswith(RUN_PREFIX) and os.path.isdir(run_dir):
                        _remove_run_dir(run_dir, removed, problems, live)
                try:
                    os.unlink(path)
                except OSError as error:
                    problems.append("could not remove %s (%s)" % (path, error.strerror or error))
            finally:
                os.close(fd)
    for parent in extra_dirs:
        try:
            names = os.listdir(parent)
        except OSError as error:
            problems.append("cannot list %s (%s)" % (parent, error.strerror or error))
            continue
        for name in sorted(names):
            path = os.path.join(parent, name)
            if name.startswith(RUN_PREFIX) and os.path.isdir(path) and path not in removed:
                _remove_run_dir(path, removed, problems, live)
    return {"removed": removed, "live": live, "problems": problems, "records": records}


def split(total, parts):
    """``total`` spread over ``parts`` as whole numbers (earlier parts get the remainder)."""
    if total is None:
        return [None] * parts
    total = int(total)
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


# ------------------------------------------------------------------ formatting

def format_rate(bytes_per_s):
    if bytes_per_s is None:
        return "-"
    return "%s/s" % timeparse.format_size(bytes_per_s)


def format_count(value):
    if value is None:
        return "-"
    value = float(value)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return "%.1f%s" % (value / size, unit)
    if value == int(value):
        return "%d" % value
    return "%.1f" % value


def format_bits(bytes_per_s):
    if bytes_per_s is None:
        return "-"
    bits = bytes_per_s * 8.0
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= size:
            return "%.2f %s" % (bits / size, unit)
    return "%.0f bit/s" % bits


def is_block_device(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def errno_name(error):
    code = getattr(error, "errno", None)
    return errno.errorcode.get(code, str(code)) if code else type(error).__name__
