"""Per-process sampling (pidstat -u -r -d -w, top): /proc/<pid>/{stat,status,io}.

``scan(procfs)`` reads every process once: a pid that vanishes between the
directory listing and the read is skipped, a file we may not read (``io``
of another user's process without root) leaves that field None.  A pid
whose start time changed between two scans is a new process (pid reuse),
not a continuation.  ``compute`` turns two scans into rows named as in
``metrics.PROCESS_FIELDS``.
"""

import heapq
import os

from .textio import decode

_IO_KEYS = {b"read_bytes": "rb", b"write_bytes": "wb", b"cancelled_write_bytes": "cwb"}


def parse_stat_bytes(data):
    """The fields of /proc/<pid>/stat the samplers use, or None if mangled."""
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    rest = data[close_paren + 2:].split()
    if len(rest) < 22:
        return None
    try:
        proc = {
            "comm": decode(data[open_paren + 1:close_paren]),
            "state": rest[0].decode("ascii", "replace"),
            "ppid": int(rest[1]),
            "minflt": int(rest[7]),
            "majflt": int(rest[9]),
            "utime": int(rest[11]),
            "stime": int(rest[12]),
            "nice": int(rest[16]),
            "threads": int(rest[17]),
            "start": int(rest[19]),
            "vsize": int(rest[20]),
            "rss": int(rest[21]),
        }
    except ValueError:
        return None
    if len(rest) > 36:
        try:
            proc["processor"] = int(rest[36])
        except ValueError:
            pass
    if len(rest) > 39:
        try:
            proc["blkio"] = int(rest[39])
        except ValueError:
            pass
    return proc


def _status_value(data, key):
    at = data.find(key)
    if at < 0:
        return None
    end = data.find(b"\n", at + len(key))
    words = data[at + len(key):end if end >= 0 else None].split()
    try:
        return int(words[0])
    except (IndexError, ValueError):
        return None


def parse_io_bytes(data):
    """read_bytes / write_bytes / cancelled_write_bytes of /proc/<pid>/io."""
    result = {}
    for key, name in _IO_KEYS.items():
        at = data.find(b"\n" + key + b":")
        if at < 0:
            continue
        end = data.find(b"\n", at + 1)
        try:
            result[name] = int(data[at + len(key) + 2:end if end >= 0 else None])
        except ValueError:
            continue
    return result


_CARRIED = ("vcs", "nvcs", "uid", "rb", "wb", "cwb")


def _idle_since(old, proc):
    """The same process, no CPU time used since ``old`` and not running or in D state."""
    return (old is not None and old.get("start") == proc["start"] and old.get("utime") == proc["utime"]
            and old.get("stime") == proc["stime"] and proc["state"] not in ("R", "D") and "uid" in old)


