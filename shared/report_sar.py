"""Text sar output (sysstat) in any locale, 12- or 24-hour clock -> time series.

sar prints a banner (``Linux 5.14.0 (host) \\t06/09/2024 \\t_x86_64_\\t(4 CPU)``),
then blocks: a header line (``12:00:01 AM  CPU  %user ... %idle``) and data
lines starting with a time.  The date in the banner follows the locale
(``06/09/2024`` en_US, ``09/06/2024`` en_GB/fr, ``09.06.2024`` de,
``2024-06-09`` ISO, ``06/09/24`` old sysstat), numbers may use a decimal
comma, times may carry ``AM``/``PM``, ``Average:`` is translated
(``Durchschn.:``, ``Moyenne :``) and ``LINUX RESTART`` lines mark reboots.
Only lines that start with a time are data; everything else is skipped.

``parse(lines)`` -> ``SarData``: ``series`` maps a metric name from
shared.metrics' vocabulary (``cpu.busy_pct``, ``cpu.iowait_pct``,
``mem.used_pct``, ``disk.<dev>.util_pct``, ``disk.<dev>.await_ms``,
``net.<if>.rx_kbps``, ``load1``) to ``[(epoch, value)]``; ``restarts`` lists
the epochs of ``LINUX RESTART`` lines; ``problems`` what could not be read.
Times are the recording host's local time, converted like zone-less log
stamps (shared.timeparse, local unless ``utc``).
"""

import re

from . import timeparse

_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")
_BANNER = re.compile(r"^Linux\s+\S+\s+\((?P<host>[^)]*)\)\s+(?P<date>\S+)")
_AMPM = {"AM": 0, "PM": 12, "A.M.": 0, "P.M.": 12, "VORM.": 0, "NACHM.": 12}


class SarData(object):
    def __init__(self):
        self.series = {}
        self.restarts = []
        self.problems = []
        self.origins = []
        self.host = None
        self.cpus = None

    def add(self, name, stamp, value):
        self.series.setdefault(name, []).append((stamp, value))

    def merge(self, other):
        for name, points in other.series.items():
            self.series.setdefault(name, []).extend(points)
        self.restarts.extend(other.restarts)
        self.problems.extend(other.problems)
        self.origins.extend(other.origins)
        self.host = self.host or other.host
        self.cpus = self.cpus or other.cpus

    def finish(self):
        for name in list(self.series):
            points = sorted(set(self.series[name]))
            self.series[name] = points
        self.restarts = sorted(set(self.restarts))
        return self

    def span(self):
        stamps = [p[0] for points in self.series.values() for p in points]
        return (min(stamps), max(stamps)) if stamps else (None, None)

    def to_dict(self):
        return {"series": dict((k, [[round(t, 3), v] for t, v in pts]) for k, pts in self.series.items()),
                "restarts": self.restarts, "origins": self.origins, "problems": self.problems}


def parse_date(text, comma=False):
    """(year, month, day) of a sar banner date in any locale, or None."""
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text)
    if match:
        return int(match.group(1)), int(match.group(2)), int(match.group(3))
    match = re.match(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})$", text)
    if not match:
        return None
    first, sep, second, year = int(match.group(1)), match.group(2), int(match.group(3)), int(match.group(4))
    if year < 100:
        year += 2000
    if sep == ".":
        day, month = first, second           # de, ru, ...: DD.MM.YYYY
    elif first > 12:
        day, month = first, second
    elif second > 12:
        month, day = first, second
    elif comma:
        day, month = first, second           # decimal comma: a European locale
    else:
        month, day = first, second           # en_US and the C locale of old sysstat
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day


def _number(text):
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def parse(lines, origin="sar", utc=False):
    """Parse an iterable of text lines (one sar text output or several)."""
    data = SarData()
    data.origins.append(origin)
    blocks = []            # [date text, rows, comma seen]
    header = None
    for raw in lines:
        text = raw.rstrip("\n")
        banner = _BANNER.match(text)
        if banner:
            data.host = data.host or banner.group("host")
            cpus = re.search(r"\((\d+) CPU\)", text)
            if cpus:
                data.cpus = int(cpus.group(1))
            blocks.append([banner.group("date"), [], False])
            header = None
            continue
        words = text.split()
        if not words or not blocks:
            continue
        clock = _TIME.match(words[0])
        if not clock:
            continue
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3))
        rest = words[1:]
        if rest and rest[0].upper() in _AMPM:
            hour = (hour % 12) + _AMPM[rest[0].upper()]
            rest = rest[1:]
        if not rest or hour > 23 or minute > 59 or second > 60:
            continue
        block = blocks[-1]
        if "RESTART" in rest:
            block[1].append(("restart", hour, minute, second, None, None))
            continue
        if _number(rest[-1]) is None:
            header = rest
            continue
        if header is None:
            continue
        if not block[2] and any("," in w for w in rest if _number(w) is not None):
            block[2] = True
        block[1].append(("row", hour, minute, second, header, rest))
    for date_text, rows, comma in blocks:
        ymd = parse_date(date_text, comma=comma)
        if ymd is None:
            data.problems.append("%s: sar date %r not understood (its rows were skipped)"
                                 % (origin, date_text))
            continue
        last_seconds = None
        day_offset = 0
        for kind, hour, minute, second, head, row in rows:
            seconds = hour * 3600 + minute * 60 + second
            if last_seconds is not None and seconds + 12 * 3600 < last_seconds:
                day_offset += 1          # the clock went past midnight
            last_seconds = seconds
            stamp = _epoch(ymd, hour, minute, second, utc) + day_offset * 86400
            if kind == "restart":
                data.restarts.append(stamp)
            else:
                _row(data, stamp, head, row)
    return data.finish()


