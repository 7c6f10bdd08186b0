#!/usr/bin/env python3
"""oops - find, classify and explain kernel crashes, lockups, stalls and OOM kills in any log.

USAGE: oops                          scan this system (ring buffer, journal, syslog
                                     files with rotations, /var/crash, pstore)
       oops FILE... | -              scan files or stdin (dmesg, dmesg -T, syslog,
                                     journal text or JSON, console captures,
                                     vmcore-dmesg.txt, pstore dmesg-* files)
       oops --root DIR               scan a mounted root, sosreport or supportconfig

Every kernel report found (oops, BUG, WARNING, soft/hard lockup, RCU stall,
hung task, OOM kill, page allocation failure, KASAN/KFENCE/KMSAN/UBSAN/KCSAN,
lockdep, machine check/EDAC, panic, NMI, I/O and filesystem errors) gets a
kind and a normalized title naming the guilty function, time, CPU/PID/comm,
kernel version, decoded taint, hardware, program counter, call trace,
flagged modules, whether it ended in a panic and whether its text is
corrupted (interleaved CPUs, cut short, lost console output).  Repeats are
grouped; a panic after a report belongs to it.  Each kind comes with next
steps (watchdog sysctls in force, how to decode the trace, kdump).
Userspace segfaults are listed separately (with --all).

Overhead: reads logs sequentially with a chunked prefilter (about grep speed
on multi-gigabyte files, memory bounded by the reports found); runs dmesg
and journalctl once each on a live system; nice 10, idle I/O class.
"""

import os
import sys
import textwrap

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, kernelreport, output, sources, textio, timeparse  # noqa: E402
from shared import kernelreport_kinds as kinds  # noqa: E402

TOOL = "oops"
FAIL_ON = ("any", "panic", "critical") + kinds.KIND_ORDER

EXAMPLES = """\
  oops                                 what crashed, locked up or ran out of memory here
  oops /var/log/messages*              scan syslog files (rotations, .gz read in place)
  dmesg | oops -                       scan the ring buffer piped in
  oops console.log -v                  a serial console capture, with full report text
  oops --root /mnt/sysimage            a rescued system's logs and /var/crash
  oops --root sosreport-host.tar.xz    a sosreport, read in place
  oops --kind oom,memcg-oom --since -2d   only OOM kills of the last two days
  oops --json | jq '.result.groups'    the JSON envelope
  oops --fail-on panic,hard-lockup     for monitoring: exit 1 when one is found
"""

WIDTH = 80


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0].split(" - ", 1)[1], EXAMPLES,
                             common=cli.COMMON + ("verbose",), fail_on=("any", "panic", "critical",
                                                                         "KIND"))
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="log files to scan ('-' for stdin); default: the system's own logs")
    parser.add_argument("--kind", metavar="KIND[,KIND]",
                        help="only these kinds: %s" % ", ".join(kinds.KIND_ORDER))
    parser.add_argument("--all", action="store_true",
                        help="also list noise: userspace segfaults, page allocation failures")
    parser.add_argument("--summary", action="store_true",
                        help="only the summary table, no details")
    parser.add_argument("--no-ring-buffer", dest="ring_buffer", action="store_false",
                        help="live system: do not read the kernel ring buffer (dmesg)")
    parser.add_argument("--no-journal", dest="journal", action="store_false",
                        help="do not read the binary journal through journalctl")
    return parser


# ------------------------------------------------------------------ gathering

def _kinds_filter(args):
    if not args.kind:
        return None
    wanted = set(k.strip() for k in args.kind.split(",") if k.strip())
    unknown = wanted - set(kinds.KINDS)
    if unknown:
        raise cli.ToolError("unknown --kind: %s" % ", ".join(sorted(unknown)),
                            fix="choose from %s" % ", ".join(kinds.KIND_ORDER), code=cli.EXIT_USAGE)
    return wanted


def _fail_on(args):
    raw = getattr(args, "fail_on", None)
    if not raw:
        return set()
    values = set(v.strip() for v in raw.split(",") if v.strip())
    unknown = values - set(FAIL_ON)
    if unknown:
        raise cli.ToolError("unknown --fail-on value: %s" % ", ".join(sorted(unknown)),
                            fix="choose from any, panic, critical or a kind (%s)"
                            % ", ".join(kinds.KIND_ORDER), code=cli.EXIT_USAGE)
    return values


