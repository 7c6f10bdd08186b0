"""perfcollect analyze: a recording's answers, with timestamps and peaks.

``analyze(directory, since, until, baseline=(since, until))`` reads the
segments once, in order, and answers the playbook's questions for the
window: when did the box swap, when did iowait or pressure (PSI) spike,
which processes grew in RSS (leak suspects), which disks went past 20 ms
await or 90 % utilisation, when did the run queue exceed the CPU count,
which interfaces dropped packets -- plus OOM kills, TCP trouble, steal,
the trigger snapshots, gaps, clock steps and pauses, and the kernel's own
reports (oopses, lockups, hung tasks, OOM) found by ``shared.kernelreport``
in the recorded kernel messages, all on one timeline.  With a baseline
window it ranks the metrics that differ most between the two windows.

Every answer is an *episode list*: start, end, peak and when the peak was,
per device or interface.  Findings (``shared.findings``) summarise them for
triage and report; ``render_text`` prints them in 80 columns.
"""

import array
import collections
import fnmatch
import math
import os

from . import findings as findings_module
from . import metrics as metrics_module
from . import perf_format, timeparse
from .findings import CRITICAL, INFO, OK, WARNING, Evidence, Finding

EPISODE_LIMIT = 100

# (check id, title, metric pattern, op, threshold, severity, what it means, fix)
RULES = (
    ("swap", "the box swapped", "swap.io_kbps", ">", 0.0, WARNING,
     "pages moved to or from swap (vmstat si/so); latency follows",
     "find what grew (leak suspects below); add memory or limit the culprit"),
    ("memory-low", "memory ran low", "mem.available_pct", "<", 10.0, WARNING,
     "MemAvailable under 10 % of MemTotal", "see the leak suspects and the top processes by memory"),
    ("oom", "the kernel killed processes for memory (OOM)", "mem.oom_kills", ">", 0.0, CRITICAL,
     "OOM kills counted in /proc/vmstat", "see the kernel reports for the victims; add memory or set limits"),
    ("iowait", "iowait spiked", "cpu.iowait_pct", ">", 20.0, WARNING,
     "CPUs idle waiting for I/O over 20 %", "see the disks that were slow at the same time"),
    ("psi", "pressure stalls (PSI)", "psi.*.some_avg10", ">", 10.0, WARNING,
     "tasks stalled on a resource over 10 % of the time (kernel 10 s average)",
     "the resource named is the bottleneck: cpu, memory or io"),
    ("psi-full", "full pressure stalls (PSI)", "psi.*.full_avg10", ">", 5.0, CRITICAL,
     "all non-idle tasks stalled at once over 5 % of the time", "the box did no useful work then"),
    ("disk-await", "disks slower than 20 ms", "disk.*.await_ms", ">", 20.0, WARNING,
     "average I/O time (queue included) over 20 ms", "check the device, its queue and who wrote to it"),
    ("disk-util", "disks over 90 % busy", "disk.*.util_pct", ">", 90.0, WARNING,
     "time with I/O in flight over 90 % (a device serving requests in parallel can be far from saturated)",
     "compare with await: busy and slow means saturated"),
    ("runqueue", "run queue above the CPU count", "procs.running", ">cpus", 0.0, WARNING,
     "more runnable tasks than CPUs", "see the top processes by CPU"),
    ("dstate", "tasks in uninterruptible sleep (D)", "procs.dstate", ">=", 1.0, INFO,
     "processes blocked in the kernel, usually on I/O", "the wchan of the D-state tasks says where"),
    ("net-drops", "interfaces dropped packets", "net.*.drop_ps", ">", 0.0, WARNING,
     "received or transmitted packets dropped", "ring buffer sizes (ethtool -g), backlog, driver"),
    ("net-errors", "interface errors", "net.*.errs_ps", ">", 0.0, WARNING,
     "receive or transmit errors", "cabling, duplex, driver or firmware"),
    ("softnet", "softnet backlog drops", "softnet.dropped_ps", ">", 0.0, WARNING,
     "packets dropped because the backlog queue was full", "raise net.core.netdev_max_backlog"),
    ("tcp-retrans", "TCP retransmissions over 5 %", "tcp.retrans_pct", ">", 5.0, INFO,
     "retransmitted segments of segments sent", "packet loss on the path or an overloaded peer"),
    ("listen-overflow", "TCP accept queues overflowed", "tcp.listen_overflows_ps", ">", 0.0, WARNING,
     "connections dropped because an application did not accept fast enough",
     "raise the listen backlog (somaxconn) or find why the application is slow"),
    ("steal", "CPU steal over 10 %", "cpu.steal_pct", ">", 10.0, WARNING,
     "the hypervisor gave the CPUs to someone else", "talk to the virtualisation platform's owner"),
    ("cgroup-throttle", "the cgroup was CPU-throttled", "cgroup.cpu.throttled_pct", ">", 20.0, WARNING,
     "periods in which the container's CPU quota ran out", "raise the quota or find the CPU consumer"),
)

