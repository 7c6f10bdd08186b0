#!/usr/bin/env python3
"""triage - is this box CPU-, memory-, I/O- or network-bound? The verdict, with evidence.

USAGE: triage [--duration 10s] [--interval 1s] [--json] [--fail-on bound]
       triage --root DIR          judge a captured /proc + /sys tree (one snapshot)

Samples /proc and /sys for the duration (what vmstat, mpstat, pidstat,
iostat and sar -n DEV would show; the tc qdisc statistics on the live
system), then says which resource binds the system -- CPU (user or
kernel, steal, cgroup quota), memory (pressure, swapping, reclaim, page
cache thrashing, a cgroup at its limit), I/O (pressure, iowait with
blocked tasks, saturated devices) or network (a full link, a shaped rate,
one htb/hfsc class at its ceil, drops, retransmits) -- or that it is not
resource-bound.  Each verdict
item carries the rule that fired and the numbers that decided it, and
names the processes, devices, interfaces or cgroups responsible.  Beside
the verdict: D-state tasks and what they wait in, filesystems full,
read-only or out of inodes, and the kernel reports and boots hooks.

Works without root (says what it could not see), on kernels without PSI,
and in containers (judges against the cgroup's CPU quota and memory
limit).  Overhead: one pass over /proc/<pid>/{stat,status,io} per
interval (about the cost of pidstat -u -d -w) and one `tc -s qdisc` run
per interval (plus `tc -s class show dev X` per htb/hfsc-shaped interface);
nice 10, idle I/O class.
"""

import os
import sys
import textwrap
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, findings, output, runner, sampler_fs, samplers, sources, timeparse, verdict  # noqa: E402
from shared import procfs as procfs_module  # noqa: E402

TOOL = "triage"
SUMMARY = "is this box CPU-, memory-, I/O- or network-bound? The verdict, with evidence"
FAIL_ON = ("bound", "cpu", "memory", "io", "network", "health")

EXAMPLES = """\
  triage                          sample 10 s, print the verdict and its evidence
  triage --duration 30s -v        a longer look; show every rule's numbers and fix
  triage --json | jq .result.verdict
  triage --fail-on bound          exit 1 when CPU, memory, I/O or network binds
  triage --root /mnt/capture      judge a captured /proc and /sys tree
"""


def build_parser():
    parser = cli.make_parser(TOOL, SUMMARY, EXAMPLES, common=("root", "json", "utc", "verbose", "debug",
                                                              "version"), fail_on=FAIL_ON)
    parser.add_argument("--duration", metavar="TIME", type=cli.duration_type, default=10.0,
                        help="how long to sample (default 10s)")
    parser.add_argument("--interval", metavar="TIME", type=cli.duration_type, default=1.0,
                        help="time between samples (default 1s)")
    parser.add_argument("--top", metavar="N", type=cli.positive_int, default=5,
                        help="processes, devices and interfaces to list per resource (default 5)")
    return parser


# ---------------------------------------------------------------- other engines

def _open_source(root):
    try:
        return sources.open_source(root)
    except sources.SourceError as error:
        return error


def kernel_reports(source, utc=False, seconds=3600):
    """Kernel reports (oops engine) of the last hour, or why they could not be read."""
    try:
        from shared import kernelreport
    except ImportError:
        return {"available": False, "reason": "the oops engine (shared/kernelreport.py) is not in this build"}
    if isinstance(source, Exception):
        return {"available": False, "reason": str(source)}
    try:
        since = time.time() - seconds if source.live else None
        reports = kernelreport.scan_source(source, since=since, utc=utc, runner_fn=runner.run)
        primaries = kernelreport.primaries(reports)
    except Exception as error:  # another engine's failure must not sink the verdict
        return {"available": False, "reason": "the oops engine failed: %s: %s" % (type(error).__name__, error)}
    rows = []
    for report in primaries:
        data = report.to_dict()
        rows.append({"kind": data.get("kind"), "title": data.get("title"), "severity": data.get("severity"),
                     "time": (data.get("time") or {}).get("iso"), "origin": data.get("origin"),
                     "line": data.get("line")})
    return {"available": True, "window": "last hour" if source.live else "all logs in the source",
            "reports": rows}


