"""``last`` output: boot, shutdown and runlevel lines read back from the text.

Support bundles rarely hold the binary wtmp; they hold what ``last`` printed
from it: sos (plugin ``login``) ``last``, ``last reboot`` and ``last
shutdown``; supportconfig ``last -wxF | egrep "reboot|shutdown|runlevel|system"``
in ``boot.txt``.  ``parse(lines)`` turns such text into ``LastEntry``s.

Formats (util-linux ``last``, newest line first; sysvinit's is the same)::

    reboot   system boot  6.1.0-18-amd64   Mon Jun  3 10:02   still running
    reboot   system boot  6.1.0-17-amd64   Wed Jan 10 08:02 - 12:00 (24+03:57)
    shutdown system down  6.1.0-17-amd64   Tue Jan  9 18:00:12 2024 - Wed Jan 10 08:02:44 2024  (14:02)
    runlevel (to lvl 0)   6.1.0-17-amd64   Tue Jan  9 18:00:09 2024 - ...       (-x)
    reboot   system boot  6.1.0-17-amd64   2024-01-02T07:45:31+00:00 - ...      (--time-format iso)

    wtmp begins Thu Dec 28 09:14:07 2023

Without ``-F`` the times have minutes and no year: the year comes from the
``wtmp begins`` trailer (the file's first record), walking forward from
the oldest line, else backward from ``reference`` (when the output was
taken); the weekday printed with each date settles gaps longer than a year
and clock corrections.  Times without a zone are the box's local time and
are read like zone-less syslog stamps (local here, UTC with ``utc``).

The end column of a ``reboot`` line is not that boot's end: ``last`` shows
the newest shutdown (or runlevel 0/6) record it met above that line, or
``still running`` when there is none.  So a boot ended cleanly only when
that time is not after the next boot's start -- ``end`` is kept for that
judgement (``-x`` output also has the shutdown lines themselves).
"""

import collections
import datetime
import re

from . import timeparse

LastEntry = collections.namedtuple("LastEntry", "kind stamp kernel runlevel lineno text end resolution "
                                               "zone_known origin")
