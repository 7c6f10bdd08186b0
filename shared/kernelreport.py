"""Kernel reports: find, classify and explain oopses, lockups, stalls, OOM kills.

The engine behind ``oops`` (and ``bootlog``, ``report``, ``triage``,
``kdumpsetup``): it reads kernel messages in any shape the shared log
parser understands (raw dmesg with or without printk caller ids, ``dmesg
-T``, syslog and journal lines, journal JSON, serial console captures,
``vmcore-dmesg.txt``, pstore files) and returns one ``Report`` per kernel
report, with a normalized title a person can search for.

Public API (stable; other tools call it)::

    scan(items, utc=False)                   -> [Report]
        items: shared.logs.Record, shared.sources.Line or str, in log order.
    scan_stream(stream, origin, mtime=None, utc=False) -> ([Report], problem)
        a binary stream (file, stdin), prefiltered with textio.MatchScanner
        and one compiled trie of header literals; problem is a read problem.
    scan_path(path, utc=False)               -> ([Report], [warning])
    scan_file(real_path, origin=None, utc=False, runner_fn=None) -> ([Report], problem)
        big uncompressed files are indexed with grep (through the shared
        runner) and only the report regions read; the rest streams through
        textio.MatchScanner -- the same marker literals, the same result.
    scan_source(source, since=None, until=None, utc=False, runner_fn=None,
                ring_buffer=True, journal=True) -> [Report]
        everything a shared.sources.Source holds: the ring buffer (live only,
        ``dmesg`` through the shared runner, else /dev/kmsg), the journal
        (kernel transport), syslog files with rotations, sos/supportconfig
        exports, /var/crash/*/vmcore-dmesg.txt, pstore dmesg files.
        Duplicates of one report seen in several logs are merged (``also_in``);
        problems are added to ``source.warnings``.
    group_reports(reports)                   -> [Group]
        same title -> one Group(title, kind, count, first, last, panicked,
        reports); follow-on reports are left to their primary.
    primaries(reports)                       -> [Report]  (first of each incident)
    reports_near(reports, stamp=None, mono=None, before=600, after=60)
                                             -> [Report]  (primaries, nearest first)
        what bootlog asks to name the cause of an unclean shutdown.
    summary_findings(reports, settings=None, dump_possible=None) -> [Finding]
        one shared.findings.Finding per group of primaries (check
        "oops.<kind>"), evidence = header lines, fix = first advice line.
    read_settings(source_or_root)            -> {sysctl: value or None}
        watchdog / panic sysctls from the root's /proc/sys (shared.procfs).
    dump_possible(source_or_root)            -> True / False / None
        whether a crash dump could have been captured (kexec loaded, a
        crashkernel= reservation); None when unknown.
    advice(report, settings=None, dump_possible=None) -> [str]
    Report.to_dict()                         -> JSON-ready dict (schema below)

Report fields: kind (see kernelreport_kinds.KINDS), title, guilty
(function or None), severity, noise, header (first line text), origin /
lineno / end_lineno, stamp (epoch or None), mono (seconds or None),
last_stamp / last_mono / count (repeats folded into this report), caller,
boot (index of the boot within its input), cpu, pid, comm, kernel,
taint (letters), hardware, pc / pc_module, lr, trace (Frame list),
modules, modules_flagged, panicked, panic_reason, corrupted, problems
(why it is flagged), interleaved, separated (interleaving undone by caller
id), details (kind specific: oom victim and tables, file/line, address,
device...), primary (bool), follows (the primary's key) and follow_ons,
also_in (other origins that held the same report), lines (the text).

JSON (``Report.to_dict``) keys: kind, title, guilty, severity, noise,
time {stamp, iso, mono, last_stamp, last_mono}, count, origin, line,
end_line, boot, caller, cpu, pid, comm, kernel, taint {letters, flags:
[{letter, name, meaning}]}, hardware, pc {function, offset, module, text},
trace [{function, offset, size, module, unreliable, section}], modules,
modules_flagged [{name, flags, meaning}], panicked, panic_reason,
corrupted, problems, interleaved, separated, details, primary, follows,
follow_ons [{kind, title, line}], also_in, text.
"""

import collections
import os
import re
import time

from . import findings, logs, textio, timeparse
from . import kernelreport_kinds as kinds
from .sources import Line

KEEP_PER_TITLE = 20        # full reports kept per title; further repeats are counted
MAX_LINES = 4000           # lines kept per report (OOM task tables can be huge)
FOLLOW = 12                # lines a prefiltered scan reads past a report line
FOLLOW_ON_SECONDS = 300.0  # a panic this soon after a report belongs to it
CASCADE_SECONDS = 10.0     # reports this soon after a fatal one belong to it

Frame = collections.namedtuple("Frame", "function offset size module unreliable section text")
Group = collections.namedtuple("Group", "title kind count first last panicked reports")
KLine = collections.namedtuple("KLine", "text mono stamp caller origin lineno boot_id")

_INLINE_STAMP = re.compile(r"<\d{1,3}>\s*\[\s*(\d+\.\d{3,9})\](?:\[\s*([TC]\d+)\])?\s?|"
                           r"\[\s*(\d+\.\d{3,9})\](?:\s*\[\s*([TC]\d+)\])?\s?")
_ADDRESS = re.compile(r"\b(?:0x)?[0-9a-fA-F]{8,16}\b")
_NUMBERS = re.compile(r"\d+")


# ================================================================ normalising input

_clean = textio.strip_terminal


class _Normaliser(object):
    """Turn Records / Lines / str into KLines (kernel messages only)."""

    def __init__(self, utc=False, mono_base=None):
        self.utc = utc
        self.mono_base = mono_base
        self._parsers = {}

    def parser(self, origin, mtime=None):
        parser = self._parsers.get(origin)
        if parser is None:
            parser = self._parsers[origin] = logs.LineParser(mtime=mtime, utc=self.utc)
        return parser

    def record_of(self, item):
        if isinstance(item, logs.Record):
            return item
        if not isinstance(item, Line):
            item = Line(str(item), "-", 0)
        return self.parser(item.origin).parse(Line(_clean(item.text), item.origin, item.lineno))

    def kline(self, item):
        record = self.record_of(item)
        if record.program not in (None, "kernel", "vmunix"):
            return None, record
        text = _clean(record.message or "")
        mono = record.mono
        caller = record.caller
        if mono is None and record.program is None and "[" in text:
            # A serial console capture: a prompt or garbage glued before the stamp.
            match = _INLINE_STAMP.search(text)
            if match and match.start() < 200:
                raw_mono = match.group(1) or match.group(3)
                mono = float(raw_mono)
                caller = match.group(2) or match.group(4)
                text = text[match.end():]
        stamp = record.stamp
        if stamp is None and mono is not None and self.mono_base is not None:
            stamp = self.mono_base + mono
        line = record.line
        return KLine(text, mono, stamp, caller, line.origin, line.lineno, record.boot_id), record


# ================================================================ the report

class Report(object):
    """One kernel report (see the module docstring for the fields)."""

    def __init__(self, kind):
        self.kind = kind
        label, severity, noise, _ = kinds.KINDS[kind]
        self.label = label
        self.severity = severity
        self.noise = noise
        self.title = label
        self.guilty = None
        self.header = ""
        self.origin = None
        self.lineno = None
        self.end_lineno = None
        self.stamp = None
        self.mono = None
        self.last_stamp = None
        self.last_mono = None
        self.count = 1
        self.caller = None
        self.boot = 0
        self.boot_id = None
        self.cpu = None
        self.pid = None
        self.comm = None
        self.kernel = None
        self.taint = ""
        self.hardware = None
        self.pc = None
        self.pc_module = None
        self.lr = None
        self.trace = []
        self.modules = []
        self.modules_flagged = []
        self.panicked = False
        self.panic_reason = None
        self.corrupted = False
        self.problems = []
        self.interleaved = False
        self.separated = False
        self.details = {}
        self.primary = True
        self.follows = None
        self.follow_ons = []
        self.also_in = []
        self.lines = []

    # -- identity and time
    @property
    def key(self):
        return "%s:%s" % (self.origin, self.lineno)

    @property
    def when(self):
        """Epoch seconds when known, else None."""
        return self.stamp

    def problem(self, text):
        if text not in self.problems:
            self.problems.append(text)

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def taint_flags(self):
        return [(letter,) + kinds.TAINT_MEANING[letter] for letter in self.taint
                if letter in kinds.TAINT_MEANING]

    def to_dict(self):
        return {
            "kind": self.kind,
            "title": self.title,
            "guilty": self.guilty,
            "severity": self.severity,
            "noise": self.noise,
            "time": {"stamp": self.stamp,
                     "iso": timeparse.iso_utc(self.stamp) if self.stamp is not None else None,
                     "mono": self.mono, "last_stamp": self.last_stamp, "last_mono": self.last_mono},
            "count": self.count,
            "origin": self.origin,
            "line": self.lineno,
            "end_line": self.end_lineno,
            "boot": self.boot,
            "caller": self.caller,
            "cpu": self.cpu,
            "pid": self.pid,
            "comm": self.comm,
            "kernel": self.kernel,
            "taint": {"letters": self.taint,
                      "flags": [{"letter": letter, "name": name, "meaning": meaning}
                                for letter, name, meaning in self.taint_flags]},
            "hardware": self.hardware,
            "pc": ({"function": self.pc[0], "offset": self.pc[1], "module": self.pc_module,
                    "text": self.pc[2]} if self.pc else None),
            "lr": self.lr,
            "trace": [{"function": f.function, "offset": f.offset, "size": f.size, "module": f.module,
                       "unreliable": f.unreliable, "section": f.section} for f in self.trace],
            "modules": self.modules,
            "modules_flagged": [{"name": name, "flags": flags, "meaning": meaning}
                                for name, flags, meaning in self.modules_flagged],
            "panicked": self.panicked,
            "panic_reason": self.panic_reason,
            "corrupted": self.corrupted,
            "problems": list(self.problems),
            "interleaved": self.interleaved,
            "separated": self.separated,
            "details": self.details,
            "primary": self.primary,
            "follows": self.follows,
            "follow_ons": [{"kind": r.kind, "title": r.title, "origin": r.origin, "line": r.lineno}
                           for r in self.follow_ons],
            "also_in": list(self.also_in),
            "text": self.lines,
        }

    def __repr__(self):
        return "Report(%r, %r, %s)" % (self.kind, self.title, self.key)


