#!/usr/bin/env python3
"""perfcollect - record performance data unattended within a disk budget, capture triggered snapshots, analyze.

USAGE: perfcollect run [--out DIR] [--interval 5s] [--duration 24h] [--max-size 500M] [--trigger EXPR ...]
       perfcollect start ...              the same, detached (pid file in DIR)
       perfcollect status DIR | stop DIR
       perfcollect quick [--duration 60s] [--scrub]      a short capture packed as one tar.gz
       perfcollect analyze DIR [--since T --until T] [--baseline-since T --baseline-until T]
       perfcollect install-service [--yes] | uninstall-service [--yes]

For the intermittent problem ("it happened at 03:14 last night"): records
what procstat sees -- CPU per CPU, load, run queue, memory, vmstat, PSI,
every disk, every interface, TCP -- plus the top processes by CPU, memory
and I/O, on a fixed schedule that does not drift, into gzip'ed JSON Lines
segments that a SIGKILL or power loss cannot corrupt, never exceeding
--max-size (oldest segments go first) and pausing when the filesystem's
free space falls under a floor.  Triggers (metric thresholds, log lines,
kernel messages) capture a snapshot and keep the minutes *before* the trip
at high resolution.  analyze answers afterwards with timestamps and peaks.

Overhead: one read of /proc/stat, meminfo, vmstat, loadavg, pressure,
diskstats, net/* and /proc/<pid>/stat per interval, status and io only
of processes whose stat changed; 5-10 ms of CPU per sample with a few
hundred processes, a few hundred bytes of disk per sample; nice 10 and
the idle I/O class.  devtools/bench_perfcollect.py: 0.7x the CPU seconds
of sar -A + pidstat over 60 s with 300 idle processes beside.
"""

import os
import signal
import socket
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, output, perf_budget, perf_format, perf_triggers  # noqa: E402
from shared import recorder, recorder_daemon, runner, timeparse  # noqa: E402

# perf_analyze, perf_service and perf_pack are imported by the actions that use
# them: a recorder started every boot should not compile the analyzer.

TOOL = "perfcollect"
SUMMARY = "record performance data unattended within a disk budget, capture triggered snapshots, analyze"
ACTIONS = ("run", "start", "stop", "status", "quick", "analyze", "install-service", "uninstall-service")
DEFAULT_OUT = "/var/log/perfcollect"

EXAMPLES = """\
  perfcollect run --interval 5 --duration 24h --max-size 500M --out /var/log/perfcollect
  perfcollect start --out /var/log/perfcollect --trigger 'load1>10' --trigger 'kmsg:soft lockup'
  perfcollect start --trigger 'disk:*:await_ms>50' --trigger 'log:/var/log/messages:hung_task'
  perfcollect status /var/log/perfcollect       is it running, how full, what tripped
  perfcollect stop /var/log/perfcollect         signals only the PID of its own pid file
  perfcollect analyze /var/log/perfcollect --since '2024-06-09 03:00' --until '2024-06-09 03:30'
  perfcollect analyze DIR --since '2024-06-09 03:00' --until '2024-06-09 03:30' \\
      --baseline-since '2024-06-08 03:00' --baseline-until '2024-06-08 03:30'
  perfcollect quick --duration 60s --scrub      one tar.gz for the ticket, path printed
  perfcollect install-service --interval 10 --max-size 1G         show the unit
  perfcollect install-service --interval 10 --max-size 1G --yes   write and enable it
"""


def _minutes(text):
    """--pre/--post: a bare number is minutes (5 = 5m); units as anywhere else."""
    value = str(text).strip()
    try:
        return float(value) * 60.0
    except ValueError:
        return cli.duration_type(value)


_minutes.__name__ = "duration"


def _floor(text):
    try:
        return perf_budget.parse_floor(text)
    except ValueError as error:
        import argparse
        raise argparse.ArgumentTypeError(str(error))


_floor.__name__ = "size or percent"


def _seconds(text):
    value = cli.duration_type(text)
    if value <= 0:
        import argparse
        raise argparse.ArgumentTypeError("must be more than 0: %r" % (text,))
    return value


_seconds.__name__ = "duration"


