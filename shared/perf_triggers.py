"""perfcollect triggers: metric thresholds, log lines, kernel messages.

Expressions (``--trigger``, repeatable)::

    load1>10   mem_available_pct<5   dstate>=3   iowait_pct>30
    disk:sda:await_ms>50   disk:*:util_pct>=90   psi_io_some_avg10>20
    log:/var/log/messages:hung_task     (a regular expression, matched per new line)
    kmsg:soft lockup                    (new kernel messages, from /dev/kmsg)

Metric names are those of ``shared.metrics`` in any spelling
``metrics.canonical`` accepts; ``*`` stands for any instance (a disk, an
interface, a CPU).  A metric trigger trips on the first sample that meets
it.  Log files are followed like ``tail -F``: from their end at start,
across rotation (a new inode) and truncation; a file that does not exist
yet is picked up from its start when it appears.

``KmsgFollower`` reads /dev/kmsg without blocking from the moment the
recording starts; the recorder keeps every line it returns (the analyzer
scans them for oopses), kmsg triggers match them.
"""

import fnmatch
import os
import re

from . import metrics as metrics_module
from .textio import decode

_EXPR = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.:*/@+\-]+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
                   r"(?P<value>-?\d+(?:\.\d+)?)\s*%?\s*$")

_OPS = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}

MAX_LINES_PER_POLL = 5000
MAX_BYTES_PER_POLL = 4 * 1024 * 1024


class TriggerError(ValueError):
    """A trigger expression that cannot be used; the message says why and how."""


class MetricTrigger(object):
    kind = "metric"

    def __init__(self, text, name, op, threshold):
        self.text = text
        self.name = name
        self.op = op
        self.threshold = threshold
        self.wildcard = "*" in name
        self._test = _OPS[op]
        self.seen = False   # the metric was present in at least one sample

    def check(self, metrics):
        """(metric name, value) of the first metric meeting the condition, or None."""
        if not self.wildcard:
            value = metrics.get(self.name)
            if value is None:
                return None
            self.seen = True
            return (self.name, value) if self._test(value, self.threshold) else None
        hit = None
        for key, value in metrics.items():
            if value is None or not fnmatch.fnmatchcase(key, self.name):
                continue
            self.seen = True
            if self._test(value, self.threshold):
                if hit is None or abs(value - self.threshold) > abs(hit[1] - self.threshold):
                    hit = (key, value)
        return hit

    def describe(self, hit):
        return "%s = %s (%s %s %s)" % (hit[0], metrics_module.format_value(hit[0], hit[1]),
                                        self.name, self.op, _number(self.threshold))


class LogTrigger(object):
    kind = "log"

    def __init__(self, text, path, regex):
        self.text = text
        self.path = path
        self.regex = regex
        self.follower = None

    def check(self, lines):
        for line in lines:
            if self.regex.search(line):
                return line
        return None

    def describe(self, hit):
        return "%s: %s" % (self.path, hit[:300])


class KmsgTrigger(object):
    kind = "kmsg"

    def __init__(self, text, regex):
        self.text = text
        self.regex = regex

    def check(self, lines):
        for line in lines:
            if self.regex.search(line):
                return line
        return None

    def describe(self, hit):
        return "kernel: %s" % hit[:300]


def _number(value):
    return ("%d" % value) if value == int(value) else ("%g" % value)


def _regex(text, where):
    if not text:
        raise TriggerError("%s: empty regular expression" % where)
    try:
        return re.compile(text)
    except re.error as error:
        raise TriggerError("%s: bad regular expression %r (%s)" % (where, text, error))


def parse(text):
    """One --trigger expression -> a trigger object; raises TriggerError."""
    raw = str(text).strip()
    if raw.startswith("log:"):
        rest = raw[4:]
        path, sep, pattern = rest.partition(":")
        if not sep or not path:
            raise TriggerError("%r: a log trigger is log:PATH:REGEX (e.g. log:/var/log/messages:hung_task)"
                               % raw)
        if not path.startswith("/"):
            raise TriggerError("%r: the log path must be absolute" % raw)
        return LogTrigger(raw, path, _regex(pattern, raw))
    if raw.startswith("kmsg:"):
        return KmsgTrigger(raw, _regex(raw[5:], raw))
    match = _EXPR.match(raw)
    if not match:
        raise TriggerError("%r: not a trigger (use METRIC>NUMBER such as load1>10, mem_available_pct<5, "
                           "disk:sda:await_ms>50, or log:PATH:REGEX, kmsg:REGEX)" % raw)
    name = metrics_module.canonical(match.group("name"))
    if not metrics_module.known(name):
        raise TriggerError("%r: unknown metric %r (the names are listed in perfcollect(8) and "
                           "procstat(8), e.g. load1, cpu.iowait_pct, mem.available_pct, disk.sda.await_ms)"
                           % (raw, match.group("name")))
    return MetricTrigger(raw, name, match.group("op"), float(match.group("value")))


# ---------------------------------------------------------------- followers