# ================================================================ assembling

# Single-line kinds: the first line that is not part of them ends them.
_TIGHT = frozenset(["io-error", "edac", "segfault", "fs-error", "nmi-unknown"])
_EXTRA_BODY = re.compile(
    r"^(?:[a-z][a-z_]+ \d+\s*$|"                              # memcg stats: anon 4096
    r"[\w-]+\s+\d+KB\s+\d+KB\s*$|"                          # unreclaimable slab rows
    r">\s?[0-9a-f]|"                                        # KASAN shadow marker line
    r"-> #\d|\{|inconsistent |"                             # lockdep, pr_cont {func+off}
    r"[^\s/]+/-?\d+ (?:is |just |has |acquired|changed|\[)|"  # lockdep: comm/pid is trying...
    r"\d+\.\d+\S* #\d+|"                                    # lockdep: 5.10.0 #1 Not tainted
    r"\S+ +[DRSTZXI] +(?:[0-9a-f]{8,16} +)?\d+ +\d+ +\d+ +0x[0-9a-f]+|"  # old hung task line
    r"Disabling lock debugging|turning off the locking correctness|"
    r"Code: |Call Trace|Stack:|Modules linked in|Hardware name|"
    r"[a-z]{2,3}: [0-9a-f]{4,}|"                             # i386 2.6 registers: eax: ffb7ffff
    r"Mem abort|Data abort|Internal error|Process \S+ \(pid|"
    r"Kernel Offset|Rebooting|---\[|last sysfs file|task: [0-9a-f]+ |"
    r"Kdump: loaded|Sample time|Workqueue: |r\d+\s*: |Flags: |Control: |Register r\d+ information|"
    r"Reported by |Supported: |LE PAGE_SIZE|BE PAGE_SIZE|Faulting instruction|Kernel attempted to)")


# A message of some other subsystem: "usb 1-1: ...", "EXT4-fs (sda1): ...",
# "systemd[1]: ...", "pinctrl core: ...".
_SUBSYSTEM_LINE = re.compile(r"^[\w.@/-]+(?:\[\d+\])?(?: [\w.:/()-]+){0,2}: \S")


class _Builder(object):
    """A report being read."""

    __slots__ = ("kind", "match", "lines", "foreign", "interleaved_lines", "dropped", "seen_trace",
                 "ended", "caller", "other_callers", "headers", "tight", "elided",
                 "pending")

    def __init__(self, kind, match, first_lines, caller):
        self.kind = kind
        self.match = match
        self.lines = list(first_lines)
        self.foreign = 0
        self.interleaved_lines = 0
        self.dropped = 0
        self.seen_trace = False
        self.ended = None
        self.caller = caller
        self.other_callers = 0
        self.headers = [(kind, match)]
        self.tight = kind in _TIGHT
        self.elided = 0
        self.pending = []

    def add(self, kline):
        if self.foreign:
            # Lines that did not look like report text came between report
            # lines: another subsystem's messages mean interleaved output;
            # anything else is report text we do not know, kept.
            for pending in self.pending:
                if _SUBSYSTEM_LINE.match(pending.text):
                    self.interleaved_lines += 1
                elif len(self.lines) < MAX_LINES:
                    self.lines.append(pending)
            self.pending = []
            self.foreign = 0
        if len(self.lines) < MAX_LINES:
            self.lines.append(kline)
        else:
            self.ended = self.ended or "cut"


def match_header(text):
    """(kind, groupdict) of a report header at the start of a kernel message, or None."""
    if not kinds.MARKER_RE.search(text):
        return None
    stripped = text.lstrip()
    for kind, regex in kinds.HEADER_TABLE:
        match = regex.match(stripped)
        if match:
            return kind, match.groupdict()
    return None


def _body_like(text):
    if not text:
        return True
    if kinds.BODY_RE.match(text) or _EXTRA_BODY.match(text):
        return True
    return bool(kinds.FRAME_RE.match(text) or kinds.ARM_FRAME_RE.match(text))