def build_parser():
    parser = cli.make_parser(TOOL, SUMMARY, EXAMPLES,
                             common=("root", "json", "utc", "since", "until", "verbose", "yes", "debug",
                                     "version"),
                             fail_on=("critical", "warning"))
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION",
                        help="run, start, stop, status, quick, analyze, install-service, uninstall-service")
    parser.add_argument("dir", nargs="?", default=None, metavar="DIR",
                        help="the recording folder (same as --out)")
    rec = parser.add_argument_group("recording (run, start, quick, install-service)")
    rec.add_argument("--out", metavar="DIR", default=None,
                     help="recording folder (default %s; quick: the folder for the tar.gz, default the "
                          "current one)" % DEFAULT_OUT)
    rec.add_argument("--interval", metavar="SECONDS", type=_seconds, default=None,
                     help="seconds between samples written (default 5; quick: 1)")
    rec.add_argument("--duration", metavar="TIME", type=_seconds, default=None,
                     help="stop after TIME (24h, 90m; default: until stopped; quick: 60s)")
    rec.add_argument("--max-size", metavar="SIZE", type=cli.size_type, default=None,
                     help="never use more than SIZE in the folder (default 500M; quick: 100M); the oldest "
                          "segments go first")
    rec.add_argument("--min-free", metavar="FLOOR", type=_floor, default=None,
                     help="pause writing while the filesystem has less free space than FLOOR: a size (2G) or "
                          "a percentage (10%%) (default: the larger of 5%% and 1G)")
    rec.add_argument("--trigger", metavar="EXPR", action="append", default=[],
                     help="capture a snapshot when EXPR holds: load1>10, mem_available_pct<5, dstate>=3, "
                          "disk:sda:await_ms>50, psi_io_some_avg10>20, log:PATH:REGEX, kmsg:REGEX "
                          "(repeatable)")
    rec.add_argument("--pre", metavar="MINUTES", type=_minutes, default=300.0,
                     help="keep this much high-resolution data from before a trip (default 5 minutes)")
    rec.add_argument("--post", metavar="MINUTES", type=_minutes, default=300.0,
                     help="record at high resolution this long after a trip (default 5 minutes)")
    rec.add_argument("--cooldown", metavar="TIME", type=cli.duration_type, default=600.0,
                     help="no new snapshot this soon after the last one (default 10m)")
    rec.add_argument("--once", action="store_true", help="stop watching the triggers after the first trip")
    rec.add_argument("--hires-interval", metavar="SECONDS", type=_seconds, default=None,
                     help="sampling interval of the pre/post-trigger ring (default 1s)")
    rec.add_argument("--top", metavar="N", type=cli.positive_int, default=10,
                     help="top processes kept per sample by CPU, memory and I/O (default 10)")
    rec.add_argument("--proc-interval", metavar="SECONDS", type=_seconds, default=None,
                     help="seconds between records of the whole process table (default 60; quick: 5)")
    rec.add_argument("--with-sysstat", action="store_true",
                     help="also run sar -A and pidstat for the same window (where sysstat is installed)")
    rec.add_argument("--if-not-running", action="store_true",
                     help="start: succeed quietly when the folder is already being recorded (for cron)")
    rec.add_argument("--scrub", action="store_true",
                     help="quick: replace hostnames, addresses, users and secrets in the archive")
    rec.add_argument("--program", metavar="COMMAND", default=None,
                     help="install-service: the command that runs perfcollect (default: this program)")
    ana = parser.add_argument_group("analysis (analyze, stop, status)")
    ana.add_argument("--baseline-since", metavar="TIME", type=cli.when_type, default=None,
                     help="compare with a good window from TIME (same forms as --since)")
    ana.add_argument("--baseline-until", metavar="TIME", type=cli.when_type, default=None,
                     help="... up to TIME")
    ana.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=15.0,
                     help="stop: how long to wait for the recorder to end (default 15)")
    return parser


# ---------------------------------------------------------------- helpers

def _directory(args, required=True, default=None):
    path = args.dir or args.out or default
    if path is None and required:
        raise cli.ToolError("%s needs the recording folder" % args.action,
                            fix="perfcollect %s DIR" % args.action, code=cli.EXIT_USAGE)
    return os.path.abspath(path) if path else None


