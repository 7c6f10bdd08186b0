"""Log discovery and timestamp parsing: one way to read what a box logged.

``parse_line`` turns any common log line into a ``Record`` -- wall-clock
stamp (epoch, when the line has one), kernel monotonic seconds (the
``[   12.345678]`` stamp), host, program, pid and message -- whatever the
shape: RFC 3164 syslog, rsyslog/RFC 5424 ISO stamps with zone, journalctl
``short``, ``short-iso``, ``short-precise``, ``short-full`` and JSON
exports, raw dmesg (with printk caller ids), ``dmesg -T``, serial console
captures.  ``discover`` lists the logs a source holds (syslog files with
rotations, the binary journal through journalctl, journal and dmesg text
exports inside sosreports and supportconfigs); ``records`` reads them.

Year-less stamps take their year from the file's mtime (see
timeparse.YearInference).  A line without a zone is local time of the
machine that wrote it, which for a bundle is not necessarily ours:
``Record.zone_known`` says whether the stamp carried its zone.
"""

import collections
import json
import os
import re

from . import runner, timeparse
from .sources import Line

Record = collections.namedtuple(
    "Record", "stamp mono host program pid message line zone_known boot_id caller")
Record.__doc__ = """One parsed log line.

stamp: epoch seconds or None; mono: kernel monotonic seconds or None;
host/program/pid: from the syslog prefix or journal fields (None when
absent); message: the text after the prefix (and after the monotonic
stamp); line: the sources.Line it came from; zone_known: the stamp had an
explicit zone (or was UTC/epoch); boot_id: journal boot id when known;
caller: printk caller id ('T1234' / 'C1') when present."""

# Journal text-export separators.
JOURNAL_MARKER = re.compile(r"^-- (?:Reboot|Boot [0-9a-f]{32}|Logs begin at .*|Journal begins at .*|"
                            r"No entries|Subsequent journal entries.*) --$")

_KMSG = re.compile(r"^\s*(?:<\d{1,3}>)?\[\s*(?P<mono>\d+\.\d+)\](?:\s*\[\s*(?P<caller>[TC]\d+)\])?\s?(?P<msg>.*)$")
_DMESG_T = re.compile(r"^\[(?:[A-Z][a-z]{2} )?(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<d>\d{1,2}) "
                      r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?: (?P<y>\d{4}))?\]\s?(?P<msg>.*)$")
_ISO_PREFIX = re.compile(r"^(?P<stamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
                         r"(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<rest>.*)$")
_FULL = re.compile(r"^(?:[A-Z][a-z]{2} )(?P<stamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) "
                   r"(?P<zone>[A-Z]{2,5}|[+-]\d{4})\s+(?P<rest>.*)$")
_PRECISE_3164 = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<d>\d{1,2}) (?P<h>\d{2}):(?P<mi>\d{2}):"
                           r"(?P<s>\d{2})(?P<frac>\.\d{1,9})?\s+(?P<rest>.*)$")
# host prog[pid]: message   |  host prog: message  |  host message (no tag)
_HOST_TAG = re.compile(r"^(?P<host>\S+)\s+(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$")