class Scanner(object):
    """Feed kernel lines in log order; ``finish()`` returns the reports.

    ``wants_more()`` tells a prefiltering reader (textio.MatchScanner) that a
    report is open and the next lines must be read even if they match no
    header marker.
    """

    def __init__(self, utc=False, mono_base=None, keep_per_title=KEEP_PER_TITLE):
        self.normaliser = _Normaliser(utc=utc, mono_base=mono_base)
        self.keep_per_title = keep_per_title
        self.reports = []
        self.callers_seen = False
        self._open = {}            # caller (or None) -> _Builder
        self._cut = {}             # caller -> pending "cut here" KLine
        self._last = None          # (origin, lineno)
        self._last_mono = None
        self._last_boot_id = None
        self._boot = 0
        self._release = None
        self._hardware = None
        self._dropped = 0
        self._by_title = {}
        self._primary = None
        self._seen_headers = set()
        self._lines_in_boot = 0
        self.replayed = 0

    # -- input
    def feed(self, item):
        """A logs.Record, sources.Line or str (one line of a log)."""
        if isinstance(item, str) and not isinstance(item, Line):
            item = Line(item, "-", 0)
        if isinstance(item, Line) and logs.JOURNAL_MARKER.match(item.text.strip()):
            self._new_boot()
            return
        kline, record = self.normaliser.kline(item)
        if kline is None:
            return
        self.feed_kline(kline)

    def feed_kline(self, k):
        last = self._last
        if last is not None and (k.origin != last[0] or (k.lineno and last[1] and k.lineno != last[1] + 1)):
            self._close_all("the input skips lines" if k.origin == last[0] else "end of input")
        self._last = (k.origin, k.lineno)
        if k.boot_id and k.boot_id != self._last_boot_id:
            if self._last_boot_id is not None:
                self._new_boot()
            self._last_boot_id = k.boot_id
        text = k.text
        if k.mono is not None:
            if self._last_mono is not None and k.mono < self._last_mono - 1.0 and k.mono < 5.0:
                self._new_boot()
            self._last_mono = k.mono
        if text.startswith("Linux version "):
            self._new_boot()
            self._lines_in_boot = 1
            match = kinds.BANNER_RE.match(text)
            self._release = match.group("release") if match else None
            return
        if k.mono is not None or k.stamp is not None:
            self._lines_in_boot += 1
        if text.startswith("DMI: "):
            self._hardware = text[5:].strip()
        if k.caller:
            self.callers_seen = True
        key = k.caller
        builder = self._open.get(key)
        if key is not None and len(self._open) > (1 if builder is not None else 0):
            self._note_other_callers(key, k)
        header = match_header(text)
        if header is not None:
            kind, groups = header
            if kind == "cut-here":
                if builder is not None:
                    self._close(key, "next report")
                self._cut[key] = k
                return
            if builder is not None and self._continues(builder, kind, groups, text):
                builder.add(k)
                builder.headers.append((kind, groups))
                return
            if builder is not None:
                self._close(key, "next report")
            first = [k]
            cut = self._cut.pop(key, None)
            if cut is not None:
                first.insert(0, cut)
            self._open[key] = _Builder(kind, groups, first, key)
            return
        self._cut.pop(key, None)
        dropped = kinds.DROPPED_RE.search(text)
        if dropped:
            count = int(next(g for g in dropped.groups() if g))
            self._dropped += count
            for open_builder in self._open.values():
                open_builder.dropped += count
            return
        if builder is None:
            return
        if kinds.END_RE.match(text):
            builder.add(k)
            self._close(key, "end marker")
            return
        if builder.tight:
            if text.startswith(" ") or text.startswith("\t") or text.startswith("Code: ") or \
                    (builder.kind in ("machine-check", "nmi-unknown") and _body_like(text)):
                builder.add(k)
            else:
                self._close(key, "report ended")
            return
        if text.strip() in ("...", "[...]", "[ ... ]", "<snip>", "[snip]"):
            builder.elided += 1
            builder.add(k)
            return
        if k.mono is None and k.stamp is None and not builder.foreign and builder.lines[-1].mono is not None:
            builder.add(k)      # a line the console or a mailer wrapped: no stamp of its own
            return
        if _body_like(text):
            if kinds.CALLTRACE_RE.match(text):
                builder.seen_trace = True
            builder.add(k)
            return
        if text.strip() in ("...", "[...]", "[ ... ]", "<snip>", "[snip]"):
            builder.elided += 1
            builder.add(k)
            return
        builder.foreign += 1
        builder.pending.append(k)
        if builder.foreign > 4:
            builder.foreign = 0
            self._close(key, "report ended")

    def _note_other_callers(self, key, k):
        # A line of one caller inside another caller's open report: the
        # output of two CPUs was interleaved, and the caller id separates it.
        if key is None:
            return
        for other_key, other in self._open.items():
            if other_key != key and other_key is not None:
                other.other_callers += 1

    def _continues(self, builder, kind, groups, text):
        """True when a header line is a continuation of the open report."""
        open_kind = builder.kind
        if open_kind in kinds.OOPS_FAMILY and not builder.seen_trace:
            if kind == "oops" or (kind in kinds.OOPS_FAMILY and "[#" in text):
                return True
            if kind in ("invalid-opcode", "gpf", "divide-error") and open_kind in ("bug", "null-deref",
                                                                                  "page-fault"):
                return True
        if open_kind in ("oom", "memcg-oom"):
            if kind == "memcg-oom":
                builder.kind = "memcg-oom"
                return True
            if kind == "oom" and "invoked oom-killer" not in text:
                if groups.get("constraint") == "CONSTRAINT_MEMCG":
                    builder.kind = "memcg-oom"
                return True
        if open_kind == "page-alloc-failure" and kind == "oom" and "invoked oom-killer" not in text:
            return True
        if kind == open_kind and kind in ("kasan", "kmsan", "kfence", "kcsan", "ubsan") and \
                len(builder.lines) == len(builder.headers):
            # One header line per inlined frame: the last one names the real function.
            if "+0x" in (groups.get("func") or ""):
                builder.match = groups
            return True
        if open_kind == "machine-check" and kind == "machine-check" and \
                "events logged" not in text:
            return True
        if open_kind == "fs-error" and kind == "fs-error":
            first = builder.match
            return (groups.get("dev") or "").split("-")[0] == (first.get("dev") or "").split("-")[0] \
                or "Aborting journal" in text
        if open_kind == "nmi-unknown" and kind == "nmi-unknown":
            return False
        return False

    def _new_boot(self):
        self._close_all("reboot")
        if self._lines_in_boot:
            self._boot += 1
        self._lines_in_boot = 0
        self._last_mono = None
        self._release = None
        self._hardware = None
        self._primary = None

    def _close_all(self, why):
        for key in list(self._open):
            self._close(key, why)
        self._cut.clear()

    def _close(self, key, why):
        builder = self._open.pop(key, None)
        if builder is None:
            return
        builder.ended = builder.ended or why
        if builder.kind == "panic":
            # A panic whose message is itself a detector's report (hardlockup_panic,
            # softlockup_panic...) is that report, ended in a panic.
            reason = builder.match.get("reason") or ""
            for pattern, kind in _PANIC_KINDS:
                if pattern.search(reason) and (self._primary is None or self._primary.kind != kind
                                               or _gap_lines(self._primary, builder) > 50):
                    builder.kind = kind
                    builder.match = dict(builder.match, cpu=_first_number(reason))
                    break
        report = _build(builder, self)
        self._link(report)

    def wants_more(self):
        return bool(self._open) or bool(self._cut)

    def end_input(self):
        """The current input ended (a file, a pipe): close open reports."""
        self._close_all("end of input")
        self._last = None

    def finish(self):
        self.end_input()
        return self.reports

    # -- incidents and repeats
    def _link(self, report):
        report.boot = self._boot
        if report.mono is not None:
            # A replayed printk buffer (console replay, a saved dmesg appended
            # to a console log) repeats a report with the very same stamp.
            seen = (report.header, report.mono)
            if seen in self._seen_headers:
                self.replayed += 1
                return
            self._seen_headers.add(seen)
        primary = self._primary
        if primary is not None and primary.boot == report.boot and report.kind != "segfault":
            gap = _gap(primary, report)
            follow = False
            if report.kind == "panic" and (gap is None or gap <= FOLLOW_ON_SECONDS):
                follow = True
            elif "D" in report.taint and primary.kind in kinds.FATAL_KINDS:
                follow = True
            elif primary.kind in kinds.FATAL_KINDS and gap is not None and gap <= CASCADE_SECONDS \
                    and report.kind not in ("io-error", "edac", "machine-check"):
                follow = True
            elif primary.kind in ("soft-lockup", "hard-lockup", "rcu-stall", "hung-task", "oom",
                                  "memcg-oom", "warning", "machine-check", "nmi-unknown", "kasan",
                                  "kfence", "ubsan", "lockdep", "fs-error", "io-error") \
                    and report.kind == "panic" and gap is not None and gap <= FOLLOW_ON_SECONDS:
                follow = True
            if follow:
                report.primary = False
                report.follows = primary.key
                primary.follow_ons.append(report)
                if report.kind == "panic":
                    primary.panicked = True
                    primary.panic_reason = primary.panic_reason or report.panic_reason
                    if report.kernel and not primary.kernel:
                        primary.kernel = report.kernel
                self.reports.append(report)
                return
        # Repeats: keep a few full reports per title, count the rest.
        kept = self._by_title.get(report.title)
        if kept is not None and len(kept) >= self.keep_per_title and report.kind not in \
                kinds.FATAL_KINDS and report.kind != "panic":
            last = kept[-1]
            last.count += report.count
            last.last_stamp = report.last_stamp if report.last_stamp is not None else report.stamp
            last.last_mono = report.last_mono if report.last_mono is not None else report.mono
            return
        self._by_title.setdefault(report.title, []).append(report)
        if not report.noise:
            self._primary = report
        self.reports.append(report)


_PANIC_KINDS = (
    (re.compile(r"^Watchdog detected hard LOCKUP on cpu \d+"), "hard-lockup"),
    (re.compile(r"^softlockup: hung tasks"), "soft-lockup"),
)


def _first_number(text):
    match = re.search(r"\d+", text)
    return match.group(0) if match else None


def _gap_lines(report, builder):
    first = builder.lines[0]
    if report.origin != first.origin or report.end_lineno is None or not first.lineno:
        return 1 << 30
    return first.lineno - report.end_lineno


def _gap(first, second):
    """Seconds from the end of one report to the start of the next, or None."""
    end_mono = first.last_mono if first.last_mono is not None else first.mono
    if end_mono is not None and second.mono is not None:
        return second.mono - end_mono
    end_stamp = first.last_stamp if first.last_stamp is not None else first.stamp
    if end_stamp is not None and second.stamp is not None:
        return second.stamp - end_stamp
    if first.origin == second.origin and first.end_lineno is not None and second.lineno is not None:
        # No clock at all (a console capture without printk times): adjacent
        # lines are one incident.
        return 0.0 if second.lineno - first.end_lineno <= 3 else None
    return None


# ================================================================ parsing a report

_CPU_LINE = re.compile(r"^CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<rest>.*)$")
_OLD_PID_LINE = re.compile(r"^Pid: (?P<pid>\d+), comm: (?P<rest>.*)$")
_OLD_PROCESS = re.compile(r"^Process (?P<comm>.+?) \(pid: (?P<pid>\d+),")
_TAINT_SPLIT = re.compile(r"(?:^| )(?:Not tainted|Tainted: (?P<letters>[A-Z][A-Z ]*?))(?:\s+-+)*(?:\s+-)*\s+"
                          r"\(?(?P<release>\d[^\s)]*)(?: (?P<build>#\d+)\)?(?P<after>.*))?$")
_TAINT_ALONE = re.compile(r"^\s*(?:Not tainted|Tainted: (?P<letters>[A-Z][A-Z ]*?))\s+"
                          r"(?P<release>\d[^\s]*)(?: (?P<build>#\d+))?")
_TAINT_AFTER = re.compile(r"^(?P<release>\d[^\s]*) (?P<build>#\d+)(?: \S+)*? (?:Not tainted|"
                          r"Tainted: (?P<letters>[A-Z][A-Z ]*?))\s*$")
_TAINT_NAMES = re.compile(r"^Tainted: ((?:\[[A-Z]\]=\w+(?:, )?)+)\s*$")
_HARDWARE = re.compile(r"^Hardware name: (?P<hw>.+?)\s*$")
_MODULES = re.compile(r"^Modules linked in:(?P<mods>.*)$")
_MODULE_TOKEN = re.compile(r"(?P<name>[\w-]+)(?:\((?P<flags>[A-Z+-]+)\))?")
_OOPS_CODE = re.compile(r"\[#(?P<n>\d+)\]")
_READ_WRITE = re.compile(r"^(?P<rw>Read|Write) of size (?P<size>\d+) at addr (?P<addr>\S+) by task "
                         r"(?P<comm>.+?)/(?P<pid>\d+)")
_KFENCE_ACCESS = re.compile(r"^(?:Out-of-bounds|Use-after-free|Invalid) (?P<rw>read|write)")
_OOM_KILLED = re.compile(r"Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>.*?)\)(?P<rest>.*)$")
_OOM_SIZES = re.compile(r"(?P<name>total-vm|anon-rss|file-rss|shmem-rss|pgtables):(?P<kb>\d+)kB")
_OOM_INVOKED = re.compile(r"^(?P<comm>.+?) invoked oom-killer: gfp_mask=(?P<gfp>[^,\s]+(?:\([^)]*\))?),?"
                          r"(?: nodemask=\S+,?)? order=(?P<order>-?\d+),? oom_(?:score_)?adj=(?P<adj>-?\d+)")
