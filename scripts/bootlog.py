#!/usr/bin/env python3
"""bootlog - when did this machine boot, and did each boot end cleanly? From every log.

USAGE: bootlog                       the logs of this system (or of the current
                                     directory when it looks like /var/log)
       bootlog --root DIR            a mounted root, sosreport or supportconfig
       bootlog --log-dir DIR         a folder of logs (messages*, syslog*, wtmp*, journal/)
       bootlog FILE...               single files: serial console captures, dmesg,
       bootlog --serial-console-log FILE      syslog, journal text or JSON exports, wtmp

Reads every source that exists -- syslog files with rotations (.1, -YYYYMMDD,
.gz/.xz/.bz2) in RFC 3164, ISO-8601 and dmesg shapes, the binary journal
through journalctl (--list-boots, then only each boot's first minutes and
last entries), journal text and JSON exports in bundles (supportconfig's
messages.txt and boot.txt sections too), wtmp (parsed directly), wtmpdb
(/var/lib/wtmpdb/wtmp.db through sqlite3, read-only), serial console
captures -- and merges what several of them saw into one boot each.  For
every boot: start, end, uptime, kernel, how it ended (clean reboot / power
off / unclean / running), for unclean ends the likely cause (kernel panic,
oops, lockup, hung task, OOM storm, watchdog, power button, hypervisor
request, kdump, or no evidence: power loss or hard reset) corroborated by
the next boot's filesystem recovery, time to the default target, boot
loops, and problems during boot (failed units, emergency mode, read-only
root, fsck repairs, security agents).  A kdump capture kernel is shown as
such, with whether it saved the vmcore.  Inputs with only monotonic time
are reported in order with relative times, never with invented dates.

Overhead: one sequential pass per log with a literal-anchored prefilter
(big plain files through grep -n -b and wc -l), then reads of ~768 KiB
around each boot's start and end; two journalctl calls per boot plus one
--list-boots; memory bounded by those windows.  nice 10, idle I/O class.
"""

import os
import re
import sys
import textwrap

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import boottimeline, cli, output, sources, timeparse  # noqa: E402

TOOL = "bootlog"
FAIL_ON = ("unclean", "loop", "problem")

EXAMPLES = """\
  bootlog                          boots of this system and how each ended
  cd /var/log && curl -fsSL URL/build/bootlog.py | python3
                                   the same, from inside a log directory
  bootlog --root /mnt/sysimage     a broken system mounted in a rescue shell
  bootlog --root sosreport.tar.xz  a sosreport or supportconfig, read in place
  bootlog --log-dir ./logs         a folder of copied logs
  bootlog --serial-console-log ttyS0.log
                                   a console capture: several boots, no clock
  bootlog /var/lib/wtmpdb/wtmp.db  boots and shutdowns from wtmpdb alone
  bootlog last.txt                 a saved 'last -xF' output copied off a box
  bootlog --last 5 -v              the last five boots with evidence lines
  bootlog --since -7d --fail-on unclean
                                   monitoring: exit 1 on an unclean end
  bootlog --json | jq .result.summary
                                   the JSON envelope
"""

SHORT_CAUSE = {
    "panic": "panic", "kernel panic": "panic", "oops": "oops", "kernel oops": "oops", "null-deref": "oops",
    "page-fault": "oops", "bug": "BUG", "gpf": "oops", "invalid-opcode": "oops", "divide-error": "oops",
    "double-fault": "oops", "soft-lockup": "lockup", "soft lockup": "lockup", "hard-lockup": "lockup",
    "hard lockup": "lockup", "hung-task": "hung task", "hung task": "hung task", "rcu-stall": "RCU stall",
    "RCU stall": "RCU stall", "out of memory": "OOM", "watchdog": "watchdog", "sysrq": "sysrq",
    "kdump": "crash+kdump", "power button": "power btn", "hypervisor request": "hypervisor",
    "machine-check": "MCE", "machine check": "MCE", "none": "no evidence", "fs-error": "fs error",
    "auditd halt": "auditd", "command": "command",
}


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0].split(" - ", 1)[1], EXAMPLES,
                             common=cli.COMMON + ("verbose",), fail_on=FAIL_ON)
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="read these files only (console captures, dmesg, syslog, journal exports, wtmp, "
                             "wtmpdb)")
    parser.add_argument("--log-dir", metavar="DIR",
                        help="read a folder of logs (messages*, syslog*, kern.log*, dmesg*, wtmp*, journal/)")
    parser.add_argument("--serial-console-log", metavar="FILE", action="append", default=[],
                        help="a serial console capture (may repeat; same as giving it as FILE)")
    parser.add_argument("--last", metavar="N", type=cli.positive_int,
                        help="only the last N boots")
    parser.add_argument("--no-journal", dest="journal", action="store_false",
                        help="do not read the binary journal through journalctl")
    return parser