def gather(args, since, until):
    """(reports, warnings, source label, source or None, failed inputs)."""
    warnings = []
    failed = 0
    if args.files:
        reports = []
        for name in args.files:
            if name == "-":
                stream = textio.open_binary_stream(sys.stdin.buffer)
                found, problem = kernelreport.scan_stream(stream, "<stdin>", utc=args.utc)
                if problem:
                    warnings.append("<stdin>: %s" % problem)
            else:
                found, problems = kernelreport.scan_path(name, utc=args.utc)
                if problems and not found and not os.path.isfile(name):
                    failed += 1
                warnings.extend(problems)
            reports.extend(found)
        if failed == len(args.files):
            raise cli.ToolError("nothing could be read (%s)" % "; ".join(warnings),
                                fix="check the file names and permissions", code=cli.EXIT_FINDINGS)
        reports = kernelreport.merge_duplicates(reports) if len(args.files) > 1 else reports
        reports = [r for r in reports if kernelreport._in_window(r, since, until)]
        source = None
        if args.root:
            source = _open(args.root)
        label = ", ".join("<stdin>" if name == "-" else name for name in args.files)
        return reports, warnings, label, source, failed
    source = _open(args.root)
    reports = kernelreport.scan_source(source, since=since, until=until, utc=args.utc,
                                       ring_buffer=args.ring_buffer, journal=args.journal)
    warnings.extend(source.warnings)
    return reports, warnings, source.label, source, failed


def _open(root):
    try:
        return sources.open_source(root)
    except sources.SourceError as error:
        raise cli.ToolError(str(error))


# ------------------------------------------------------------------ showing

def _when(report, utc, last=False):
    stamp = report.last_stamp if last and report.last_stamp is not None else report.stamp
    mono = report.last_mono if last and report.last_mono is not None else report.mono
    if stamp is not None:
        return timeparse.format_time(stamp, utc)
    if mono is not None:
        return "boot %d +%.3fs" % (report.boot, mono)
    return "line %s" % report.lineno


def summary_rows(groups, utc):
    rows = []
    for group in groups:
        first = group.reports[0]
        rows.append([_when(first, utc), group.kind, group.title, group.count,
                     "yes" if group.panicked else "no"])
    return rows


def _wrap(label, text, indent=12):
    lines = textwrap.wrap(text, WIDTH - indent - 2) or [""]
    out = ["  %-*s%s" % (indent - 2, label, lines[0])]
    out.extend(" " * indent + line for line in lines[1:])
    return out


def _taint_text(report):
    if not report.taint:
        return "not tainted" if report.kernel else "-"
    return "; ".join("%s: %s" % (letter, meaning) for letter, _, meaning in report.taint_flags)


def details(index, report, args, settings, dump_ok):
    lines = ["", "== %d. %s" % (index, report.title)]
    label = kinds.KINDS[report.kind][0]
    lines += _wrap("kind", "%s (%s)%s" % (label, report.severity,
                                         ", repeated %d times" % report.count if report.count > 1 else ""))
    when = _when(report, args.utc)
    if report.stamp is not None and report.mono is not None:
        when += " (%.3f s after boot)" % report.mono
    if report.count > 1:
        when += ", last %s" % _when(report, args.utc, last=True)
    lines += _wrap("when", when)
    where = "%s:%s" % (report.origin, report.lineno)
    if report.end_lineno and report.end_lineno != report.lineno:
        where += "-%s" % report.end_lineno
    if report.also_in:
        where += " (also in %s)" % ", ".join(report.also_in)
    lines += _wrap("where", where)
    task = []
    if report.cpu is not None:
        task.append("CPU %d" % report.cpu)
    if report.pid is not None:
        task.append("PID %d" % report.pid)
    if report.comm:
        task.append(report.comm)
    if task:
        lines += _wrap("task", ", ".join(task))
    if report.kernel:
        lines += _wrap("kernel", report.kernel)
    if report.taint or report.kernel:
        lines += _wrap("taint", (report.taint + ": " if report.taint else "") + _taint_text(report))
    if report.hardware:
        lines += _wrap("hardware", report.hardware)
    if report.guilty:
        lines += _wrap("guilty", report.guilty)
    if report.pc:
        lines += _wrap("pc", "%s+%s%s" % (report.pc[0], report.pc[1],
                                         " [%s]" % report.pc_module if report.pc_module else ""))
    _kind_details(report, lines)
    if report.trace:
        shown = report.trace if args.verbose else report.trace[:12]
        lines.append("  trace")
        section = None
        for frame in shown:
            if frame.section != section and frame.section:
                lines.append("            <%s>" % frame.section)
            section = frame.section
            text = "%s%s+%s%s" % ("? " if frame.unreliable else "", frame.function, frame.offset,
                                  " [%s]" % frame.module if frame.module else "")
            lines.append(("            " + text)[:WIDTH])
        if len(report.trace) > len(shown):
            lines.append("            ... %d more frames (-v shows all)" % (len(report.trace) - len(shown)))
    if report.modules:
        text = "%d loaded" % len(report.modules)
        if report.modules_flagged:
            text += "; flagged: " + ", ".join("%s (%s)" % (name, meaning)
                                              for name, _, meaning in report.modules_flagged)
        lines += _wrap("modules", text)
    if report.panicked:
        lines += _wrap("ended", "in a panic" + (": %s" % report.panic_reason if report.panic_reason else ""))
    if report.follow_ons:
        lines += _wrap("then", "; ".join(r.title for r in report.follow_ons))
    if report.corrupted:
        lines += _wrap("text", "corrupted: " + "; ".join(report.problems))
    elif report.separated:
        lines += _wrap("text", "another CPU's output was interleaved; separated by caller id")
    steps = kernelreport.advice(report, settings, dump_ok)
    if steps:
        lines.append("  next steps")
        for step in steps:
            wrapped = textwrap.wrap(step, WIDTH - 14)
            lines.append("            - " + wrapped[0])
            lines.extend("              " + more for more in wrapped[1:])
    if args.verbose:
        lines.append("  text")
        lines.extend(("    " + text)[:400] for text in report.lines)
    return lines