HEADLINE = ("load1", "cpu.busy_pct", "cpu.iowait_pct", "cpu.steal_pct", "procs.running", "procs.blocked",
            "procs.dstate", "mem.available_pct", "swap.used_pct", "swap.in_kbps", "swap.out_kbps",
            "page.majfault_ps", "page.scan_direct_ps", "psi.cpu.some_avg10", "psi.memory.some_avg10",
            "psi.io.some_avg10", "tcp.retrans_pct")

# Floors for ranking baseline changes: a change smaller than this is noise.
_UNIT_FLOOR = {"%": 2.0, "ms": 2.0, "KiB/s": 256.0, "1/s": 5.0, "packets/s": 50.0, "tasks": 1.0,
               "KiB": 65536.0, "pages/s": 100.0, "requests": 1.0, "connections": 10.0}


class AnalyzeError(Exception):
    """Not a recording, or nothing in it to analyze."""


# ================================================================ episodes

class Episodes(object):
    """Runs of samples meeting a condition, per instance (a device, an interface)."""

    def __init__(self, gap, lower=False):
        self.gap = gap           # seconds without samples that end an episode
        self.lower = lower       # the worst value is the lowest (memory available)
        self.open = {}
        self.done = []

    def feed(self, key, stamp, value, hit, name):
        """One sample of one instance; a single sample below the threshold does not end an episode."""
        current = self.open.get(key)
        if hit:
            if current is not None and stamp - current["last"] > self.gap:
                self._close(key)
                current = None
            if current is None:
                current = self.open[key] = {"instance": key, "metric": name, "start": stamp, "last": stamp,
                                            "peak": value, "peak_time": stamp, "peak_metric": name,
                                            "samples": 0, "sum": 0.0, "misses": 0}
            current["last"] = stamp
            current["samples"] += 1
            current["sum"] += value
            current["misses"] = 0
            if _worse(value, current["peak"], self.lower):
                current["peak"], current["peak_time"], current["peak_metric"] = value, stamp, name
        elif current is not None:
            current["misses"] += 1
            if current["misses"] >= 2:
                self._close(key)

    def _close(self, key):
        episode = self.open.pop(key)
        episode.pop("misses", None)
        episode["mean"] = episode.pop("sum") / max(1, episode["samples"])
        self.done.append(episode)

    def finish(self):
        for key in list(self.open):
            self._close(key)
        self.done.sort(key=lambda e: e["start"])
        return self.done


def _worse(value, peak, lower):
    return value < peak if lower else value > peak


_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b}


class Rule(object):
    def __init__(self, row, gap):
        (self.check, self.title, self.pattern, self.op, self.threshold, self.severity, self.meaning,
         self.fix) = row
        self.episodes = Episodes(gap, lower=self.op == "<")
        self.seen = False
        self.worst = None

    def matches(self, metric):
        return fnmatch.fnmatchcase(metric, self.pattern)


# ================================================================ reading

class Window(object):
    def __init__(self, since=None, until=None):
        self.since = since
        self.until = until

    def __contains__(self, stamp):
        if stamp is None:
            return False
        if self.since is not None and stamp < self.since:
            return False
        if self.until is not None and stamp > self.until:
            return False
        return True

    def overlaps(self, first, last):
        if first is None or last is None:
            return True
        if self.since is not None and last < self.since:
            return False
        if self.until is not None and first > self.until:
            return False
        return True


def _segment_times(manifest):
    """name -> (first, last) from the manifest, for skipping segments outside the window."""
    result = {}
    for entry in (manifest or {}).get("segments", []):
        if entry.get("closed") and entry.get("first") is not None:
            result[entry.get("name")] = (entry.get("first"), entry.get("last"))
    return result


def _derived(metrics):
    """Metrics the rules need that are sums of recorded ones."""
    swap = (metrics.get("swap.in_kbps") or 0.0) + (metrics.get("swap.out_kbps") or 0.0)
    if "swap.in_kbps" in metrics or "swap.out_kbps" in metrics:
        metrics["swap.io_kbps"] = swap
    for key in list(metrics):
        if key.startswith("net.") and key.endswith(("_drop_ps", "_errs_ps")):
            family, instance, leaf = metrics_module.split(key)
            kind = "drop_ps" if leaf.endswith("drop_ps") else "errs_ps"
            combined = "net.%s.%s" % (instance, kind)
            metrics[combined] = metrics.get(combined, 0.0) + (metrics[key] or 0.0)
    return metrics


# ================================================================ the analysis