def _epoch(ymd, hour, minute, second, utc):
    iso = "%04d-%02d-%02dT%02d:%02d:%02d" % (ymd[0], ymd[1], ymd[2], hour, minute, second)
    stamp = timeparse.parse_iso(iso, assume_utc=utc)
    return stamp if stamp is not None else 0.0


def _row(data, stamp, head, row):
    if len(row) != len(head):
        return
    values = dict(zip(head, row))
    if "%idle" in values and "CPU" in values:
        if values["CPU"] != "all":
            return
        idle = _number(values["%idle"])
        if idle is not None:
            data.add("cpu.busy_pct", stamp, round(100.0 - idle, 2))
        for column, name in (("%iowait", "cpu.iowait_pct"), ("%steal", "cpu.steal_pct"),
                             ("%system", "cpu.system_pct"), ("%user", "cpu.user_pct"),
                             ("%usr", "cpu.user_pct"), ("%sys", "cpu.system_pct")):
            value = _number(values.get(column, ""))
            if value is not None:
                data.add(name, stamp, value)
        return
    if "%memused" in values:
        value = _number(values["%memused"])
        if value is not None:
            data.add("mem.used_pct", stamp, value)
        return
    if "%swpused" in values:
        value = _number(values["%swpused"])
        if value is not None:
            data.add("mem.swap_used_pct", stamp, value)
        return
    if "ldavg-1" in values:
        value = _number(values["ldavg-1"])
        if value is not None:
            data.add("load1", stamp, value)
        return
    if "DEV" in values and "%util" in values:
        device = values["DEV"]
        util = _number(values["%util"])
        if util is not None:
            data.add("disk.%s.util_pct" % device, stamp, util)
        wait = _number(values.get("await", values.get("w_await", "")))
        if wait is not None:
            data.add("disk.%s.await_ms" % device, stamp, wait)
        return
    if "IFACE" in values and "rxkB/s" in values:
        iface = values["IFACE"]
        if iface == "lo":
            return
        for column, leaf in (("rxkB/s", "rx_kbps"), ("txkB/s", "tx_kbps")):
            value = _number(values[column])
            if value is not None:
                data.add("net.%s.%s" % (iface, leaf), stamp, value)


def parse_sadf(text, origin="sadf", data=None):
    """``sadf -d`` output (``# hostname;interval;timestamp;COLUMNS...`` headers, rows
    ``host;interval;YYYY-MM-DD HH:MM:SS UTC;values``) -> SarData, through the same
    column mapping as text sar (CPU ``-1`` is ``all``; LINUX-RESTART rows are restarts)."""
    data = data if data is not None else SarData()
    data.origins.append(origin)
    header = None
    for line in text.splitlines():
        if line.startswith("#"):
            header = [c.strip() for c in line.lstrip("#").split(";")][3:]
            continue
        fields = line.split(";")
        if len(fields) < 4:
            continue
        data.host = data.host or fields[0]
        stamp = _sadf_time(fields[2])
        if stamp is None:
            continue
        if "LINUX-RESTART" in fields[3]:
            data.restarts.append(stamp)
            cpus = re.search(r"\((\d+) CPU\)", fields[3])
            if cpus:
                data.cpus = int(cpus.group(1))
            continue
        if header is None:
            continue
        row = fields[3:]
        if header and header[0] == "CPU" and row and row[0] == "-1":
            row = ["all"] + row[1:]
        _row(data, stamp, header, row)
    return data.finish()


def _sadf_time(text):
    match = re.match(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?: (UTC|GMT|[+-]\d{4}))?$", text.strip())
    if not match:
        return None
    zone = match.group(3)
    iso = "%sT%s%s" % (match.group(1), match.group(2), "" if zone is None else
                       "+00:00" if zone in ("UTC", "GMT") else "%s:%s" % (zone[:3], zone[3:]))
    return timeparse.parse_iso(iso, assume_utc=True)


def looks_like_sar(head_text):
    """True when text starts like a sar text report (banner within the first lines)."""
    for line in head_text.splitlines()[:40]:
        if _BANNER.match(line) and "CPU)" in line:
            return True
    return False
