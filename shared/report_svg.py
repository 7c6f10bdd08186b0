"""Inline SVG line charts for report pages: no library, no script, escaped labels.

``line_chart(chart, utc)`` takes one chart of the report document
(``{"title", "unit", "series": [{"name", "points": [[epoch, value]]}],
"markers": [{"stamp", "label", "kind"}]}``) and returns an ``<svg>`` string:
time on the x axis (local time with the zone, or UTC), value on the y axis
(0-100 for percentages), one polyline per series, dashed vertical markers
for kernel events and boots with their label as a tooltip.
"""

import html
import time

from . import timeparse

WIDTH = 760
HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
MARKER_COLOURS = {"kernel": "#d62728", "boot": "#555555", "trigger": "#ff7f0e"}
MAX_POINTS = 1500


def _esc(text):
    return html.escape(str(text), quote=True)


def _thin(points, limit=MAX_POINTS):
    """Keep at most ``limit`` points, keeping each bucket's peak (peaks matter)."""
    if len(points) <= limit:
        return points
    step = len(points) / float(limit)
    out = []
    for index in range(limit):
        bucket = points[int(index * step):max(int(index * step) + 1, int((index + 1) * step))]
        out.append(max(bucket, key=lambda p: p[1]))
    return out


def _nice_max(value):
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** len(str(int(value))) / 10.0
        if magnitude <= 0:
            magnitude = 1.0
        top = step * magnitude
        if top >= value:
            return top
    return value


def _clock(stamp, utc, with_date=False):
    moment = time.gmtime(stamp) if utc else time.localtime(stamp)
    return time.strftime("%m-%d %H:%M" if with_date else "%H:%M", moment)


def line_chart(chart, utc=False):
    series = [s for s in chart.get("series", []) if s.get("points")]
    if not series:
        return ""
    stamps = [p[0] for s in series for p in s["points"]]
    low, high = min(stamps), max(stamps)
    if high <= low:
        high = low + 60
    values = [p[1] for s in series for p in s["points"]]
    top = 100.0 if chart.get("unit") == "%" and max(values) <= 100 else _nice_max(max(values) * 1.05)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(stamp):
        return LEFT + (stamp - low) / (high - low) * plot_w

    def y(value):
        return TOP + plot_h - (min(value, top) / top) * plot_h

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="100%%" '
             'role="img" aria-label="%s">' % (WIDTH, HEIGHT, _esc(chart.get("title", "")))]
    parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#ccc"/>' % (LEFT, TOP, plot_w, plot_h))
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        value = top * fraction
        ypos = y(value)
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (LEFT, LEFT + plot_w, ypos, ypos))
        parts.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>'
                     % (LEFT - 4, ypos + 3, _esc(("%g" % round(value, 1)))))
    for index in range(6):
        stamp = low + (high - low) * index / 5.0
        xpos = x(stamp)
        parts.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>' % (xpos, xpos, TOP, TOP + plot_h))
        parts.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#555">%s</text>'
                     % (xpos, TOP + plot_h + 13, _esc(_clock(stamp, utc, with_date=index in (0, 5)))))
    zone = "UTC" if utc else timeparse.local_zone_name(low)
    parts.append('<text x="%d" y="%d" font-size="10" fill="#555">time (%s)</text>' % (LEFT, HEIGHT - 4, _esc(zone)))
    for marker in chart.get("markers", []):
        xpos = x(marker["stamp"])
        colour = MARKER_COLOURS.get(marker.get("kind"), "#999")
        parts.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-dasharray="4 3">'
                     '<title>%s %s</title></line>' % (xpos, xpos, TOP, TOP + plot_h, colour,
                                                      _esc(_clock(marker["stamp"], utc, True)), _esc(marker["label"])))
    legend_x = LEFT + 6
    for index, item in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = _thin(item["points"])
        path = " ".join("%.1f,%.1f" % (x(t), y(v)) for t, v in points)
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1.4" points="%s"><title>%s</title></polyline>'
                     % (colour, path, _esc(item["name"])))
        peak = max(item["points"], key=lambda p: p[1])
        label = "%s (peak %g at %s)" % (item["name"], round(peak[1], 2), _clock(peak[0], utc, True))
        parts.append('<text x="%d" y="%d" font-size="10" fill="%s">%s</text>' % (legend_x, TOP + 11 + 12 * index,
                                                                               colour, _esc(label)))
    parts.append("</svg>")
    return "".join(parts)
