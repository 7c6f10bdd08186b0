#!/usr/bin/env python3
"""procstat - vmstat, mpstat, pidstat, iostat -x and sar -n DEV from /proc and /sys alone.

USAGE: procstat [-P ALL] [-p] [-d] [-n] [-m] [-A] [-T] [--json] [interval [count]]

The field playbook's first minute (vmstat 1, mpstat -P ALL 1, pidstat 1,
iostat -xz 1, sar -n DEV 1, free) on a box without sysstat: every view
is read straight from /proc and /sys, through one sampler that perfcollect
records and triage judges, with one set of metric names (see the man page).
Without an interval: one report of averages since boot (as vmstat and
iostat print first).  With an interval: reports for each interval only --
the since-boot report is skipped.  Works on a captured tree with --root.

Overhead: per interval one read of /proc/stat, meminfo, vmstat, loadavg,
pressure, diskstats, net/{dev,snmp,netstat,softnet_stat} and, with -p,
/proc/<pid>/stat of every process (a kept descriptor, one pread); status
and io only of processes whose stat changed.  With 300 idle processes
beside, 0.6x the CPU seconds of pidstat + iostat -x + mpstat -P ALL over
60 s (devtools/bench_procstat.py).  nice 10, idle I/O class.
"""

import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, output, sampler_disks, sampler_procs, samplers, timeparse  # noqa: E402
from shared import procfs as procfs_module  # noqa: E402

TOOL = "procstat"
SUMMARY = "vmstat, mpstat, pidstat, iostat -x and sar -n DEV from /proc and /sys alone"

EXAMPLES = """\
  procstat                        averages since boot (vmstat-style line)
  procstat 1 10                   ten 1-second vmstat-style lines
  procstat -P ALL 1 5             per-CPU split, as mpstat -P ALL
  procstat -p --sort io 2         top processes by disk I/O every 2 s, as pidstat -d
  procstat -d -z 1                busy disks only, as iostat -xz (dm/LVM names resolved)
  procstat -n 1                   interfaces, TCP retransmits, softnet drops, as sar -n DEV,EDEV,TCP
  procstat -m 5                   memory detail, reclaim, OOM kills and pressure (PSI)
  procstat -A --json 1 60 > s.jsonl   everything, one JSON envelope per line
  procstat --root /mnt/capture -A one snapshot of a captured /proc and /sys tree
"""

VIEW_FLAGS = (("cpu", "P"), ("procs", "p"), ("disks", "d"), ("net", "n"), ("memory", "m"))


def build_parser():
    parser = cli.make_parser(TOOL, SUMMARY, EXAMPLES, common=("root", "json", "utc", "debug", "version"))
    parser.add_argument("interval", nargs="?", type=float, default=None,
                        help="seconds between reports (none: one report since boot)")
    parser.add_argument("count", nargs="?", type=cli.positive_int, default=None,
                        help="number of reports (default: until interrupted)")
    parser.add_argument("-P", dest="cpus", metavar="CPUS", default=None,
                        help="per-CPU view: ALL, or a list such as 0,2-3 (as mpstat -P)")
    parser.add_argument("-p", dest="procs", action="store_true", help="top processes (as pidstat / top)")
    parser.add_argument("-d", dest="disks", action="store_true", help="block devices (as iostat -x)")
    parser.add_argument("-n", dest="net", action="store_true",
                        help="network interfaces, TCP, softnet (as sar -n DEV,EDEV,TCP,ETCP)")
    parser.add_argument("-m", dest="memory", action="store_true", help="memory detail, reclaim and PSI")
    parser.add_argument("-A", dest="all", action="store_true", help="every view")
    parser.add_argument("-T", dest="timestamps", action="store_true", help="timestamp every line")
    parser.add_argument("-z", dest="nonzero", action="store_true",
                        help="omit devices and interfaces idle during the interval (as iostat -z)")
    parser.add_argument("--top", metavar="N", type=cli.positive_int, default=10,
                        help="processes shown with -p (default 10)")
    parser.add_argument("--sort", choices=sorted(sampler_procs.TOP_KEYS), default="cpu",
                        help="order of -p: cpu, mem, io, majflt, cswch, iodelay (default cpu)")
    parser.add_argument("-l", dest="long", action="store_true",
                        help="with -p, show whole command lines instead of the command name (as pidstat -l)")
    parser.add_argument("--partitions", action="store_true", help="with -d, also list partitions")
    parser.add_argument("--qdisc", action="store_true",
                        help="with -n, also qdisc and shaping-class statistics (runs 'tc -s qdisc' "
                             "each interval, and 'tc -s class show dev X' for interfaces shaped by "
                             "htb/hfsc/cbq)")
    return parser


