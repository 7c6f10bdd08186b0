"""cgroup limits and pressure: the container's CPU quota and memory limit (v1 and v2).

A process in a container sees the host's /proc/stat and /proc/meminfo;
what binds it is its cgroup.  ``read_self`` finds the cgroup of the
sampling process (``/proc/self/cgroup``), maps it onto the mounted
hierarchies (``/proc/self/mountinfo``: the mount's root is subtracted from
the path, which covers cgroup namespaces and docker's bind mounts) and
reads, per controller, v1 files where the v1 controller is mounted and v2
files otherwise:

* CPU: quota/period (``cpu.cfs_quota_us``/``cpu.cfs_period_us`` or
  ``cpu.max``), throttling (``cpu.stat``), usage (``cpuacct.usage`` or
  ``cpu.stat usage_usec``);
* memory: limit (``memory.limit_in_bytes`` or ``memory.max``, the
  smallest along the path), usage, limit hits (``memory.failcnt`` or
  ``memory.events max``), refaults and major faults (``memory.stat``),
  pressure (v2 ``memory.pressure``).

``scan_memory`` walks every memory cgroup with a limit, so triage can see
a container thrashing against its limit from the host.
"""

import os

from .sampler_base import counter_delta

UNLIMITED = 2 ** 60
SCAN_LIMIT = 2000


def parse_self_cgroup(text):
    """/proc/<pid>/cgroup -> {"v2": path, "cpu": path, "memory": path, ...}."""
    result = {}
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if hier == "0" and controllers == "":
            result["v2"] = path
            continue
        for name in controllers.split(","):
            if name:
                result[name] = path
    return result


def parse_mountinfo(text):
    """cgroup mounts: [{"root", "mountpoint", "fstype", "controllers"}]."""
    mounts = []
    for line in (text or "").splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lwords, rwords = left.split(), right.split()
        if len(lwords) < 5 or len(rwords) < 1:
            continue
        fstype = rwords[0]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        options = rwords[2].split(",") if len(rwords) > 2 else []
        mounts.append({"root": _unescape(lwords[3]), "mountpoint": _unescape(lwords[4]), "fstype": fstype,
                       "controllers": [o for o in options if o not in ("rw", "ro") and "=" not in o]
                       if fstype == "cgroup" else []})
    return mounts


def _unescape(text):
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _join(mount, path):
    root = mount["root"].rstrip("/") or "/"
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    elif root != "/":
        # The cgroup lies outside what is mounted (namespaced view): the
        # mount point itself is the best we have.
        path = "/"
    return os.path.join(mount["mountpoint"], path.lstrip("/")).rstrip("/") or "/"


def locate(pfs, pid="self"):
    """{"cpu": (version, dir), "memory": (version, dir), "v2": dir or None}."""
    paths = parse_self_cgroup(pfs.read("proc/%s/cgroup" % pid))
    mounts = parse_mountinfo(pfs.read("proc/%s/mountinfo" % pid))
    result = {"paths": paths}
    v2_mount = next((m for m in mounts if m["fstype"] == "cgroup2"), None)
    v2_dir = _join(v2_mount, paths["v2"]) if v2_mount and "v2" in paths else None
    result["v2"] = v2_dir
    for controller, v1_name in (("cpu", "cpu"), ("cpuacct", "cpuacct"), ("memory", "memory")):
        mount = next((m for m in mounts if m["fstype"] == "cgroup" and v1_name in m["controllers"]), None)
        if mount and v1_name in paths:
            result[controller] = ("v1", _join(mount, paths[v1_name]))
        elif v2_dir:
            enabled = (pfs.read(v2_mount["mountpoint"] + "/cgroup.controllers") or "").split()
            if controller in enabled or (controller == "cpuacct" and "cpu" in enabled):
                result[controller] = ("v2", v2_dir)
    return result


def _int_file(pfs, path):
    text = pfs.read(path)
    if text is None:
        return None
    word = text.strip().split()[0] if text.strip() else ""
    if word == "max":
        return UNLIMITED
    try:
        return int(word)
    except ValueError:
        return None


def _kv(pfs, path):
    result = {}
    for line in pfs.lines(path):
        words = line.split()
        if len(words) == 2:
            try:
                result[words[0]] = int(words[1])
            except ValueError:
                continue
    return result


def _ancestors(directory, mountpoint):
    """directory and its parents up to and including the mount point."""
    chain = [directory]
    while directory.rstrip("/") != mountpoint.rstrip("/") and directory not in ("/", ""):
        directory = os.path.dirname(directory)
        chain.append(directory)
        if len(chain) > 64:
            break
    return chain


