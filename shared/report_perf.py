"""perfcollect recordings as ``report`` inputs (the reader behind report_engine.PERFCOLLECT_HOOK).

A recording is recognised by its content: a ``manifest.json`` whose
``format`` is ``perfcollect`` (shared.perf_format), at the top of the source
or one folder down (a tarball of the recording folder).  A folder is read
where it is; from an archive the recording's members (manifest, inventory,
segments, snapshot files) are copied into a private temp folder
(report_binary.PrivateDir, removed afterwards) because the analysis reads a
folder.  Then:

* ``perf_analyze.analyze`` gives the findings (``perfcollect.*``, the shared
  findings model), episodes, triggers, snapshots and kernel reports;
* the segments are read once more with ``perf_format.SegmentReader`` for the
  chart series (normal and high-resolution samples) (the key metrics of shared.metrics: CPU, memory, swap, load,
  pressure, disk util/await, network), bounded in memory (``Series``);
* the newest inventory document gives a summary (host, OS, kernel, CPUs,
  memory, disks, interfaces, tools).

``read(source, utc)`` -> ``PerfData`` or None when the source holds no
recording.
"""

import json
import os
import posixpath
import re

from . import perf_analyze, perf_format, timeparse
from . import report_binary
from .textio import Unreadable

MAX_COPY = 512 * 1024 * 1024     # bytes of a recording copied out of an archive
SNAPSHOT_FILE_CAP = 4 * 1024 * 1024
POINTS = 4000                    # points kept per series before halving (peaks kept)
SNAPSHOT_SHOWN = ("top.txt", "loadavg.txt", "dstate.txt", "pressure.txt")

# Series the charts use (report_engine._CHARTS / _charts patterns).
_WANTED = re.compile(r"^(cpu\.(busy|iowait|steal)_pct|mem\.available_pct|swap\.used_pct|load1|"
                     r"psi\.(cpu|io|memory)\.some_avg10|disk\.[^ ]+\.(util_pct|await_ms)|"
                     r"net\.[^ ]+\.(rx|tx)_kbps)$")


class PerfData(object):
    def __init__(self):
        self.series = {}
        self.triggers = []        # [(epoch, title)] for the timeline
        self.findings = []        # shared.findings.Finding
        self.items = []           # report section items
        self.warnings = []
        self.manifest = {}
        self.inventory = None
        self.analysis = None
        self.prefix = ""

    def facts(self):
        """Facts a report shows at the top, from the inventory and manifest."""
        inv = self.inventory or {}
        kernel = inv.get("kernel") or {}
        cpu = inv.get("cpu") or {}
        memory = inv.get("memory") or {}
        return {"hostname": inv.get("host") or self.manifest.get("host"),
                "os": (inv.get("os") or {}).get("pretty_name"),
                "kernel": kernel.get("release"), "cmdline": kernel.get("cmdline"),
                "cpus": cpu.get("logical_cpus"),
                "memory_kib": memory.get("MemTotal_kb")}


class Series(object):
    """Points of one metric; past POINTS, neighbours are merged keeping the peak."""

    def __init__(self):
        self.points = []
        self.step = 1
        self._pending = None
        self._count = 0

    def add(self, stamp, value):
        if self.step > 1:
            if self._pending is None or value > self._pending[1]:
                self._pending = (stamp, value) if self._pending is None else (self._pending[0], value)
            self._count += 1
            if self._count < self.step:
                return
            stamp, value = self._pending
            self._pending, self._count = None, 0
        self.points.append((stamp, value))
        if len(self.points) >= POINTS:
            merged = []
            for index in range(0, len(self.points) - 1, 2):
                a, b = self.points[index], self.points[index + 1]
                merged.append((a[0], max(a[1], b[1])))
            self.points = merged
            self.step *= 2

    def finish(self):
        if self._pending is not None:
            self.points.append(self._pending)
            self._pending = None
        return self.points


def find(source):
    """The folder (root-relative, '' for the top) holding a perfcollect manifest, or None."""
    candidates = [""] + [name for name in source.listdir("") if source.isdir(name)][:50]
    for prefix in candidates:
        path = posixpath.join(prefix, perf_format.MANIFEST) if prefix else perf_format.MANIFEST
        if not source.exists(path) or source.isdir(path):
            continue
        size = source.size(path)
        if size is not None and size > 16 * 1024 * 1024:
            continue
        text = source.read_text(path, warn=False)
        try:
            manifest = json.loads(text or "")
        except ValueError:
            continue
        if isinstance(manifest, dict) and manifest.get("format") == perf_format.FORMAT:
            return prefix
    return None


def _members(source, prefix):
    """(path, size) of the recording's members, segments newest first, then the rest."""
    def join(name):
        return posixpath.join(prefix, name) if prefix else name
    segments, others = [], []
    for name in source.listdir(prefix):
        path = join(name)
        if perf_format.segment_number(name) is not None:
            segments.append((perf_format.segment_number(name), path))
        elif name == perf_format.MANIFEST or perf_format.INVENTORY_RE.match(name):
            others.append(path)
    snaps = join(perf_format.SNAPSHOTS)
    for name in source.listdir(snaps)[-200:]:
        folder = posixpath.join(snaps, name)
        for leaf in source.listdir(folder):
            others.append(posixpath.join(folder, leaf))
    segments.sort(reverse=True)
    return [p for _, p in segments], others