def recording_info(directory):
    """What ``status`` and the head of ``analyze`` say about a recording (no segment reading)."""
    manifest, problem = perf_format.read_manifest(directory)
    segments = perf_format.list_segments(directory)
    info = {"directory": os.path.abspath(directory), "manifest_problem": problem,
            "segments": len(segments), "bytes": perf_format.directory_size(directory)}
    if manifest:
        for key in ("host", "state", "created", "updated", "last_sample", "settings", "usage", "kmsg",
                    "fired_count", "missed", "sysstat", "inventory", "tool_version", "format_version"):
            info[key] = manifest.get(key)
        runs = manifest.get("runs") or []
        info["runs"] = len(runs)
        info["started"] = runs[0].get("started") if runs else manifest.get("created")
        info["last_run"] = runs[-1] if runs else None
        info["errors"] = (manifest.get("errors") or [])[-10:]
        info["errors_total"] = len(manifest.get("errors") or []) + manifest.get("errors_dropped", 0)
        info["fired"] = (manifest.get("fired") or [])[-10:]
        info["pauses"] = (manifest.get("pauses") or [])[-10:]
        info["deleted"] = manifest.get("deleted")
        info["snapshots"] = len(manifest.get("snapshots") or [])
    return info


def analyze(directory, since=None, until=None, baseline=None, kernel=True, utc=False, running=None):
    """The analysis of a recording as a JSON-ready dict (see perfcollect(8) for the schema)."""
    if not os.path.isdir(directory):
        raise AnalyzeError("%s is not a folder" % directory)
    if not perf_format.is_recording(directory):
        raise AnalyzeError("%s holds no perfcollect recording (no manifest.json, no segment-*.jsonl.gz)"
                           % directory)
    manifest, manifest_problem = perf_format.read_manifest(directory)
    warnings = []
    if manifest_problem and manifest_problem != "missing":
        warnings.append("manifest.json %s; analysed from the segments alone" % manifest_problem)
    elif manifest_problem == "missing":
        warnings.append("manifest.json missing; analysed from the segments alone")
    window = Window(since, until)
    base = Window(*baseline) if baseline else None
    interval = ((manifest or {}).get("settings") or {}).get("interval") or 5.0
    rules = [Rule(row, max(3.0 * interval, interval + 2.0)) for row in RULES]
    headline = dict((name, array.array("d")) for name in HEADLINE)
    bad_values = collections.defaultdict(lambda: array.array("d")) if base else None
    base_values = collections.defaultdict(lambda: array.array("d")) if base else None
    rss = {}
    names = {}
    kmsg = collections.defaultdict(list)
    boots = {}
    events = []
    hires = 0
    samples = 0
    first_t = last_t = None
    last_sample = None
    gaps = []
    dstate_wchans = collections.Counter()
    problems = []
    times = _segment_times(manifest)
    boot = None
    segments = perf_format.list_segments(directory)
    active = segments[-1][1] if segments else None
    for number, path in segments:
        name = os.path.basename(path)
        span = times.get(name)
        if span and not window.overlaps(*span) and not (base and base.overlaps(*span)):
            continue
        reader = perf_format.SegmentReader(path)
        for record in reader:
            kind = record.get("type")
            stamp = record.get("t")
            if kind == "header":
                boot = record.get("boot_id") or "boot-%s" % number
                boots[boot] = record.get("boot_time")
                for dev, info in (record.get("devices") or {}).items():
                    names[dev] = info.get("name") or dev
                interval = record.get("interval") or interval
                continue
            if kind == "sample":
                metrics = record.get("m") or {}
                if record.get("res") == "h":
                    if stamp in window:
                        hires += 1
                    continue
                if base is not None and stamp in base:
                    for key, value in metrics.items():
                        if isinstance(value, (int, float)) and not _per_cpu(key):
                            base_values[key].append(value)
                if stamp not in window:
                    continue
                samples += 1
                if first_t is None or stamp < first_t:
                    first_t = stamp
                if last_t is None or stamp > last_t:
                    last_t = stamp
                if last_sample is not None:
                    mono_gap = (record.get("mono") or 0) - (last_sample.get("mono") or 0)
                    dt = stamp - last_sample["t"]
                    same_boot = last_sample.get("boot") == boot
                    gap = mono_gap if same_boot and mono_gap > 0 else dt
                    if gap > max(2.5 * interval, 10.0):
                        gaps.append({"from": last_sample["t"], "to": stamp, "seconds": round(gap, 1),
                                     "reason": None if same_boot else "reboot"})
                last_sample = {"t": stamp, "mono": record.get("mono"), "boot": boot}
                metrics = _derived(dict(metrics))
                _feed_rules(rules, metrics, stamp)
                for key, store in headline.items():
                    value = metrics.get(key)
                    if isinstance(value, (int, float)):
                        store.append(value)
                if bad_values is not None:
                    for key, value in record.get("m", {}).items():
                        if isinstance(value, (int, float)) and not _per_cpu(key):
                            bad_values[key].append(value)
                for row in record.get("procs") or []:
                    _rss_point(rss, row.get("pid"), row.get("comm"), row.get("user"), stamp, row.get("rss_kb"),
                               row.get("cmdline"))
                    if row.get("state") == "D":
                        dstate_wchans[(row.get("comm"), row.get("wchan") or "?")] += 1
            elif kind == "procs":
                if stamp not in window:
                    continue
                cols = record.get("cols") or []
                try:
                    at = dict((c, cols.index(c)) for c in ("pid", "comm", "user", "rss_kb"))
                except ValueError:
                    continue
                for row in record.get("rows") or []:
                    try:
                        _rss_point(rss, row[at["pid"]], row[at["comm"]], row[at["user"]], stamp,
                                   row[at["rss_kb"]], None)
                    except (IndexError, TypeError):
                        continue
            elif kind == "kmsg":
                if stamp is None or (window.since is not None and stamp < window.since - 60) or \
                        (window.until is not None and stamp > window.until + 60):
                    continue
                kmsg[boot].append(record.get("line") or "")
            elif kind == "event":
                if stamp in window or stamp is None:
                    events.append(record)
        if reader.problem and not (path == active and running):
            if reader.complete is False and path == active:
                problems.append("%s: %s" % (name, reader.problem))
            elif path != active or "corrupt" in reader.problem:
                problems.append("%s: %s" % (name, reader.problem))
        if reader.bad_lines and path != active:
            problems.append("%s: %d unreadable record(s) skipped" % (name, reader.bad_lines))
    result = {"directory": os.path.abspath(directory), "directory_as_given": directory,
              "window": {"since": since, "until": until},
              "recording": recording_info(directory), "samples": samples, "hires_samples": hires,
              "first": first_t, "last": last_t, "interval": interval, "read_problems": problems}
    episodes = {}
    found = []
    for rule in rules:
        done = rule.episodes.finish()
        for episode in done:
            episode["duration"] = round(episode["last"] - episode["start"] + interval, 1)
            if rule.check.startswith("disk"):
                episode["name"] = names.get(episode["instance"], episode["instance"])
        episodes[rule.check] = done[:EPISODE_LIMIT]
        found.append(_rule_finding(rule, done, names, utc, samples))
    result["episodes"] = episodes
    result["episodes_total"] = dict((rule.check, len(rule.episodes.done)) for rule in rules)
    result["headline"] = dict((key, _stats(values)) for key, values in headline.items() if len(values))
    result["leak_suspects"] = leak_suspects(rss)
    found.append(_leak_finding(result["leak_suspects"], utc))
    result["dstate_wchans"] = [{"comm": comm, "wchan": wchan, "samples": count}
                               for (comm, wchan), count in dstate_wchans.most_common(10)]
    result["gaps"] = gaps[:EPISODE_LIMIT]
    result["events"] = _events(events)
    result["snapshots"] = snapshots(directory, window)
    kernel_result, kernel_finding = _kernel(kmsg, boots, manifest, kernel, window, utc)
    result["kernel"] = kernel_result
    found.append(kernel_finding)
    if base is not None:
        result["baseline"] = {"since": baseline[0], "until": baseline[1],
                              "samples": len(base_values.get("load1", ())),
                              "changes": compare(bad_values, base_values)}
    result["timeline"] = timeline(result)
    result["findings"] = [f.to_dict() for f in findings_module.ranked([f for f in found if f is not None])]
    result["verdict"] = findings_module.worst([f for f in found if f is not None and
                                               f.severity != findings_module.NOT_EVALUATED]) or OK
    return result, warnings, [f for f in found if f is not None]