def read_memory_dir(pfs, version, directory):
    """Counters of one memory cgroup directory."""
    out = {"version": version, "dir": directory}
    if version == "v1":
        out["limit"] = _int_file(pfs, directory + "/memory.limit_in_bytes")
        out["usage"] = _int_file(pfs, directory + "/memory.usage_in_bytes")
        out["failcnt"] = _int_file(pfs, directory + "/memory.failcnt")
        stat = _kv(pfs, directory + "/memory.stat")
        hier = stat.get("hierarchical_memory_limit")
        if hier is not None and (out["limit"] is None or hier < out["limit"]):
            out["limit"] = hier
        out["refault"] = _sum_present(stat, ("total_workingset_refault_file", "total_workingset_refault_anon",
                                             "total_workingset_refault"))
        out["majfault"] = stat.get("total_pgmajfault")
        out["cache"] = stat.get("total_cache")
        out["rss"] = stat.get("total_rss")
    else:
        out["limit"] = _int_file(pfs, directory + "/memory.max")
        out["high"] = _int_file(pfs, directory + "/memory.high")
        out["usage"] = _int_file(pfs, directory + "/memory.current")
        events = _kv(pfs, directory + "/memory.events")
        out["failcnt"] = events.get("max")
        out["oom_kill"] = events.get("oom_kill")
        stat = _kv(pfs, directory + "/memory.stat")
        out["refault"] = _sum_present(stat, ("workingset_refault_file", "workingset_refault_anon",
                                             "workingset_refault"))
        out["majfault"] = stat.get("pgmajfault")
        out["cache"] = stat.get("file")
        out["rss"] = stat.get("anon")
        pressure = pfs.read(directory + "/memory.pressure")
        if pressure:
            from .samplers import parse_psi
            out["psi"] = parse_psi(pressure)
    return out


def _sum_present(stat, keys):
    values = [stat[k] for k in keys if k in stat]
    return sum(values) if values else None


def read_self(pfs, where=None):
    """Raw counters of the sampling process's own cgroup (``{}`` when there is none).

    where: a ``locate(pfs)`` result to reuse (samplers cache it between intervals).
    """
    where = where or locate(pfs)
    snap = {"paths": where.get("paths", {})}
    if "cpu" in where:
        version, directory = where["cpu"]
        cpu = {"version": version, "dir": directory}
        if version == "v1":
            quota = _int_file(pfs, directory + "/cpu.cfs_quota_us")
            period = _int_file(pfs, directory + "/cpu.cfs_period_us")
            cpu["quota_us"] = quota if quota is not None and quota > 0 else None
            cpu["period_us"] = period
            stat = _kv(pfs, directory + "/cpu.stat")
            cpu["nr_periods"] = stat.get("nr_periods")
            cpu["nr_throttled"] = stat.get("nr_throttled")
            usage = None
            if "cpuacct" in where:
                usage = _int_file(pfs, where["cpuacct"][1] + "/cpuacct.usage")
            cpu["usage_ns"] = usage
        else:
            best = None
            for folder in _ancestors(directory, _v2_mountpoint(pfs, directory)):
                text = (pfs.read(folder + "/cpu.max") or "").split()
                if len(text) == 2 and text[0] != "max":
                    try:
                        cpus = float(text[0]) / float(text[1])
                    except (ValueError, ZeroDivisionError):
                        continue
                    if best is None or cpus < best[0]:
                        best = (cpus, int(text[0]), int(text[1]))
            if best:
                cpu["quota_us"], cpu["period_us"] = best[1], best[2]
            stat = _kv(pfs, directory + "/cpu.stat")
            cpu["nr_periods"] = stat.get("nr_periods")
            cpu["nr_throttled"] = stat.get("nr_throttled")
            cpu["usage_ns"] = stat["usage_usec"] * 1000 if "usage_usec" in stat else None
        snap["cpu"] = cpu
    if "memory" in where:
        version, directory = where["memory"]
        memory = read_memory_dir(pfs, version, directory)
        if version == "v2":
            for folder in _ancestors(directory, _v2_mountpoint(pfs, directory))[1:]:
                limit = _int_file(pfs, folder + "/memory.max")
                if limit is not None and (memory.get("limit") is None or limit < memory["limit"]):
                    memory["limit"] = limit
        snap["memory"] = memory
    return snap


def _v2_mountpoint(pfs, directory):
    """The top of the v2 hierarchy containing directory (where cgroup.controllers lives, highest)."""
    top = directory
    folder = directory
    for _ in range(64):
        parent = os.path.dirname(folder)
        if parent == folder or not pfs.exists(parent + "/cgroup.controllers"):
            break
        folder = parent
        top = folder
    return top


def zero(snap):
    result = {"paths": snap.get("paths", {})}
    if "cpu" in snap:
        cpu = dict(snap["cpu"])
        for key in ("nr_periods", "nr_throttled", "usage_ns"):
            if cpu.get(key) is not None:
                cpu[key] = 0
        result["cpu"] = cpu
    if "memory" in snap:
        memory = dict(snap["memory"])
        for key in ("failcnt", "refault", "majfault", "oom_kill"):
            if memory.get(key) is not None:
                memory[key] = 0
        result["memory"] = memory
    return result


def _limited(limit, host_bytes=None):
    if limit is None or limit >= UNLIMITED:
        return False
    if host_bytes and limit >= host_bytes:
        return False
    return True