# ---------------------------------------------------------------- number formats

def _count(value):
    """Decimal short form for counts and rates: 950, 1.2k, 12k, 3.4M."""
    if value is None:
        return "-"
    value = float(value)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            scaled = value / size
            return ("%.1f%s" % (scaled, unit)) if abs(scaled) < 10 else ("%.0f%s" % (scaled, unit))
    return "%.0f" % value if abs(value) >= 10 or value == int(value) else "%.1f" % value


def _size(kib):
    return "-" if kib is None else timeparse.format_size(kib * 1024)


def _size4(kib):
    """KiB in at most 4 characters: 980K, 1.5G, 23G (the vmstat-style columns)."""
    if kib is None:
        return "-"
    value = float(kib)
    for unit in ("K", "M", "G", "T", "P"):
        if value < 999.5 or unit == "P":
            if value == 0:
                return "0"
            return ("%.1f%s" % (value, unit)) if value < 9.95 else ("%d%s" % (int(round(value)), unit))
        value /= 1024.0
    return "-"


def _p(value, fmt="%.2f"):
    return "-" if value is None else fmt % value


def parse_cpu_list(text):
    """'ALL' -> None (all); '0,2-3' -> {'0', '2', '3'}."""
    if text.upper() == "ALL":
        return None
    chosen = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            if sep:
                chosen.update(str(n) for n in range(int(low), int(high) + 1))
            else:
                chosen.add(str(int(low)))
        except ValueError:
            raise cli.ToolError("bad CPU list for -P: %r" % text, fix="use ALL or a list like 0,2-3",
                                code=cli.EXIT_USAGE)
    return chosen


# ---------------------------------------------------------------- views

VM_COLUMNS = (
    # (group, header, width, getter)
    ("procs", "r", 2, lambda m: _count(m.get("procs.running"))),
    ("procs", "b", 2, lambda m: _count(m.get("procs.blocked"))),
    ("memory", "avail", 5, lambda m: _size4(m.get("mem.available_kb"))),
    ("memory", "free", 4, lambda m: _size4(m.get("mem.free_kb"))),
    ("memory", "cache", 5, lambda m: _size4((m.get("mem.cached_kb") or 0) + (m.get("mem.buffers_kb") or 0))),
    ("memory", "drty", 4, lambda m: _size4(m.get("mem.dirty_kb"))),
    ("memory", "swpd", 4, lambda m: _size4(m.get("swap.used_kb"))),
    ("swap", "si", 4, lambda m: _count(m.get("swap.in_kbps"))),
    ("swap", "so", 4, lambda m: _count(m.get("swap.out_kbps"))),
    ("io", "bi", 4, lambda m: _count(m.get("page.in_kbps"))),
    ("io", "bo", 4, lambda m: _count(m.get("page.out_kbps"))),
    ("system", "in", 4, lambda m: _count(m.get("system.intr_ps"))),
    ("system", "cs", 4, lambda m: _count(m.get("system.cswch_ps"))),
    ("cpu", "us", 3, lambda m: _p(_sum(m, "cpu.user_pct", "cpu.nice_pct"), "%.0f")),
    ("cpu", "sy", 3, lambda m: _p(_sum(m, "cpu.system_pct", "cpu.irq_pct", "cpu.softirq_pct"), "%.0f")),
    ("cpu", "id", 3, lambda m: _p(m.get("cpu.idle_pct"), "%.0f")),
    ("cpu", "wa", 2, lambda m: _p(m.get("cpu.iowait_pct"), "%.0f")),
    ("cpu", "st", 2, lambda m: _p(m.get("cpu.steal_pct"), "%.0f")),
)