def _materialise(source, prefix, data):
    """(host folder, PrivateDir or None): the recording on disk."""
    tree = source.tree
    if hasattr(tree, "real") and hasattr(tree, "top"):
        real = tree.real(prefix)
        if real and os.path.isdir(real):
            return real, None
    scratch = report_binary.PrivateDir("perfcollect")
    if scratch.path is None:
        data.warnings.append("perfcollect recording not evaluated: %s" % scratch.problem)
        return None, None
    segments, others = _members(source, prefix)
    budget = MAX_COPY
    skipped = []
    for path in others + segments:
        rest = path[len(prefix) + 1:] if prefix else path
        target = os.path.join(scratch.path, *rest.split("/"))
        size = source.size(path) or 0
        is_segment = perf_format.segment_number(posixpath.basename(path)) is not None
        if is_segment and size > budget:
            skipped.append(posixpath.basename(path))
            continue
        try:
            if not os.path.isdir(os.path.dirname(target)):
                os.makedirs(os.path.dirname(target), 0o700)
            budget -= report_binary.copy_member(source, path, target,
                                                cap=None if is_segment else SNAPSHOT_FILE_CAP)
        except (Unreadable, OSError) as error:
            data.warnings.append("perfcollect: %s unreadable (%s)" % (path, error))
    if skipped:
        data.warnings.append("perfcollect: %d older segment(s) left out (over %s read from an archive; "
                             "unpack it and pass the folder to read all)"
                             % (len(skipped), timeparse.format_size(MAX_COPY)))
    return scratch.path, scratch


def read_series(directory):
    """{metric: [(epoch, value)]} of the key metrics, every sample (the high-resolution
    ones around triggers included: they show what the trigger saw)."""
    found = {}
    for _, path in perf_format.list_segments(directory):
        for record in perf_format.SegmentReader(path):
            if record.get("type") != "sample":
                continue
            stamp = record.get("t")
            metrics = record.get("m")
            if not isinstance(stamp, (int, float)) or not isinstance(metrics, dict):
                continue
            for name, value in metrics.items():
                if isinstance(value, (int, float)) and _WANTED.match(name):
                    found.setdefault(name, Series()).add(stamp, value)
    return dict((name, sorted(series.finish())) for name, series in found.items())


def _inventory(directory, manifest):
    names = sorted(n for n in os.listdir(directory) if perf_format.INVENTORY_RE.match(n))
    wanted = manifest.get("inventory")
    name = wanted if wanted in names else (names[-1] if names else None)
    if name is None:
        return None, None
    document, problem = perf_format.read_json(os.path.join(directory, name))
    return document, (name if document else "%s: %s" % (name, problem))


def _inventory_rows(inv):
    rows = []
    kernel = inv.get("kernel") or {}
    cpu = inv.get("cpu") or {}
    memory = inv.get("memory") or {}
    rows.append(("host", inv.get("host")))
    rows.append(("collected", timeparse.iso_utc(inv["collected"]) if isinstance(inv.get("collected"), (int, float))
                 else None))
    rows.append(("OS", (inv.get("os") or {}).get("pretty_name")))
    rows.append(("kernel", "%s (%s)" % (kernel.get("release"), kernel.get("machine")) if kernel.get("release")
                 else None))
    if cpu.get("logical_cpus"):
        rows.append(("CPUs", "%s x %s (%s socket(s), %s core(s)%s)" % (
            cpu.get("logical_cpus"), cpu.get("model") or "?", cpu.get("sockets"), cpu.get("cores"),
            ", virtual" if cpu.get("hypervisor") else "")))
    if memory.get("MemTotal_kb"):
        rows.append(("memory", "%s, swap %s" % (timeparse.format_size(memory["MemTotal_kb"] * 1024),
                                               timeparse.format_size((memory.get("SwapTotal_kb") or 0) * 1024))))
    disks = [d for d in inv.get("block_devices") or [] if isinstance(d, dict) and not d.get("partition")
             and d.get("kind") not in ("loop", "ram", "zram")]
    if disks:
        rows.append(("disks", ", ".join("%s %s" % (d.get("name") or d.get("dev"),
                                                  timeparse.format_size(d["size_bytes"]) if d.get("size_bytes")
                                                  else "") for d in disks[:8])))
    nics = [n for n in inv.get("interfaces") or [] if isinstance(n, dict) and n.get("if") != "lo"]
    if nics:
        rows.append(("interfaces", ", ".join("%s %s" % (n["if"], n.get("operstate") or "?") for n in nics[:8])))
    mounts = [m for m in inv.get("mounts") or [] if isinstance(m, dict)]
    if mounts:
        rows.append(("filesystems", "%d mounted (%s)" % (len(mounts), ", ".join(
            sorted(set(m.get("fstype") or "?" for m in mounts)))[:60])))
    tools = inv.get("tools") or {}
    if tools:
        rows.append(("tools present", " ".join(sorted(k for k, v in tools.items() if v != "not available"))
                     or "none"))
    return rows