def compute(prev, cur, seconds, ticks=100, host_cpus=None, host_mem_bytes=None):
    """{"cpu": {...}, "memory": {...}, "metrics": {cgroup.* names}} for the interval."""
    prev = prev or {}
    result = {"paths": cur.get("paths", {}), "metrics": {}}
    metrics = result["metrics"]
    cpu, pcpu = cur.get("cpu"), prev.get("cpu") or {}
    if cpu:
        row = {"version": cpu.get("version"), "dir": cpu.get("dir")}
        if cpu.get("quota_us") and cpu.get("period_us"):
            row["quota_cpus"] = float(cpu["quota_us"]) / cpu["period_us"]
            metrics["cgroup.cpu.quota_cpus"] = row["quota_cpus"]
        periods = counter_delta(pcpu.get("nr_periods"), cpu.get("nr_periods"))
        throttled = counter_delta(pcpu.get("nr_throttled"), cpu.get("nr_throttled"))
        if periods:
            row["throttled_pct"] = 100.0 * (throttled or 0) / periods
            metrics["cgroup.cpu.throttled_pct"] = row["throttled_pct"]
        used = counter_delta(pcpu.get("usage_ns"), cpu.get("usage_ns"))
        if used is not None and seconds:
            cpus_used = used / 1e9 / seconds
            row["used_cpus"] = cpus_used
            capacity = row.get("quota_cpus") or host_cpus
            if capacity:
                row["usage_pct"] = 100.0 * cpus_used / capacity
                metrics["cgroup.cpu.usage_pct"] = row["usage_pct"]
        result["cpu"] = row
    memory, pmem = cur.get("memory"), prev.get("memory") or {}
    if memory:
        result["memory"] = memory_row(pmem, memory, seconds, host_mem_bytes)
        row = result["memory"]
        if row.get("limit_kb") is not None:
            metrics["cgroup.memory.limit_kb"] = row["limit_kb"]
        for key in ("usage_kb", "usage_pct", "failcnt_ps"):
            if row.get(key) is not None:
                metrics["cgroup.memory." + key] = row[key]
    return result


def memory_row(old, new, seconds, host_mem_bytes=None):
    row = {"version": new.get("version"), "dir": new.get("dir")}
    limit = new.get("limit")
    if _limited(limit, host_mem_bytes):
        row["limit_kb"] = limit // 1024
    if new.get("usage") is not None:
        row["usage_kb"] = new["usage"] // 1024
        if row.get("limit_kb"):
            row["usage_pct"] = 100.0 * row["usage_kb"] / row["limit_kb"]
    for key, out in (("failcnt", "failcnt_ps"), ("refault", "refault_ps"), ("majfault", "majfault_ps")):
        delta = counter_delta((old or {}).get(key), new.get(key))
        if delta is not None and seconds:
            row[out] = delta / float(seconds)
    kills = counter_delta((old or {}).get("oom_kill"), new.get("oom_kill"))
    if kills:
        row["oom_kills"] = kills
    psi = new.get("psi") or {}
    old_psi = (old or {}).get("psi") or {}
    for kind in ("some", "full"):
        delta = counter_delta(old_psi.get(kind, {}).get("total"), psi.get(kind, {}).get("total"))
        if delta is not None and seconds:
            row["psi_%s_pct" % kind] = min(100.0, delta / 1e4 / seconds)
    return row


# ---------------------------------------------------------------- every memory cgroup

def memory_roots(pfs):
    """[(version, mountpoint)] of the memory hierarchies visible under the root."""
    roots = []
    mounts = parse_mountinfo(pfs.read("proc/self/mountinfo"))
    for mount in mounts:
        if mount["fstype"] == "cgroup" and "memory" in mount["controllers"]:
            roots.append(("v1", mount["mountpoint"]))
    if not roots:
        for mount in mounts:
            if mount["fstype"] == "cgroup2" and "memory" in (
                    pfs.read(mount["mountpoint"] + "/cgroup.controllers") or "").split():
                roots.append(("v2", mount["mountpoint"]))
    return roots


def scan_memory(pfs, host_mem_bytes=None):
    """{dir: counters} for every memory cgroup that has a limit of its own."""
    result = {}
    count = 0
    for version, top in memory_roots(pfs):
        stack = [top]
        limit_file = "memory.limit_in_bytes" if version == "v1" else "memory.max"
        while stack and count < SCAN_LIMIT:
            folder = stack.pop()
            count += 1
            if folder != top:
                limit = _int_file(pfs, folder + "/" + limit_file)
                if _limited(limit, host_mem_bytes):
                    result[folder] = read_memory_dir(pfs, version, folder)
            for name in pfs.listdir(folder):
                child = folder + "/" + name
                if os.path.isdir(pfs.path(child)):
                    stack.append(child)
    return result


def compute_scan(prev, cur, seconds, host_mem_bytes=None):
    rows = []
    for folder, new in sorted(cur.items()):
        row = memory_row(prev.get(folder), new, seconds, host_mem_bytes)
        if folder not in prev:
            for key in ("failcnt_ps", "refault_ps", "majfault_ps"):
                row.pop(key, None)
        rows.append(row)
    return rows


def cgroup_pids(pfs, directory):
    """Processes in one cgroup directory (not its children)."""
    pids = []
    for line in pfs.lines(directory + "/cgroup.procs"):
        line = line.strip()
        if line.isdigit():
            pids.append(int(line))
    return pids