def _per_cpu(key):
    if not key.startswith("cpu."):
        return False
    family, instance, leaf = metrics_module.split(key)
    return instance is not None


def _feed_rules(rules, metrics, stamp):
    cpus = metrics.get("cpu.count")
    for rule in rules:
        if "*" in rule.pattern:
            for key, value in metrics.items():
                if not isinstance(value, (int, float)) or not rule.matches(key):
                    continue
                rule.seen = True
                family, instance, leaf = metrics_module.split(key)
                hit = _OPS[rule.op](value, rule.threshold)
                rule.episodes.feed(instance or key, stamp, value, hit, key)
        else:
            value = metrics.get(rule.pattern)
            if not isinstance(value, (int, float)):
                continue
            rule.seen = True
            if rule.op == ">cpus":
                if not cpus:
                    continue
                hit = value > cpus
            else:
                hit = _OPS[rule.op](value, rule.threshold)
            rule.episodes.feed(rule.pattern, stamp, value, hit, rule.pattern)


def _rss_point(rss, pid, comm, user, stamp, value, cmdline):
    if pid is None or value is None:
        return
    key = (pid, comm)
    series = rss.get(key)
    if series is None:
        series = rss[key] = {"pid": pid, "comm": comm, "user": user, "t": array.array("d"),
                             "rss": array.array("d"), "cmdline": None}
    if series["t"] and stamp <= series["t"][-1]:
        return  # a top row and a procs row of the same moment
    series["t"].append(stamp)
    series["rss"].append(value)
    if cmdline and not series["cmdline"]:
        series["cmdline"] = cmdline