def _settings(args, out, quick=False):
    for expression in args.trigger:
        try:
            perf_triggers.parse(expression)
        except perf_triggers.TriggerError as error:
            raise cli.ToolError("bad --trigger: %s" % error, code=cli.EXIT_USAGE)
    interval = args.interval or (1.0 if quick else 5.0)
    max_size = args.max_size or (100 if quick else 500) * 1024 ** 2
    if max_size < perf_budget.MIN_MAX_SIZE:
        raise cli.ToolError("--max-size %s is too small" % timeparse.format_size(max_size),
                            fix="use at least %s" % timeparse.format_size(perf_budget.MIN_MAX_SIZE),
                            code=cli.EXIT_USAGE)
    duration = args.duration or (60.0 if quick else None)
    if args.hires_interval and args.hires_interval > interval:
        raise cli.ToolError("--hires-interval is longer than --interval", fix="make it shorter (default 1s)",
                            code=cli.EXIT_USAGE)
    return recorder.Settings(out, interval=interval, hires_interval=args.hires_interval, duration=duration,
                             max_size=max_size, floor=args.min_free, pre=args.pre, post=args.post,
                             cooldown=args.cooldown, once=args.once, triggers=args.trigger, top=args.top,
                             proc_interval=args.proc_interval or (5.0 if quick else 60.0),
                             with_sysstat=args.with_sysstat, quick=quick)


def _live_only(args):
    if args.root not in (None, "/"):
        raise cli.ToolError("%s records the running system; --root is for install-service" % args.action,
                            fix="drop --root", code=cli.EXIT_USAGE)


def _warn(message):
    cli.warn(TOOL, message)


class _Stopper(object):
    """SIGTERM / SIGINT / SIGHUP end the recording cleanly (the records so far are kept)."""

    def __init__(self, rec):
        self.rec = rec
        self.signal = None
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):
                pass
        return self

    def _handle(self, number, frame):
        self.signal = number
        self.rec.stop("signal %s" % {signal.SIGTERM: "TERM", signal.SIGINT: "INT",
                                     signal.SIGHUP: "HUP"}.get(number, number))

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        return False


def _record(settings, warn, notify=None):
    rec = recorder.Recorder(settings, warn=warn)
    with _Stopper(rec) as stopper:
        try:
            rec.open()
        except (recorder.RecorderError, recorder_daemon.DaemonError) as error:
            fix = error.args[1] if isinstance(error, recorder.RecorderError) and len(error.args) > 1 \
                else getattr(error, "fix", None)
            if notify:
                notify(False, str(error.args[0]), fix)
            raise cli.ToolError(str(error.args[0]), fix=fix)

        def started():
            # run, start and quick all leave a pid file: 'perfcollect stop DIR' ends any of them
            recorder_daemon.write_pidfile(settings.out)
            if notify:
                notify(True)
        try:
            rec.run(started=started, opened=True)
        finally:
            recorder_daemon.remove_pidfile(settings.out, os.getpid())
    return rec, stopper.signal


def _summary_line(settings, summary):
    return "recorded %d sample(s) into %s (%s used of %s)%s" % (
        summary.get("samples", 0), settings.out, timeparse.format_size(summary.get("used")),
        timeparse.format_size(settings.max_size),
        "; %d trigger trip(s)" % summary["fired"] if summary.get("fired") else "")


# ---------------------------------------------------------------- actions

def do_run(args):
    _live_only(args)
    settings = _settings(args, _directory(args, default=DEFAULT_OUT))
    if not args.json:
        cli.warn(TOOL, "recording into %s every %ss%s, at most %s (Ctrl-C or 'stop' ends it)"
                 % (settings.out, _num(settings.interval),
                    " for %s" % timeparse.format_duration(settings.duration) if settings.duration else "",
                    timeparse.format_size(settings.max_size)))
    rec, stopped_by = _record(settings, _warn)
    summary = dict(rec.summary, directory=settings.out)
    if args.json:
        output.emit_json(TOOL, {"action": "run", "summary": summary}, source="/")
    else:
        output.write(_summary_line(settings, summary) + "\n")
    if stopped_by == signal.SIGINT:
        return cli.EXIT_INTERRUPTED
    return cli.EXIT_OK


def do_start(args):
    _live_only(args)
    settings = _settings(args, _directory(args, default=DEFAULT_OUT))
    try:
        os.makedirs(settings.out, exist_ok=True)
    except OSError as error:
        raise cli.ToolError("cannot create %s (%s)" % (settings.out, error.strerror or error),
                            fix="choose a writable folder with --out")
    if recorder_daemon.is_locked(settings.out):
        pid, why = recorder_daemon.verify(settings.out)
        if args.if_not_running:
            return cli.EXIT_OK
        raise cli.ToolError("%s is already being recorded%s" % (settings.out, " by pid %d" % pid if pid else ""),
                            fix="'perfcollect status %s'; stop it first to change the settings" % settings.out)
    sys.stdout.flush()
    sys.stderr.flush()

    def body(notify):
        def warn(message):
            sys.stderr.write("%s %s: %s\n" % (timeparse.iso_utc(), TOOL, message))
            sys.stderr.flush()
        try:
            _record(settings, warn, notify)
        except cli.ToolError as error:
            notify(False, error.what, error.fix)
            return 1
        return 0

    try:
        pid = recorder_daemon.daemonize(settings.out, body)
    except recorder_daemon.DaemonError as error:
        raise cli.ToolError(error.what, fix=error.fix)
    if args.json:
        output.emit_json(TOOL, {"action": "start", "pid": pid, "directory": settings.out}, source="/")
    else:
        output.write("perfcollect: recording in the background as pid %d into %s\n"
                     "  status: perfcollect status %s\n  stop:   perfcollect stop %s\n"
                     % (pid, settings.out, settings.out, settings.out))
    return cli.EXIT_OK