def boot_history(source, utc=False, count=3):
    """The last boots and how they ended (bootlog engine), or why not."""
    try:
        from shared import boottimeline
    except ImportError:
        return {"available": False, "reason": "the bootlog engine (shared/boottimeline.py) is not in this build"}
    if isinstance(source, Exception):
        return {"available": False, "reason": str(source)}
    try:
        line = boottimeline.timeline(source, utc=utc, runner_fn=runner.run, last=count)
        boots = [b.to_dict(utc) for b in line.boots[-count:]]
    except Exception as error:
        return {"available": False, "reason": "the bootlog engine failed: %s: %s" % (type(error).__name__, error)}
    rows = []
    for boot in boots:
        cause = boot.get("cause") or {}
        rows.append({"number": boot.get("number"), "start": boot.get("start"), "end": boot.get("end"),
                     "ending": boot.get("ending"), "how": boot.get("how"), "kernel": boot.get("kernel"),
                     "cause": cause.get("title"), "problems": len(boot.get("problems") or [])})
    return {"available": True, "boots": rows}


# ---------------------------------------------------------------- what could not be seen

def blind_spots(result, pfs, live, qdisc_ok):
    notes = []
    if result.get("psi") is False:
        notes.append("pressure stall information (/proc/pressure: kernel older than 4.20 or psi=0); "
                     "judged from iowait, run queue and reclaim instead")
    if live and os.geteuid() != 0:
        notes.append("other users' per-process I/O and D-state stacks (not root)")
    if live and not qdisc_ok:
        notes.append("qdisc statistics (tc missing or failed): shaped links judged by throughput only")
    if pfs.denied:
        notes.append("%d file(s) refused (permission)" % len(pfs.denied))
    return notes


# ---------------------------------------------------------------- text output

def _f(value, fmt="%.1f"):
    return "-" if value is None else fmt % value


def _kb(value):
    """KiB as a short binary size; plain byte counts get a B (491B, 1.5K, 23G)."""
    if value is None:
        return "-"
    text = timeparse.format_size(value * 1024)
    return text + "B" if text[-1:].isdigit() else text


def _kbit(value):
    """kbit/s as tc writes rates: 800Kbit, 20Mbit, 1Gbit."""
    if value is None:
        return "-"
    for unit, size in (("Gbit", 1e6), ("Mbit", 1e3)):
        if value >= size:
            return "%g%s" % (round(value / size, 2), unit)
    return "%gKbit" % round(value, 2)