def scan(pfs, want_io=True, want_status=True, previous=None, cache=None, now=None):
    """{pid: raw counters} for every process under the root's /proc.

    Without ``previous`` or ``cache`` every process has stat, status and io
    read (pidstat -u -r -d -w exactness for every row).

    ``cache`` (a dict the caller keeps between scans; updated here): the
    cheap mode of procstat and perfcollect.  /proc/<pid>/stat is read for
    every process; a process whose stat is byte-for-byte what it was at
    the previous scan (no CPU time, no fault, no state or size change)
    keeps its previous entry -- the same dict, neither parsed again nor
    its status and io read.  Only processes that changed have status and
    io read, which on a server of sleeping daemons is a handful.
    ``now`` (the snapshot's monotonic time) is stored as ``dmono`` where
    status and io were read, so ``compute`` divides their deltas by the
    time between two real reads, never charges one interval with counts
    carried from earlier ones.

    ``previous`` (an earlier scan, the older form of the same idea):
    processes idle since then (no CPU time used, not R or D) keep its
    status and io counters.
    """
    result = {}
    denied_io = 0
    read_raw = pfs.read_raw
    carried = cache if cache is not None else {}
    fresh = {} if cache is not None else None
    stat_raw = pfs.pid_stat_raw
    for pid in pfs.pids():
        data = stat_raw(pid)
        if not data:
            continue
        folder = "proc/%d/" % pid
        if fresh is not None:
            known = carried.get(pid)
            if known is not None and known[0] == data:
                fresh[pid] = known
                result[pid] = known[1]
                continue
        proc = parse_stat_bytes(data)
        if proc is None:
            pfs.warn("unreadable /proc/<pid>/stat lines skipped (truncated or mangled files)")
            continue
        if previous is not None:
            old = previous.get(pid)
            if _idle_since(old, proc):
                for key in _CARRIED:
                    if key in old:
                        proc[key] = old[key]
                if "dmono" in old:
                    proc["dmono"] = old["dmono"]
                result[pid] = proc
                continue
        if now is not None:
            proc["dmono"] = now
        if want_status:
            status = read_raw(folder + "status", 4096)
            if status:
                proc["vcs"] = _status_value(status, b"\nvoluntary_ctxt_switches:")
                proc["nvcs"] = _status_value(status, b"\nnonvoluntary_ctxt_switches:")
                proc["uid"] = _status_value(status, b"\nUid:")
        if want_io:
            before = pfs.denied_count
            io = read_raw(folder + "io")
            if io:
                proc.update(parse_io_bytes(io))
            elif pfs.denied_count > before:
                denied_io += 1
        result[pid] = proc
        if fresh is not None:
            fresh[pid] = (data, proc)
    if fresh is not None:
        cache.clear()
        cache.update(fresh)
    pfs.forget_pids(result)
    if denied_io:
        if os.geteuid() == 0:
            pfs.warn("per-process disk I/O not readable for some processes (/proc/<pid>/io refused "
                     "even to root: a security module or ptrace restriction; their I/O columns show -)")
        else:
            pfs.warn("per-process disk I/O not readable for other users' processes (/proc/<pid>/io "
                     "needs root; run as root to see it)")
    return result


def read_users(pfs):
    """uid -> name from etc/passwd under the root (empty when unreadable)."""
    users = {}
    for line in pfs.lines("etc/passwd"):
        parts = line.split(":")
        if len(parts) > 2:
            try:
                users.setdefault(int(parts[2]), parts[0])
            except ValueError:
                continue
    return users


def _d(old, new, key):
    a = old.get(key) if old else 0
    b = new.get(key)
    if a is None or b is None:
        return None
    delta = b - a
    return delta if delta >= 0 else None


_RATE_FIELDS = ("usr_pct", "sys_pct", "cpu_pct", "minflt_ps", "majflt_ps", "cswch_ps", "nvcswch_ps",
                "read_kbps", "write_kbps", "iodelay_ms_ps")


def compute(prev, cur, seconds, ticks, uptime, memtotal_kb, page_kb, users=None, cache=None):
    """Rows (dicts named as metrics.PROCESS_FIELDS) for every process in ``cur``.

    Status and io deltas are divided by the time between their two reads
    (``dmono``, see ``scan``) where both are known, else by the interval.
    ``cache`` (a dict the caller keeps): a process whose raw entry is the
    very object of the previous scan (unchanged, see ``scan``) gets a copy
    of the row computed the last time it was unchanged.
    """
    rows = []
    users = users or {}
    interval = bool(prev) and bool(seconds)
    rows_cache = {} if cache is not None else None
    for pid, new in cur.items():
        old = prev.get(pid)
        if interval and old is new and cache is not None:
            known = cache.get(pid)
            if known is not None and known[0] is new and known[1] == memtotal_kb:
                rows_cache[pid] = known
                rows.append(dict(known[2]))
                continue
        if old is not None and old.get("start") != new.get("start"):
            old = None  # the pid was reused
        if interval:
            # An interval: what each process used in it, born during it or not (as top).
            span = seconds
        else:
            # Since boot: each process over its own life (as ps).
            old = None
            age = (uptime - new["start"] / float(ticks)) if uptime is not None else None
            span = age if age and age > 0 else seconds
        row = {"pid": pid, "ppid": new["ppid"], "comm": new["comm"], "state": new["state"],
               "threads": new["threads"], "nice": new.get("nice"),
               "rss_kb": new["rss"] * page_kb, "vsz_kb": new["vsize"] // 1024,
               "new": old is None and bool(prev)}
        uid = new.get("uid")
        row["user"] = users.get(uid, str(uid) if uid is not None else None)
        row["mem_pct"] = 100.0 * row["rss_kb"] / memtotal_kb if memtotal_kb else None
        if span and span > 0:
            usr = _d(old, new, "utime")
            sys_ = _d(old, new, "stime")
            row["usr_pct"] = 100.0 * usr / ticks / span if usr is not None else None
            row["sys_pct"] = 100.0 * sys_ / ticks / span if sys_ is not None else None
            row["cpu_pct"] = (row["usr_pct"] or 0.0) + (row["sys_pct"] or 0.0) \
                if usr is not None or sys_ is not None else None
            for key, name in (("minflt", "minflt_ps"), ("majflt", "majflt_ps")):
                delta = _d(old, new, key)
                row[name] = delta / span if delta is not None else None
            detail_span = span
            if old is not None and "dmono" in old and "dmono" in new and new["dmono"] > old["dmono"]:
                detail_span = new["dmono"] - old["dmono"]
            for key, name in (("vcs", "cswch_ps"), ("nvcs", "nvcswch_ps")):
                delta = _d(old, new, key)
                row[name] = delta / detail_span if delta is not None else None
            for key, name in (("rb", "read_kbps"), ("wb", "write_kbps")):
                delta = _d(old, new, key)
                row[name] = delta / 1024.0 / detail_span if delta is not None else None
            blk = _d(old, new, "blkio")
            row["iodelay_ms_ps"] = blk * 1000.0 / ticks / span if blk is not None else None
        else:
            for name in _RATE_FIELDS:
                row[name] = None
        rows.append(row)
        if rows_cache is not None and interval and old is new:
            rows_cache[pid] = (new, memtotal_kb, dict(row))
    if cache is not None:
        cache.clear()
        cache.update(rows_cache)
    rows.sort(key=lambda r: r["pid"])
    return rows