_OOM_CONSTRAINT = re.compile(r"^oom-kill:(?P<pairs>.*)$")
_OOM_TASK_HEADER = re.compile(r"^\[\s*pid\s*\]\s+(?P<cols>.*)$")
_OOM_TASK_ROW = re.compile(r"^\[\s*(?P<pid>\d+)\]\s+(?P<cols>.*)$")
_OOM_FREE = re.compile(r"\bfree:(?P<free>\d+)\b")
_OOM_MEMCG_USAGE = re.compile(r"^memory: usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB, failcnt (?P<fail>\d+)")
_OOM_TASK_IN = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<limit>\S+)")
_OOM_MEMCG_STATS = re.compile(r"^Memory cgroup stats for (?P<cg>[^:]+):")
_OOM_SWAP = re.compile(r"^Free swap\s*=\s*(?P<kb>\d+)kB")
_OOM_RAM = re.compile(r"^(?P<pages>\d+) pages RAM")
_OOM_NODE_FREE = re.compile(r"^Node (?P<node>\d+) (?P<zone>\w+) free:(?P<kb>\d+)kB")
_SUSPICIOUS_RCU = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+) (?:suspicious|Illegal) ")
_GARBLED = re.compile(u"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")
_FUNC_SUFFIX = kinds.SUFFIX_RE


def _func(name):
    """A function name without .cold / .isra.0 / .constprop.0 suffixes."""
    return _FUNC_SUFFIX.sub("", name or "") or name


def _frame_from(text, section):
    match = kinds.FRAME_RE.match(text)
    if match:
        unreliable = bool(match.group("unreliable")) or "(unreliable)" in (match.group("tail") or "")
        return Frame(_func(match.group("func")), match.group("off"), match.group("size"),
                     match.group("module"), unreliable, section, text.strip())
    match = kinds.ARM_FRAME_RE.match(text)
    if match:
        return Frame(_func(match.group("func")), match.group("off"), match.group("size"),
                     match.group("module"), False, section, text.strip())
    return None


def _parse_taint(report, letters, release, build=None):
    if letters is not None:
        report.taint = "".join(c for c in letters if c.isalpha() and c != "G")
    elif not report.taint:
        report.taint = ""
    if release and not report.kernel:
        report.kernel = release + (" " + build if build else "")


def _skip(name, kind):
    if not name:
        return True
    if kinds.SKIP_FRAME_RE.match(name) or kinds.ENTRY_FRAME_RE.match(name):
        return True
    return False


def _guilty(report, header_func, use_pc=True, skip_sections=()):
    candidates = []
    if header_func:
        candidates.append(_func(header_func.split("+")[0]))
    if use_pc and report.pc:
        candidates.append(report.pc[0])
    for frame in report.trace:
        if frame.unreliable or frame.section in skip_sections:
            continue
        candidates.append(frame.function)
    for name in candidates:
        if not _skip(name, report.kind):
            return name
    return None


def _in(guilty):
    return " in %s" % guilty if guilty else ""


def _plain(text):
    """A title fragment without addresses and with single spaces."""
    text = _ADDRESS.sub("ADDR", text)
    return re.sub(r"\s+", " ", text).strip(" .:,!")


def _build(builder, scanner):
    """Read a finished _Builder into a Report."""
    report = Report(builder.kind)
    lines = builder.lines
    first = lines[0]
    header_line = next((k for k in lines if not k.text.startswith("---")), first)
    report.header = header_line.text.strip()
    report.origin = first.origin
    report.lineno = first.lineno
    report.end_lineno = lines[-1].lineno
    report.stamp = header_line.stamp
    report.mono = header_line.mono
    if len(lines) > 1:
        report.last_stamp = lines[-1].stamp
        report.last_mono = lines[-1].mono
    report.caller = builder.caller
    report.boot_id = first.boot_id
    report.lines = [k.text for k in lines]
    groups = builder.match

    section = None
    trace_no = 0          # 0 before the first "Call Trace:", 1 inside it, 2 after
    in_other_stack = False
    oom = {}
    tasks_header = None
    tasks = []
    suspicious = None
    rw = None
    garbled = 0
    gp_dump = False
    for k in lines[1:] if builder.kind != "cut-here" else lines:
        text = k.text
        stripped = text.strip()
        if _GARBLED.search(text):
            garbled += 1
        match = _CPU_LINE.match(stripped)
        if match:
            if report.cpu is None:
                report.cpu = int(match.group("cpu"))
                report.pid = int(match.group("pid"))
                rest = match.group("rest")
                split = _TAINT_SPLIT.search(rest)
                if split:
                    report.comm = rest[:split.start()].strip()
                    _parse_taint(report, split.group("letters"), split.group("release"), split.group("build"))
                else:
                    report.comm = re.split(r" (?:Not tainted|Tainted:)", rest)[0].strip()
                if report.comm.endswith(" Kdump: loaded"):
                    report.comm = report.comm[:-len(" Kdump: loaded")]
                    report.details["kdump_loaded"] = True
            continue
        match = _OLD_PID_LINE.match(stripped)
        if match:
            if report.pid is None:
                report.pid = int(match.group("pid"))
                rest = match.group("rest")
                split = _TAINT_SPLIT.search(rest)
                if split:
                    report.comm = rest[:split.start()].strip()
                    _parse_taint(report, split.group("letters"), split.group("release"), split.group("build"))
                    after = (split.group("after") or "").strip()
                    if after and not report.hardware:
                        report.hardware = after
            continue
        match = _OLD_PROCESS.match(stripped)
        if match and report.pid is None:
            report.comm = match.group("comm")
            report.pid = int(match.group("pid"))
            continue
        match = _TAINT_NAMES.match(stripped)
        if match:
            letters = "".join(re.findall(r"\[([A-Z])\]", match.group(1)))
            report.taint = letters
            continue
        if report.kernel is None:
            match = _TAINT_ALONE.match(text) or _TAINT_AFTER.match(stripped)
            if match:
                _parse_taint(report, match.group("letters"), match.group("release"),
                             match.groupdict().get("build"))
                continue
        match = _HARDWARE.match(stripped)
        if match:
            report.hardware = report.hardware or match.group("hw")
            continue
        match = _MODULES.match(stripped)
        if match:
            _parse_modules(report, match.group("mods"))
            continue
        if report.pc is None:
            match = kinds.PC_RE.match(text)
            if match:
                report.pc = (_func(match.group("func")), match.group("off"), stripped)
                report.pc_module = match.group("module")
                continue
        if report.lr is None:
            match = kinds.LR_RE.match(text)
            if match:
                report.lr = _func(match.group("func"))
                continue
        if "RCU grace-period kthread stack dump" in stripped:
            gp_dump = True
            continue
        if "Stack dump where RCU GP kthread last ran" in stripped:
            gp_dump = False
            report.cpu = report.pid = report.comm = None
            continue
        if gp_dump:
            continue
        if kinds.CALLTRACE_RE.match(text):
            if stripped.startswith("stack backtrace") or trace_no == 0:
                trace_no = 1 if trace_no == 0 or stripped.startswith("stack backtrace") else 2
                if stripped.startswith("stack backtrace"):
                    report.trace = []
            elif trace_no == 1 and report.trace:
                trace_no = 2
            section = None
            in_other_stack = False
            continue
        if stripped.startswith(("Allocated by task", "Freed by task", "Last potentially related",
                                "Second to last potentially", "The buggy address",
                                "Uninit was", "-> #", "NMI backtrace for cpu", "Task dump for CPU",
                                "Showing all locks", "Memory state around")):
            in_other_stack = True
            if trace_no == 1 and report.trace:
                trace_no = 2
            continue
        section_match = re.match(r"^\s*<(/?)(IRQ|NMI|TASK|EOI|SOFTIRQ)>\s*(.*)$", text)
        if section_match:
            closing, name, remainder = section_match.groups()
            if closing or name == "EOI":
                section = None if name != "EOI" else "TASK"
            else:
                section = name
            if not remainder:
                continue
            text = " " + remainder
        if trace_no == 1 and not in_other_stack:
            frame = _frame_from(text, section)
            if frame is not None:
                report.trace.append(frame)
                continue
        elif trace_no == 0 and not in_other_stack and builder.kind in ("ubsan", "kcsan", "kmsan", "kfence") \
                and _frame_from(text, section) is not None:
            report.trace.append(_frame_from(text, section))
            continue
        match = _READ_WRITE.match(stripped)
        if match and rw is None:
            rw = match.groupdict()
            continue
        match = _KFENCE_ACCESS.match(stripped)
        if match and rw is None:
            rw = {"rw": match.group("rw")}
            continue
        match = _SUSPICIOUS_RCU.match(stripped)
        if match and suspicious is None:
            suspicious = "%s:%s" % (match.group("file"), match.group("line"))
            continue
        if builder.kind in ("oom", "memcg-oom", "page-alloc-failure"):
            _oom_line(stripped, oom, tasks)
            match = _OOM_TASK_HEADER.match(stripped)
            if match:
                tasks_header = match.group("cols").split()
            continue
        if "Kernel panic - not syncing" in stripped:
            report.panicked = True

    if report.kernel is None and scanner._release:
        report.kernel = scanner._release
    if report.hardware is None and scanner._hardware:
        report.hardware = scanner._hardware
    if report.pc and report.pc[0] and report.pc_module is None:
        report.pc_module = None
    _flag(report, builder, garbled)
    _title(report, builder, groups, rw, suspicious)
    if builder.kind in ("oom", "memcg-oom", "page-alloc-failure"):
        _finish_oom(report, builder, oom, tasks, tasks_header)
    return report


