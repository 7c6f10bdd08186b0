"""The systemd journal for the boot timeline: --list-boots, per-boot windows, exports.

The binary journal is read through ``journalctl`` (shared runner; the
journal format is not parsed here).  ``journalctl --list-boots`` gives the
boots exactly (id, first and last entry) at almost no cost; then only the
first minutes and the last entries of each boot are asked for, so a 4 GB
journal is not poured through Python.

``--list-boots`` output comes in two shapes::

    -1 2c6ab5a5b9f84b0d8f3c2bbd7f1bd6b2 Mon 2024-06-03 08:00:01 UTC—Mon 2024-06-03 17:59:59 UTC
     0 8f2d3c4b5a6978812233445566778899 Tue 2024-06-04 07:58:10 UTC—Tue 2024-06-04 12:00:00 UTC

and, since systemd 251, with a header line and plain spaces::

    IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY
     -1 2c6ab5a5b9f84b0d8f3c2bbd7f1bd6b2 Mon 2024-06-03 08:00:01 UTC Mon 2024-06-03 17:59:59 UTC

journalctl runs with ``TZ=UTC`` so the zone is never an ambiguous
abbreviation.
"""

import collections
import json
import re

from . import logs, runner, timeparse
from .sources import Line

BootListing = collections.namedtuple("BootListing", "index boot_id first last")

_STAMP = r"(?:[A-Z][a-z]{2} )?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: ([A-Za-z0-9+:-]+))?"
_ROW = re.compile(r"^\s*(-?\d+)\s+([0-9a-f]{32})\s+" + _STAMP + r"\s*(?:\u2014|-|\s)\s*" + _STAMP + r"\s*$")


def _epoch(stamp, zone, utc_default=True):
    if zone and zone.upper() in ("UTC", "GMT", "Z"):
        return timeparse.parse_iso(stamp + "Z")
    if zone and re.match(r"^[+-]\d{2}:?\d{2}$", zone):
        return timeparse.parse_iso(stamp + zone)
    return timeparse.parse_iso(stamp, assume_utc=utc_default)


def parse_list_boots(text, utc_default=True):
    """BootListing rows of ``journalctl --list-boots`` output (header line or not)."""
    boots = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("IDX") or line.startswith("--"):
            continue
        match = _ROW.match(line)
        if not match:
            continue
        first = _epoch(match.group(3), match.group(4), utc_default)
        last = _epoch(match.group(5), match.group(6), utc_default)
        boots.append(BootListing(int(match.group(1)), match.group(2), first, last))
    return boots


def base_command(source):
    """journalctl argv prefix for a source's binary journal, or None (with a warning)."""
    command = logs.journal_command(source)
    if not command:
        return None
    # journal_command gives [journalctl, --no-pager, -o, json, (-D DIR)]: keep the binary and -D.
    base = [command[0], "--no-pager"]
    if "-D" in command:
        base += ["-D", command[command.index("-D") + 1]]
    return base


def list_boots(base, run=None, timeout=60):
    """(listings, problem) from ``journalctl --list-boots``."""
    run = run or runner.run
    result = run(base + ["--list-boots"], timeout=timeout, env={"TZ": "UTC"})
    if not result.available or result.status == "timeout":
        return [], "journalctl --list-boots: %s" % (result.status,)
    if result.rc not in (0, None) and not result.stdout.strip():
        return [], "journalctl --list-boots failed (%s)" % (result.stderr.strip()[:200] or result.status)
    return parse_list_boots(result.stdout), None


def json_records(text, origin):
    """Records of ``journalctl -o json`` text (one object per line)."""
    out = []
    for number, body in enumerate(text.splitlines(), 1):
        body = body.strip()
        if not body.startswith("{"):
            continue
        try:
            entry = json.loads(body)
        except ValueError:
            continue
        if isinstance(entry, dict):
            message = logs._field(entry, "MESSAGE") or ""
            out.append(logs.journal_record(entry, Line(str(message), origin, number)))
    return out


def boot_window(base, boot_id, first, run=None, head_seconds=900, tail_entries=2000, cap=32 << 20,
                timeout=120):
    """(head records, tail records, problem) for one boot of the binary journal."""
    run = run or runner.run
    problems = []
    head = []
    tail = []
    argv = base + ["-b", boot_id, "-o", "json"]
    if first is not None:
        result = run(argv + ["--until", "@%d" % int(first + head_seconds)], timeout=timeout, cap=cap,
                     env={"TZ": "UTC"})
        if result.available and result.status != "timeout":
            head = json_records(result.stdout, "journal -b %s" % boot_id[:12])
        else:
            problems.append("journalctl -b %s: %s" % (boot_id[:12], result.status))
    result = run(argv + ["-n", str(tail_entries)], timeout=timeout, cap=cap, env={"TZ": "UTC"})
    if result.available and result.status != "timeout":
        tail = json_records(result.stdout, "journal -b %s" % boot_id[:12])
    else:
        problems.append("journalctl -b %s -n: %s" % (boot_id[:12], result.status))
    return head, tail, "; ".join(problems) or None