def leak_suspects(rss, limit=10, min_points=6, min_span=20.0, min_growth_kb=10 * 1024, min_share=0.10,
                  monotone=0.75):
    """Processes whose RSS grew steadily over the window, largest growth first.

    Steadily: at least ``min_points`` observations over ``min_span``
    seconds (and a tenth of the window), a growth of 10 MiB and 10 %, most
    steps upwards, a positive trend, and still growing in the last third
    (a program that grew while starting and then levelled off is no leak).
    """
    spans = [s["t"][-1] - s["t"][0] for s in rss.values() if len(s["t"]) > 1]
    window = max(spans) if spans else 0.0
    suspects = []
    for series in rss.values():
        t, values = series["t"], series["rss"]
        n = len(values)
        if n < min_points:
            continue
        span = t[-1] - t[0]
        if span < max(min_span, 0.1 * window):
            continue
        growth = values[-1] - values[0]
        if growth < max(min_growth_kb, min_share * max(values[0], 1.0)):
            continue
        steps = [values[i + 1] - values[i] for i in range(n - 1)]
        rising = sum(1 for step in steps if step >= 0) / float(len(steps))
        if rising < monotone:
            continue
        if values[-1] - values[(2 * n) // 3] < 0.1 * growth:
            continue
        slope = _slope(t, values)
        if slope <= 0:
            continue
        suspects.append({"pid": series["pid"], "comm": series["comm"], "user": series["user"],
                         "cmdline": series["cmdline"], "first": t[0], "last": t[-1], "first_rss_kb": values[0],
                         "last_rss_kb": values[-1], "peak_rss_kb": max(values), "growth_kb": growth,
                         "rate_kb_per_hour": round(slope * 3600.0, 1), "points": n,
                         "rising_share": round(rising, 2)})
    suspects.sort(key=lambda s: -s["growth_kb"])
    return suspects[:limit]


def _slope(t, values):
    n = float(len(values))
    mean_t = sum(t) / n
    mean_v = sum(values) / n
    num = sum((a - mean_t) * (b - mean_v) for a, b in zip(t, values))
    den = sum((a - mean_t) ** 2 for a in t)
    return num / den if den else 0.0


def _stats(values):
    ordered = sorted(values)
    n = len(ordered)
    return {"mean": round(sum(ordered) / n, 2), "p95": round(ordered[min(n - 1, int(math.ceil(0.95 * n)) - 1)], 2),
            "max": round(ordered[-1], 2), "min": round(ordered[0], 2), "samples": n}


def compare(bad, base, limit=20):
    """Metrics ranked by how much their p95 differs between the window and the baseline."""
    rows = []
    for key in set(bad) & set(base):
        if len(bad[key]) < 1 or len(base[key]) < 1:
            continue
        a, b = _stats(bad[key]), _stats(base[key])
        floor = _UNIT_FLOOR.get(metrics_module.unit(key), 1.0)
        delta = a["p95"] - b["p95"]
        if abs(delta) < floor and abs(a["mean"] - b["mean"]) < floor:
            continue
        score = abs(delta) / max(abs(b["p95"]), floor)
        rows.append({"metric": key, "unit": metrics_module.unit(key), "window": a, "baseline": b,
                     "change": round(delta, 2), "score": round(score, 3),
                     "direction": "higher" if delta > 0 else "lower"})
    rows.sort(key=lambda r: (-r["score"], r["metric"]))
    return rows[:limit]


def snapshots(directory, window=None):
    folder = os.path.join(directory, perf_format.SNAPSHOTS)
    result = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return result
    for name in names:
        index, problem = perf_format.read_json(os.path.join(folder, name, "index.json"))
        if index is None:
            result.append({"name": name, "problem": "index.json %s" % problem})
            continue
        if window is not None and index.get("time") is not None and index["time"] not in window:
            continue
        result.append({"name": name, "time": index.get("time"), "trigger": index.get("trigger"),
                       "detail": index.get("detail"), "pre_window": index.get("pre_window"),
                       "files": sorted((index.get("files") or {}).keys()),
                       "path": os.path.join(folder, name)})
    return result


def _events(records):
    kept = []
    for record in records:
        kind = record.get("event")
        if kind in ("trigger", "clock_step", "missed", "start", "stop", "resume", "warning", "error",
                    "suppressed"):
            entry = {"t": record.get("t"), "event": kind}
            for key in ("trigger", "detail", "value", "snapshot", "pre_samples", "step", "count", "reason",
                        "message", "dropped", "pid"):
                if key in record:
                    entry[key] = record[key]
            kept.append(entry)
    return kept[-2000:]


def _kernel(kmsg, boots, manifest, wanted, window, utc):
    """(result, finding) of the kernel-report scan over the recorded kernel messages."""
    note = (manifest or {}).get("kmsg")
    if not wanted:
        return {"evaluated": False, "reason": "switched off"}, None
    try:
        from . import kernelreport
        scan = kernelreport.scan
    except Exception as error:  # the engine is optional: say so, never guess
        reason = "kernel-report engine not available (%s)" % error
        return ({"evaluated": False, "reason": reason},
                Finding.not_evaluated("perfcollect.kernel", "kernel reports in the recorded window", [reason]))
    if not kmsg and note and note.startswith("not recorded"):
        return ({"evaluated": False, "reason": "kernel messages %s" % note},
                Finding.not_evaluated("perfcollect.kernel", "kernel reports in the recorded window",
                                      ["kernel messages (%s)" % note]))
    from .sources import Line
    reports = []
    lines_total = 0
    for boot, lines in kmsg.items():
        lines_total += len(lines)
        try:
            found = scan((Line(text, "recorded kernel messages", number) for number, text in enumerate(lines, 1)),
                         utc=utc, mono_base=boots.get(boot))
        except Exception as error:
            return ({"evaluated": False, "reason": "kernel-report engine failed: %s" % error},
                    Finding.not_evaluated("perfcollect.kernel", "kernel reports in the recorded window",
                                          ["a working kernel-report engine (%s)" % error]))
        reports.extend(r for r in found if r.stamp is None or r.stamp in window)
    reports.sort(key=lambda r: (r.stamp or 0))
    rows = []
    for report in reports:
        rows.append({"kind": report.kind, "title": report.title, "time": report.stamp,
                     "severity": report.severity, "primary": report.primary, "comm": report.comm,
                     "pid": report.pid, "header": report.header})
    result = {"evaluated": True, "lines": lines_total, "reports": rows[:EPISODE_LIMIT]}
    primaries = [r for r in reports if r.primary and not r.noise]
    if not primaries:
        return result, Finding("perfcollect.kernel", OK, "no kernel reports in %d recorded kernel message(s)"
                               % lines_total)
    severity = CRITICAL if any(r.severity == "critical" or r.panicked for r in primaries) else WARNING
    first = primaries[0]
    evidence = [Evidence("recorded kernel messages", None,
                         "%s %s" % (timeparse.format_time(r.stamp, utc), r.title)) for r in primaries[:5]]
    return result, Finding("perfcollect.kernel", severity,
                           "%d kernel report(s) in the window, first %s: %s"
                           % (len(primaries), timeparse.format_time(first.stamp, utc), first.title),
                           detail="found by the oops engine in the kernel messages perfcollect recorded",
                           evidence=evidence, fix="run 'oops' on the box's logs for the full reports")


def _rule_finding(rule, done, names, utc, samples):
    if not rule.seen:
        return None  # the metric is not recorded on this system (no swap, no PSI...)
    if not done:
        return None
    worst = None
    for episode in done:
        if worst is None or _worse(episode["peak"], worst["peak"], rule.op == "<"):
            worst = episode
    instances = sorted(set(e["instance"] for e in done))
    label = ", ".join(names.get(i, i) for i in instances[:6]) if "*" in rule.pattern else None
    title = "%s: %d episode(s)%s, first %s, worst %s at %s" % (
        rule.title, len(done), " on %s" % label if label else "",
        timeparse.format_time(done[0]["start"], utc), _value(worst["peak_metric"], worst["peak"]),
        timeparse.format_time(worst["peak_time"], utc))
    evidence = [Evidence(e["peak_metric"], None, "%s .. %s peak %s" % (
        timeparse.format_time(e["start"], utc), timeparse.format_time(e["last"], utc),
        _value(e["peak_metric"], e["peak"]))) for e in sorted(done, key=lambda e: e["start"])[:5]]
    return Finding("perfcollect." + rule.check, rule.severity, title, detail=rule.meaning, evidence=evidence,
                   fix=rule.fix)


def _leak_finding(suspects, utc):
    if not suspects:
        return None
    top = suspects[0]
    return Finding("perfcollect.leak", WARNING,
                   "%d process(es) grew steadily in memory; most: %s (pid %s) +%s in %s" % (
                       len(suspects), top["comm"], top["pid"], timeparse.format_size(top["growth_kb"] * 1024),
                       timeparse.format_duration(top["last"] - top["first"])),
                   detail="resident memory rose in most samples (leak suspects)",
                   evidence=[Evidence("pid %s" % s["pid"], None, "%s %s -> %s" % (
                       s["comm"], timeparse.format_size(s["first_rss_kb"] * 1024),
                       timeparse.format_size(s["last_rss_kb"] * 1024))) for s in suspects[:5]],
                   fix="watch them with 'procstat -p --sort mem'; restart or fix the leak")


def _value(name, value):
    unit = metrics_module.unit(name)
    if value is None:
        return "-"
    if unit == "KiB/s":
        return "%s/s" % timeparse.format_size(value * 1024)
    if unit == "KiB":
        return timeparse.format_size(value * 1024)
    if unit == "%":
        return "%.1f%%" % value
    if unit == "ms":
        return "%.1f ms" % value
    if unit in ("1/s", "packets/s", "pages/s"):
        return "%.1f/s" % value
    return ("%d" % value) if float(value) == int(value) else ("%.2f" % value)


def timeline(result, limit=400):
    """One time-ordered list of what happened: episodes, triggers, kernel reports, gaps, clock steps."""
    rows = []
    for check, episodes in result["episodes"].items():
        for e in episodes:
            where = (" " + e.get("name", e["instance"])) if e["instance"] != e["metric"] else ""
            rows.append({"t": e["start"], "what": "episode", "check": check, "until": e["last"],
                         "text": "%s%s for %s, peak %s" % (_check_title(check), where,
                                                          timeparse.format_duration(e["duration"]),
                                                          _value(e["peak_metric"], e["peak"]))})
    for event in result["events"]:
        kind = event["event"]
        if kind == "trigger":
            text = "trigger %s: %s (snapshot %s, %s pre-trigger samples)" % (
                event.get("trigger"), event.get("detail"), event.get("snapshot"), event.get("pre_samples"))
        elif kind == "clock_step":
            text = "wall clock stepped by %+.1f s" % (event.get("step") or 0)
        elif kind == "missed":
            text = "%s sample(s) missed (the recorder was not scheduled in time)" % event.get("count")
        elif kind in ("start", "stop"):
            text = "recorder %s%s" % ("started" if kind == "start" else "stopped",
                                      " (%s)" % event["reason"] if event.get("reason") else "")
        elif kind == "resume":
            text = "writing resumed after a pause (free space back above the floor)"
        elif kind == "suppressed":
            text = event.get("message") or "trigger tripped during the cool-down"
        else:
            text = "%s: %s" % (kind, event.get("message"))
        rows.append({"t": event.get("t"), "what": kind, "text": text})
    for report in result["kernel"].get("reports", []) if result.get("kernel") else []:
        if report.get("primary"):
            rows.append({"t": report.get("time"), "what": "kernel", "text": "kernel: %s" % report.get("title")})
    for gap in result["gaps"]:
        rows.append({"t": gap["from"], "what": "gap", "until": gap["to"],
                     "text": "no samples for %s%s" % (timeparse.format_duration(gap["seconds"]),
                                                      " (%s)" % gap["reason"] if gap.get("reason") else "")})
    rows = [r for r in rows if r.get("t") is not None]
    rows.sort(key=lambda r: r["t"])
    return _coalesce_missed(rows)[:limit]


def _coalesce_missed(rows):
    """Runs of 'missed' events within a minute of each other become one line."""
    out = []
    run = None
    for row in rows:
        if row["what"] == "missed":
            count = int(row["text"].split()[0]) if row["text"].split()[0].isdigit() else 0
            if run is not None and row["t"] - run["last"] <= 60.0:
                run["count"] += count
                run["last"] = row["t"]
                continue
            run = {"t": row["t"], "what": "missed", "count": count, "last": row["t"]}
            out.append(run)
            continue
        out.append(row)
    for row in out:
        if row["what"] == "missed" and "count" in row:
            count = row.pop("count")
            last = row.pop("last")
            row["until"] = last
            row["text"] = "%d sample(s) missed%s (the recorder was not scheduled in time: CPU saturated " \
                          "or the box stalled)" % (count, " over %s" % timeparse.format_duration(last - row["t"])
                                                   if last > row["t"] else "")
    return out


def _check_title(check):
    for row in RULES:
        if row[0] == check:
            return row[1]
    return check


# ================================================================ text

def render_text(result, utc=False, colour=False, verbose=False, width=80):
    from . import output
    lines = []
    info = result["recording"]
    t = lambda stamp: timeparse.format_time(stamp, utc)  # noqa: E731
    lines.append("recording %s" % result.get("directory_as_given", result["directory"]))
    head = "host %s, %d sample(s) every %ss" % (info.get("host") or "?", result["samples"],
                                                 _num(result["interval"]))
    if result["hires_samples"]:
        head += ", %d high-resolution" % result["hires_samples"]
    lines.append(head)
    if result["first"] is not None:
        lines.append("from %s to %s (%s)" % (t(result["first"]), t(result["last"]),
                                             timeparse.format_duration(result["last"] - result["first"])))
    window = result["window"]
    if window["since"] is not None or window["until"] is not None:
        lines.append("window %s .. %s" % (t(window["since"]) if window["since"] else "start",
                                          t(window["until"]) if window["until"] else "end"))
    for problem in result["read_problems"]:
        lines.append("note: %s" % problem)
    lines.append("")
    found = [findings_module.Finding(**_finding_args(f)) for f in result["findings"]]
    if found:
        lines.append(findings_module.render_text(found, colour, verbose).rstrip("\n"))
    else:
        lines.append("nothing above the thresholds in this window")
    lines.append("")
    if result["headline"]:
        lines.append("SUMMARY")
        rows = [(key, _value(key, s["mean"]), _value(key, s["p95"]), _value(key, s["max"]))
                for key, s in result["headline"].items()]
        lines.append(output.table(rows, ("metric", "mean", "p95", "max"), align="lrrr", width=width).rstrip("\n"))
        lines.append("")
    for check, episodes in result["episodes"].items():
        if not episodes:
            continue
        total = result["episodes_total"].get(check, len(episodes))
        lines.append("%s (%d episode%s)" % (_check_title(check).upper(), total, "" if total == 1 else "s"))
        shown = episodes if verbose else sorted(episodes, key=lambda e: -abs(e["peak"]))[:5]
        shown = sorted(shown, key=lambda e: e["start"])
        rows = [(t(e["start"]), timeparse.format_duration(e["duration"]),
                 e.get("name", e["instance"]) if e["instance"] != e["metric"] else "",
                 _value(e["peak_metric"], e["peak"]), t(e["peak_time"])[11:19]) for e in shown]
        lines.append(output.table(rows, ("start", "lasted", "where", "peak", "at"), align="lrlrl",
                                  width=width, flexible=2).rstrip("\n"))
        if len(shown) < total:
            lines.append("(%d more; --json or -v lists them)" % (total - len(shown)))
        lines.append("")
    if result["leak_suspects"]:
        lines.append("LEAK SUSPECTS (resident memory growing steadily)")
        rows = [(s["pid"], s["comm"], timeparse.format_size(s["first_rss_kb"] * 1024),
                 timeparse.format_size(s["last_rss_kb"] * 1024),
                 "%s/h" % timeparse.format_size(s["rate_kb_per_hour"] * 1024),
                 timeparse.format_duration(s["last"] - s["first"])) for s in result["leak_suspects"]]
        lines.append(output.table(rows, ("pid", "command", "first", "last", "rate", "over"), align="rlrrrr",
                                  width=width, flexible=1).rstrip("\n"))
        lines.append("")
    if result["dstate_wchans"]:
        lines.append("D-STATE (where blocked tasks waited)")
        rows = [(d["comm"], d["wchan"], d["samples"]) for d in result["dstate_wchans"]]
        lines.append(output.table(rows, ("command", "wchan", "samples"), align="llr", width=width).rstrip("\n"))
        lines.append("")
    kernel = result.get("kernel") or {}
    if kernel.get("evaluated") and kernel.get("reports"):
        lines.append("KERNEL REPORTS (from the recorded kernel messages)")
        for report in kernel["reports"][:20]:
            lines.append("  %s  %s" % (t(report["time"]), report["title"]))
        lines.append("")
    elif not kernel.get("evaluated") and kernel.get("reason"):
        lines.append("kernel reports: not evaluated (%s)" % kernel["reason"])
        lines.append("")
    if result["snapshots"]:
        lines.append("SNAPSHOTS")
        for snap in result["snapshots"]:
            pre = snap.get("pre_window") or {}
            lines.append("  %s  %s" % (t(snap.get("time")), snap.get("trigger") or snap.get("problem")))
            lines.append("      %s" % (snap.get("detail") or ""))
            lines.append("      %s (%s pre-trigger samples)" % (snap.get("path") or snap["name"],
                                                                 pre.get("samples", "?")))
        lines.append("")
    if result.get("baseline"):
        base = result["baseline"]
        lines.append("AGAINST THE BASELINE %s .. %s (%d samples)" % (t(base["since"]), t(base["until"]),
                                                                   base["samples"]))
        if base["changes"]:
            rows = [(c["metric"], _value(c["metric"], c["baseline"]["p95"]), _value(c["metric"], c["window"]["p95"]),
                     c["direction"]) for c in base["changes"][:15]]
            lines.append(output.table(rows, ("metric", "baseline p95", "window p95", ""), align="lrrl",
                                      width=width, flexible=0).rstrip("\n"))
        else:
            lines.append("no metric differs beyond noise")
        lines.append("")
    if result["timeline"]:
        lines.append("TIMELINE")
        shown = result["timeline"] if verbose else result["timeline"][:40]
        for row in shown:
            lines.append("  %s  %s" % (t(row["t"]), row["text"]))
        if len(shown) < len(result["timeline"]):
            lines.append("  (%d more; -v shows all)" % (len(result["timeline"]) - len(shown)))
        lines.append("")
    return fit_text("\n".join(lines).rstrip("\n"), width) + "\n"


def fit_text(text, width=80):
    """Wrap lines longer than ``width`` at spaces, continuing under their own indentation."""
    import textwrap
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        if line.startswith("["):
            indent = 7          # a finding's title: under its text, past the tag
        elif line.startswith("  20") or line.startswith("  19"):
            indent = line.find("  ", 2)   # a timeline line: under the text after the time
            indent = indent + 2 if 0 < indent < 40 else 4
        hang = " " * min(indent + (2 if indent < 7 else 0), 40)
        out.extend(textwrap.wrap(line, width, subsequent_indent=hang, break_long_words=True,
                                 break_on_hyphens=False) or [line])
    return "\n".join(out)


def _finding_args(data):
    return {"check": data["check"], "severity": data["severity"], "title": data["title"],
            "detail": data.get("detail") or "", "fix": data.get("fix") or "",
            "evidence": [Evidence(e.get("origin"), e.get("line"), e.get("excerpt")) for e in data.get("evidence", [])],
            "missing": data.get("missing") or ()}


def _num(value):
    return ("%d" % value) if value == int(value) else ("%g" % value)