def _sum(m, *names):
    values = [m.get(n) for n in names if m.get(n) is not None]
    return sum(values) if values else None


def vm_header():
    groups = []
    for group in ("procs", "memory", "swap", "io", "system", "cpu"):
        width = sum(c[2] + 1 for c in VM_COLUMNS if c[0] == group) - 1
        label = group if group != "memory" else "memory"
        groups.append(label.center(width, "-") if len(label) < width else label[:width])
    names = " ".join(c[1].rjust(c[2]) for c in VM_COLUMNS)
    return " ".join(groups), names


def vm_line(metrics):
    return " ".join(c[3](metrics).rjust(c[2]) for c in VM_COLUMNS)


def cpu_table(sample, chosen):
    m = sample["metrics"]
    rows = []
    fields = ("user", "nice", "system", "iowait", "irq", "softirq", "steal", "guest", "idle")
    rows.append(["all"] + [_p(m.get("cpu.%s_pct" % f)) for f in fields])
    for cpu in sample.get("cpus", []):
        if chosen is None or cpu["cpu"] in chosen:
            rows.append([cpu["cpu"]] + [_p(cpu.get(f + "_pct")) for f in fields])
    text = output.table(rows, ["CPU", "%usr", "%nice", "%sys", "%iowait", "%irq", "%soft", "%steal", "%guest",
                               "%idle"], "l" + "r" * 9)
    for change in sample.get("cpus_changed", []):
        text += "CPU %s: %s\n" % (change["cpu"], change["change"])
    return text


def proc_table(pfs, sample, args, width):
    rows = sample.get("processes", [])
    chosen = sampler_procs.top(rows, args.sort, args.top, nonzero=False)
    if args.long:
        sampler_procs.fill_cmdline(pfs, chosen)
    head = "%7s %-8s %1s %5s %5s %5s %6s %6s %6s %5s %5s %s" % (
        "PID", "USER", "S", "%CPU", "%SYS", "RSS", "MAJF/S", "RDKB/S", "WRKB/S", "CSW/S", "ICS/S", "COMMAND")
    lines = [head]
    for r in chosen:
        line = "%7d %-8s %1s %5s %5s %5s %6s %6s %6s %5s %5s " % (
            r["pid"], (r.get("user") or "-")[:8], r["state"][:1], _p(r.get("cpu_pct"), "%.1f"),
            _p(r.get("sys_pct"), "%.1f"), _size(r.get("rss_kb")), _count(r.get("majflt_ps")),
            _count(r.get("read_kbps")), _count(r.get("write_kbps")), _count(r.get("cswch_ps")),
            _count(r.get("nvcswch_ps")))
        command = (r.get("cmdline") or r["comm"]) if args.long else r["comm"]
        room = max(8, width - len(line))
        lines.append(line + (command if len(command) <= room else command[:room - 1] + "~"))
    dstate = [r for r in rows if r["state"] == "D"]
    if dstate:
        lines.append("D-state (uninterruptible) tasks:")
        for r in dstate[:20]:
            lines.append("  %d %s wchan=%s" % (r["pid"], r["comm"], r.get("wchan") or "?"))
            if r.get("stack"):
                lines.append(("    stack: " + " < ".join(r["stack"][:5]))[:width])
    zombies = [r for r in rows if r["state"] == "Z"]
    if zombies:
        lines.append("zombies (reaped only when their parent waits or exits):")
        for r in zombies[:10]:
            lines.append("  %d %s, parent %d %s" % (r["pid"], r["comm"], r["ppid"], r.get("parent_comm") or "?"))
        if len(zombies) > 10:
            lines.append("  and %d more" % (len(zombies) - 10))
    return "\n".join(lines) + "\n"