# ------------------------------------------------------------------ inputs

def _open(args):
    """(source, log_dir, files, what) from the arguments; what says which logs were read."""
    files = list(args.files) + list(args.serial_console_log)
    for path in files:
        if not os.path.exists(path):
            raise cli.ToolError("%s: no such file" % path, fix="check the path", code=cli.EXIT_USAGE)
        if os.path.isdir(path):
            raise cli.ToolError("%s: is a directory" % path, fix="use --log-dir %s or --root %s" % (path, path),
                                code=cli.EXIT_USAGE)
    if args.log_dir:
        if not os.path.isdir(args.log_dir):
            raise cli.ToolError("--log-dir %s: not a directory" % args.log_dir, fix="check the path",
                                code=cli.EXIT_USAGE)
        source = sources.RootSource(sources.DirTree(args.log_dir), args.log_dir, "root")
        return source, "", files, "the log directory %s" % args.log_dir
    try:
        if files and not args.root:
            source = sources.RootSource(sources.DirTree(os.getcwd()), "files", "root")
            return source, None, files, "%d file(s)" % len(files)
        if args.root:
            source = sources.open_source(args.root)
            return source, None, files, "%s (%s)" % (args.root, source.kind)
    except sources.SourceError as error:
        raise cli.ToolError(str(error), code=cli.EXIT_USAGE)
    here = os.getcwd()
    if os.path.realpath(here) != "/var/log" and boottimeline.looks_like_log_dir(here):
        source = sources.RootSource(sources.DirTree(here), here, "root")
        return source, "", files, ("the current directory %s (it looks like a log directory; "
                                   "--root / reads this system instead)" % here)
    source = sources.open_source(None)
    return source, None, files, "/var/log and the journal of this system"


# ------------------------------------------------------------------ text output

def _when(boot, stamp, utc, seconds=False):
    if boot.relative:
        return "(no clock)"
    text = timeparse.format_time(stamp, utc, seconds=seconds)
    return ("~" + text) if boot.approx else text


def _uptime(boot):
    value = boot.uptime
    if value is None:
        return "-"
    text = timeparse.format_duration(value)
    return ("+" + text) if boot.relative else text


def _ending(boot):
    if boot.kdump and boot.ending == "clean":
        return "kdump %s, %s" % ({"saved": "saved", "failed": "FAILED"}.get(boot.dump, "kernel"),
                                 {"poweroff": "off", "halt": "halt"}.get(boot.action, "reboot"))
    if boot.ending == "clean":
        return {"reboot": "clean reboot", "poweroff": "clean poweroff", "halt": "clean halt",
                "kexec": "clean kexec"}.get(boot.action, "clean shutdown")
    if boot.ending == "unclean":
        kind = boot.cause["kind"] if boot.cause else "none"
        return "UNCLEAN " + SHORT_CAUSE.get(kind, kind)[:11]
    if boot.ending == "running":
        return "running"
    return "logs end"


def _short_kernel(kernel):
    if not kernel:
        return "-"
    for suffix in (".x86_64", ".aarch64", ".ppc64le", ".s390x", ".i686"):
        if kernel.endswith(suffix):
            return kernel[:-len(suffix)]
    return kernel


_PREFIX = re.compile(r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\S+)\s+\S+\s+")


def _excerpt(evidence, width=100):
    """The interesting part of an evidence line: without the syslog stamp and host."""
    text = evidence.excerpt or ""
    match = _PREFIX.match(text)
    if match:
        text = text[match.end():]
    return text[:width]


def _where(evidence):
    if evidence is None:
        return "-"
    origin = os.path.basename(str(evidence.origin)) if "/" in str(evidence.origin) else str(evidence.origin)
    return "%s:%s" % (origin, evidence.lineno) if evidence.lineno else origin