def _kind_details(report, lines):
    d = report.details
    if report.kind in ("oom", "memcg-oom", "page-alloc-failure"):
        oom = d.get("oom", {})
        victim = oom.get("victim")
        if victim:
            lines += _wrap("victim", "%s (PID %s), RSS %s, total-vm %s" % (
                victim.get("comm"), victim.get("pid"),
                timeparse.format_size(victim["rss_kb"] * 1024) if victim.get("rss_kb") else "?",
                timeparse.format_size(victim["total_vm_kb"] * 1024) if victim.get("total_vm_kb") else "?"))
        if oom.get("invoked_by"):
            lines += _wrap("invoked by", "%s (order %s, %s)" % (oom["invoked_by"], oom.get("order"),
                                                                oom.get("gfp_mask")))
        if oom.get("constraint"):
            lines += _wrap("constrain", oom["constraint"])
        if oom.get("memcg"):
            text = oom["memcg"]
            if oom.get("memcg_limit_kb"):
                text += ", usage %s of limit %s (%s failures)" % (
                    timeparse.format_size(oom["memcg_usage_kb"] * 1024),
                    timeparse.format_size(oom["memcg_limit_kb"] * 1024), oom.get("memcg_failcnt"))
            lines += _wrap("memcg", text)
        memory = []
        if "free_kb" in oom:
            memory.append("free %s" % timeparse.format_size(oom["free_kb"] * 1024))
        if "free_swap_kb" in oom:
            memory.append("free swap %s" % timeparse.format_size(oom["free_swap_kb"] * 1024))
        if "ram_pages" in oom:
            memory.append("RAM %s" % timeparse.format_size(oom["ram_pages"] * 4096))
        if memory:
            lines += _wrap("memory", ", ".join(memory))
        if oom.get("biggest"):
            lines += _wrap("biggest", ", ".join("%s[%d] %s" % (t["name"], t["pid"],
                                                               timeparse.format_size(t["rss_kb"] * 1024))
                                                for t in oom["biggest"]))
    for key, label in (("file", "file"), ("address", "address"), ("addr", "address"),
                       ("access", "access"), ("device", "device"), ("op", "operation"),
                       ("stuck_seconds", "stuck"), ("blocked_seconds", "blocked"),
                       ("kthread_starved", "starved"), ("cpu_hog", "cpu hog")):
        value = d.get(key)
        if value is None or (key == "file" and d.get("line") is None):
            continue
        if key == "file":
            value = "%s:%s" % (value, d.get("line"))
        elif key in ("stuck_seconds", "blocked_seconds"):
            value = "%s s" % value
        lines += _wrap(label, str(value))