def render(result, args, colour):
    out = []
    add = out.append
    window = result["window"]
    if result["snapshot"]:
        add("triage: %s, captured %s" % (window["source"], timeparse.format_time(window["end"], args.utc)))
        for line in textwrap.wrap("(%s; process rates are averages over each process's life)"
                                  % verdict.SNAPSHOT_NOTE, 78):
            add("  " + line)
    else:
        add("triage: %s to %s, %d samples of %s" % (
            timeparse.format_time(window["start"], args.utc), timeparse.format_time(window["end"], args.utc,
                                                                                    zone=True)[11:],
            result["samples"], timeparse.format_duration(window["interval"])))
    add("")
    tag = {"cpu": "red", "memory": "red", "io": "red", "network": "red"}
    headline = result["headline"]
    add("VERDICT: " + output.colour(headline, tag.get(result["primary"], "green") if result["primary"]
                                    else "green", colour))
    add("")
    levels = {"bound": ("BOUND", "red"), "warning": ("WARN ", "yellow"), "info": ("INFO ", "blue")}
    shown = [i for i in result["items"] if args.verbose or i["level"] != "info"]
    for item in shown:
        label, name = levels[item["level"]]
        lines = textwrap.wrap(item["title"], 70) or [""]
        add("  [%s] %s" % (output.colour(label, name, colour), lines[0]))
        for line in lines[1:]:
            add(" " * 10 + line)
        if item.get("note"):
            _wrapped(add, "note: " + item["note"])
        _wrapped(add, "rule: %s" % item["rule_text"])
        _wrapped(add, "numbers: " + " ".join("%s=%s" % (k, v) for k, v in sorted(item["numbers"].items())))
        for line in _responsible_lines(item.get("responsible", {})):
            _wrapped(add, line)
        if item.get("classes_at_ceil"):
            _wrapped(add, "classes at their ceil too (the link is the bottleneck): " + ", ".join(
                "%s %s%% of %s" % (c["class"], _f(c.get("util_pct"), "%.0f"), _kbit(c.get("ceil_kbit")))
                for c in item["classes_at_ceil"]))
        if args.verbose and item.get("fix"):
            _wrapped(add, "fix: " + item["fix"])
    if not shown:
        add("  no rule fired: CPU, memory, I/O and network are within bounds")
    add("")
    m = result["metrics"]
    add("CPU      usr %s  sys %s  iowait %s  steal %s  idle %s   runq %s / %s CPU" % (
        _f(m.get("cpu.user_pct")), _f(m.get("cpu.system_pct")), _f(m.get("cpu.iowait_pct")),
        _f(m.get("cpu.steal_pct")), _f(m.get("cpu.idle_pct")), _f(m.get("procs.running")),
        _f(m.get("cpu.capacity"), "%g")))
    add("MEMORY   available %s (%s%%)  swap in/out %s/%s KiB/s  refault %s/s" % (
        _kb(m.get("mem.available_kb")), _f(m.get("mem.available_pct"), "%.0f"), _f(m.get("swap.in_kbps"), "%.0f"),
        _f(m.get("swap.out_kbps"), "%.0f"), _f(m.get("page.refault_ps"), "%.0f")))
    if result.get("psi"):
        add("PRESSURE cpu %s%%  memory %s%% (full %s%%)  io %s%% (full %s%%) of the time" % (
            _f(m.get("psi.cpu.some_pct")), _f(m.get("psi.memory.some_pct")), _f(m.get("psi.memory.full_pct")),
            _f(m.get("psi.io.some_pct")), _f(m.get("psi.io.full_pct"))))
    cg = result.get("cgroup") or {}
    limits = []
    if (cg.get("cpu") or {}).get("quota_cpus"):
        limits.append("CPU quota %g" % cg["cpu"]["quota_cpus"])
    if (cg.get("memory") or {}).get("limit_kb"):
        limits.append("memory limit %s (%s%% used)" % (_kb(cg["memory"]["limit_kb"]),
                                                        _f(cg["memory"].get("usage_pct"), "%.0f")))
    if limits:
        add("CGROUP   " + ", ".join(limits) + " -- judged against these")
    top = result["top"]
    if top["disks"]:
        add("DISKS    " + "  ".join("%s %s%% %sms" % (d["name"], _f(d.get("util_pct"), "%.0f"),
                                                      _f(d.get("await_ms"))) for d in top["disks"][:4]))
    if top["interfaces"]:
        add("NETWORK  " + "  ".join("%s rx %s tx %s KiB/s" % (i["if"], _f(i.get("rx_kbps"), "%.0f"),
                                                              _f(i.get("tx_kbps"), "%.0f"))
                                    for i in top["interfaces"][:3]))
    leaves = [c for c in top.get("classes") or [] if c.get("leaf") and c.get("util_pct") is not None]
    if leaves:
        add(("SHAPING  " + "  ".join("%s %s %s%% of %s" % (c["dev"], c["classid"], _f(c["util_pct"], "%.0f"),
                                                         _kbit(c.get("ceil_kbit") or c.get("rate_kbit")))
                                     for c in leaves[:3]))[:80])
    add("")
    if top["cpu"]:
        add("TOP CPU")
        rows = [(p["pid"], p.get("user"), _f(p.get("cpu_pct")), _f(p.get("usr_pct")), _f(p.get("sys_pct")),
                 p.get("cmdline") or p["comm"]) for p in top["cpu"]]
        add(output.table(rows, ["PID", "USER", "%CPU", "%USR", "%SYS", "COMMAND"], "rlrrrl", flexible=5)
            .rstrip("\n"))
        add("")
    if top["memory"]:
        add("TOP MEMORY")
        rows = [(p["pid"], p.get("user"), _kb(p.get("rss_kb")), _f(p.get("mem_pct")), _f(p.get("majflt_ps")),
                 p.get("cmdline") or p["comm"]) for p in top["memory"]]
        add(output.table(rows, ["PID", "USER", "RSS", "%MEM", "MAJFL/S", "COMMAND"], "rlrrrl", flexible=5)
            .rstrip("\n"))
        add("")
    if top["io"]:
        add("TOP I/O")
        rows = [(p["pid"], p.get("user"), _f(p.get("read_kbps"), "%.0f"), _f(p.get("write_kbps"), "%.0f"),
                 _f(p.get("iodelay_ms_ps"), "%.0f"), p.get("cmdline") or p["comm"]) for p in top["io"]]
        add(output.table(rows, ["PID", "USER", "RD_KB/S", "WR_KB/S", "DELAY", "COMMAND"], "rlrrrl",
                         flexible=5).rstrip("\n"))
        add("")
    if top.get("memcg"):
        add("MEMORY CGROUPS")
        rows = [(r["cgroup"], _kb(r.get("usage_kb")), _kb(r.get("limit_kb")), _f(r.get("usage_pct"), "%.0f"),
                 _f(r.get("failcnt_ps"), "%.0f"), _f(r.get("refault_ps"), "%.0f")) for r in top["memcg"]]
        add(output.table(rows, ["CGROUP", "USAGE", "LIMIT", "%", "HITS/S", "REFAULT/S"], "lrrrrr", flexible=0)
            .rstrip("\n"))
        add("")
    if result["dstate"]:
        add("D-STATE TASKS (uninterruptible; seen in n of %d samples)" % result["samples"])
        rows = [(r["pid"], r["comm"], "%d" % r["samples"], r.get("wchan") or "-",
                 " < ".join((r.get("stack") or [])[:3]) or "-") for r in result["dstate"][:10]]
        add(output.table(rows, ["PID", "COMMAND", "n", "WCHAN", "STACK"], "rlrll", flexible=4).rstrip("\n"))
        add("")
    add("HEALTH")
    tags = {"critical": ("CRIT", "red"), "warning": ("WARN", "yellow"), "info": ("INFO", "blue"),
            "ok": (" OK ", "green"), "not evaluated": ("N/A ", "dim")}
    for finding in result["health"]:
        tag, name = tags.get(finding["severity"], ("????", "dim"))
        add("  [%s] %s" % (output.colour(tag, name, colour), finding["title"]))
        if finding.get("detail"):
            _wrapped(add, finding["detail"], indent=9)
        if finding.get("fix") and (args.verbose or finding["severity"] in ("critical", "warning")):
            _wrapped(add, "fix: " + finding["fix"], indent=9)
    add("")
    kernel = result["kernel"]
    if kernel.get("available"):
        reports = kernel.get("reports") or []
        add("KERNEL   %d report(s) in the %s%s" % (len(reports), kernel.get("window"),
                                                  "  (details: oops)" if reports else ""))
        for report in reports[:5]:
            add(("  %s %s: %s" % (report.get("time") or "-", report.get("kind"), report.get("title")))[:80])
    else:
        add("KERNEL   not checked: %s" % kernel.get("reason"))
    boots = result["boots"]
    if boots.get("available"):
        rows = boots.get("boots") or []
        add("BOOTS    %s" % ("last %d boot(s)  (details: bootlog)" % len(rows) if rows else
                             "no boots found in the logs"))
        for boot in rows:
            text = "  boot %s %s: %s" % (boot.get("number"), boot.get("start") or "?",
                                         boot.get("ending") or "running")
            if boot.get("cause"):
                text += " (%s)" % boot["cause"]
            add(text[:80])
    else:
        add("BOOTS    not checked: %s" % boots.get("reason"))
    if result["not_seen"]:
        add("")
        add("NOT SEEN")
        for note in result["not_seen"]:
            add("  - " + note)
    return "\n".join(out) + "\n"