def do_stop(args):
    directory = _directory(args)
    try:
        pid = recorder_daemon.stop(directory, timeout=args.timeout)
    except recorder_daemon.DaemonError as error:
        raise cli.ToolError(error.what, fix=error.fix)
    if args.json:
        output.emit_json(TOOL, {"action": "stop", "pid": pid, "directory": directory}, source="/")
    else:
        output.write("stopped pid %d (%s)\n" % (pid, directory))
    return cli.EXIT_OK


def do_status(args):
    directory = _directory(args)
    if not os.path.isdir(directory) or not perf_format.is_recording(directory):
        raise cli.ToolError("%s is not a perfcollect recording" % directory,
                            fix="give the folder passed to --out", code=cli.EXIT_USAGE)
    from shared import perf_analyze
    pid, why = recorder_daemon.verify(directory)
    info = perf_analyze.recording_info(directory)
    info["running"] = why is None
    info["pid"] = pid if why is None else None
    info["not_running_because"] = why
    info["free"], info["floor"] = _free(directory, (info.get("settings") or {}).get("floor"))
    if args.json:
        output.emit_json(TOOL, {"action": "status", "status": info}, source="/")
    else:
        output.write(_status_text(info, args.utc))
    return cli.EXIT_OK if info["running"] else cli.EXIT_FINDINGS


def _free(directory, floor):
    return perf_budget.free_space(directory, tuple(floor) if floor else None)


def _status_text(info, utc):
    t = lambda stamp: timeparse.format_time(stamp, utc)  # noqa: E731
    lines = []
    last_run = info.get("last_run") or {}
    if info["running"]:
        lines.append("%s: recording, pid %d%s" % (info["directory"], info["pid"],
                                                  " (PAUSED: free space under the floor)"
                                                  if info.get("state") == "paused" else ""))
    elif info.get("state") == "stopped":
        lines.append("%s: stopped at %s (%s)" % (info["directory"], t(last_run.get("ended")),
                                                  last_run.get("end_reason") or "?"))
    else:
        lines.append("%s: not running, and it did not stop cleanly: %s" % (info["directory"],
                                                                          info["not_running_because"]))
    settings = info.get("settings") or {}
    if settings:
        lines.append("  every %ss, at most %s, free-space floor %s%s" % (
            _num(settings.get("interval") or 0), timeparse.format_size(settings.get("max_size")),
            settings.get("min_free"), ", %d trigger(s)" % len(settings.get("triggers") or [])
            if settings.get("triggers") else ""))
    lines.append("  started %s, last sample %s%s" % (
        t(info.get("started")), t(info.get("last_sample")),
        " (%s ago)" % timeparse.format_duration(time.time() - info["last_sample"]) if info.get("last_sample") else ""))
    lines.append("  %d segment(s), %s in the folder; filesystem free %s (floor %s)%s" % (
        info["segments"], timeparse.format_size(info["bytes"]), timeparse.format_size(info.get("free")),
        timeparse.format_size(info.get("floor")), ""))
    deleted = info.get("deleted") or {}
    if deleted.get("segments"):
        lines.append("  %d old segment(s) deleted to stay within the budget" % deleted["segments"])
    if info.get("kmsg"):
        lines.append("  kernel messages: %s" % info["kmsg"])
    for fired in info.get("fired") or []:
        lines.append("  trip %s  %s: %s (snapshot %s)" % (t(fired.get("t")), fired.get("trigger"), fired.get("detail"),
                                                         fired.get("snapshot")))
    if info.get("errors_total"):
        lines.append("  %d problem(s), the last:" % info["errors_total"])
        for error in info["errors"][-5:]:
            lines.append("    %s  %s" % (t(error.get("time")), error.get("message")))
    if info.get("manifest_problem") and info["manifest_problem"] != "missing":
        lines.append("  manifest.json %s" % info["manifest_problem"])
    from shared import perf_analyze
    return perf_analyze.fit_text("\n".join(lines)) + "\n"


