"""Samplers: what vmstat, mpstat, pidstat, iostat and sar see, from /proc and /sys.

Every reader goes through ``procfs.ProcFS(root)``, so the same code reads
the live system, a mounted root or a captured tree (``--root``).  Reading
is split from arithmetic: ``Sampler.snapshot()`` collects raw counters (a
plain, JSON-serialisable dict) and ``Sampler.compute(prev, cur)`` turns two
snapshots into a *sample*: rates and percentages for the interval between
them, keyed by the metric names of ``metrics.py``.  ``boot_snapshot(cur)``
is the all-zero snapshot at boot time, so ``compute(boot, cur)`` is the
"since boot" report the originals print first.

A sample (``compute``'s result) is a dict::

    {"time": epoch, "interval": seconds, "since_boot": bool,
     "metrics": {"load1": 0.5, "cpu.user_pct": 12.0, "disk.sda.await_ms": 3.1, ...},
     "cpus": [{"cpu": "0", "user_pct": ..., ...}], "cpus_changed": [...],
     "processes": [row, ...] (every process, see metrics.PROCESS_FIELDS),
     "disks": [{"dev": "dm-0", "name": "vg0-root", "kind": "dm", ...}],
     "interfaces": [{"if": "eth0", ...}], "qdiscs": [...], "classes": [...] (htb/hfsc
     classes of shaped interfaces, with --qdisc),
     "cgroup": {...} (the sampler's own cgroup and its limits),
     "psi": bool (the kernel exposes pressure), "warnings": [...]}

Correctness notes, each a bug seen in other tools:

* /proc/stat ``user`` and ``nice`` already contain ``guest`` and
  ``guest_nice``: they are subtracted, never added again to the total.
* Counters that go backwards (CPU hotplug, VM migration, a 32-bit wrap)
  give 0 or the wrapped difference for that interval, never a negative
  rate or a crash; CPUs that appear or disappear are listed in
  ``cpus_changed`` and skipped for that interval.
* ``procs_running`` counts the sampler itself; it is subtracted.
* Processes that vanish between listing and reading are skipped.
"""

import os
import time

from . import procfs as procfs_module
from . import sampler_cgroup, sampler_disks, sampler_net, sampler_procs
from .sampler_base import counter_delta, pct, rate  # noqa: F401 (re-exported)

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
PSI_RESOURCES = ("cpu", "memory", "io", "irq")

VIEWS = ("cpu", "percpu", "memory", "psi", "procs", "disks", "net", "cgroup")


# ---------------------------------------------------------------- /proc/stat

def parse_stat(text):
    """/proc/stat -> {"cpus": {"cpu": [..], "cpu0": [..]}, "intr": n, "ctxt": n, ...}."""
    result = {"cpus": {}}
    for line in (text or "").splitlines():
        words = line.split()
        if not words:
            continue
        key = words[0]
        if key.startswith("cpu"):
            values = []
            for word in words[1:1 + len(CPU_FIELDS)]:
                try:
                    values.append(int(word))
                except ValueError:
                    values.append(0)
            if len(values) >= 4:
                result["cpus"][key] = values
        elif key in ("intr", "ctxt", "btime", "processes", "procs_running", "procs_blocked"):
            try:
                result[key] = int(words[1])
            except (IndexError, ValueError):
                continue
    return result


def cpu_split(old, new):
    """Percentages for one CPU line between two readings, or None.

    old/new: lists in CPU_FIELDS order (shorter on old kernels).  Guest
    time is taken out of user and nice; each field's delta is clamped at 0
    so one counter going backwards cannot make others exceed 100 %.
    """
    if not old or not new:
        return None
    count = min(len(old), len(new))
    deltas = {}
    for index, name in enumerate(CPU_FIELDS):
        if index < count:
            delta = counter_delta(old[index], new[index])
            deltas[name] = delta if delta is not None and delta < 2 ** 40 else 0
        else:
            deltas[name] = 0
    user = max(0, deltas["user"] - deltas["guest"])
    nice = max(0, deltas["nice"] - deltas["guest_nice"])
    parts = {"user": user, "nice": nice, "system": deltas["system"], "idle": deltas["idle"],
             "iowait": deltas["iowait"], "irq": deltas["irq"], "softirq": deltas["softirq"],
             "steal": deltas["steal"], "guest": deltas["guest"], "guest_nice": deltas["guest_nice"]}
    total = float(sum(parts.values()))
    if total <= 0:
        return None
    result = dict((name + "_pct", 100.0 * value / total) for name, value in parts.items())
    result["busy_pct"] = max(0.0, 100.0 - result["idle_pct"] - result["iowait_pct"] - result["steal_pct"])
    result["ticks"] = total
    return result