def _parse_modules(report, text):
    text = text.strip()
    last = re.search(r"\[last unloaded: (?P<name>[^\]]+)\]", text)
    if last:
        report.details["last_unloaded"] = last.group("name").strip()
        text = text[:last.start()]
    for token in text.split():
        match = _MODULE_TOKEN.match(token)
        if not match:
            continue
        name, flags = match.group("name"), match.group("flags") or ""
        report.modules.append(name + ("(%s)" % flags if flags else ""))
        meaning = [kinds.MODULE_FLAGS[c] for c in flags if c in kinds.MODULE_FLAGS and c in "POEFCKXNT"]
        if meaning:
            report.modules_flagged.append((name, flags, ", ".join(meaning)))


def _oom_line(text, oom, tasks):
    match = _OOM_INVOKED.match(text)
    if match:
        oom.setdefault("invoked_by", match.group("comm"))
        oom.setdefault("gfp_mask", match.group("gfp"))
        oom.setdefault("order", int(match.group("order")))
        return
    match = _OOM_CONSTRAINT.match(text)
    if match:
        pairs = {}
        for part in match.group("pairs").split(","):
            key, sep, value = part.partition("=")
            if sep:
                pairs[key.strip()] = value.strip()
        oom["constraint"] = pairs.get("constraint")
        if pairs.get("oom_memcg"):
            oom["memcg"] = pairs.get("oom_memcg")
        if pairs.get("task_memcg"):
            oom["task_memcg"] = pairs.get("task_memcg")
        if pairs.get("task") and "victim" not in oom:
            oom["victim_from_constraint"] = {"comm": pairs.get("task"), "pid": _int(pairs.get("pid")),
                                             "uid": _int(pairs.get("uid"))}
        return
    match = _OOM_KILLED.search(text)
    if match and ("Out of memory" in text or "Memory cgroup out of memory" in text or
                  text.startswith("Killed process")):
        victim = oom.get("victim") or {}
        victim["pid"] = int(match.group("pid"))
        victim["comm"] = match.group("comm")
        for size in _OOM_SIZES.finditer(match.group("rest")):
            victim[size.group("name").replace("-", "_") + "_kb"] = int(size.group("kb"))
        score = re.search(r"score (\d+)", match.group("rest"))
        if score:
            victim["score"] = int(score.group(1))
        oom["victim"] = victim
        return
    match = _OOM_MEMCG_USAGE.match(text)
    if match:
        oom["memcg_usage_kb"] = int(match.group("usage"))
        oom["memcg_limit_kb"] = int(match.group("limit"))
        oom["memcg_failcnt"] = int(match.group("fail"))
        return
    match = _OOM_TASK_IN.match(text)
    if match:
        oom.setdefault("task_memcg", match.group("task"))
        oom.setdefault("memcg", match.group("limit"))
        return
    match = _OOM_MEMCG_STATS.match(text)
    if match:
        oom.setdefault("memcg", match.group("cg"))
        return
    match = _OOM_NODE_FREE.match(text)
    if match:
        oom.setdefault("zones", []).append({"node": int(match.group("node")), "zone": match.group("zone"),
                                            "free_kb": int(match.group("kb"))})
        return
    if text.startswith(("active_anon:", "free:")) and "free_pages" not in oom:
        free = _OOM_FREE.search(text)
        if free:
            oom["free_pages"] = int(free.group("free"))
        return
    match = _OOM_SWAP.match(text)
    if match:
        oom["free_swap_kb"] = int(match.group("kb"))
        return
    match = _OOM_RAM.match(text)
    if match:
        oom["ram_pages"] = int(match.group("pages"))
        return
    match = _OOM_TASK_ROW.match(text)
    if match:
        tasks.append((int(match.group("pid")), match.group("cols").split()))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _finish_oom(report, builder, oom, tasks, tasks_header):
    victim = oom.pop("victim", None) or oom.pop("victim_from_constraint", None)
    oom.pop("victim_from_constraint", None)
    if victim:
        rss = sum(victim.get(name, 0) for name in ("anon_rss_kb", "file_rss_kb", "shmem_rss_kb"))
        if rss:
            victim["rss_kb"] = rss
        oom["victim"] = victim
    if "free_pages" in oom:
        oom["free_kb"] = oom["free_pages"] * 4
    zones = oom.get("zones")
    if zones:
        oom["zones_free_kb"] = sum(z["free_kb"] for z in zones)
    if tasks:
        header = tasks_header or []
        rss_col = header.index("rss") - 0 if "rss" in header else 3
        name_col = len(header) - 1 if header else -1
        table = []
        for pid, cols in tasks:
            try:
                rss_pages = int(cols[rss_col])
            except (ValueError, IndexError):
                continue
            name = cols[name_col] if cols else "?"
            table.append({"pid": pid, "rss_pages": rss_pages, "rss_kb": rss_pages * 4, "name": name})
        table.sort(key=lambda row: -row["rss_pages"])
        oom["tasks"] = len(table)
        oom["biggest"] = table[:5]
    if oom.get("constraint") == "CONSTRAINT_MEMCG" and report.kind == "oom":
        report.kind = "memcg-oom"
    report.details["oom"] = oom
    kind_label = kinds.KINDS[report.kind][0]
    if report.kind == "page-alloc-failure":
        return
    if victim:
        report.title = "%s: killed %s" % (kind_label, victim.get("comm"))
    elif "no killable processes" in report.header:
        report.title = "%s: no killable processes" % kind_label
    else:
        report.title = kind_label
    report.comm = report.comm or oom.get("invoked_by")


def _flag(report, builder, garbled):
    kind = builder.kind
    needs_trace = kinds.KINDS[kind][3]
    if builder.interleaved_lines:
        report.interleaved = True
        report.corrupted = True
        report.problem("%d unrelated line(s) interleaved (output of another CPU?)"
                       % builder.interleaved_lines)
    if builder.other_callers:
        report.interleaved = True
        report.separated = True
    if builder.elided:
        report.corrupted = True
        report.problem("%d place(s) where lines were left out ('...')" % builder.elided)
    if builder.dropped:
        report.corrupted = True
        report.problem("the console dropped %d message(s) during the report" % builder.dropped)
    if garbled:
        report.corrupted = True
        report.problem("%d line(s) with garbled characters" % garbled)
    if needs_trace and not report.trace:
        report.corrupted = True
        if builder.ended in ("end of input", "the input skips lines", "reboot"):
            report.problem("cut short (%s) before the call trace" % builder.ended)
        elif builder.ended == "next report":
            report.problem("interrupted by another report before the call trace")
        else:
            report.problem("no call trace")
    elif needs_trace and builder.ended in ("end of input", "reboot") and \
            kind in kinds.OOPS_FAMILY and len(report.trace) < 2:
        report.corrupted = True
        report.problem("cut short (%s)" % builder.ended)
    if builder.ended == "cut":
        report.problem("longer than %d lines; the rest was not kept" % MAX_LINES)


_LOCKDEP_TITLES = {
    "possible circular locking dependency detected": "possible deadlock",
    "possible recursive locking detected": "possible deadlock",
    "possible irq lock inversion dependency detected": "possible deadlock",
    "inconsistent lock state": "inconsistent lock state",
    "bad unlock balance detected": "bad unlock balance",
    "held lock freed": "held lock freed",
    "lock held when returning to user space": "lock held when returning to user space",
    "lock held at task exit time": "lock held at task exit time",
    "nested lock was not taken": "nested lock was not taken",
}