def _wrapped(add, text, indent=10, width=80):
    for line in textwrap.wrap(text, width - indent, subsequent_indent="  ", break_on_hyphens=False) or [""]:
        add(" " * indent + line)


def _responsible_lines(responsible):
    lines = []
    procs = responsible.get("processes") or []
    if responsible.get("cgroup"):
        lines.append("cgroup: %s" % responsible["cgroup"])
    if procs:
        measure = responsible.get("measure")
        parts = []
        for p in procs[:3]:
            if measure == "io_kbps":
                value = (p.get("read_kbps") or 0) + (p.get("write_kbps") or 0)
                extra = " %s/s" % _kb(value)
            elif measure in ("read_kbps", "rss_kb"):
                extra = (" %s/s read" if measure == "read_kbps" else " %s rss") % _kb(p.get(measure))
            elif measure == "majflt_ps":
                extra = " %.0f majflt/s" % (p.get("majflt_ps") or 0)
            elif measure == "cpu_pct":
                extra = " %.0f%% cpu" % (p.get("cpu_pct") or 0)
            else:
                extra = ""
            parts.append("%d %s%s" % (p["pid"], p["comm"], extra))
        lines.append("processes: " + ", ".join(parts))
    if responsible.get("devices"):
        lines.append("devices: " + ", ".join(responsible["devices"]))
    if responsible.get("interfaces"):
        lines.append("interfaces: " + ", ".join(responsible["interfaces"]))
    if responsible.get("class"):
        text = "class: %s" % responsible["class"]
        if responsible.get("ceil_kbit"):
            text += " (%s rate %s ceil %s)" % (responsible.get("kind") or "class",
                                                _kbit(responsible.get("rate_kbit")), _kbit(responsible["ceil_kbit"]))
        parent = responsible.get("parent") or {}
        if parent.get("class"):
            text += ", parent %s" % parent["class"]
            if parent.get("util_pct") is not None:
                text += " at %s%% of its %s ceil" % (_f(parent["util_pct"], "%.0f"), _kbit(parent.get("ceil_kbit")))
        lines.append(text)
    if responsible.get("next"):
        lines.append("next: " + responsible["next"])
    if responsible.get("dstate"):
        lines.append("D-state: " + ", ".join("%d %s (%s)" % (d["pid"], d["comm"], d.get("wchan") or "?")
                                             for d in responsible["dstate"]))
    return lines