def _snapshot_items(directory, analysis, utc):
    items = []
    snaps = analysis.get("snapshots") or []
    fired = [e for e in analysis.get("events") or [] if e.get("event") == "trigger"]
    if fired:
        items.append({"type": "table", "title": "triggers fired (%d)" % len(fired),
                      "headers": ["time", "trigger", "detail", "snapshot"],
                      "rows": [[timeparse.format_time(e["t"], utc) if e.get("t") else "-", e.get("trigger") or "-",
                                e.get("detail") or "-", e.get("snapshot") or "-"] for e in fired[-50:]]})
    for snap in snaps[-10:]:
        if snap.get("problem"):
            items.append({"type": "kv", "rows": [["snapshot %s" % snap["name"], snap["problem"]]]})
            continue
        items.append({"type": "kv", "rows": [
            ["snapshot", "%s (%s) %s" % (snap["name"], timeparse.format_time(snap["time"], utc)
                                         if snap.get("time") else "-", snap.get("trigger") or "")],
            ["files", ", ".join(snap.get("files") or []) or "-"]]})
        for leaf in SNAPSHOT_SHOWN:
            path = os.path.join(directory, perf_format.SNAPSHOTS, snap["name"], leaf)
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    lines = [handle.readline() for _ in range(16)]
            except OSError:
                continue
            lines = [l.rstrip("\n") for l in lines if l]
            if lines:
                items.append({"type": "pre", "title": "%s/%s" % (snap["name"], leaf),
                              "origin": "%s/%s/%s" % (perf_format.SNAPSHOTS, snap["name"], leaf),
                              "lines": [[n + 1, t[:300]] for n, t in enumerate(lines[:15])]})
                break
    return items


def read(source, utc=False):
    """The PerfData of a source holding a perfcollect recording, or None."""
    prefix = find(source)
    if prefix is None:
        return None
    data = PerfData()
    data.prefix = prefix
    directory, scratch = _materialise(source, prefix, data)
    if directory is None:
        return data
    try:
        _read_directory(directory, data, utc, prefix or os.path.basename(source.label.rstrip("/")))
    finally:
        if scratch is not None:
            scratch.close()
    return data


def _read_directory(directory, data, utc, name):
    manifest, problem = perf_format.read_manifest(directory)
    data.manifest = manifest or {}
    analysis, warnings, found = perf_analyze.analyze(directory, utc=utc)
    data.analysis = analysis
    data.findings = list(found)
    data.warnings.extend("perfcollect: %s" % w for w in warnings)
    data.warnings.extend("perfcollect: %s" % p for p in analysis.get("read_problems") or [])
    data.series = read_series(directory)
    for row in analysis.get("timeline") or []:
        if row.get("what") in ("episode", "trigger", "kernel", "gap", "clock_step", "start", "stop"):
            data.triggers.append((row["t"], "perfcollect: %s" % row["text"]))
    data.inventory, inventory_name = _inventory(directory, data.manifest)
    info = analysis.get("recording") or {}
    runs = data.manifest.get("runs") or []
    last = runs[-1] if runs else {}
    data.items.append({"type": "kv", "rows": [
        ["recording", "%s (perfcollect %s, format %s)" % (name, info.get("tool_version") or "?",
                                                           info.get("format_version") or "?")],
        ["host", data.manifest.get("host") or "-"],
        ["from", timeparse.format_time(analysis["first"], utc) if analysis.get("first") else "-"],
        ["to", timeparse.format_time(analysis["last"], utc) if analysis.get("last") else "-"],
        ["samples", "%d every %gs (+%d high-resolution)" % (analysis.get("samples") or 0,
                                                            analysis.get("interval") or 0,
                                                            analysis.get("hires_samples") or 0)],
        ["segments", "%s, %s" % (info.get("segments"), timeparse.format_size(info.get("bytes") or 0))],
        ["runs", "%d; last ended: %s" % (len(runs), last.get("end_reason") or data.manifest.get("state") or "-")],
        ["verdict", analysis.get("verdict")],
    ]})
    headline = analysis.get("headline") or {}
    if headline:
        data.items.append({"type": "table", "title": "headline metrics (perfcollect analyze)",
                           "headers": ["metric", "min", "mean", "max"],
                           "rows": [[name, _num(s.get("min")), _num(s.get("mean")), _num(s.get("max"))]
                                    for name, s in sorted(headline.items())]})
    data.items.extend(_snapshot_items(directory, analysis, utc))
    if data.inventory:
        data.items.append({"type": "table", "title": "inventory (%s)" % inventory_name, "headers": ["item", "value"],
                           "rows": [[k, v if v is not None else "-"] for k, v in _inventory_rows(data.inventory)]})
    elif inventory_name:
        data.warnings.append("perfcollect: inventory %s" % inventory_name)


def _num(value):
    if value is None:
        return "-"
    return "%g" % round(value, 2)