LastEntry.__doc__ = """One boot/shutdown/runlevel line of ``last`` output.

kind: "boot", "shutdown", "runlevel"; stamp: epoch seconds of the start
column; kernel: the host column (the kernel release; cut at 16 characters
without -w) or None; runlevel: the level character of "(to lvl N)";
lineno/text/origin: where the line is; end: epoch of the end column
(boot lines: the next shutdown record last met) or None ("still
running", unreadable); resolution: 60 (minutes printed) or 1;
zone_known: the stamp carried its zone (--time-format iso)."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_PSEUDO = re.compile(r"^(?P<user>reboot|shutdown|runlevel)\s+"
                     r"(?P<what>system boot|system down|\(to lvl (?P<level>\S)\))(?P<rest>.*)$")
_SHORT = r"(?P<wd>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) {1,2}(?P<d>\d{1,2}) (?P<h>\d\d):(?P<mi>\d\d)" \
         r"(?::(?P<s>\d\d) (?P<y>\d{4}))?"
_ISO = r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:,\d+)?(?:[+-]\d\d:?\d\d|Z)?)"
_WHEN = re.compile(r"(?:^|\s)(?:%s|%s)(?=\s|$)" % (_SHORT, _ISO))
_TRAILER = re.compile(r"^\s*\S+ begins (?P<when>.+?)\s*$")
_DURATION = re.compile(r"\((?P<neg>-)?(?:(?P<days>\d+)\+)?(?P<h>\d\d):(?P<mi>\d\d)\)")
_END_CLOCK = re.compile(r"^\s*-\s+(?P<h>\d\d):(?P<mi>\d\d)\s")

_Raw = collections.namedtuple("_Raw", "kind kernel runlevel lineno text origin when after")


def _when_fields(match):
    """A _WHEN match -> dict (month, day, h, mi, s, year, weekday) or {'iso': text}."""
    if match.group("iso"):
        return {"iso": match.group("iso")}
    month = timeparse.MONTHS.get(match.group("mon").lower())
    weekday = match.group("wd").lower()
    if month is None or weekday not in WEEKDAYS:
        return None
    return {"month": month, "day": int(match.group("d")), "h": int(match.group("h")),
            "mi": int(match.group("mi")), "s": int(match.group("s") or 0),
            "year": int(match.group("y")) if match.group("y") else None,
            "weekday": WEEKDAYS.index(weekday)}


def _valid(year, month, day, weekday):
    try:
        return datetime.date(year, month, day).weekday() == weekday
    except ValueError:
        return False


def _fit_year(preferred, alternative, direction, fields):
    """The year whose calendar has this month/day on the printed weekday (nearest first)."""
    candidates = [preferred]
    if alternative != preferred:
        candidates.append(alternative)
    candidates += [preferred + direction * step for step in range(1, 8)]
    for year in candidates:
        if _valid(year, fields["month"], fields["day"], fields["weekday"]):
            return year
    return preferred


def _epoch(fields, year, utc):
    if "iso" in fields:
        text = fields["iso"].replace(",", ".")
        return timeparse.parse_iso(text, assume_utc=utc)
    if fields["year"] is not None:
        year = fields["year"]
    return timeparse.parse_iso("%04d-%02d-%02dT%02d:%02d:%02d" % (
        year, fields["month"], fields["day"], fields["h"], fields["mi"], fields["s"]), assume_utc=utc)


def _line_of(item, number):
    """(lineno, text, origin) of a sources.Line, a (lineno, text) pair or a str."""
    if hasattr(item, "text") and hasattr(item, "lineno"):
        return item.lineno, item.text, item.origin
    if isinstance(item, tuple):
        return item[0], item[1], None
    return number, item, None


def looks_like_last(text):
    """Whether ``text`` (the head of a file) is ``last`` output: its trailer
    (``wtmp begins ...``), or reboot / shutdown lines with a time making up
    most of its lines (user sessions are the rest of plain ``last``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    if any(_TRAILER.match(line) and line.split()[0].endswith("tmp") for line in lines[-3:]):
        return True
    ours = sum(1 for line in lines if _PSEUDO.match(line) and _WHEN.search(line))
    return ours > 0 and ours * 2 >= len(lines)


_SESSION = re.compile(r"^(?P<user>\S+)\s+(?P<tty>\S+)\s")
_NOT_USERS = ("reboot", "shutdown", "runlevel", "wtmp", "btmp")


def parse(lines, reference=None, utc=False, warn=None, origin="last", sessions=False):
    """[LastEntry] in the order of the text (newest first) from ``last`` output lines.

    ``lines``: sources.Line objects, (lineno, text) pairs or strings;
    ``reference``: epoch when the output was taken (year of year-less lines
    when the ``wtmp begins`` trailer is missing; default now); ``utc``: read
    zone-less times as UTC; ``warn(message)`` gets one line per problem;
    ``sessions``: also users' login lines (kind "session", ``end`` the logout
    or None for "crash", "down", "still logged in") -- signs of life.
    """
    raws = []
    trailer = None
    unread = 0
    sample = None
    other = None
    for number, item in enumerate(lines, 1):
        lineno, text, where = _line_of(item, number)
        text = text.rstrip("\r\n").replace("\0", "")
        if other is None and text.strip():
            other = (where or origin, lineno)
        match = _PSEUDO.match(text)
        if match is None:
            found = _TRAILER.match(text)
            if found:
                when = _WHEN.search(" " + found.group("when"))
                fields = _when_fields(when) if when else None
                if fields is not None and ("iso" in fields or fields["year"] is not None):
                    trailer = fields
            elif sessions:
                _session(text, lineno, where or origin, raws)
            continue
        when = _WHEN.search(match.group("rest"))
        fields = _when_fields(when) if when else None
        if fields is None:
            unread += 1
            sample = sample or (where or origin, lineno)
            continue
        kind = {"reboot": "boot", "shutdown": "shutdown", "runlevel": "runlevel"}[match.group("user")]
        kernel = match.group("rest")[:when.start()].strip() or None
        raws.append(_Raw(kind, kernel, match.group("level"), lineno, text, where or origin, fields,
                         match.group("rest")[when.end():]))
    if unread and warn:
        warn("%s:%s: %d reboot/shutdown line(s) of last output not understood (another locale or "
             "time format?; skipped -- capture it with LC_ALL=C last -xF)" % (sample[0], sample[1], unread))
    if not raws and trailer is None and not unread and other is not None and warn:
        warn("%s:%s: not last output (no reboot/shutdown lines, no 'wtmp begins' line; damaged or "
             "another command's output?); skipped" % other)
    years = _years(raws, trailer, reference, utc)
    out = []
    for raw, year in zip(raws, years):
        stamp = _epoch(raw.when, year, utc)
        if stamp is None:
            continue
        resolution = 1 if ("iso" in raw.when or raw.when["year"] is not None) else 60
        end = _end(raw, stamp, resolution, utc) if raw.kind in ("boot", "session") else None
        out.append(LastEntry(raw.kind, stamp, raw.kernel, raw.runlevel, raw.lineno, raw.text, end,
                             resolution, "iso" in raw.when and bool(re.search(r"([+-]\d\d:?\d\d|Z)$",
                                                                           raw.when["iso"])),
                             raw.origin))
    return out


def _session(text, lineno, origin, raws):
    """A user's login line (``alice pts/0 192.0.2.10 Tue Jan  2 08:00 - 12:00 (04:00)``) -> raws."""
    match = _SESSION.match(text)
    if match is None or match.group("user") in _NOT_USERS:
        return
    when = _WHEN.search(text, match.end() - 1)
    fields = _when_fields(when) if when else None
    if fields is not None:
        raws.append(_Raw("session", None, None, lineno, text, origin, fields, text[when.end():]))


def same_line(one, other):
    """Whether two entries (of two outputs of the same wtmp) are the same record: same kind and
    level, and times equal at the coarser of the two resolutions (minutes are cut, not rounded)."""
    if one.kind != other.kind or one.runlevel != other.runlevel:
        return False
    if one.resolution == other.resolution:
        return abs(one.stamp - other.stamp) < 1
    coarse, fine = (one, other) if one.resolution > other.resolution else (other, one)
    return coarse.stamp - 1 < fine.stamp < coarse.stamp + coarse.resolution


def _years(raws, trailer, reference, utc):
    """Years of the lines (None for lines that carry their own)."""
    years = [None] * len(raws)
    bare = [i for i, raw in enumerate(raws) if "iso" not in raw.when and raw.when["year"] is None]
    if not bare:
        return years
    if trailer is not None and "iso" not in trailer:
        year, previous = trailer["year"], (trailer["month"], trailer["day"])
        for index in reversed(bare):                       # oldest line first, forward in time
            fields = raws[index].when
            here = (fields["month"], fields["day"])
            preferred = year + 1 if here < previous else year
            year = _fit_year(preferred, year, 1, fields)
            years[index] = year
            previous = here
        return years
    if reference is None:
        import time
        reference = time.time()
    moment = datetime.datetime.fromtimestamp(reference, timeparse.UTC if utc else None)
    year, previous = moment.year, (moment.month, moment.day)
    for index in bare:                                      # newest line first, backward in time
        fields = raws[index].when
        here = (fields["month"], fields["day"])
        preferred = year - 1 if here > previous else year
        year = _fit_year(preferred, year, -1, fields)
        years[index] = year
        previous = here
    return years


def _end(raw, stamp, resolution, utc):
    """The end column of a boot line as an epoch, or None (still running / not readable)."""
    after = raw.after
    if "still running" in after or "still" in after.split()[:1]:
        return None
    when = _WHEN.search(after)
    if when is not None:
        fields = _when_fields(when)
        if fields is not None and ("iso" in fields or fields["year"] is not None):
            return _epoch(fields, None, utc)
    clock = _END_CLOCK.match(after)
    duration = _DURATION.search(after)
    if clock is None or duration is None or duration.group("neg"):
        return None
    minutes = int(duration.group("days") or 0) * 1440 + int(duration.group("h")) * 60 + \
        int(duration.group("mi"))
    # start and length are both cut to the minute: the printed HH:MM fixes the end minute
    approx = stamp + minutes * 60.0
    moment = datetime.datetime.fromtimestamp(approx, timeparse.UTC if utc else None)
    best = None
    for shift in (-1, 0, 1):
        day = moment.date() + datetime.timedelta(days=shift)
        candidate = timeparse.parse_iso("%sT%s:%s:00" % (day.isoformat(), clock.group("h"), clock.group("mi")),
                                        assume_utc=utc)
        if candidate is not None and (best is None or abs(candidate - approx) < abs(best - approx)):
            best = candidate
    if best is None or abs(best - approx) > 180:
        return approx
    return best