def add_details(pfs, rows):
    """wchan (and, readable as root, the stack head) for D-state tasks; the parent of zombies."""
    by_pid = None
    for row in rows:
        if row["state"] == "D":
            wchan = pfs.read("proc/%d/wchan" % row["pid"])
            row["wchan"] = wchan.strip() if wchan and wchan.strip() not in ("0", "") else None
            stack = pfs.read_raw("proc/%d/stack" % row["pid"])
            if stack:
                frames = []
                for line in decode(stack).splitlines():
                    words = line.split()
                    if len(words) >= 2:
                        frames.append(words[1].split("+")[0])
                row["stack"] = frames[:6]
            fill_cmdline(pfs, [row])
        elif row["state"] == "Z":
            if by_pid is None:
                by_pid = dict((r["pid"], r) for r in rows)
            parent = by_pid.get(row["ppid"])
            row["parent_comm"] = parent["comm"] if parent else None


def fill_cmdline(pfs, rows, width=200):
    """Add "cmdline" to rows (kernel threads get [comm])."""
    for row in rows:
        if "cmdline" in row:
            continue
        words = pfs.pid_cmdline(row["pid"])
        if words:
            text = " ".join(" ".join(w.split()) for w in words)
            row["cmdline"] = text if len(text) <= width else text[:width - 3] + "..."
        else:
            row["cmdline"] = "[%s]" % row["comm"]


TOP_KEYS = {
    "cpu": lambda r: r.get("cpu_pct") or 0.0,
    "mem": lambda r: r.get("rss_kb") or 0,
    "io": lambda r: (r.get("read_kbps") or 0.0) + (r.get("write_kbps") or 0.0),
    "majflt": lambda r: r.get("majflt_ps") or 0.0,
    "cswch": lambda r: (r.get("cswch_ps") or 0.0) + (r.get("nvcswch_ps") or 0.0),
    "iodelay": lambda r: r.get("iodelay_ms_ps") or 0.0,
}


def top(rows, key="cpu", count=10, exclude_self=True, nonzero=True):
    """The ``count`` rows with the largest ``key`` (see TOP_KEYS)."""
    measure = TOP_KEYS[key]
    scored = []
    for r in rows:
        if exclude_self and r.get("self"):
            continue
        value = measure(r)
        if nonzero and not value > 0:
            continue
        scored.append((-value, r["pid"], r))
    if len(scored) > 4 * count:
        scored = heapq.nsmallest(count, scored, key=_rank)
    else:
        scored.sort(key=_rank)
    return [entry[2] for entry in scored[:count]]


def _rank(entry):
    return entry[0], entry[1]