# ---------------------------------------------------------------- main

def run(args):
    fail_on = cli.fail_on_values(args, FAIL_ON)
    root = args.root or "/"
    if args.root and not os.path.isdir(args.root):
        raise cli.ToolError("cannot read %s" % args.root, "not a directory",
                            "give the directory holding the captured proc/ and sys/", cli.EXIT_USAGE)
    pfs = procfs_module.ProcFS(root)
    live = os.path.abspath(root) == "/"
    if pfs.read("proc/stat") is None:
        raise cli.ToolError("no /proc/stat under %s" % root, "not a Linux /proc tree",
                            "mount proc, or point --root at a captured tree", cli.EXIT_UNSUPPORTED)
    if args.interval <= 0 or args.duration <= 0:
        raise cli.ToolError("--duration and --interval must be positive", fix="e.g. --duration 10s",
                            code=cli.EXIT_USAGE)
    sampler = samplers.Sampler(root, procfs=pfs, runner=runner.run, qdisc=live)
    progress = output.Progress(TOOL)
    if live:
        interval = min(args.interval, args.duration)

        def report(step, steps, sample):
            progress.update("sampling %d/%d (%.0f s left)" % (step, steps, (steps - step) * interval))
        progress.update("sampling for %s" % timeparse.format_duration(args.duration))
        observation = verdict.observe(sampler, args.duration, interval, progress=report)
        progress.done()
    else:
        observation = verdict.observe_snapshot(sampler)
    result = verdict.assess(observation, pfs, args.top)
    window = observation["window"]
    qdisc_ok = bool(window.get("qdiscs")) or not live
    result["window"] = {"start": window["time"] - (observation["seconds"] or 0), "end": window["time"],
                        "seconds": observation["seconds"], "interval": None if not live else interval,
                        "source": root}
    health = sampler_fs.check(pfs, live=live)
    result["health"] = [f.to_dict() for f in findings.ranked(health)]
    source = _open_source(None if live else root)
    result["kernel"] = kernel_reports(source, args.utc)
    result["boots"] = boot_history(source, args.utc)
    if not isinstance(source, Exception):
        pfs.warnings.extend(w for w in source.warnings if w not in pfs.warnings)
    result["not_seen"] = blind_spots(result, pfs, live, qdisc_ok or "qdiscs" in window)
    warnings = list(pfs.warnings)
    if args.json:
        output.emit_json(TOOL, result, warnings, source=root)
    else:
        for warning in warnings:
            cli.warn(TOOL, "warning: " + warning)
        output.write(render(result, args, output.use_colour()))
    failed = False
    if "bound" in fail_on and result["bound"]:
        failed = True
    if set(result["bound"]) & fail_on:
        failed = True
    if "health" in fail_on and findings.reaches(health, findings.CRITICAL):
        failed = True
    return cli.EXIT_FINDINGS if failed else cli.EXIT_OK


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