def render(timeline, utc, verbose, what, colour):
    lines = []
    boots = timeline.boots
    inputs = ", ".join("%s (%d)" % (item["name"], item["boots"]) for item in timeline.inputs) or "none"
    lines.append("read: %s" % inputs)
    if not boots:
        lines.append("no boots found: no kernel banner, journal boot, wtmp boot record or clock reset "
                     "in %s" % what)
        return "\n".join(_fit(line) for line in lines) + "\n"
    if timeline.relative and not timeline.wall:
        lines.append("only monotonic time in these inputs: boots are listed in order with their uptime, "
                     "no dates")
    kernels = sorted(set(b.kernel for b in boots if b.kernel))
    show_kernel = len(kernels) > 1
    if len(kernels) == 1:
        lines.append("kernel: %s (every boot that names one)" % kernels[0])
    starts = [_when(boot, boot.start, utc) for boot in boots]
    zones = set(text.rsplit(" ", 1)[1] for text in starts if text.count(" ") == 2)
    header_start = "START"
    if len(zones) == 1:
        zone = zones.pop()
        header_start = "START (%s)" % zone
        starts = [text[:-len(zone) - 1] if text.endswith(" " + zone) else text for text in starts]
    lines.append("")
    rows = []
    for boot, start in zip(boots, starts):
        number = "%d%s" % (boot.number, "L" if boot.loop else "")
        row = [number, start, _uptime(boot)]
        if show_kernel:
            row.append(_short_kernel(boot.kernel))
        row += [_ending(boot), _where(boot.start_evidence)]
        rows.append(row)
    headers = ["#", header_start, "UPTIME"] + (["KERNEL"] if show_kernel else []) + ["ENDING", "EVIDENCE"]
    table = output.table(rows, headers, align="r" + "l" * (len(headers) - 1), width=80,
                         flexible=3 if show_kernel else len(headers) - 1)
    if colour:
        table = table.replace("UNCLEAN", output.colour("UNCLEAN", "red", True))
    lines.append(table.rstrip("\n"))
    if any(b.loop for b in boots):
        lines.append("L = part of a boot loop")
    summary = timeline.summary()
    parts = ["%d boot%s" % (summary["boots"], "" if summary["boots"] == 1 else "s")]
    for key in ("clean", "unclean", "running", "unknown"):
        if summary[key]:
            parts.append("%d %s" % (summary[key], key if key != "unknown" else "until the logs end"))
    if summary["kdump_captures"]:
        parts.append("%d kdump capture%s" % (summary["kdump_captures"], "" if summary["kdump_captures"] == 1
                                              else "s"))
    loops = summary["loops"]
    parts.append("%d loop%s" % (len(loops), "" if len(loops) == 1 else "s") if loops else "no loops")
    if summary["boots_total"] != summary["boots"]:
        parts.append("%d more outside --since/--until/--last" % (summary["boots_total"] - summary["boots"]))
    lines.append("")
    lines.append("summary: " + ", ".join(parts))
    for run in timeline.loops():
        lines.append("  boot loop: #%d-#%d, %d boots %s" % (
            run[0].number, run[-1].number, len(run),
            "from %s to %s" % (_when(run[0], run[0].start, utc), _when(run[-1], run[-1].start, utc))
            if not run[0].relative else "in one capture, each up for %s or less" % timeparse.format_duration(
                max(b.uptime or 0 for b in run))))
    for boot in boots:
        if boot.ending == "unclean" or boot.kdump or (verbose and (boot.initiators or boot.end_evidence)):
            lines.extend(_explain(boot, utc, verbose))
    problems = [(boot, problem) for boot in boots for problem in boot.problems]
    if problems:
        lines.append("")
        lines.append("problems during boot:")
        for boot, problem in problems:
            evidence = problem["evidence"][0] if problem["evidence"] else None
            lines.append("  #%d %s (%s)" % (boot.number, problem["title"][:60], _where(evidence)))
            if verbose:
                for item in problem["evidence"]:
                    lines.append("      %s: %s" % (_where(item), _excerpt(item, 160)))
    if verbose:
        lines.append("")
        lines.append("details:")
        for boot in boots:
            lines.extend(_details(boot, utc))
    return "\n".join(_fit(line) for line in "\n".join(lines).split("\n")) + "\n"


def _fit(line, width=80):
    """Keep every line within the console: wrap sentences, cut excerpts (marked with ~)."""
    if len(line) <= width or "\x1b[" in line:
        return line
    if line.startswith("      ") or line.startswith("    "):
        return line[:width - 1] + "~"
    indent = len(line) - len(line.lstrip(" "))
    return "\n".join(textwrap.wrap(line, width=width, subsequent_indent=" " * (indent + 4),
                                   break_long_words=True, break_on_hyphens=False))


