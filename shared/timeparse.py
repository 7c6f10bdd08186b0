"""Times, durations and sizes as users type them and logs write them.

Everything internal is epoch seconds (float) or timezone-aware datetimes;
local time is shown with its zone printed, never labelled "UTC" when it is
not.  No locale-dependent parsing: month names are matched from a table.
"""

import calendar
import datetime
import re
import time

UTC = datetime.timezone.utc

MONTHS = {name: index for index, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w)?\s*$", re.I)
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "secs": 1.0, "m": 60.0, "min": 60.0,
                   "mins": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "d": 86400.0,
                   "day": 86400.0, "days": 86400.0, "w": 604800.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.I)


def parse_duration(text):
    """'90s', '10m', '24h', '1.5h', '2d', '250ms', '30' (seconds) -> seconds (float).

    Also accepts compound forms like '1h30m'.  Raises ValueError.
    """
    text = str(text).strip()
    match = _DURATION.match(text)
    if match:
        unit = match.group(2).lower() if match.group(2) else None
        return float(match.group(1)) * _DURATION_UNITS[unit]
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|[smhdw])", text.lower())
    if parts and "".join(a + b for a, b in parts) == text.lower().replace(" ", ""):
        return sum(float(a) * _DURATION_UNITS[b] for a, b in parts)
    raise ValueError("not a duration: %r (use e.g. 90s, 10m, 24h, 1h30m)" % (text,))


def parse_size(text):
    """'500M' -> 500 MiB in bytes.  Binary units: K, M, G, T, P (with or without iB/B)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError("not a size: %r (use e.g. 512K, 500M, 2G; binary units)" % (text,))
    number = float(match.group(1))
    power = " kmgtp".index(match.group(2).lower() or " ")
    return int(number * (1024 ** power))


def format_size(count):
    """Bytes to a short binary-unit string: 1536 -> '1.5K'."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(value) < 1024 or unit == "P":
            if unit == "":
                return "%d" % value
            return ("%.1f%s" % (value, unit)) if abs(value) < 10 else ("%.0f%s" % (value, unit))
        value /= 1024.0
    return str(count)