def disk_table(sample, args):
    rows = sample.get("disks", [])
    if args.nonzero:
        rows = sampler_disks.busy(rows)
    lines = ["%-14s %7s %7s %8s %8s %7s %7s %6s %6s" % ("Device", "r/s", "w/s", "rkB/s", "wkB/s", "r_await",
                                                        "w_await", "aqu-sz", "%util")]
    for r in rows:
        name = r["dev"] if r["name"] == r["dev"] else "%s" % r["name"]
        lines.append("%-14s %7s %7s %8s %8s %7s %7s %6s %6s" % (
            name[:14], _p(r.get("r_ps")), _p(r.get("w_ps")), _p(r.get("rkb_ps")), _p(r.get("wkb_ps")),
            _p(r.get("r_await_ms")), _p(r.get("w_await_ms")), _p(r.get("aqu_sz")), _p(r.get("util_pct"))))
    renamed = ["%s=%s" % (r["name"], r["dev"]) for r in rows if r["name"] != r["dev"]]
    if renamed:
        lines.append("(" + ", ".join(renamed) + ")")
    return "\n".join(lines) + "\n"


def net_table(sample, args):
    rows = sample.get("interfaces", [])
    if args.nonzero:
        rows = [r for r in rows if (r.get("rx_pps") or 0) + (r.get("tx_pps") or 0) > 0]
    lines = ["%-9s %8s %8s %8s %8s %6s %6s %6s %6s %6s" % ("IFACE", "rxkB/s", "txkB/s", "rxpck/s", "txpck/s",
                                                           "rxerr", "txerr", "rxdrop", "txdrop", "%util")]
    for r in rows:
        util = r.get("util_pct")
        util_text = "-" if util is None else ("%.1f%s" % (util, "*" if r.get("util_nominal") else ""))
        lines.append("%-9s %8s %8s %8s %8s %6s %6s %6s %6s %6s" % (
            r["if"][:9], _p(r.get("rx_kbps")), _p(r.get("tx_kbps")), _p(r.get("rx_pps")), _p(r.get("tx_pps")),
            _count(r.get("rx_errs_ps")), _count(r.get("tx_errs_ps")), _count(r.get("rx_drop_ps")),
            _count(r.get("tx_drop_ps")), util_text))
    if any(r.get("util_nominal") and r.get("util_pct") is not None for r in rows):
        lines.append("* virtual link: utilisation against a nominal speed")
    m = sample["metrics"]
    lines.append("TCP  in %s/s out %s/s  retrans %s/s (%s%%)  estab %s  open %s/s accept %s/s" % (
        _count(m.get("tcp.in_segs_ps")), _count(m.get("tcp.out_segs_ps")), _count(m.get("tcp.retrans_ps")),
        _p(m.get("tcp.retrans_pct")), _count(m.get("tcp.estab")), _count(m.get("tcp.active_opens_ps")),
        _count(m.get("tcp.passive_opens_ps"))))
    lines.append("     resets %s/s  timeouts %s/s  listen overflow %s/s drop %s/s  UDP rcvbuf %s/s" % (
        _count(m.get("tcp.estab_resets_ps")), _count(m.get("tcp.timeouts_ps")),
        _count(m.get("tcp.listen_overflows_ps")), _count(m.get("tcp.listen_drops_ps")),
        _count(m.get("udp.rcvbuf_errors_ps"))))
    lines.append("softnet  processed %s/s  dropped %s/s  squeezed %s/s" % (
        _count(m.get("softnet.processed_ps")), _count(m.get("softnet.dropped_ps")),
        _count(m.get("softnet.squeezed_ps"))))
    for q in sample.get("qdiscs", []):
        if q.get("rate_kbit") or (q.get("drops_ps") or 0) > 0 or (q.get("backlog_packets") or 0) > 0:
            rate = "-"
            if q.get("rate_kbit"):
                rate = "%sbit/s%s" % (_count(q["rate_kbit"] * 1000),
                                      " (classes' ceilings)" if q.get("rate_from") == "classes" else "")
            lines.append("qdisc %s %s %s rate %s, sent %sbit/s (%s%%)" % (
                q["dev"], q["kind"], q.get("handle") or "", rate,
                _count((q.get("kbit_ps") or 0) * 1000), _p(q.get("util_pct"), "%.0f")))
            lines.append("      drops %s/s  overlimits %s/s  backlog %s packets" % (
                _count(q.get("drops_ps")), _count(q.get("overlimits_ps")), _count(q.get("backlog_packets"))))
    classes = sample.get("classes") or []
    if classes:
        lines.append("%-9s %-7s %8s %8s %8s %5s %6s %6s %7s" % ("CLASS", "ID", "rate", "ceil", "sent/s", "%ceil",
                                                            "drop/s", "ovl/s", "backlog"))
        for c in classes:
            lines.append("%-9s %-7s %8s %8s %8s %5s %6s %6s %7s" % (
                (c.get("dev") or "-")[:9], (c.get("classid") or "-")[:7],
                _count((c["rate_kbit"] or 0) * 1000) if c.get("rate_kbit") else "-",
                _count((c["ceil_kbit"] or 0) * 1000) if c.get("ceil_kbit") else "-",
                _count(c["kbit_ps"] * 1000) if c.get("kbit_ps") is not None else "-",
                _p(c.get("util_pct"), "%.0f"), _count(c.get("drops_ps")), _count(c.get("overlimits_ps")),
                "%sp" % _count(c.get("backlog_packets")) if c.get("backlog_packets") is not None else "-"))
        lines.append("(rates in bit/s; %ceil: sent against the class's ceiling)")
    return "\n".join(lines) + "\n"