class LineParser(object):
    """Parse the lines of one file in order (year inference needs the order).

    ``mtime``: the file's modification time (anchor for year-less stamps);
    ``utc``: read zone-less stamps as UTC instead of local time.
    """

    def __init__(self, mtime=None, utc=False):
        self.years = timeparse.YearInference(mtime=mtime, utc=utc)
        self.utc = utc
        self._last_3164 = (None, None)    # (stamp text to the second, epoch): many lines share a second

    def parse(self, line):
        """A Record for a sources.Line (or a str)."""
        if not isinstance(line, Line):
            line = Line(str(line), "-", 0)
        text = line.text
        if text.startswith("{") and text.rstrip().endswith("}"):
            record = self._json(text, line)
            if record is not None:
                return record
        stamp = None
        zone_known = False
        rest = None
        match = _PRECISE_3164.match(text)
        if match:
            from .timeparse import MONTHS
            month = MONTHS.get(match.group("mon").lower())
            if month:
                frac = float(match.group("frac")) if match.group("frac") else 0.0
                second = text[:match.end("s")]
                if second == self._last_3164[0]:
                    # Same second as the line before: same month, so the year
                    # inference would not move either.
                    whole = self._last_3164[1]
                else:
                    whole = self.years.epoch(month, int(match.group("d")), int(match.group("h")),
                                             int(match.group("mi")), int(match.group("s")))
                    self._last_3164 = (second, whole)
                stamp = whole + frac if whole is not None else None
                rest = match.group("rest")
        if rest is None:
            match = _ISO_PREFIX.match(text)
            if match:
                raw = match.group("stamp")
                stamp = timeparse.parse_iso(raw.replace(",", "."), assume_utc=self.utc)
                zone_known = raw.endswith("Z") or bool(re.search(r"[+-]\d{2}:?\d{2}$", raw))
                rest = match.group("rest")
        if rest is None:
            match = _FULL.match(text)
            if match:
                zone = match.group("zone")
                offset = timeparse.zone_offset(zone)
                stamp = timeparse.parse_iso(match.group("stamp") + (zone if offset is not None and
                                                                    zone[0] in "+-" else ""),
                                            assume_utc=self.utc or zone in ("UTC", "GMT"))
                zone_known = offset is not None
                rest = match.group("rest")
        if rest is None:
            match = _DMESG_T.match(text)
            if match:
                from .timeparse import MONTHS
                month = MONTHS.get(match.group("mon").lower())
                if month:
                    if match.group("y"):
                        stamp = timeparse.parse_iso("%s-%02d-%02d %s:%s:%s" % (
                            match.group("y"), month, int(match.group("d")), match.group("h"),
                            match.group("mi"), match.group("s")), assume_utc=self.utc)
                    else:
                        stamp = self.years.epoch(month, int(match.group("d")), int(match.group("h")),
                                                 int(match.group("mi")), int(match.group("s")))
                    return self._kernel_body(match.group("msg"), line, stamp, False, None, "kernel", None)
        if rest is None:
            # No wall clock: raw dmesg or a console line.
            return self._kernel_body(text, line, None, False, None, None, None)
        if rest.startswith("[") and _KMSG.match(rest):
            # A console capture stamped by the capturing tool (conserver,
            # ipmitool sol, test labs): "<capture time> [ mono] message".
            return self._kernel_body(rest, line, stamp, zone_known, None, None, None)
        tagged = _HOST_TAG.match(rest)
        if tagged:
            host, program, pid, message = (tagged.group("host"), tagged.group("prog"),
                                           tagged.group("pid"), tagged.group("msg"))
            return self._kernel_body(message, line, stamp, zone_known, host, program,
                                     int(pid) if pid else None)
        host, _, message = rest.partition(" ")
        return Record(stamp, None, host or None, None, None, message, line, zone_known, None, None)

    def _kernel_body(self, message, line, stamp, zone_known, host, program, pid):
        mono = None
        caller = None
        match = _KMSG.match(message)
        if match:
            mono = float(match.group("mono"))
            caller = match.group("caller")
            message = match.group("msg")
            if program is None:
                program = "kernel"
        return Record(stamp, mono, host, program, pid, message, line, zone_known, None, caller)

    def _json(self, text, line):
        try:
            entry = json.loads(text)
        except ValueError:
            return None
        if not isinstance(entry, dict) or "MESSAGE" not in entry:
            return None
        return journal_record(entry, line)


def _field(entry, name):
    value = entry.get(name)
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return bytes(bytearray(v & 255 for v in value)).decode("utf-8", "replace")
        value = value[0] if value else None
    return value


def journal_record(entry, line):
    """A Record from one journal JSON object (journalctl -o json)."""
    message = _field(entry, "MESSAGE") or ""
    stamp = None
    raw = _field(entry, "__REALTIME_TIMESTAMP") or _field(entry, "_SOURCE_REALTIME_TIMESTAMP")
    try:
        stamp = int(raw) / 1e6 if raw is not None else None
    except (TypeError, ValueError):
        stamp = None
    mono = None
    transport = _field(entry, "_TRANSPORT")
    raw_mono = _field(entry, "_SOURCE_MONOTONIC_TIMESTAMP") if transport == "kernel" else None
    raw_mono = raw_mono or _field(entry, "__MONOTONIC_TIMESTAMP")
    try:
        mono = int(raw_mono) / 1e6 if raw_mono is not None else None
    except (TypeError, ValueError):
        mono = None
    program = _field(entry, "SYSLOG_IDENTIFIER") or _field(entry, "_COMM")
    if transport == "kernel":
        program = "kernel"
    pid = _field(entry, "_PID") or _field(entry, "SYSLOG_PID")
    try:
        pid = int(pid) if pid is not None else None
    except (TypeError, ValueError):
        pid = None
    return Record(stamp, mono, _field(entry, "_HOSTNAME"), program, pid, str(message), line, True,
                  _field(entry, "_BOOT_ID"), None)


# ---------------------------------------------------------------- discovery

LogInput = collections.namedtuple("LogInput", "name kind paths command")
LogInput.__doc__ = """A log to read.

name: what to show ("var/log/messages*", "journal"); kind: "syslog",
"journal-text", "journal-json", "dmesg", "console", "journal-binary";
paths: root-relative paths in reading order (oldest first); command: argv
for journalctl when the journal is read through it, else None."""

SYSLOG_NAMES = ("messages", "syslog", "kern.log", "warn", "localmessages", "boot.log")