def format_duration(seconds):
    """Seconds to a compact human form: 3725 -> '1h02m'."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return "%s%.0fs" % (sign, seconds) if seconds >= 10 else "%s%.1fs" % (sign, seconds)
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return "%s%dm%02ds" % (sign, minutes, secs)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return "%s%dh%02dm" % (sign, hours, minutes)
    days, hours = divmod(hours, 24)
    return "%s%dd%02dh" % (sign, days, hours)


# ---------------------------------------------------------------- --since / --until

_ABSOLUTE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
)


def parse_when(text, now=None, utc=False):
    """A --since/--until value to epoch seconds.

    Accepts relative times ('-2h', '2h ago', '-30m'), 'now', 'today',
    'yesterday', '@EPOCH', ISO-8601 with optional zone ('2024-06-09 06:06',
    '2024-06-09T06:06:20+02:00', '...Z'), read as local time unless a zone
    is given or ``utc`` is set.  Raises ValueError.
    """
    now = time.time() if now is None else now
    value = str(text).strip()
    lowered = value.lower()
    if lowered == "now":
        return now
    if lowered in ("today", "yesterday"):
        base = datetime.datetime.fromtimestamp(now, UTC if utc else None)
        midnight = base.replace(hour=0, minute=0, second=0, microsecond=0)
        stamp = _to_epoch(midnight, utc)
        return stamp - (86400 if lowered == "yesterday" else 0)
    if value.startswith("@"):
        return float(value[1:])
    relative = re.match(r"^-\s*(.+)$", value) or re.match(r"^(.+?)\s+ago$", lowered)
    if relative:
        return now - parse_duration(relative.group(1))
    stamp = parse_iso(value, assume_utc=utc)
    if stamp is not None:
        return stamp
    raise ValueError("not a time: %r (use '2024-06-09 06:00', an ISO-8601 time with zone, "
                     "'-2h' or '@EPOCH')" % (text,))


def _to_epoch(naive_or_aware, utc):
    if naive_or_aware.tzinfo is not None:
        return calendar.timegm(naive_or_aware.utctimetuple()) + naive_or_aware.microsecond / 1e6
    if utc:
        return calendar.timegm(naive_or_aware.timetuple()) + naive_or_aware.microsecond / 1e6
    return time.mktime(naive_or_aware.timetuple()) + naive_or_aware.microsecond / 1e6


_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?"
    r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?$", re.I)


def parse_iso(text, assume_utc=False):
    """ISO-8601 (the subset logs use) to epoch seconds, or None.

    '2023-10-01T06:06:20.123456+02:00', '2023-10-01 06:06:20Z',
    '2023-10-01T06:06:20-0400', '2023-10-01'.  Without a zone: local time
    (or UTC when ``assume_utc``).  Python 3.6 has no fromisoformat.
    """
    match = _ISO.match(text.strip())
    if not match:
        return None
    try:
        fraction = match.group("frac") or "0"
        moment = datetime.datetime(
            int(match.group("y")), int(match.group("mo")), int(match.group("d")),
            int(match.group("h") or 0), int(match.group("mi") or 0), int(match.group("s") or 0),
            int(fraction[:6].ljust(6, "0")))
    except ValueError:
        return None
    zone = match.group("zone")
    if zone:
        offset = zone_offset(zone)
        if offset is None:
            return None
        return calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6 - offset
    return _to_epoch(moment, assume_utc)


def zone_offset(zone):
    """'Z', 'UTC', '+02:00', '-0400', '+05' -> offset seconds east of UTC, or None."""
    zone = zone.strip().upper()
    if zone in ("Z", "UTC", "GMT"):
        return 0
    match = re.match(r"^([+-])(\d{2}):?(\d{2})?$", zone)
    if not match:
        return None
    seconds = int(match.group(2)) * 3600 + int(match.group(3) or 0) * 60
    return seconds if match.group(1) == "+" else -seconds


# ---------------------------------------------------------------- syslog stamps

_RFC3164 = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<d>\d{1,2}) (?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})\b")


def parse_rfc3164(text):
    """'Jun  9 06:06:20' at the start of a line -> (month, day, h, m, s, length) or None."""
    match = _RFC3164.match(text)
    if not match:
        return None
    month = MONTHS.get(match.group("mon").lower())
    if not month:
        return None
    return (month, int(match.group("d")), int(match.group("h")), int(match.group("mi")),
            int(match.group("s")), match.end())


class YearInference(object):
    """Give year-less syslog stamps a year, reading a file from start to end.

    The anchor is the file's modification time: its last line was written
    then.  The first line gets the mtime's year, minus one when its month
    lies after the mtime's month (a file that starts in December and was
    last written in January); every large backwards jump of the month
    afterwards (Dec -> Jan) is a new year, while small backwards steps are
    clock corrections.  Files spanning more than a year cannot be dated
    from their stamps alone.
    """

    def __init__(self, mtime=None, now=None, utc=False):
        reference = mtime if mtime is not None else (now if now is not None else time.time())
        moment = datetime.datetime.fromtimestamp(reference, UTC if utc else None)
        self.ref_year = moment.year
        self.ref_month = moment.month
        self.year = None
        self.last_month = None
        self.utc = utc

    def year_for(self, month):
        if self.year is None:
            self.year = self.ref_year - (1 if month > self.ref_month else 0)
        elif self.last_month is not None and month < self.last_month - 6:
            # Big backwards jump in month (Dec -> Jan): a new year.  Small
            # backwards steps are clock corrections, not rollovers.
            self.year += 1
        self.last_month = month
        return self.year

    def epoch(self, month, day, hour, minute, second, fraction=0.0):
        year = self.year_for(month)
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None  # Feb 29 in a non-leap year: a mangled line
        return _to_epoch(moment, self.utc) + fraction


# ---------------------------------------------------------------- showing times

def local_zone_name(stamp=None):
    stamp = time.time() if stamp is None else stamp
    return time.strftime("%Z", time.localtime(stamp)) or time.strftime("%z", time.localtime(stamp))


def format_time(stamp, utc=False, seconds=True, zone=True):
    """Epoch to 'YYYY-MM-DD HH:MM:SS ZONE' in local time (or UTC), '-' for None."""
    if stamp is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if utc:
        text = time.strftime(fmt, time.gmtime(stamp))
        return text + " UTC" if zone else text
    local = time.localtime(stamp)
    text = time.strftime(fmt, local)
    return text + " " + (time.strftime("%Z", local) or time.strftime("%z", local)) if zone else text


def iso_utc(stamp=None):
    """Epoch to ISO-8601 UTC with 'Z' (the JSON form)."""
    stamp = time.time() if stamp is None else stamp
    moment = datetime.datetime.fromtimestamp(stamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if not moment.microsecond else
                                                    ".%06dZ" % moment.microsecond)