def _title(report, builder, groups, rw, suspicious):
    kind = report.kind
    header_func = groups.get("func")
    for other_kind, other_groups in builder.headers[1:]:
        if other_kind == "oops" and other_groups.get("n"):
            report.details["oops_number"] = int(other_groups["n"])
    number = _OOPS_CODE.search(" ".join(report.lines[:12]))
    if number and "oops_number" not in report.details:
        report.details["oops_number"] = int(number.group("n"))
    for name in ("addr", "addr2", "file", "line", "bugtype", "what", "dev", "sector", "block",
                 "reason", "secs", "order", "mode", "fs", "flavor", "code", "mc", "sev", "count"):
        value = groups.get(name)
        if value:
            report.details["address" if name == "addr2" else name] = value.strip()
    if groups.get("cpu") and report.cpu is None:
        report.cpu = int(groups["cpu"])
    if groups.get("pid") and report.pid is None and kind not in ("oom", "memcg-oom"):
        report.pid = int(groups["pid"])
    if groups.get("comm") and kind not in ("oom", "memcg-oom", "page-alloc-failure"):
        report.comm = groups["comm"]

    lockup = ("IRQ", "NMI", "SOFTIRQ")
    if kind in ("null-deref", "page-fault", "gpf", "invalid-opcode", "divide-error", "double-fault",
                "oops", "bug"):
        report.guilty = _guilty(report, None)
    elif kind == "warning":
        report.guilty = _guilty(report, header_func)
    elif kind in ("soft-lockup", "hard-lockup", "rcu-stall"):
        locked = groups.get("cpu")
        if kind == "hard-lockup" and locked is not None and report.cpu is not None and \
                int(locked) != report.cpu:
            report.guilty = None   # the trace is of the CPU that detected it
        else:
            report.guilty = _guilty(report, None, skip_sections=lockup)
    elif kind in ("hung-task", "page-alloc-failure", "ubsan", "lockdep", "panic"):
        report.guilty = _guilty(report, None, use_pc=kind != "hung-task")
    elif kind in ("kasan", "kfence", "kmsan", "kcsan"):
        report.guilty = _guilty(report, header_func)
    guilty = report.guilty

    if kind == "null-deref":
        report.title = "BUG: kernel NULL pointer dereference" + _in(guilty)
    elif kind == "page-fault":
        report.title = "BUG: unable to handle page fault" + _in(guilty)
    elif kind == "bug":
        if "kernel BUG at" in report.header:
            where = groups.get("file")
            report.title = "kernel BUG" + (_in(guilty) if guilty else (" at %s" % where if where else ""))
        else:
            what = groups.get("what") or report.header[5:]
            report.title = "BUG: " + _plain(_NUMBERS.sub("N", what) if "lockup" not in what else what) \
                + _in(guilty)
    elif kind == "gpf":
        report.title = "general protection fault" + _in(guilty)
    elif kind == "invalid-opcode":
        report.title = "invalid opcode" + _in(guilty)
    elif kind == "divide-error":
        report.title = "divide error" + _in(guilty)
    elif kind == "double-fault":
        report.title = "double fault" + _in(guilty)
    elif kind == "oops":
        what = _plain(groups.get("what") or "")
        what = re.sub(r"\b(?:ADDR|[0-9a-f]{4})\b", "", what).strip(" -:")
        what = re.sub(r"^Oops\b\s*-?\s*", "", what)
        report.title = "Oops" + (": " + what if what and what.lower() != "oops" else "") + _in(guilty)
    elif kind == "warning":
        if guilty:
            report.title = "WARNING in %s" % guilty
        elif groups.get("file"):
            report.title = "WARNING at %s" % groups["file"]
        else:
            report.title = "WARNING"
    elif kind == "soft-lockup":
        report.title = "BUG: soft lockup" + _in(guilty)
        if groups.get("secs"):
            report.details["stuck_seconds"] = int(groups["secs"])
    elif kind == "hard-lockup":
        report.title = "hard LOCKUP" + _in(guilty)
        if report.header.startswith("Kernel panic"):
            report.panicked = True
            report.panic_reason = (groups.get("reason") or "").strip()
    elif kind == "rcu-stall":
        report.title = "INFO: rcu detected stall" + _in(guilty)
        starved = [line for line in report.lines if "kthread starved" in line]
        if starved:
            report.details["kthread_starved"] = starved[0].strip()
            if not guilty:
                report.title = "INFO: rcu detected stall: %s kthread starved" % (
                    groups.get("flavor") or "rcu")
            if report.comm:
                report.details["cpu_hog"] = report.comm
    elif kind == "hung-task":
        report.title = "INFO: task hung" + _in(guilty)
        if groups.get("secs"):
            report.details["blocked_seconds"] = int(groups["secs"])
    elif kind == "page-alloc-failure":
        order = groups.get("order")
        report.title = "page allocation failure" + (" (order %s)" % order if order else "") + _in(guilty)
    elif kind in ("kasan", "kfence", "kmsan"):
        bugtype = (groups.get("bugtype") or "").strip()
        access = ""
        if rw and kind == "kasan":
            access = " " + rw["rw"]
            report.details["access"] = "%s of size %s at %s" % (rw["rw"], rw.get("size"), rw.get("addr"))
        report.title = "%s: %s%s" % (kind.upper(), bugtype, access) + _in(guilty)
    elif kind == "kcsan":
        first = _func((groups.get("func") or "").split("+")[0])
        second = _func((groups.get("func2") or "").split("+")[0])
        report.title = "KCSAN: %s in %s" % (groups.get("bugtype") or "data-race",
                                           " / ".join(f for f in (first, second) if f))
        report.guilty = first or None
    elif kind == "ubsan":
        bugtype = (groups.get("bugtype") or "").strip()
        if bugtype.lower().startswith("undefined behaviour"):
            detail = next((line.strip() for line in report.lines[1:4]
                           if line.strip() and not line.startswith("=")), "")
            bugtype = _plain(_NUMBERS.sub("N", detail.split(" for type")[0])) or bugtype
        report.title = "UBSAN: %s" % bugtype + (_in(guilty) if guilty else " in %s" % groups.get("file"))
    elif kind == "lockdep":
        what = (groups.get("what") or "").strip()
        if what.startswith("suspicious RCU usage"):
            report.title = "suspicious RCU usage" + (" at %s" % suspicious if suspicious else _in(guilty))
        else:
            report.title = _LOCKDEP_TITLES.get(what, "lockdep: " + what) + _in(guilty)
    elif kind == "machine-check":
        rest = groups.get("rest") or ""
        bank = re.search(r"Bank (\d+)", rest)
        if re.search(r"Machine Check(?: Exception)?: ", rest) or "Machine check from" in rest:
            report.title = "machine check" + (" (bank %s)" % bank.group(1) if bank else "")
        elif "events logged" in rest:
            report.title = "machine check events logged (corrected errors)"
        elif "Hardware error from APEI" in rest or re.match(r"^\{\d+\}", report.header):
            report.title = "hardware error reported by firmware (APEI/GHES)"
        elif "MEMORY ERROR" in rest:
            report.title = "machine check: memory error"
        else:
            report.title = "hardware error: " + _plain(_NUMBERS.sub("N", rest))[:60]
        fatal = [line for line in report.lines if "Fatal" in line or "ontext corrupt" in line.lower() or
                 "ncorrected" in line or "severity: fatal" in line]
        if fatal or report.panicked:
            report.details["fatal"] = True
        elif any("corrected" in line for line in report.lines) or "events logged" in rest:
            report.details["corrected"] = True
            report.severity = "warning"
    elif kind == "edac":
        sev = groups.get("sev")
        rest = groups.get("rest") or ""
        where = re.search(r" on (?P<where>[^(]+?)\s*(?:\(|$)", rest)
        label = re.search(r'label "(?P<label>[^"]+)"', rest)
        location = label.group("label") if label else (where.group("where") if where else "")
        report.title = "EDAC %s: %s memory error%s" % (
            groups.get("mc"), "corrected" if sev == "CE" else "uncorrected",
            (" on " + location) if location else "")
        if sev == "UE":
            report.severity = "critical"
        report.details["errors"] = int(groups.get("count") or 1)
    elif kind == "panic":
        reason = (groups.get("reason") or "").strip()
        report.panicked = True
        report.panic_reason = reason
        report.title = "kernel panic: " + (_plain(reason) or "unknown reason")
    elif kind == "nmi-unknown":
        what = groups.get("what")
        report.title = ("NMI: %s" % what) if what else "NMI received for unknown reason"
    elif kind == "io-error":
        dev = groups.get("dev") or "?"
        if "Buffer I/O error" in report.header:
            report.title = "Buffer I/O error on %s" % dev
        else:
            what = (groups.get("what") or "").strip()
            label = (what + " error") if what and what != "I/O" else "I/O error"
            report.title = "%s on %s" % (label, dev)
            op = re.search(r"op 0x[0-9a-f]+:\((\w+)\)", report.header)
            if op:
                report.details["op"] = op.group(1)
        report.details["device"] = dev
    elif kind == "fs-error":
        fs = groups.get("fs") or "filesystem"
        dev = groups.get("dev")
        func = groups.get("func")
        what = groups.get("what") or ""
        if "Aborting journal" in report.header:
            report.title = "jbd2: journal aborted on %s" % dev
        elif " error (device" in report.header and fs.startswith("EXT"):
            report.title = "%s error%s (%s)" % (fs, (" in " + func) if func else "", dev)
        elif "Remounting filesystem read-only" in what:
            report.title = "%s (%s): remounted read-only" % (fs, dev)
        elif fs == "BTRFS":
            report.title = "BTRFS error (%s)" % dev
        else:
            report.title = "%s (%s): %s" % (fs, dev, _plain(_NUMBERS.sub("N", what))) if dev else \
                "%s: %s" % (fs, _plain(what))
        if any("read-only" in line for line in report.lines):
            report.details["read_only"] = True
        if any("shut down" in line.lower() or "shutting down" in line.lower() for line in report.lines):
            report.details["shutdown"] = True
        report.details["device"] = dev
    elif kind == "segfault":
        where = groups.get("where")
        trap = groups.get("trap")
        comm = groups.get("comm")
        report.title = "%s in %s" % (trap or "segfault", comm) + (" (%s)" % where if where else "")
        report.details.update({"ip": groups.get("ip"), "error": groups.get("err"), "in": where})
    if report.kind == "cut-here":
        report.title = "WARNING"


# ================================================================ the public API

def scan(items, utc=False, mono_base=None, keep_per_title=KEEP_PER_TITLE):
    """Reports in a sequence of Records, Lines or str (one log, in order)."""
    scanner = Scanner(utc=utc, mono_base=mono_base, keep_per_title=keep_per_title)
    for item in items:
        scanner.feed(item)
    return scanner.finish()


def _feed_line(scanner, parser, origin, lineno, text):
    if logs.JOURNAL_MARKER.match(text):
        scanner.feed(Line(text, origin, lineno))
    else:
        scanner.feed(parser.parse(Line(text, origin, lineno)))