class LogFollower(object):
    """New lines of one log file, across rotation and truncation (tail -F)."""

    def __init__(self, path, from_start=False):
        self.path = path
        self.fd = None
        self.inode = None
        self.position = 0
        self.partial = b""
        self.problem = None
        self._open(at_end=not from_start)

    def _open(self, at_end):
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            self.problem = "not found yet (watched; picked up when it appears)"
            return False
        except PermissionError:
            self.problem = "permission denied (run as root)"
            return False
        except OSError as error:
            self.problem = error.strerror or str(error)
            return False
        self.close()
        self.fd = fd
        st = os.fstat(fd)
        self.inode = (st.st_dev, st.st_ino)
        self.position = st.st_size if at_end else 0
        self.partial = b""
        self.problem = None
        return True

    def close(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None

    def _read_available(self, limit):
        chunks = []
        total = 0
        while total < limit:
            try:
                data = os.pread(self.fd, min(1 << 16, limit - total), self.position)
            except OSError:
                break
            if not data:
                break
            self.position += len(data)
            total += len(data)
            chunks.append(data)
        return b"".join(chunks)

    def poll(self):
        """Lines appended since the last poll (decoded, without newlines)."""
        data = b""
        if self.fd is None:
            if not self._open(at_end=False):
                return []
        try:
            st = os.stat(self.path)
            current = (st.st_dev, st.st_ino)
        except OSError:
            current = None
        if current is not None and current != self.inode:
            data = self._read_available(MAX_BYTES_PER_POLL)  # the rest of the rotated file
            rest = self.partial + data
            self._open(at_end=False)
            data = rest
        else:
            try:
                size = os.fstat(self.fd).st_size
            except OSError:
                size = self.position
            if size < self.position:
                self.position = 0      # truncated (copytruncate rotation)
                self.partial = b""
            data = self.partial + self._read_available(MAX_BYTES_PER_POLL)
            self.partial = b""
        lines = data.split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > 65536:
            lines.append(self.partial)
            self.partial = b""
        return [decode(line.rstrip(b"\r")) for line in lines[:MAX_LINES_PER_POLL]]


class KmsgFollower(object):
    """New kernel messages from /dev/kmsg, read without blocking.

    ``poll()`` returns (usec since boot, priority, text) tuples; ``line()``
    formats one as dmesg prints it ('[  123.456789] message'), the form the
    kernel-report engine reads.  ``problem`` says why there are none.
    """

    def __init__(self, path="/dev/kmsg", from_start=False):
        self.path = path
        self.fd = None
        self.problem = None
        self.lost = 0
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            self.problem = "%s missing (a container without the kernel log)" % path
            return
        except PermissionError:
            self.problem = ("%s: permission denied (run as root, or sysctl kernel.dmesg_restrict=0)"
                            % path)
            return
        except OSError as error:
            self.problem = "%s: %s" % (path, error.strerror or error)
            return
        if not from_start:
            try:
                os.lseek(self.fd, 0, os.SEEK_END)
            except OSError:
                pass

    def poll(self, limit=MAX_LINES_PER_POLL):
        if self.fd is None:
            return []
        found = []
        while len(found) < limit:
            try:
                data = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as error:
                if error.errno == 32:      # EPIPE: messages overwritten before we read them
                    self.lost += 1
                    continue
                if error.errno == 1 or error.errno == 13:
                    self.problem = "%s: permission denied while reading" % self.path
                    self.close()
                break
            if not data:
                break
            parsed = parse_kmsg_record(data)
            if parsed is not None:
                found.append(parsed)
        return found

    def close(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


def parse_kmsg_record(data):
    """One /dev/kmsg record -> (usec, priority, caller, text) or None."""
    text = decode(data)
    head, _, message = text.partition(";")
    fields = head.split(",")
    if len(fields) < 3:
        return None
    try:
        level = int(fields[0])
        usec = int(fields[2])
    except ValueError:
        return None
    caller = None
    for field in fields[4:]:
        if field.startswith("caller="):
            caller = field[7:]
    body = message.split("\n")[0]
    return (usec, level, caller, body)


def kmsg_line(usec, caller, body):
    """The dmesg form of a record ('[  123.456789] [  T42] text' with a caller id)."""
    stamp = "[%5d.%06d]" % (usec // 1000000, usec % 1000000)
    if caller:
        stamp += "[%6s]" % caller
    return "%s %s" % (stamp, body)


class TriggerSet(object):
    """All triggers of a recording, with the followers they need."""

    def __init__(self, expressions, kmsg=None):
        self.triggers = [parse(text) for text in expressions]
        self.kmsg = kmsg
        self.followers = {}
        for trigger in self.triggers:
            if trigger.kind == "log":
                follower = self.followers.get(trigger.path)
                if follower is None:
                    follower = self.followers[trigger.path] = LogFollower(trigger.path)
                trigger.follower = follower

    def __bool__(self):
        return bool(self.triggers)

    __nonzero__ = __bool__

    def wants_kmsg(self):
        return any(t.kind == "kmsg" for t in self.triggers)

    def problems(self):
        """One line per follower that cannot read (yet)."""
        lines = []
        for path, follower in sorted(self.followers.items()):
            if follower.problem:
                lines.append("trigger log %s: %s" % (path, follower.problem))
        return lines

    def check(self, metrics, kmsg_lines=()):
        """[(trigger, detail text, value or None)] for every trigger that trips now."""
        fired = []
        new_lines = dict((path, follower.poll()) for path, follower in self.followers.items())
        for trigger in self.triggers:
            if trigger.kind == "metric":
                hit = trigger.check(metrics)
                if hit is not None:
                    fired.append((trigger, trigger.describe(hit), hit[1]))
            elif trigger.kind == "log":
                hit = trigger.check(new_lines.get(trigger.path, ()))
                if hit is not None:
                    fired.append((trigger, trigger.describe(hit), None))
            elif trigger.kind == "kmsg":
                hit = trigger.check(kmsg_lines)
                if hit is not None:
                    fired.append((trigger, trigger.describe(hit), None))
        return fired

    def unseen_metrics(self):
        return [t.text for t in self.triggers if t.kind == "metric" and not t.seen]

    def close(self):
        for follower in self.followers.values():
            follower.close()