def memory_text(sample):
    m = sample["metrics"]
    lines = [
        "MEMORY  total %s  available %s (%s%%)  free %s  cache %s  buffers %s" % (
            _size(m.get("mem.total_kb")), _size(m.get("mem.available_kb")), _p(m.get("mem.available_pct"), "%.0f"),
            _size(m.get("mem.free_kb")), _size(m.get("mem.cached_kb")), _size(m.get("mem.buffers_kb"))),
        "        anon %s  shmem %s  slab %s (unreclaimable %s)  dirty %s  wb %s" % (
            _size(m.get("mem.anon_kb")), _size(m.get("mem.shmem_kb")), _size(m.get("mem.slab_kb")),
            _size(m.get("mem.slab_unreclaim_kb")), _size(m.get("mem.dirty_kb")), _size(m.get("mem.writeback_kb"))),
        "        committed %s%% of the commit limit" % _p(m.get("mem.commit_pct"), "%.0f"),
        "SWAP    total %s  used %s (%s%%)  in %s KiB/s  out %s KiB/s" % (
            _size(m.get("swap.total_kb")), _size(m.get("swap.used_kb")), _p(m.get("swap.used_pct"), "%.0f"),
            _count(m.get("swap.in_kbps")), _count(m.get("swap.out_kbps"))),
        "PAGING  in %s KiB/s  out %s KiB/s  faults %s/s  major %s/s  refaults %s/s" % (
            _count(m.get("page.in_kbps")), _count(m.get("page.out_kbps")), _count(m.get("page.fault_ps")),
            _count(m.get("page.majfault_ps")), _count(m.get("page.refault_ps"))),
        "RECLAIM scan kswapd %s/s direct %s/s  reclaimed %s/s (%s%%)  OOM kills %s" % (
            _count(m.get("page.scan_kswapd_ps")), _count(m.get("page.scan_direct_ps")),
            _count(m.get("page.steal_ps")), _p(m.get("page.vmeff_pct"), "%.0f"), _count(m.get("mem.oom_kills"))),
    ]
    if sample.get("psi"):
        lines.append("%-8s %6s %6s %6s %6s  %6s %6s %6s %6s" % ("PRESSURE", "some%", "avg10", "avg60", "avg300",
                                                             "full%", "avg10", "avg60", "avg300"))
        for res in ("cpu", "memory", "io", "irq"):
            if "psi.%s.some_avg10" % res not in m and "psi.%s.full_avg10" % res not in m:
                continue
            cells = []
            for kind in ("some", "full"):
                cells.append("%6s %6s %6s %6s" % tuple(
                    _p(m.get("psi.%s.%s_%s" % (res, kind, leaf)), "%.1f" if leaf == "pct" else "%.2f")
                    for leaf in ("pct", "avg10", "avg60", "avg300")))
            lines.append("%-8s %s  %s" % ("  " + res, cells[0], cells[1]))
    else:
        lines.append("PRESSURE not available (kernel older than 4.20, or booted with psi=0)")
    cg = sample.get("cgroup") or {}
    mem = cg.get("memory") or {}
    cpu = cg.get("cpu") or {}
    if mem.get("limit_kb") or cpu.get("quota_cpus"):
        parts = [part for part in (
            ("memory %s of %s (%s%%), limit hit %s/s" % (_size(mem.get("usage_kb")), _size(mem.get("limit_kb")),
                                                         _p(mem.get("usage_pct"), "%.0f"),
                                                         _count(mem.get("failcnt_ps"))))
            if mem.get("limit_kb") else "",
            ("CPU quota %g, throttled %s%% of periods" % (cpu["quota_cpus"], _p(cpu.get("throttled_pct"), "%.0f")))
            if cpu.get("quota_cpus") else "") if part]
        joined = "CGROUP  " + "  ".join(parts)
        lines.extend([joined] if len(joined) <= 80 else
                     [("CGROUP  " if at == 0 else "        ") + part for at, part in enumerate(parts)])
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON

def json_result(pfs, sample, args, views):
    result = {"time": sample["time"], "interval": sample["interval"], "since_boot": sample["since_boot"],
              "views": sorted(views), "metrics": dict((k, _r(v)) for k, v in sorted(sample["metrics"].items())),
              "psi": sample.get("psi")}
    if "percpu" in views:
        result["cpus"] = [dict((k, _r(v)) for k, v in c.items() if k != "ticks") for c in sample.get("cpus", [])]
        result["cpus_changed"] = sample.get("cpus_changed", [])
    if "procs" in views:
        rows = sample.get("processes", [])
        chosen = sampler_procs.top(rows, args.sort, args.top, nonzero=False)
        sampler_procs.fill_cmdline(pfs, chosen)
        result["processes"] = [dict((k, _r(v)) for k, v in r.items()) for r in chosen]
        result["dstate"] = [dict((k, _r(v)) for k, v in r.items()) for r in rows if r["state"] == "D"]
        result["zombies"] = [dict((k, _r(v)) for k, v in r.items()) for r in rows if r["state"] == "Z"]
        result["process_count"] = len(rows)
    if "disks" in views:
        result["disks"] = [dict((k, _r(v)) for k, v in d.items()) for d in sample.get("disks", [])]
    if "net" in views:
        result["interfaces"] = [dict((k, _r(v)) for k, v in i.items()) for i in sample.get("interfaces", [])]
        if "qdiscs" in sample:
            result["qdiscs"] = [dict((k, _r(v)) for k, v in q.items()) for q in sample["qdiscs"]]
        if "classes" in sample:
            result["classes"] = [dict((k, _r(v)) for k, v in c.items()) for c in sample["classes"]]
    if "cgroup" in sample:
        result["cgroup"] = _r(sample["cgroup"])
    return result