def scan_stream(stream, origin, mtime=None, utc=False, scanner=None, prefilter=True):
    """Reports in a binary stream, reading only the regions around header markers.

    Returns (reports, problem): problem is a one-line read problem or None.
    With ``scanner`` given, lines are fed to it and its reports are not
    finished (several streams of one log).
    """
    own = scanner is None
    if own:
        scanner = Scanner(utc=utc)
    parser = scanner.normaliser.parser(origin, mtime)
    if prefilter:
        matcher = textio.MatchScanner(stream, kinds.MARKER_BYTES_RE_PLUS)
        for lineno, text in matcher:
            _feed_line(scanner, parser, origin, lineno, text)
            matcher.follow(FOLLOW if scanner.wants_more() else 0)
        problem = matcher.problem
    else:
        reader = textio.LineReader(stream)
        for lineno, text in reader:
            scanner.feed(Line(text, origin, lineno))
        problem = reader.problem
    scanner.end_input()
    return (scanner.finish() if own else scanner.reports), problem


GREP_MIN_SIZE = 16 * 1024 * 1024   # below this the in-process prefilter is as fast


def _grep_candidates(real_path, run):
    """(lineno, byte offset) of every line holding a marker, from grep; None if grep cannot.

    The same literals as the in-process prefilter (kinds.MARKERS and
    PREFILTER_EXTRA), so both paths see the same candidate lines; grep
    just finds them at its own speed on multi-gigabyte uncompressed files.
    """
    argv = ["grep", "-a", "-n", "-b"] + textio.grep_any_of(kinds.MARKERS + kinds.PREFILTER_EXTRA)
    result = run(argv + ["--", real_path], timeout=3600, cap=512 * 1024 * 1024)
    if result.status == "failed" and result.rc == 1 and not result.stdout:
        return []                      # grep: no line matched
    if not result.ok:
        return None
    candidates = []
    for line in result.stdout.splitlines():
        lineno, _, rest = line.partition(":")
        offset, _, _ = rest.partition(":")
        if lineno.isdigit() and offset.isdigit():
            candidates.append((int(lineno), int(offset)))
        elif candidates or line.startswith("[output cut"):
            return None                # cut output: do not trust a partial index
    return candidates


def _scan_indexed(real_path, origin, candidates, scanner, mtime):
    """Feed the candidate lines and the lines a report needs after them.

    The same walk as textio.MatchScanner with ``follow``: a candidate line is
    read where grep found it; while a report is open the next FOLLOW lines
    are read whether they match or not.
    """
    parser = scanner.normaliser.parser(origin, mtime)
    problem = None
    next_line = 1                 # number of the line at the handle's position
    follow = 0
    index = 0
    count = len(candidates)
    try:
        with open(real_path, "rb") as handle:
            while True:
                if follow > 0:
                    follow -= 1
                else:
                    while index < count and candidates[index][0] < next_line:
                        index += 1
                    if index >= count:
                        break
                    lineno, offset = candidates[index]
                    if lineno != next_line:
                        handle.seek(offset)
                        next_line = lineno
                raw = handle.readline(textio.MAX_LINE + 1)
                if not raw:
                    break
                if len(raw) > textio.MAX_LINE and not raw.endswith(b"\n"):
                    raw = raw[:textio.MAX_LINE]
                    while True:            # skip the rest of an absurd line
                        more = handle.readline(1 << 20)
                        if not more or more.endswith(b"\n"):
                            break
                _feed_line(scanner, parser, origin, next_line, textio.decode(raw.rstrip(b"\n").rstrip(b"\r")))
                next_line += 1
                follow = FOLLOW if scanner.wants_more() else 0
    except OSError as error:
        problem = textio.describe_read_error(error)
    scanner.end_input()
    return problem