def _explain(boot, utc, verbose):
    out = []
    if boot.kdump:
        saved = {"saved": "the vmcore was saved", "failed": "saving the vmcore FAILED"}.get(
            boot.dump, "no vmcore saving seen in the log")
        out.append("  boot %d is the kdump capture kernel (elfcorehdr= on its command line), not a normal "
                   "boot: %s" % (boot.number, saved))
        for item in boot.dump_evidence[-(3 if verbose else 1):]:
            out.append("      %s: %s" % (_where(item), _excerpt(item)))
    if boot.ending == "unclean":
        cause = boot.cause or {"title": "no evidence", "evidence": []}
        out.append("  boot %d ended uncleanly%s: %s" % (
            boot.number, "" if boot.relative else " after %s" % _when(boot, boot.end, utc, seconds=True),
            cause["title"]))
        if boot.end_how == "shutdown began, did not finish":
            out.append("      a shutdown began but never finished (hung during shutdown, then reset?)")
        for item in cause["evidence"][:3 if not verbose else 10]:
            out.append("      %s: %s" % (_where(item), _excerpt(item)))
        if boot.recovery:
            out.append("      next boot recovered filesystems (corroborates): %s" % _where(boot.recovery[0]))
    cause_kind = (boot.cause or {}).get("kind")
    for initiator in boot.initiators:
        if (verbose or boot.ending == "unclean") and initiator["kind"] != cause_kind:
            item = initiator["evidence"][-1]
            out.append("      asked by %s: %s: %s" % (initiator["kind"], _where(item), _excerpt(item)))
    if verbose and boot.ending == "clean":
        for item in boot.end_evidence[-2:]:
            out.append("  boot %d ended cleanly: %s: %s" % (boot.number, _where(item), _excerpt(item)))
    return out


def _details(boot, utc):
    out = ["  boot %d: %s .. %s" % (boot.number, _when(boot, boot.start, utc, True), _when(boot, boot.end, utc, True))]
    if boot.start_evidence is not None:
        out.append("    start: %s: %s" % (_where(boot.start_evidence), _excerpt(boot.start_evidence, 110)))
    for item in boot.end_evidence:
        out.append("    end:   %s: %s" % (_where(item), _excerpt(item, 110)))
    if boot.cmdline:
        out.append("    cmdline: %s" % boot.cmdline[:150])
    if boot.target_seconds is not None:
        out.append("    default target reached after %s" % timeparse.format_duration(boot.target_seconds))
    if boot.boot_ids:
        out.append("    boot id: %s" % ", ".join(sorted(boot.boot_ids)))
    if boot.logger_restarts:
        out.append("    system logger restarted %d time(s) during this boot (not boots)" % boot.logger_restarts)
    out.append("    seen in: %s" % ", ".join(boot.inputs))
    return out


# ------------------------------------------------------------------ main

def run(args):
    fail_on = cli.fail_on_values(args, FAIL_ON)
    source, log_dir, files, what = _open(args)
    since, until = cli.time_window(args)
    if not args.json:
        cli.warn(TOOL, "reading %s" % what)
    timeline = boottimeline.timeline(source, journal=args.journal, utc=args.utc, files=files,
                                     log_dir=log_dir, since=since, until=until, last=args.last)
    if not timeline.inputs:
        raise cli.ToolError("no logs found in %s" % what, "no messages*, syslog*, kern.log*, dmesg*, wtmp* or "
                            "journal there", "point --root, --log-dir or FILE at the logs", code=cli.EXIT_FINDINGS)
    found = timeline.findings()
    if args.json:
        output.emit_json(TOOL, timeline.to_dict(), warnings=source.warnings, source=what)
    else:
        for warning in source.warnings:
            cli.warn(TOOL, warning)
        output.write(render(timeline, args.utc, args.verbose, what, output.use_colour()))
    triggered = False
    if "unclean" in fail_on and any(b.ending == "unclean" for b in timeline.boots):
        triggered = True
    if "loop" in fail_on and timeline.loops():
        triggered = True
    if "problem" in fail_on and any(f.check.startswith("bootlog.problem") for f in found):
        triggered = True
    if triggered:
        return cli.EXIT_FINDINGS
    if source.warnings:
        return cli.EXIT_PARTIAL
    return cli.EXIT_OK


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