def cpu_rates(old_cpus, new_cpus):
    """(all-CPU split or None, [per-CPU dicts], [changes]) from two ``cpus`` maps."""
    total = cpu_split(old_cpus.get("cpu"), new_cpus.get("cpu"))
    per_cpu = []
    changes = []
    names = sorted((n for n in new_cpus if n != "cpu"), key=lambda n: int(n[3:]) if n[3:].isdigit() else -1)
    for name in names:
        if name not in old_cpus:
            changes.append({"cpu": name[3:], "change": "appeared"})
            continue
        split = cpu_split(old_cpus[name], new_cpus[name])
        if split is None:
            changes.append({"cpu": name[3:], "change": "no time accounted (offline or counters reset)"})
            continue
        split["cpu"] = name[3:]
        per_cpu.append(split)
    for name in sorted(old_cpus):
        if name != "cpu" and name not in new_cpus:
            changes.append({"cpu": name[3:], "change": "disappeared (offline)"})
    return total, per_cpu, changes


# ---------------------------------------------------------------- small files

def parse_loadavg(text):
    words = (text or "").split()
    result = {}
    for index, name in enumerate(("load1", "load5", "load15")):
        try:
            result[name] = float(words[index])
        except (IndexError, ValueError):
            pass
    if len(words) > 3 and "/" in words[3]:
        try:
            result["total"] = int(words[3].split("/")[1])
        except ValueError:
            pass
    return result


def parse_uptime(text):
    try:
        return float((text or "").split()[0])
    except (IndexError, ValueError):
        return None


def parse_vmstat(text):
    result = {}
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        try:
            result[name] = int(value)
        except ValueError:
            continue
    return result


def _sum_prefixed(vmstat, prefix):
    """Sum pgscan_kswapd (new) or pgscan_kswapd_normal/_dma32/... (old, per zone)."""
    total = None
    for key, value in vmstat.items():
        if key == prefix or (key.startswith(prefix + "_") and
                             key[len(prefix) + 1:] in ("dma", "dma32", "normal", "movable", "high")):
            total = (total or 0) + value
    return total


def reclaim_counters(vmstat):
    """Pages scanned/reclaimed, split by who reclaimed, across kernel generations.

    ``scan`` is everything scanned: pgscan_anon + pgscan_file where the
    kernel has them (5.8+; they include reclaim forced by a cgroup's
    memory limit, which the kswapd/direct counters leave out), else
    kswapd + direct (+ per-zone variants of 2.6/3.x kernels).
    """
    def add(*values):
        present = [v for v in values if v is not None]
        return sum(present) if present else None
    kswapd = _sum_prefixed(vmstat, "pgscan_kswapd")
    legacy_direct = add(_sum_prefixed(vmstat, "pgscan_direct"), vmstat.get("pgscan_khugepaged"),
                        vmstat.get("pgscan_proactive"))
    if "pgscan_anon" in vmstat or "pgscan_file" in vmstat:
        scan = add(vmstat.get("pgscan_anon"), vmstat.get("pgscan_file"))
        steal = add(vmstat.get("pgsteal_anon"), vmstat.get("pgsteal_file"))
    else:
        scan = add(kswapd, legacy_direct)
        steal = add(_sum_prefixed(vmstat, "pgsteal_kswapd"), _sum_prefixed(vmstat, "pgsteal_direct"),
                    vmstat.get("pgsteal_khugepaged"), vmstat.get("pgsteal_proactive"),
                    # 2.6/3.x kernels: pgsteal_normal etc. without the reclaimer
                    _sum_prefixed(vmstat, "pgsteal") if not any(
                        k.startswith("pgsteal_kswapd") for k in vmstat) else None)
    direct = None
    if scan is not None:
        direct = max(0, scan - (kswapd or 0))
    return {
        "scan": scan,
        "scan_kswapd": kswapd,
        "scan_direct": direct,
        "steal": steal,
        "refault": add(vmstat.get("workingset_refault_anon"), vmstat.get("workingset_refault_file"),
                       vmstat.get("workingset_refault")),
    }