def _result(reports, groups, shown, hidden, settings, dump_ok):
    return {
        "reports": [r.to_dict() for r in shown],
        "groups": [{"title": g.title, "kind": g.kind, "count": g.count, "panicked": g.panicked,
                    "first": {"stamp": g.first.stamp, "mono": g.first.mono, "origin": g.first.origin,
                              "line": g.first.lineno},
                    "last": {"stamp": g.last.last_stamp if g.last.last_stamp is not None else g.last.stamp,
                             "mono": g.last.last_mono if g.last.last_mono is not None else g.last.mono,
                             "origin": g.last.origin, "line": g.last.lineno}}
                   for g in groups],
        "hidden": hidden,
        "settings": settings,
        "dump_possible": dump_ok,
        "findings": [f.to_dict() for f in kernelreport.summary_findings(shown, settings, dump_ok,
                                                                         include_noise=True)],
    }


def run(args):
    wanted = _kinds_filter(args)
    fail_on = _fail_on(args)
    try:
        since, until = cli.time_window(args)
    except ValueError as error:
        raise cli.ToolError(str(error), code=cli.EXIT_USAGE)
    reports, warnings, label, source, failed = gather(args, since, until)
    settings = dump_ok = None
    if source is not None:
        settings = kernelreport.read_settings(source)
        dump_ok = kernelreport.dump_possible(source)
    hidden = {}
    shown = []
    for report in reports:
        if wanted is not None and report.kind not in wanted and not (
                not report.primary and any(r.kind in wanted for r in reports if r.key == report.follows)):
            continue
        if report.noise and not args.all and not (wanted and report.kind in wanted):
            hidden[report.kind] = hidden.get(report.kind, 0) + report.count
            continue
        shown.append(report)
    groups = kernelreport.group_reports(shown)
    if args.json:
        output.emit_json(TOOL, _result(reports, groups, shown, hidden, settings, dump_ok), warnings,
                         source=label)
    else:
        write_text(args, label, shown, groups, hidden, settings, dump_ok)
        for warning in warnings:
            cli.warn(TOOL, warning)
    code = cli.EXIT_PARTIAL if failed else cli.EXIT_OK
    if fail_on and _hits(fail_on, shown):
        code = cli.EXIT_FINDINGS
    return code


def _hits(fail_on, reports):
    for report in kernelreport.primaries(reports):
        if "any" in fail_on or report.kind in fail_on:
            return True
        if "panic" in fail_on and report.panicked:
            return True
        if "critical" in fail_on and (report.severity == "critical" or report.panicked):
            return True
    return False


def _plural(label, count):
    if count == 1:
        return label
    return label + ("es" if label.endswith(("sh", "s", "x")) else "s")


def write_text(args, label, shown, groups, hidden, settings, dump_ok):
    out = []
    zone = "UTC" if args.utc else timeparse.local_zone_name()
    main_groups = [g for g in groups if g.kind != "segfault"]
    crashes = [g for g in groups if g.kind == "segfault"]
    count = sum(g.count for g in main_groups)
    if not main_groups:
        out.extend(textwrap.wrap("oops: no kernel reports in %s" % label, WIDTH,
                                 subsequent_indent="  ", break_on_hyphens=False))
    else:
        out.append("oops: %d kernel report%s in %d group%s, times in %s" % (
            count, "" if count == 1 else "s", len(main_groups), "" if len(main_groups) == 1 else "s", zone))
        out.extend(textwrap.wrap("read: %s" % label, WIDTH, subsequent_indent="  ", break_on_hyphens=False))
        out.append("")
        out.append(output.table(summary_rows(main_groups, args.utc),
                                ["TIME", "KIND", "TITLE", "COUNT", "PANIC"], align="lllrl",
                                width=WIDTH, flexible=2).rstrip("\n"))
    if crashes:
        out.append("")
        out.append("userspace crashes (%d):" % sum(g.count for g in crashes))
        out.append(output.table(summary_rows(crashes, args.utc), ["TIME", "KIND", "TITLE", "COUNT", "PANIC"],
                                align="lllrl", width=WIDTH, flexible=2).rstrip("\n"))
    if hidden:
        out.append("")
        out.append("not shown: %s (--all lists them)" % ", ".join(
            "%d %s" % (n, _plural(kinds.KINDS[k][0], n)) for k, n in sorted(hidden.items())))
    if not args.summary:
        index = 0
        for group in main_groups:
            index += 1
            report = group.reports[0]
            out.extend(details(index, report, args, settings, dump_ok))
            if group.count > 1:
                out.append("  (+%d more with the same title, last %s)" % (
                    group.count - 1, _when(group.last, args.utc, last=True)))
    output.write("\n".join(out) + "\n")


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
