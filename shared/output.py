"""Output conventions: the JSON envelope, plain tables, colour, stdout/stderr.

Data goes to stdout, diagnostics to stderr.  Default text fits 80 columns
in plain ASCII; colour only on a terminal and never with NO_COLOR.  Every
tool's ``--json`` is one envelope (schema below) and nothing else on stdout.

Envelope (schema 1)::

    {"tool": "bootlog", "version": "0.1.0", "schema": 1,
     "host": "name", "generated": "2024-06-09T06:06:20Z",
     "source": "/" | path, "warnings": ["one line", ...],
     "result": {...tool specific, documented in its man page...}}
"""

import json
import os
import socket
import sys

from . import timeparse
from .version import VERSION

SCHEMA_VERSION = 1


def envelope(tool, result, warnings=(), source=None, host=None, generated=None):
    return {
        "tool": tool,
        "version": VERSION,
        "schema": SCHEMA_VERSION,
        "host": host if host is not None else socket.gethostname(),
        "generated": timeparse.iso_utc(generated),
        "source": source,
        "warnings": list(warnings),
        "result": result,
    }


def dumps(document, pretty=True):
    """JSON text, stable key order, non-ASCII kept readable."""
    if pretty:
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def write(text, stream=None):
    """Write text to stdout (or stream), surviving non-UTF-8 locales."""
    stream = stream or sys.stdout
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))


def emit_json(tool, result, warnings=(), source=None, pretty=True, stream=None):
    write(dumps(envelope(tool, result, warnings, source), pretty) + "\n", stream)


def use_colour(stream=None):
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") is not None or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_COLOURS = {"red": "31", "yellow": "33", "green": "32", "blue": "34", "bold": "1", "dim": "2"}


def colour(text, name, enabled):
    if not enabled or name not in _COLOURS:
        return text
    return "\033[%sm%s\033[0m" % (_COLOURS[name], text)


def terminal_width(default=80):
    try:
        return max(40, os.get_terminal_size(sys.stdout.fileno()).columns)
    except (OSError, AttributeError, ValueError):
        return default


def table(rows, headers, align=None, width=80, flexible=None):
    """Plain-text table; ``flexible`` (a column index) is shrunk to fit ``width``.

    rows: list of sequences (values converted with str, None shown as '-').
    align: string of 'l'/'r' per column (default left).
    """
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    headers = [str(h) for h in headers]
    count = len(headers)
    align = align or "l" * count
    widths = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row[:count]):
            widths[index] = max(widths[index], len(value))
    total = sum(widths) + 2 * (count - 1)
    if flexible is not None and total > width:
        widths[flexible] = max(len(headers[flexible]), widths[flexible] - (total - width))

    def fmt(row):
        out = []
        for index in range(count):
            value = row[index] if index < len(row) else ""
            if len(value) > widths[index]:
                value = value[:max(1, widths[index] - 1)] + "~"
            out.append(value.rjust(widths[index]) if align[index] == "r" else value.ljust(widths[index]))
        return "  ".join(out).rstrip()

    lines = [fmt(headers)]
    lines.extend(fmt(row) for row in cells)
    return "\n".join(lines) + "\n"


SPARK_CHARS = " .:-=+*#%@"


def sparkline(values, width=None):
    """ASCII sparkline for a numeric series (plain ASCII for any console)."""
    values = [v for v in values if v is not None]
    if not values:
        return ""
    if width and len(values) > width:
        step = len(values) / float(width)
        values = [max(values[int(i * step):max(int(i * step) + 1, int((i + 1) * step))])
                  for i in range(width)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[int(round((v - low) / span * top))] for v in values)


class Progress(object):
    """One updating line on stderr, only when stderr is a terminal."""

    def __init__(self, tool, stream=None, enabled=None):
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled if enabled is not None else bool(isatty and isatty())
        self.tool = tool
        self._shown = False

    def update(self, message):
        if not self.enabled:
            return
        text = "%s: %s" % (self.tool, message)
        self.stream.write("\r" + text[:terminal_width() - 1].ljust(terminal_width() - 1))
        self.stream.flush()
        self._shown = True

    def done(self):
        if self._shown:
            self.stream.write("\r" + " " * (terminal_width() - 1) + "\r")
            self.stream.flush()
            self._shown = False