def parse_psi(text):
    """One /proc/pressure file -> {"some": {"avg10": .., "total": ..}, "full": {...}}."""
    result = {}
    for line in (text or "").splitlines():
        words = line.split()
        if not words or words[0] not in ("some", "full"):
            continue
        values = {}
        for word in words[1:]:
            key, _, value = word.partition("=")
            try:
                values[key] = int(value) if key == "total" else float(value)
            except ValueError:
                continue
        result[words[0]] = values
    return result


def read_psi(pfs):
    """{resource: parsed} for the pressure files the kernel offers; {} without PSI."""
    result = {}
    for name in PSI_RESOURCES:
        text = pfs.read("proc/pressure/" + name)
        if text:
            parsed = parse_psi(text)
            if parsed:
                result[name] = parsed
    return result


def memory_gauges(meminfo):
    """Metric-named gauges from /proc/meminfo (KiB)."""
    m = meminfo
    out = {}

    def put(name, value):
        if value is not None:
            out[name] = value
    total = m.get("MemTotal")
    available = m.get("MemAvailable")
    if available is None and total is not None:
        # Kernels before 3.14: the estimate free(1) used then.
        available = sum(m.get(k, 0) for k in ("MemFree", "Buffers", "Cached")) - m.get("Shmem", 0)
    put("mem.total_kb", total)
    put("mem.free_kb", m.get("MemFree"))
    put("mem.available_kb", available)
    if total and available is not None:
        out["mem.available_pct"] = 100.0 * available / total
    put("mem.buffers_kb", m.get("Buffers"))
    if "Cached" in m:
        out["mem.cached_kb"] = m["Cached"] + m.get("SReclaimable", 0)
    put("mem.dirty_kb", m.get("Dirty"))
    put("mem.writeback_kb", m.get("Writeback"))
    put("mem.anon_kb", m.get("AnonPages"))
    put("mem.shmem_kb", m.get("Shmem"))
    put("mem.slab_kb", m.get("Slab"))
    put("mem.slab_unreclaim_kb", m.get("SUnreclaim"))
    if m.get("CommitLimit"):
        out["mem.commit_pct"] = pct(m.get("Committed_AS"), m["CommitLimit"])
    if "SwapTotal" in m:
        out["swap.total_kb"] = m["SwapTotal"]
        used = m["SwapTotal"] - m.get("SwapFree", m["SwapTotal"])
        out["swap.used_kb"] = used
        out["swap.used_pct"] = pct(used, m["SwapTotal"]) if m["SwapTotal"] else 0.0
    return out


# ---------------------------------------------------------------- the sampler