def do_analyze(args):
    from shared import perf_analyze
    directory = _directory(args)
    if bool(args.baseline_since) != bool(args.baseline_until):
        raise cli.ToolError("--baseline-since and --baseline-until go together", code=cli.EXIT_USAGE)
    since, until = cli.time_window(args)
    baseline = None
    if args.baseline_since:
        baseline = (timeparse.parse_when(args.baseline_since, utc=args.utc),
                    timeparse.parse_when(args.baseline_until, utc=args.utc))
    pid, why = recorder_daemon.verify(directory) if os.path.isdir(directory) else (None, "")
    try:
        # The folder as the user typed it, so the text shows their path (JSON has the absolute one).
        given = args.dir or args.out or directory
        result, warnings, found = perf_analyze.analyze(given, since, until, baseline, utc=args.utc,
                                                       running=why is None)
    except perf_analyze.AnalyzeError as error:
        raise cli.ToolError(str(error), fix="give the folder a recording was written to", code=cli.EXIT_USAGE)
    corrupt = [p for p in result["read_problems"] if "corrupt" in p or "unreadable" in p]
    if why is None:
        warnings.append("the recording is still running (pid %d); the newest records may be missing" % pid)
    elif (result["recording"].get("state") in ("running", "paused")):
        warnings.append("the recorder did not stop cleanly (killed, crashed or power loss); everything "
                        "written before is analysed")
    if args.json:
        output.emit_json(TOOL, {"action": "analyze", "analysis": result}, warnings=warnings + result["read_problems"],
                         source=directory)
    else:
        for line in warnings:
            cli.warn(TOOL, line)
        if result["samples"] == 0:
            cli.warn(TOOL, "no samples in the window (check --since/--until against the recording's times)")
        output.write(perf_analyze.render_text(result, args.utc, output.use_colour(), args.verbose))
    levels = cli.fail_on_values(args, ("critical", "warning"))
    from shared import findings
    for level in ("critical", "warning"):
        if level in levels and findings.reaches(found, level):
            return cli.EXIT_FINDINGS
    return cli.EXIT_PARTIAL if corrupt else cli.EXIT_OK


def _output_folder(args):
    candidates = [args.out] if args.out else [os.getcwd(), "/var/tmp", "/tmp", "/dev/shm"]
    for folder in candidates:
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK):
            return os.path.abspath(folder)
    raise cli.ToolError("no writable folder for the capture (tried %s)" % ", ".join(c for c in candidates if c),
                        fix="pass --out DIR on a writable filesystem")