def _r(value):
    """Round floats to 3 places, through dicts and lists (JSON stays readable)."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return dict((k, _r(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_r(v) for v in value]
    return value


# ---------------------------------------------------------------- main

def selected_views(args):
    views = {"cpu", "memory", "psi", "cgroup"}
    if args.all:
        return views | {"percpu", "procs", "disks", "net"}
    if args.cpus is not None:
        views.add("percpu")
    for flag in ("procs", "disks", "net"):
        if getattr(args, flag):
            views.add(flag)
    return views


def run(args):
    root = args.root or "/"
    if args.root and not os.path.isdir(args.root):
        raise cli.ToolError("cannot read %s" % args.root, "not a directory",
                            "give the directory holding the captured proc/ and sys/", cli.EXIT_USAGE)
    if args.interval is not None and args.interval <= 0:
        raise cli.ToolError("the interval must be positive", fix="e.g. procstat 1 10", code=cli.EXIT_USAGE)
    pfs = procfs_module.ProcFS(root)
    if pfs.read("proc/stat") is None:
        raise cli.ToolError("no /proc/stat under %s" % root, "not a Linux /proc tree",
                            "mount proc, or point --root at a captured tree", cli.EXIT_UNSUPPORTED)
    views = selected_views(args)
    chosen_cpus = parse_cpu_list(args.cpus) if args.cpus else None
    if args.all and not args.cpus:
        chosen_cpus = None
    live = os.path.abspath(root) == "/"
    # Ranked by CPU, memory, faults or I/O delay (all in /proc/<pid>/stat), only the
    # processes whose stat changed need status and io read (Sampler lazy_details);
    # ranked by I/O bytes or context switches, every process's are read.
    run_command = None
    if args.qdisc:
        from shared import runner  # only tc needs it (subprocess costs a few ms to import)
        run_command = runner.run
    sampler = samplers.Sampler(root, views=tuple(views), procfs=pfs, runner=run_command,
                               qdisc=args.qdisc and "net" in views, partitions=args.partitions,
                               lazy_details=args.sort not in ("io", "cswch"))
    width = output.terminal_width() if sys.stdout.isatty() else 80
    state = {"lines": 0, "warned": 0}
    sections = [v for v in ("percpu", "procs", "disks", "net") if v in views] + (["memory"] if args.memory or
                                                                                  args.all else [])

    def emit(sample):
        if args.json:
            output.write(output.dumps(output.envelope(TOOL, json_result(pfs, sample, args, views),
                                                      pfs.warnings[state["warned"]:], source=root),
                                      pretty=False) + "\n")
            state["warned"] = len(pfs.warnings)
            sys.stdout.flush()
            return
        for warning in pfs.warnings[state["warned"]:]:
            cli.warn(TOOL, "warning: " + warning)
        state["warned"] = len(pfs.warnings)
        stamp = timeparse.format_time(sample["time"], args.utc)
        prefix = (stamp[11:19] + " ") if args.timestamps else ""
        chunks = []
        if not sections:
            pad = " " * len(prefix)
            if state["lines"] % 20 == 0:
                groups, names = vm_header()
                if state["lines"] == 0 and args.timestamps:
                    chunks.append("times in %s\n" % stamp[20:])
                chunks.append(pad + groups + "\n" + pad + names + "\n")
            chunks.append(prefix + vm_line(sample["metrics"]) + "\n")
            state["lines"] += 1
            output.write("".join(chunks))
            sys.stdout.flush()
            return
        title = "since boot (up %s)" % timeparse.format_duration(sample["interval"]) if sample["since_boot"] \
            else "interval %s" % timeparse.format_duration(sample["interval"])
        chunks.append("--- %s  %s  load %s %s %s ---\n" % (
            stamp, title, _p(sample["metrics"].get("load1")), _p(sample["metrics"].get("load5")),
            _p(sample["metrics"].get("load15"))))
        groups, names = vm_header()
        chunks.append(groups + "\n" + names + "\n" + vm_line(sample["metrics"]) + "\n")
        if "percpu" in views:
            chunks.append("\n" + cpu_table(sample, chosen_cpus))
        if "memory" in sections:
            chunks.append("\n" + memory_text(sample))
        if "procs" in views:
            chunks.append("\n" + proc_table(pfs, sample, args, width))
        if "disks" in views:
            chunks.append("\n" + disk_table(sample, args))
        if "net" in views:
            chunks.append("\n" + net_table(sample, args))
        text = "".join(chunks)
        if prefix:
            text = "".join(prefix + line + "\n" for line in text.splitlines())
        output.write(text + "\n")
        sys.stdout.flush()

    if args.interval is None:
        emit(sampler.sample())
        return cli.EXIT_OK
    sampler.prime()
    start = sampler.clock()
    done = 0
    while args.count is None or done < args.count:
        delay = start + (done + 1) * args.interval - sampler.clock()
        if delay > 0:
            time.sleep(delay)
        emit(sampler.sample())
        done += 1
    if not live and done:
        cli.warn(TOOL, "note: %s is a captured tree: its counters do not move, so interval rates are 0" % root)
    return cli.EXIT_OK


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