class Sampler(object):
    """Takes snapshots of a system and computes samples between them.

    root: "/" for the live system or a directory holding proc/ and sys/.
    views: which parts to read (VIEWS); fewer views cost less.
    runner: for ``tc`` (qdisc statistics, only with qdisc=True, live only).
    clock / wall: injectable monotonic and epoch clocks (tests, perfcollect).
    lazy_details: the low-overhead mode of procstat and perfcollect: every
    interval /proc/<pid>/stat of every process, but status and io (and the
    parsing and arithmetic) only of processes whose stat changed since the
    previous snapshot; every 30 snapshots all are read again (see
    ``sampler_procs.scan``).  Off (the default): all files of all processes
    every time, as triage does.
    """

    def __init__(self, root="/", views=VIEWS, procfs=None, runner=None, qdisc=False,
                 clock=None, wall=None, process_details=True, partitions=False, lazy_details=False):
        self.procfs = procfs or procfs_module.ProcFS(root)
        self.live = os.path.abspath(root or "/") == "/"
        self.views = tuple(views)
        self.runner = runner
        self.qdisc = qdisc and self.live
        if self.live:
            self.clock = clock or time.monotonic
            self.wall = wall or time.time
        else:
            # A captured tree: its own uptime is the clock, boot time + uptime
            # the wall time -- the moment it was captured, the same on every run.
            self.clock = clock or self._tree_uptime
            self.wall = wall or self._tree_time
        self.process_details = process_details
        self.partitions = partitions
        # procstat, perfcollect: status/io only of processes whose stat changed (sampler_procs.scan)
        self.lazy_details = lazy_details
        self._proc_cache = {}
        self._row_cache = {}
        self.ticks = procfs_module.clock_ticks()
        self.page_kb = procfs_module.page_size() // 1024
        self.users = None
        self._last = None
        self._disk_names = None
        self._cgroup_where = None
        self._links = None
        self._snapshots = 0
        self.self_pid = os.getpid() if self.live else None

    def _tree_uptime(self):
        value = parse_uptime(self.procfs.read("proc/uptime"))
        return value if value is not None else time.monotonic()

    def _tree_time(self):
        btime = parse_stat(self.procfs.read("proc/stat")).get("btime")
        uptime = parse_uptime(self.procfs.read("proc/uptime"))
        if btime is None or uptime is None:
            return time.time()
        return btime + uptime

    @property
    def warnings(self):
        return self.procfs.warnings

    def want(self, view):
        return view in self.views

    # -------------------------------------------------------- reading

    def snapshot(self):
        """Raw counters now (a JSON-serialisable dict)."""
        pfs = self.procfs
        # sysfs link attributes, cgroup membership and disk names change rarely:
        # re-read them every 30 snapshots, not every interval
        refresh = self._snapshots % 30 == 0
        self._snapshots += 1
        if refresh:
            self._cgroup_where = self._links = self._disk_names = None
        snap = {"mono": self.clock(), "wall": self.wall()}
        snap["uptime"] = parse_uptime(pfs.read("proc/uptime"))
        snap["stat"] = parse_stat(pfs.read("proc/stat"))
        snap["loadavg"] = parse_loadavg(pfs.read("proc/loadavg"))
        if self.want("memory") or self.want("cpu"):
            snap["meminfo"] = pfs.meminfo_kib()
            snap["vmstat"] = parse_vmstat(pfs.read("proc/vmstat"))
            snap["reclaim"] = reclaim_counters(snap["vmstat"])
        if self.want("psi") or self.want("memory"):
            snap["psi"] = read_psi(pfs)
        if self.want("procs"):
            if self.lazy_details:
                if refresh:
                    self._proc_cache.clear()
                snap["procs"] = sampler_procs.scan(pfs, cache=self._proc_cache, now=snap["mono"])
            else:
                snap["procs"] = sampler_procs.scan(pfs, now=snap["mono"])
        if self.want("disks"):
            snap["disks"] = sampler_disks.read_diskstats(pfs)
        if self.want("net"):
            snap["net"] = sampler_net.read_all(pfs, self._links)
            self._links = snap["net"]["links"]
            if self.qdisc and self.runner is not None:
                snap["qdiscs"] = sampler_net.read_qdiscs(self.runner)
                classes = sampler_net.read_classes(self.runner, snap["qdiscs"])
                if classes is not None:
                    snap["classes"] = classes
        if self.want("cgroup"):
            if self._cgroup_where is None:
                self._cgroup_where = sampler_cgroup.locate(pfs)
            snap["cgroup"] = sampler_cgroup.read_self(pfs, self._cgroup_where)
        return snap

    def boot_snapshot(self, cur):
        """The snapshot at boot: counters zero, time = now - uptime."""
        uptime = cur.get("uptime") or 0.0
        snap = {"mono": cur["mono"] - uptime, "wall": cur["wall"] - uptime, "uptime": 0.0, "boot": True}
        stat = cur.get("stat", {})
        snap["stat"] = {"cpus": dict((name, [0] * len(values)) for name, values in stat.get("cpus", {}).items())}
        for key in ("intr", "ctxt", "processes"):
            if key in stat:
                snap["stat"][key] = 0
        snap["vmstat"] = dict((key, 0) for key in cur.get("vmstat", {}))
        snap["reclaim"] = dict((key, 0) for key, value in cur.get("reclaim", {}).items() if value is not None)
        snap["psi"] = {}
        for res, kinds in cur.get("psi", {}).items():
            snap["psi"][res] = dict((kind, {"total": 0}) for kind in kinds)
        if "procs" in cur:
            snap["procs"] = {}
        if "disks" in cur:
            snap["disks"] = sampler_disks.zero(cur["disks"])
        if "net" in cur:
            snap["net"] = sampler_net.zero(cur["net"])
        if "qdiscs" in cur:
            snap["qdiscs"] = sampler_net.zero_qdiscs(cur["qdiscs"])
        if "classes" in cur:
            snap["classes"] = sampler_net.zero_qdiscs(cur["classes"])
        if "cgroup" in cur:
            snap["cgroup"] = sampler_cgroup.zero(cur["cgroup"])
        return snap

    def sample(self):
        """The next sample: since boot the first time, since the last call after."""
        cur = self.snapshot()
        prev = self._last if self._last is not None else self.boot_snapshot(cur)
        self._last = cur
        return self.compute(prev, cur)

    def prime(self):
        """Take the first snapshot without reporting (to skip the since-boot sample)."""
        self._last = self.snapshot()
        return self._last

    # -------------------------------------------------------- arithmetic

    def compute(self, prev, cur):
        since_boot = bool(prev.get("boot"))
        seconds = cur["mono"] - prev["mono"]
        if seconds <= 0:
            seconds = None
        metrics = {}
        sample = {"time": cur["wall"], "interval": seconds, "since_boot": since_boot,
                  "metrics": metrics, "warnings": list(self.procfs.warnings)}
        self._compute_system(prev, cur, seconds, sample)
        if "procs" in cur:
            self._compute_procs(prev, cur, seconds, sample)
        if "disks" in cur:
            names = self.disk_names()
            sample["disks"] = sampler_disks.compute(prev.get("disks", {}), cur["disks"], seconds, names,
                                                    self.partitions)
            for row in sample["disks"]:
                for key, value in row.items():
                    if key not in sampler_disks.ROW_LABELS and value is not None:
                        metrics["disk.%s.%s" % (row["dev"], key)] = value
        if "net" in cur:
            sampler_net.compute(prev.get("net", {}), cur["net"], seconds, sample, self.procfs)
            if "qdiscs" in cur:
                sample["qdiscs"] = sampler_net.compute_qdiscs(prev.get("qdiscs", []), cur["qdiscs"], seconds)
                for row in sample["qdiscs"]:
                    if not row.get("root"):
                        continue
                    for key in ("rate_kbit", "util_pct", "drops_ps", "overlimits_ps", "backlog_kb"):
                        if row.get(key) is not None:
                            metrics["net.%s.qdisc_%s" % (row["dev"], key)] = row[key]
            if "classes" in cur:
                sample["classes"] = sampler_net.compute_classes(prev.get("classes"), cur["classes"], seconds)
                for row in sample["classes"]:
                    prefix = sampler_net.class_metric_prefix(row)
                    for key in ("rate_kbit", "ceil_kbit", "kbit_ps", "util_pct", "drops_ps", "overlimits_ps",
                                "backlog_kb"):
                        if row.get(key) is not None:
                            metrics[prefix + key] = row[key]
        if "cgroup" in cur:
            memtotal = (cur.get("meminfo") or {}).get("MemTotal")
            sample["cgroup"] = sampler_cgroup.compute(prev.get("cgroup"), cur["cgroup"], seconds, self.ticks,
                                                       metrics.get("cpu.count"),
                                                       memtotal * 1024 if memtotal else None)
            for key, value in sample["cgroup"].get("metrics", {}).items():
                metrics[key] = value
        return sample

    def _compute_system(self, prev, cur, seconds, sample):
        metrics = sample["metrics"]
        stat, pstat = cur.get("stat", {}), prev.get("stat", {})
        load = cur.get("loadavg", {})
        for name in ("load1", "load5", "load15"):
            if name in load:
                metrics[name] = load[name]
        if "total" in load:
            metrics["procs.total"] = load["total"]
        if "procs_running" in stat:
            running = stat["procs_running"]
            if self.live:
                running -= 1  # ourselves, reading /proc/stat
            metrics["procs.running"] = max(0, running)
        if "procs_blocked" in stat:
            metrics["procs.blocked"] = stat["procs_blocked"]
        metrics["procs.forks_ps"] = rate(pstat.get("processes"), stat.get("processes"), seconds)
        metrics["system.intr_ps"] = rate(pstat.get("intr"), stat.get("intr"), seconds)
        metrics["system.cswch_ps"] = rate(pstat.get("ctxt"), stat.get("ctxt"), seconds)
        cpus = stat.get("cpus", {})
        metrics["cpu.count"] = len([n for n in cpus if n != "cpu"]) or None
        total, per_cpu, changes = cpu_rates(pstat.get("cpus", {}), cpus)
        if total:
            for key, value in total.items():
                if key.endswith("_pct"):
                    metrics["cpu." + key] = value
        sample["cpus"] = per_cpu
        sample["cpus_changed"] = changes
        if self.want("percpu"):
            for row in per_cpu:
                for key, value in row.items():
                    if key.endswith("_pct"):
                        metrics["cpu.%s.%s" % (row["cpu"], key)] = value
        # memory
        meminfo = cur.get("meminfo")
        if meminfo:
            metrics.update(memory_gauges(meminfo))
        vm, pvm = cur.get("vmstat", {}), prev.get("vmstat", {})
        if vm:
            page_kb = self.page_kb
            metrics["swap.in_kbps"] = rate(pvm.get("pswpin"), vm.get("pswpin"), seconds, page_kb)
            metrics["swap.out_kbps"] = rate(pvm.get("pswpout"), vm.get("pswpout"), seconds, page_kb)
            metrics["page.in_kbps"] = rate(pvm.get("pgpgin"), vm.get("pgpgin"), seconds)
            metrics["page.out_kbps"] = rate(pvm.get("pgpgout"), vm.get("pgpgout"), seconds)
            metrics["page.fault_ps"] = rate(pvm.get("pgfault"), vm.get("pgfault"), seconds)
            metrics["page.majfault_ps"] = rate(pvm.get("pgmajfault"), vm.get("pgmajfault"), seconds)
            new_r = cur.get("reclaim") or reclaim_counters(vm)
            old_r = prev.get("reclaim") or (reclaim_counters(pvm) if pvm else {})
            for key in ("scan", "scan_kswapd", "scan_direct", "steal", "refault"):
                metrics["page.%s_ps" % key] = rate(old_r.get(key), new_r.get(key), seconds)
            scanned = metrics.get("page.scan_ps") or 0
            if scanned > 0 and metrics.get("page.steal_ps") is not None:
                metrics["page.vmeff_pct"] = min(100.0, 100.0 * metrics["page.steal_ps"] / scanned)
            if "oom_kill" in vm:
                metrics["mem.oom_kills"] = counter_delta(pvm.get("oom_kill", 0), vm["oom_kill"])
        # pressure
        psi, ppsi = cur.get("psi"), prev.get("psi") or {}
        sample["psi"] = bool(psi)
        for res, kinds in (psi or {}).items():
            for kind, values in kinds.items():
                for avg in ("avg10", "avg60", "avg300"):
                    if avg in values:
                        metrics["psi.%s.%s_%s" % (res, kind, avg)] = values[avg]
                old_total = ppsi.get(res, {}).get(kind, {}).get("total")
                delta = counter_delta(old_total, values.get("total"))
                if delta is not None and seconds:
                    # total is in microseconds of stall
                    metrics["psi.%s.%s_pct" % (res, kind)] = min(100.0, delta / 1e4 / seconds)
        for key in [k for k, v in metrics.items() if v is None]:
            del metrics[key]

    def _compute_procs(self, prev, cur, seconds, sample):
        if self.users is None:
            self.users = sampler_procs.read_users(self.procfs)
        memtotal = (cur.get("meminfo") or {}).get("MemTotal")
        rows = sampler_procs.compute(prev.get("procs", {}), cur["procs"], seconds, self.ticks,
                                     cur.get("uptime"), memtotal, self.page_kb, self.users,
                                     cache=self._row_cache if self.lazy_details else None)
        dstate = zombie = 0
        self_pid = self.self_pid
        for row in rows:
            state = row["state"]
            if state == "D":
                dstate += 1
            elif state == "Z":
                zombie += 1
            if row["pid"] == self_pid:
                row["self"] = True
        sample["processes"] = rows
        metrics = sample["metrics"]
        metrics["procs.dstate"] = dstate
        metrics["procs.zombie"] = zombie
        if self.process_details:
            sampler_procs.add_details(self.procfs, rows)

    def disk_names(self):
        """Kernel device name -> {"name", "kind", "slaves"} from sysfs (cached)."""
        if self._disk_names is None:
            self._disk_names = sampler_disks.device_names(self.procfs)
        return self._disk_names