def do_quick(args):
    _live_only(args)
    folder = _output_folder(args)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
    name = "perfcollect-%s-%s" % (socket.gethostname().split(".")[0] or "host", stamp)
    work = os.path.join(folder, name)
    settings = _settings(args, work, quick=True)
    if not args.json:
        cli.warn(TOOL, "capturing %s every %ss into %s.tar.gz" % (
            timeparse.format_duration(settings.duration), _num(settings.interval), work))
    rec, stopped_by = _record(settings, _warn)
    from shared import perf_pack
    scrubber = None
    if args.scrub:
        scrubber = _scrubber()
    tar_path = work + ".tar.gz"
    count, notes = perf_pack.pack(work, tar_path, scrubber)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    mapping = None
    if scrubber is not None and scrubber.mapping:
        mapping = work + ".scrub-map.txt"
        fd = os.open(mapping, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(scrubber.mapping_text())
    result = {"action": "quick", "archive": tar_path, "files": count, "scrubbed": bool(scrubber),
              "scrub_map": mapping, "notes": notes, "summary": rec.summary}
    if args.json:
        output.emit_json(TOOL, result, source="/")
    else:
        output.write(tar_path + "\n")
        if mapping:
            cli.warn(TOOL, "the scrub mapping (for you, not the ticket) is in %s" % mapping)
    return cli.EXIT_INTERRUPTED if stopped_by == signal.SIGINT else cli.EXIT_OK


def _scrubber():
    from shared import procfs, scrub, sources
    names = [socket.gethostname(), socket.getfqdn()]
    try:
        names += scrub.hostnames_from_source(sources.open_source(None))
    except Exception:
        pass
    users = []
    for line in procfs.ProcFS("/").lines("etc/passwd"):
        parts = line.split(":")
        if len(parts) > 2 and parts[2].isdigit() and 1000 <= int(parts[2]) < 60000:
            users.append(parts[0])
    return scrub.Scrubber(hostnames=[n for n in names if n], users=users)


def _root(args):
    return os.path.abspath(args.root or "/")


def do_install(args):
    from shared import perf_service
    root = _root(args)
    out = _directory(args, default=DEFAULT_OUT)
    settings = _settings(args, out)
    try:
        program = perf_service.program_command(args.program)
        plan = perf_service.plan_install(root, program, _service_args(args, settings), out)
    except perf_service.ServiceError as error:
        raise cli.ToolError(error.what, fix=error.fix)
    return _apply_plan(args, plan, "install")


def _service_args(args, settings):
    words = ["--interval", _num(settings.interval), "--max-size", _size_arg(settings.max_size)]
    if args.min_free is not None:
        kind, value = args.min_free
        words += ["--min-free", ("%g%%" % value) if kind == "pct" else _size_arg(value)]
    if args.duration:
        words += ["--duration", "%ds" % args.duration]
    for expression in args.trigger:
        words += ["--trigger", expression]
    if args.trigger:
        words += ["--pre", "%ds" % args.pre, "--post", "%ds" % args.post, "--cooldown", "%ds" % args.cooldown]
        if args.hires_interval:
            words += ["--hires-interval", _num(args.hires_interval)]
        if args.once:
            words.append("--once")
    if args.top != 10:
        words += ["--top", str(args.top)]
    if args.proc_interval:
        words += ["--proc-interval", _num(args.proc_interval)]
    if args.with_sysstat:
        words.append("--with-sysstat")
    return words


def _size_arg(value):
    for unit, size in (("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if value % size == 0:
            return "%d%s" % (value // size, unit)
    return str(int(value))


def do_uninstall(args):
    from shared import perf_service
    root = _root(args)
    try:
        plan = perf_service.plan_uninstall(root)
    except perf_service.ServiceError as error:
        raise cli.ToolError(error.what, fix=error.fix)
    return _apply_plan(args, plan, "uninstall")


def _apply_plan(args, plan, which):
    from shared import perf_service
    doing = args.yes
    if args.json and not doing:
        output.emit_json(TOOL, {"action": "%s-service" % which, "applied": False, "plan": plan.to_dict()},
                         source=plan.root)
        return cli.EXIT_OK
    if not args.json:
        output.write(("%s (%s):\n" % ("would do" if not doing else "doing", plan.init or "?")) + plan.text())
    if not doing:
        if not args.json:
            output.write("nothing changed; add --yes to do it\n")
        return cli.EXIT_OK
    if plan.live and os.geteuid() != 0:
        raise cli.ToolError("%s-service changes the running system and needs root" % which,
                            fix="run it as root (or use --root DIR for a mounted tree)", code=cli.EXIT_UNSUPPORTED)
    try:
        if which == "install":
            problems = perf_service.apply_install(plan, runner.run)
        else:
            problems = perf_service.apply_uninstall(plan, runner.run, stop=_stop_quietly)
    except OSError as error:
        raise cli.ToolError("%s-service failed: %s" % (which, error),
                            fix="check permissions on %s" % plan.root)
    if args.json:
        output.emit_json(TOOL, {"action": "%s-service" % which, "applied": True, "plan": plan.to_dict(),
                                "problems": problems}, warnings=problems, source=plan.root)
    else:
        for problem in problems:
            cli.warn(TOOL, problem)
        output.write("done\n")
    return cli.EXIT_PARTIAL if problems else cli.EXIT_OK


def _stop_quietly(directory):
    try:
        recorder_daemon.stop(directory)
    except recorder_daemon.DaemonError as error:
        if "nothing to stop" in error.what:
            return None
        return error.what
    return None


def _num(value):
    return ("%d" % value) if float(value) == int(value) else ("%g" % value)


def run(args):
    if args.action not in ("install-service", "uninstall-service") and args.root not in (None, "/") \
            and args.action not in ("run", "start", "quick"):
        raise cli.ToolError("--root is for install-service and uninstall-service", code=cli.EXIT_USAGE)
    handler = {"run": do_run, "start": do_start, "stop": do_stop, "status": do_status, "quick": do_quick,
               "analyze": do_analyze, "install-service": do_install, "uninstall-service": do_uninstall}
    return handler[args.action](args)


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