# Where report puts the text of a bundle's binary journal files, converted
# with journalctl --file (report_binary.convert_journals): a sos bundle's, or
# an archived root's (a tarball of / or /var/log, which no journalctl -D reads).
CONVERTED_JOURNAL = "var/log/journal/journalctl_--file_-o_short-iso"
# Text exports of the journal and of dmesg inside bundles (sos 3.x/4.x
# sos_commands/<plugin>/<mangled command>, supportconfig via sections).
SOS_JOURNAL_GLOBS = (
    "sos_commands/logs/journalctl_--no-pager",
    "sos_commands/logs/journalctl_--no-pager_--catalog_--boot",
    "sos_commands/logs/journalctl_--no-pager_--catalog_--boot_-1",
    "sos_commands/logs/journalctl_--all_--this-boot_--no-pager",
    "sos_commands/logs/journalctl_--all_--this-boot_--no-pager_-o_verbose",
    CONVERTED_JOURNAL,
)
SOS_DMESG = ("sos_commands/kernel/dmesg", "sos_commands/logs/dmesg")


def discover(source, journal=True, names=SYSLOG_NAMES, runner_fn=None):
    """The logs a source holds, as LogInputs (syslog files, journal, exports)."""
    found = []
    for name in names:
        paths = source.log_files(name)
        if paths:
            found.append(LogInput("var/log/%s*" % name, "syslog", paths, None))
    dmesg_paths = source.log_files("dmesg")
    if dmesg_paths:
        found.append(LogInput("var/log/dmesg*", "dmesg", dmesg_paths, None))
    if source.kind == "sos":
        seen = set()
        for pattern in SOS_JOURNAL_GLOBS:
            for path in source.glob(pattern):
                if path not in seen:
                    seen.add(path)
                    found.append(LogInput(path, "journal-text", [path], None))
        for path in SOS_DMESG:
            if source.exists(path):
                found.append(LogInput(path, "dmesg", [path], None))
                break
    if source.kind == "root" and not hasattr(source.tree, "real") and source.exists(CONVERTED_JOURNAL):
        found.append(LogInput(CONVERTED_JOURNAL, "journal-text", [CONVERTED_JOURNAL], None))
    if source.kind == "supportconfig":
        output = None
        for command in ("journalctl --no-pager", "journalctl --no-pager --boot 0"):
            output = source.command_output(command)
            if output:
                found.append(LogInput(output[1], "journal-text", [], ("text",) + output))
                break
    if journal and source.kind in ("live", "root") and hasattr(source.tree, "real"):
        command = journal_command(source, runner_fn)
        if command:
            found.append(LogInput("journal", "journal-json", [], command))
    return found


def journal_command(source, runner_fn=None):
    """argv reading a root's binary journal as JSON, or None (no journal, no journalctl)."""
    folders = []
    for folder in ("var/log/journal", "run/log/journal"):
        if source.isdir(folder) and source.listdir(folder):
            folders.append(folder)
    if not folders:
        return None
    journalctl = runner.which("journalctl")
    if not journalctl:
        source.warn("%s: binary journal present but journalctl is not available "
                    "(read it on a box with systemd: journalctl -D DIR -o json > journal.json)" % folders[0])
        return None
    if source.live:
        return [journalctl, "--no-pager", "-o", "json"]
    return [journalctl, "--no-pager", "-o", "json", "-D", source.tree.real(folders[0])]


def records(source, log, utc=False, runner_fn=None, timeout=600):
    """Yield Records of one LogInput, in file order."""
    if log.command and log.command[0] == "text":
        _, text, origin = log.command
        parser = LineParser(mtime=None, utc=utc)
        for number, body in enumerate(text.splitlines(), 1):
            yield parser.parse(Line(body, origin, number))
        return
    if log.command:
        run = runner_fn or runner.run
        result = run(log.command, timeout=timeout, cap=1 << 30)
        if not result.available or result.status == "timeout":
            source.warn("journal: %s (%s)" % (result.status, result.stderr.strip()[:200]))
            return
        for number, body in enumerate(result.stdout.splitlines(), 1):
            try:
                entry = json.loads(body)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield journal_record(entry, Line(_field(entry, "MESSAGE") or "", "journal", number))
        return
    for path in log.paths:
        parser = LineParser(mtime=source.mtime(path), utc=utc)
        for line in source.lines(path):
            yield parser.parse(line)


def file_records(path, utc=False):
    """Records of a plain file given on the command line (not inside a source)."""
    from . import sources
    folder, name = os.path.split(os.path.abspath(path))
    source = sources.RootSource(sources.DirTree(folder), folder, "root")
    parser = LineParser(mtime=source.mtime(name), utc=utc)
    for line in source.lines(name):
        yield parser.parse(Line(line.text, path, line.lineno))
    for warning in source.warnings:
        yield warning  # callers filter str items as warnings