def scan_file(real_path, origin=None, utc=False, runner_fn=None, scanner=None):
    """Reports in one uncompressed or compressed file on disk: (reports, problem).

    Big uncompressed files are indexed with grep (through the shared
    runner) and only the report regions are read; everything else streams
    through textio.MatchScanner.  Both see the same lines.
    """
    from . import runner as runner_module
    origin = origin or real_path
    own = scanner is None
    if own:
        scanner = Scanner(utc=utc)
    mtime = textio.file_mtime(real_path)
    try:
        size = os.path.getsize(real_path)
        with open(real_path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        size, head = 0, b""
    if size >= GREP_MIN_SIZE and textio.sniff_compression(head) is None and os.path.isfile(real_path):
        candidates = _grep_candidates(real_path, runner_fn or runner_module.run)
        if candidates is not None:
            problem = _scan_indexed(real_path, origin, candidates, scanner, mtime)
            return (scanner.finish() if own else scanner.reports), problem
    stream = textio.open_path(real_path)
    try:
        reports, problem = scan_stream(stream, origin, mtime=mtime, utc=utc, scanner=scanner)
    finally:
        stream.close()
    return (scanner.finish() if own else reports), problem


def scan_path(path, utc=False, runner_fn=None):
    """Reports in one file given by the user: ([Report], [warning])."""
    warnings = []
    try:
        stream = textio.open_path(path)
    except textio.Unreadable as error:
        return [], ["%s: %s" % (path, error)]
    try:
        head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
        if textio.looks_binary(head):
            warnings.append("%s: binary data, not a text log (skipped; a vmcore needs crash(8) or "
                            "makedumpfile --dump-dmesg)" % path)
            return [], warnings
    finally:
        stream.close()
    reports, problem = scan_file(path, path, utc=utc, runner_fn=runner_fn)
    if problem:
        warnings.append("%s: %s" % (path, problem))
    return reports, warnings


def _kernel_journal(log, since):
    command = list(log.command)
    if since is not None:
        command.append("--since=@%d" % int(since))
    command.append("_TRANSPORT=kernel")
    return logs.LogInput(log.name, log.kind, log.paths, tuple(command))


def _boot_epoch(source):
    try:
        text = source.read_text("proc/uptime", warn=False)
        uptime = float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        uptime = None
    return time.time() - uptime if uptime is not None else None


def read_kmsg(path="/dev/kmsg", limit=16 * 1024 * 1024):
    """The live ring buffer from /dev/kmsg as '[ sec.usec] message' lines (no blocking)."""
    lines = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    total = 0
    try:
        while total < limit:
            try:
                data = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno == 32:   # EPIPE: records were overwritten; go on
                    continue
                break
            if not data:
                break
            total += len(data)
            text = textio.decode(data)
            head, _, message = text.partition(";")
            fields = head.split(",")
            if len(fields) < 3:
                continue
            try:
                usec = int(fields[2])
            except ValueError:
                continue
            caller = ""
            for field in fields[4:]:
                if field.startswith("caller="):
                    caller = "[%6s]" % field[7:]
            body = message.split("\n")[0]
            lines.append("[%5d.%06d]%s %s" % (usec // 1000000, usec % 1000000, caller, body))
    finally:
        os.close(fd)
    return lines


def scan_source(source, since=None, until=None, utc=False, runner_fn=None, ring_buffer=True,
                journal=True):
    """Every kernel report a source holds (see the module docstring)."""
    from . import runner as runner_module
    run = runner_fn or getattr(source, "runner", None) or runner_module.run
    collected = []

    def add(reports):
        collected.extend(reports)

    if source.live and ring_buffer:
        base = _boot_epoch(source)
        result = run(["dmesg"], timeout=60, cap=256 * 1024 * 1024)
        lines = None
        if result.ok:
            lines = result.stdout.splitlines()
            origin = "dmesg (ring buffer)"
        else:
            lines = read_kmsg()
            origin = "/dev/kmsg"
            if lines is None:
                source.warn("kernel ring buffer: dmesg %s and /dev/kmsg unreadable (run as root, or "
                            "sysctl kernel.dmesg_restrict=0)" % result.status)
        if lines:
            add(scan((Line(text, origin, number) for number, text in enumerate(lines, 1)),
                     utc=utc, mono_base=base))
    for log in logs.discover(source, journal=journal, runner_fn=run):
        if log.command and log.command[0] != "text":
            add(scan(logs.records(source, _kernel_journal(log, since), utc=utc, runner_fn=run), utc=utc))
        elif log.command:
            add(scan(logs.records(source, log, utc=utc), utc=utc))
        else:
            for path in log.paths:
                add(_scan_source_path(source, path, utc, run))
    for pattern in ("var/crash/*/vmcore-dmesg.txt", "var/crash/*/*/vmcore-dmesg.txt",
                    "var/crash/vmcore-dmesg*.txt", "sys/fs/pstore/dmesg-*",
                    "var/lib/systemd/pstore/*/dmesg*", "var/lib/systemd/pstore/dmesg*"):
        for path in source.glob(pattern):
            if path.endswith((".z", ".enc.z")):
                source.warn("%s: compressed pstore record (the kernel could not decompress it; "
                            "read it on a kernel with the same pstore compression)" % path)
                continue
            add(_scan_source_path(source, path, utc, run))
    reports = merge_duplicates(collected)
    return [r for r in reports if _in_window(r, since, until)]


def _scan_source_path(source, path, utc, runner_fn=None):
    origin = source.origin(path)
    real = source.tree.real(path) if hasattr(source.tree, "real") and source.kind != "supportconfig" else None
    if real and os.path.isfile(real) and not textio.looks_binary(_head(real)):
        reports, problem = scan_file(real, origin, utc=utc, runner_fn=runner_fn)
        if problem:
            source.warn("%s: %s" % (origin, problem))
        return reports
    try:
        stream = source.open(path)
    except textio.Unreadable as error:
        source.warn("%s: %s" % (origin, error))
        return []
    try:
        head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
        if textio.looks_binary(head):
            source.warn("%s: binary data, not a text log (skipped)" % origin)
            return []
        reports, problem = scan_stream(stream, origin, mtime=source.mtime(path), utc=utc)
    finally:
        stream.close()
    if problem:
        source.warn("%s: %s" % (origin, problem))
    return reports


def _head(real):
    try:
        with open(real, "rb") as handle:
            data = handle.read(4096)
    except OSError:
        return b""
    if textio.sniff_compression(data[:8]):
        return b""
    return data


def _in_window(report, since, until):
    when = report.stamp
    if when is None:
        return True
    last = report.last_stamp if report.last_stamp is not None else when
    if since is not None and last < since:
        return False
    if until is not None and when > until:
        return False
    return True


def merge_duplicates(reports):
    """Fold the same report seen in several logs (dmesg, journal, messages) into one.

    Same header text and the same moment (monotonic stamp within 1 ms, or
    wall clock within 2 s) means the same report; the copy with the most
    lines wins and the others' origins go to ``also_in``.
    """
    kept = []
    index = {}
    for report in sorted(reports, key=_sort_key):
        key = (report.kind, re.sub(r"\s+", " ", report.header))
        twins = index.setdefault(key, [])
        twin = None
        for other in twins:
            if other.origin == report.origin:
                if other.lineno == report.lineno:
                    twin = other
                    break
                continue        # two events of one log (replays are folded by the Scanner)
            if report.mono is not None and other.mono is not None:
                if abs(report.mono - other.mono) < 1e-6 and (
                        report.stamp is None or other.stamp is None or abs(report.stamp - other.stamp) < 120):
                    twin = other
                    break
                continue
            if report.stamp is not None and other.stamp is not None and abs(report.stamp - other.stamp) <= 2:
                twin = other
                break
        if twin is None:
            twins.append(report)
            kept.append(report)
            continue
        if twin.origin == report.origin:
            continue
        better, worse = (report, twin) if len(report.lines) > len(twin.lines) else (twin, report)
        if worse.panicked and not better.panicked:
            # kdump's dmesg saw the end that the syslog daemon never wrote
            better.panicked = True
            better.panic_reason = better.panic_reason or worse.panic_reason
            better.follow_ons = better.follow_ons or worse.follow_ons
        if worse.stamp is not None and better.stamp is None:
            better.stamp = worse.stamp
        if better is report:
            kept[kept.index(twin)] = report
            twins[twins.index(twin)] = report
            report.also_in = twin.also_in + [twin.origin]
            if report.stamp is None:
                report.stamp = twin.stamp
        else:
            if worse.origin not in twin.also_in:
                twin.also_in.append(worse.origin)
            if twin.stamp is None:
                twin.stamp = worse.stamp
    return kept


def _sort_key(report):
    return (report.stamp if report.stamp is not None else float("inf"),
            str(report.origin), report.lineno or 0)


def primaries(reports):
    """The first report of each incident (follow-ons are attached to them)."""
    return [r for r in reports if r.primary]


def group_reports(reports, include_noise=True):
    """Primaries with the same title as Groups, in order of first appearance."""
    groups = collections.OrderedDict()
    for report in primaries(reports):
        if report.noise and not include_noise:
            continue
        groups.setdefault(report.title, []).append(report)
    result = []
    for title, members in groups.items():
        firsts = [r for r in members]
        first = firsts[0]
        last = firsts[-1]
        result.append(Group(title, first.kind, sum(r.count for r in members),
                            first, last, any(r.panicked for r in members), members))
    return result


def reports_near(reports, stamp=None, mono=None, before=600.0, after=60.0, boot=None):
    """Primaries that happened within [moment - before, moment + after], nearest first.

    ``stamp`` (epoch) compares with report wall-clock times, ``mono`` with
    monotonic times (then ``boot`` may restrict to one boot index).  A
    report with no comparable time is left out.
    """
    found = []
    for report in primaries(reports):
        if stamp is not None and report.stamp is not None:
            start = report.stamp
            end = report.last_stamp if report.last_stamp is not None else start
            moment = stamp
        elif mono is not None and report.mono is not None and (boot is None or report.boot == boot):
            start = report.mono
            end = report.last_mono if report.last_mono is not None else start
            moment = mono
        else:
            continue
        if end >= moment - before and start <= moment + after:
            found.append((abs(moment - end), report))
    found.sort(key=lambda pair: (pair[0], -_kind_weight(pair[1])))
    return [report for _, report in found]


def _kind_weight(report):
    return {"critical": 2, "warning": 1}.get(report.severity, 0) + (2 if report.panicked else 0)


# ================================================================ settings and advice

def _procfs_for(source_or_root):
    from . import procfs
    if source_or_root is None or isinstance(source_or_root, str):
        return procfs.ProcFS(source_or_root or "/"), None
    tree = getattr(source_or_root, "tree", None)
    top = getattr(tree, "top", None)
    if top is not None:
        return procfs.ProcFS(top), source_or_root
    return None, source_or_root


def read_settings(source_or_root=None):
    """Watchdog and panic sysctls from the root's /proc/sys: {"kernel/watchdog_thresh": "10", ...}.

    A value that cannot be read is None.  Sosreports and supportconfigs
    that only captured ``sysctl -a`` are read from that output.
    """
    proc, source = _procfs_for(source_or_root)
    values = dict((name, None) for name in kinds.SYSCTLS)
    if proc is not None:
        for name in kinds.SYSCTLS:
            text = proc.read("proc/sys/" + name)
            if text is not None:
                values[name] = " ".join(text.split())
    if source is not None and any(v is None for v in values.values()):
        output = None
        if source.kind in ("sos", "supportconfig"):
            output = source.command_output("sysctl -a")
        if output:
            for line in output[0].splitlines():
                key, sep, value = line.partition("=")
                name = key.strip().replace(".", "/")
                if sep and name in values and values[name] is None:
                    values[name] = value.strip()
    return values


def dump_possible(source_or_root=None):
    """Could a crash dump have been captured?  True / False / None (unknown).

    True when a crash kernel is loaded (/sys/kernel/kexec_crash_loaded) or
    memory is reserved for one (crashkernel= on the command line); False
    when the system says neither.
    """
    proc, source = _procfs_for(source_or_root)
    loaded = proc.read("sys/kernel/kexec_crash_loaded") if proc is not None else None
    cmdline = proc.read("proc/cmdline") if proc is not None else None
    if source is not None and loaded is None and cmdline is None:
        cmdline = source.read_text("proc/cmdline", warn=False)
        loaded = source.read_text("sys/kernel/kexec_crash_loaded", warn=False)
    if loaded is not None and loaded.strip() == "1":
        return True
    if cmdline is not None:
        if "crashkernel=" in cmdline and (loaded is None or loaded.strip() != "0"):
            return True
        return False
    if loaded is not None:
        return loaded.strip() == "1"
    return None


def advice(report, settings=None, dump_possible=None):
    """Next steps for one report, as short lines."""
    lines = list(kinds.ADVICE.get(report.kind, ()))
    if report.kind == "panic" and report.follows is None:
        lines.extend(kinds.ADVICE["oops"][:1] if report.trace else ())
    names = kinds.KIND_SYSCTLS.get(report.kind, ())
    if settings and names:
        shown = ", ".join("%s=%s" % (name.replace("/", "."), settings.get(name) if settings.get(name)
                                     is not None else "?") for name in names)
        lines.append("in force now: " + shown)
    if report.modules_flagged:
        lines.append("out-of-tree / unsigned / proprietary modules were loaded (%s): reproduce "
                     "without them before reporting upstream"
                     % ", ".join(name for name, _, _ in report.modules_flagged[:6]))
    if report.details.get("kdump_loaded"):
        lines.append("the kernel said 'Kdump: loaded': a vmcore was probably saved (ls /var/crash); open "
                     "it with crash(8) and the matching debuginfo")
    elif report.panicked or report.severity == "critical":
        if dump_possible is False:
            lines.append("no crash dump could have been captured (no crash kernel loaded): set "
                         "kdump up with 'kdumpsetup' so the next one leaves a vmcore")
        elif dump_possible is None and report.panicked:
            lines.append("check whether a vmcore was saved (ls /var/crash); if kdump is not set "
                         "up, 'kdumpsetup' does it")
    return lines


# ================================================================ findings

def summary_findings(reports, settings=None, dump_possible=None, include_noise=False):
    """shared.findings.Finding per group of primary reports (worst first)."""
    result = []
    for group in group_reports(reports, include_noise=include_noise):
        first = group.reports[0]
        severity = "critical" if group.panicked else max(
            (r.severity for r in group.reports), key=lambda s: {"critical": 2, "warning": 1}.get(s, 0))
        times = ""
        if first.stamp is not None:
            times = " first %s" % timeparse.iso_utc(first.stamp)
            if group.count > 1 and group.last.stamp is not None:
                times += ", last %s" % timeparse.iso_utc(group.last.last_stamp or group.last.stamp)
        detail = "%s%s%s%s" % (
            "%d time(s)" % group.count,
            times,
            "; ended in a panic (%s)" % first.panic_reason if group.panicked and first.panic_reason else
            ("; ended in a panic" if group.panicked else ""),
            "; report text corrupted: %s" % "; ".join(first.problems) if first.corrupted else "")
        evidence = [findings.Evidence(r.origin, r.lineno, r.header) for r in group.reports[:5]]
        steps = advice(first, settings, dump_possible)
        result.append(findings.Finding("oops.%s" % group.kind, severity if severity in
                                       findings.SEVERITIES else "warning",
                                       group.title, detail, evidence, steps[0] if steps else ""))
    return findings.ranked(result)
