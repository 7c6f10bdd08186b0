"""Renderers of the report document (``report_engine.Result.to_dict()``).

``render_html(doc)``: one self-contained page -- inline CSS, a little JS
for filtering by severity and searching, no external resource of any kind
(a Content-Security-Policy forbids them), the core content readable with
JS disabled, every byte of bundle content escaped.
``render_text(doc)``: an xsos-like console summary that fits 80 columns.
``render_md(doc)``: Markdown for pasting into a ticket.
All three read only the document, so a stored (or scrubbed) document can be
re-rendered later.
"""

import html
import json
import re

from . import report_svg
from .version import VERSION

SEV_ORDER = ("critical", "warning", "info", "ok", "not evaluated")
SEV_TAG = {"critical": "CRIT", "warning": "WARN", "info": "INFO", "ok": " OK ", "not evaluated": "N/A "}
SEV_CLASS = {"critical": "crit", "warning": "warn", "info": "info", "ok": "ok", "not evaluated": "na"}
HTML_LIMIT = 8 * 1024 * 1024


def esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def _host(doc):
    return doc["facts"].get("hostname") or "unknown host"


# ------------------------------------------------------------ text

def _wrap(text, width, indent):
    words = str(text).split()
    lines = []
    current = indent
    for word in words:
        if len(current) + len(word) + 1 > width and current.strip():
            lines.append(current.rstrip())
            current = indent
        current += word + " "
    if current.strip():
        lines.append(current.rstrip())
    return lines


def render_text(doc, colour=False, width=80, verbose=False):
    from .output import colour as paint
    colours = {"critical": "red", "warning": "yellow", "info": "blue", "ok": "green", "not evaluated": "dim"}
    facts = doc["facts"]
    out = []
    out.append("report: %s" % _host(doc))
    for label, value in (("source", doc["source"]), ("OS", facts.get("os")), ("kernel", facts.get("kernel")),
                         ("collected", (doc["bundle"].get("collected_local") or "-") +
                          (" (%s days ago)" % doc["bundle"]["age_days"] if doc["bundle"].get("age_days") is not None
                           else "")),
                         ("uptime", facts.get("uptime")), ("virtual", facts.get("virtualization"))):
        if value:
            out.append(("  %-10s %s" % (label, value))[:width])
    counts = doc["health"]["counts"]
    out.append("")
    out.append("HEALTH: %s  (%s)" % (doc["health"]["worst"].upper(), ", ".join(
        "%d %s" % (counts.get(s, 0), s) for s in SEV_ORDER if counts.get(s))))
    out.append("")
    for finding in doc["findings"]:
        if finding["severity"] == "ok" and not verbose:
            continue
        tag = paint("[%s]" % SEV_TAG[finding["severity"]], colours[finding["severity"]], colour)
        first = True
        for line in _wrap(finding["title"], width, "       ") or [""]:
            out.append(tag + " " + line.strip() if first else line)
            first = False
        if finding["detail"]:
            out.extend(_wrap(finding["detail"], width, "       "))
        for item in finding["evidence"][:(None if verbose else 2)]:
            where = item["origin"] + (":%d" % item["line"] if item.get("line") else "")
            text = "       at %s" % where
            if item.get("excerpt"):
                text += ": " + item["excerpt"]
            out.append(text[:width])
        if finding["fix"]:
            out.extend(_wrap("fix: " + finding["fix"], width, "       "))
    oks = [f for f in doc["findings"] if f["severity"] == "ok"]
    if oks and not verbose:
        out.append("[ OK ] %d check(s) passed (-v lists them)" % len(oks))
    timeline = [e for e in doc["timeline"] if e["severity"] in ("critical", "warning") or e["kind"] in ("boot", "shutdown")]
    if timeline:
        out.append("")
        out.append("TIMELINE (boots and problems, last 25)")
        for event in timeline[-25:]:
            out.append(("  %s  %-8s %s" % (event["local"], event["kind"], event["title"]))[:width])
    for section in doc["sections"]:
        if section["id"] != "storage":
            continue
        for item in section["items"]:
            if item["type"] == "table" and item["title"].startswith("filesystems"):
                out.append("")
                out.append("FILESYSTEMS")
                for row in item["rows"][:20]:
                    out.append(("  %-24s %5s %8s  %s" % (row[0], row[3], row[2], row[1]))[:width])
    for section in doc["sections"]:
        if section["id"] != "perfcollect":
            continue
        out.append("")
        out.append("PERFCOLLECT RECORDING")
        for item in section["items"]:
            if item["type"] == "kv" and item["rows"] and item["rows"][0][0] == "recording":
                for key, value in item["rows"]:
                    out.append(("  %-10s %s" % (key, value))[:width])
            elif item["type"] == "table" and item["title"].startswith("triggers fired"):
                out.append("  %s:" % item["title"])
                for row in item["rows"][-10:]:
                    out.append(("    %s  %s  snapshot %s" % (row[0], row[2], row[3]))[:width])
    if doc["charts"]:
        from .output import sparkline
        out.append("")
        out.append("METRICS (sar / perfcollect; the HTML report has the charts)")
        for chart in doc["charts"]:
            for series in chart["series"][:2]:
                values = [p[1] for p in series["points"]]
                out.append(("  %-22s %s max %g" % (series["name"][:22], sparkline(values, 40), max(values)))[:width])
    if doc["warnings"]:
        out.append("")
        out.append("WARNINGS (%d)" % len(doc["warnings"]))
        for warning in doc["warnings"][:(None if verbose else 10)]:
            out.extend(_wrap(warning, width, "  ")[:3])
        if len(doc["warnings"]) > 10 and not verbose:
            out.append("  (+%d more; -v shows all)" % (len(doc["warnings"]) - 10))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------ markdown

def _md(text):
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", "" if text is None else str(text))


def render_md(doc):
    facts = doc["facts"]
    out = ["# report: %s" % _md(_host(doc)), ""]
    for label, value in (("Source", doc["source"]), ("OS", facts.get("os")), ("Kernel", facts.get("kernel")),
                         ("Collected", doc["bundle"].get("collected_local")), ("Uptime", facts.get("uptime"))):
        if value:
            out.append("- **%s:** %s" % (label, _md(value)))
    counts = doc["health"]["counts"]
    out += ["", "## Health: %s" % doc["health"]["worst"].upper(), "",
            ", ".join("%d %s" % (counts.get(s, 0), s) for s in SEV_ORDER if counts.get(s)), ""]
    for finding in doc["findings"]:
        if finding["severity"] == "ok":
            continue
        out.append("- **%s** `%s` %s" % (finding["severity"].upper(), finding["check"], _md(finding["title"])))
        if finding["detail"]:
            out.append("  - %s" % _md(finding["detail"]))
        for item in finding["evidence"][:3]:
            where = item["origin"] + (":%d" % item["line"] if item.get("line") else "")
            out.append("  - at `%s`%s" % (where.replace("`", "'"), (": `%s`" % item["excerpt"][:200].replace("`", "'"))
                                           if item.get("excerpt") else ""))
        if finding["fix"]:
            out.append("  - fix: %s" % _md(finding["fix"]))
    timeline = [e for e in doc["timeline"] if e["severity"] in ("critical", "warning") or e["kind"] in ("boot", "shutdown")]
    if timeline:
        out += ["", "## Timeline", "", "| time | kind | event |", "|---|---|---|"]
        for event in timeline[-40:]:
            out.append("| %s | %s | %s |" % (_md(event["local"]), event["kind"], _md(event["title"])))
    if doc["warnings"]:
        out += ["", "## Warnings", ""]
        out += ["- %s" % _md(w) for w in doc["warnings"][:20]]
    out += ["", "_generated by rescuekit report %s_" % VERSION, ""]
    return "\n".join(out)


# ------------------------------------------------------------ HTML

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#263238;color:#fff;padding:14px 24px}
header h1{margin:0 0 4px;font-size:20px}
header .meta{font-size:13px;color:#cfd8dc}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
nav{font-size:13px;margin:8px 0 16px}nav a{margin-right:12px}
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:12px 0 6px;color:#444}
.card{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.badge{display:inline-block;border-radius:4px;padding:2px 8px;font-weight:600;font-size:12px;color:#fff}
.crit .badge,.badge.crit{background:#c62828}.warn .badge,.badge.warn{background:#ef6c00}
.info .badge,.badge.info{background:#1565c0}.ok .badge,.badge.ok{background:#2e7d32}.na .badge,.badge.na{background:#78909c}
.worst{font-size:22px;font-weight:700;padding:6px 14px;border-radius:6px;color:#fff}
.worst.crit{background:#c62828}.worst.warn{background:#ef6c00}.worst.info{background:#1565c0}.worst.ok{background:#2e7d32}
.finding{border-left:4px solid #ccc;padding:6px 10px;margin:6px 0;background:#fafafa}
.finding.crit{border-color:#c62828}.finding.warn{border-color:#ef6c00}.finding.info{border-color:#1565c0}
.finding.ok{border-color:#2e7d32}.finding.na{border-color:#78909c}
.finding .title{font-weight:600}.finding .detail{color:#444}.finding .fix{color:#1b5e20}
.ev{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;color:#333;white-space:pre-wrap;word-break:break-all}
.ev .where{color:#6a1b9a}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f7f7f7;border:1px solid #eee;padding:6px;overflow-x:auto;white-space:pre}
.ln{color:#999;user-select:none}
#controls{position:sticky;top:0;background:#f6f7f9;padding:8px 0;z-index:2}
#controls label{margin-right:10px;font-size:13px}#q{padding:4px 8px;width:260px}
.hide{display:none}
.tl td.t{white-space:nowrap;font-family:ui-monospace,Menlo,monospace;font-size:12px}
.muted{color:#777;font-size:12px}
"""

JS = """
(function(){
  var controls=document.getElementById('controls');controls.hidden=false;
  var boxes=controls.querySelectorAll('input[type=checkbox]');var q=document.getElementById('q');
  function apply(){
    var on={};for(var i=0;i<boxes.length;i++){on[boxes[i].value]=boxes[i].checked;}
    var needle=q.value.toLowerCase();var shown=0;
    var items=document.querySelectorAll('[data-sev]');
    for(var j=0;j<items.length;j++){var el=items[j];
      var ok=on[el.getAttribute('data-sev')]!==false&&(!needle||el.textContent.toLowerCase().indexOf(needle)>=0);
      el.classList.toggle('hide',!ok);if(ok&&el.classList.contains('finding'))shown++;}
    document.getElementById('shown').textContent=shown+' finding(s) shown';
  }
  for(var k=0;k<boxes.length;k++){boxes[k].addEventListener('change',apply);}
  q.addEventListener('input',apply);apply();
})();
"""


def _evidence_html(item):
    where = esc(item["origin"]) + (":%d" % item["line"] if item.get("line") else "")
    text = '<div class="ev"><span class="where">%s</span>' % where
    if item.get("excerpt"):
        text += ": " + esc(item["excerpt"])
    return text + "</div>"


def _finding_html(finding):
    cls = SEV_CLASS[finding["severity"]]
    parts = ['<div class="finding %s" data-sev="%s" id="f-%s">' % (cls, cls, esc(finding["check"]))]
    parts.append('<span class="badge">%s</span> <span class="title">%s</span> <span class="muted">%s</span>'
                 % (esc(finding["severity"]), esc(finding["title"]), esc(finding["check"])))
    if finding["detail"]:
        parts.append('<div class="detail">%s</div>' % esc(finding["detail"]))
    for item in finding["evidence"][:6]:
        parts.append(_evidence_html(item))
    if len(finding["evidence"]) > 6:
        parts.append('<div class="muted">+%d more</div>' % (len(finding["evidence"]) - 6))
    if finding["fix"]:
        parts.append('<div class="fix">fix: %s</div>' % esc(finding["fix"]))
    parts.append("</div>")
    return "".join(parts)


def _item_html(item, utc):
    kind = item["type"]
    if kind == "kv":
        return "<table>%s</table>" % "".join("<tr><th>%s</th><td>%s</td></tr>" % (esc(k), esc(v)) for k, v in item["rows"])
    if kind == "table":
        head = "<h3>%s</h3>" % esc(item.get("title", ""))
        rows = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % esc(c) for c in row) for row in item["rows"])
        return '%s<table><tr>%s</tr>%s</table>' % (head, "".join("<th>%s</th>" % esc(h) for h in item["headers"]), rows)
    if kind == "pre":
        body = "\n".join('<span class="ln">%5d </span>%s' % (n, esc(t)) for n, t in item["lines"])
        more = '\n<span class="muted">... %d more line(s)</span>' % item["more"] if item.get("more") else ""
        return '<h3>%s <span class="muted">%s</span></h3><pre>%s%s</pre>' % (esc(item["title"]), esc(item["origin"]),
                                                                            body, more)
    if kind == "lines":
        body = "\n".join('<span class="ln">%s:%d </span>%s' % (esc(o), n or 0, esc(t)) for o, n, t in item["lines"])
        return "<h3>%s</h3><pre>%s</pre>" % (esc(item["title"]), body)
    return ""


def render_html(doc, utc=False, _trimmed=False):
    facts = doc["facts"]
    counts = doc["health"]["counts"]
    worst = doc["health"]["worst"]
    title = "report: %s" % _host(doc)
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
             'script-src \'unsafe-inline\'; img-src data:">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>%s</title><style>%s</style></head><body>" % (esc(title), CSS)]
    meta = " &middot; ".join(esc(v) for v in (facts.get("os"), facts.get("kernel"),
                                              "collected " + (doc["bundle"].get("collected_local") or "?"),
                                              doc["source"]) if v)
    parts.append('<header><h1>%s</h1><div class="meta">%s</div></header><main>' % (esc(title), meta))
    nav = ['<a href="#health">health</a>', '<a href="#timeline">timeline</a>']
    if doc["charts"]:
        nav.append('<a href="#charts">charts</a>')
    nav += ['<a href="#%s">%s</a>' % (esc(s["id"]), esc(s["title"].lower())) for s in doc["sections"]]
    parts.append("<nav>%s</nav>" % " ".join(nav))
    parts.append('<div id="controls" hidden>')
    for severity in SEV_ORDER:
        cls = SEV_CLASS[severity]
        parts.append('<label><input type="checkbox" value="%s"%s> %s (%d)</label>' % (
            cls, "" if severity in ("ok", "not evaluated") else " checked", esc(severity), counts.get(severity, 0)))
    parts.append('<input id="q" type="search" placeholder="search findings and timeline"> '
                 '<span id="shown" class="muted"></span></div>')
    parts.append('<section id="health" class="health"><h2>Health</h2><div class="card">'
                 '<span class="worst %s" id="worst">%s</span>%s</div>' % (
                     SEV_CLASS.get(worst, "ok"), esc(worst.upper()),
                     "".join('<span class="badge %s">%d %s</span>' % (SEV_CLASS[s], counts.get(s, 0), esc(s))
                             for s in SEV_ORDER if counts.get(s))))
    parts.append('<div id="findings">')
    for finding in doc["findings"]:
        parts.append(_finding_html(finding))
    parts.append("</div></section>")
    parts.append('<section id="timeline"><h2>Timeline</h2>')
    if doc["timeline"]:
        parts.append('<table class="tl"><tr><th>time</th><th>kind</th><th>event</th><th>evidence</th></tr>')
        for event in doc["timeline"]:
            cls = SEV_CLASS.get(event["severity"], "info")
            ev = event.get("evidence") or {}
            where = ""
            if ev:
                where = esc(ev.get("origin")) + (":%d" % ev["line"] if ev.get("line") else "")
            parts.append('<tr class="%s" data-sev="%s"><td class="t">%s</td><td><span class="badge">%s</span></td>'
                         '<td>%s</td><td class="ev">%s</td></tr>' % (cls, cls, esc(event["local"]), esc(event["kind"]),
                                                                     esc(event["title"]), where))
        parts.append("</table>")
    else:
        parts.append('<p class="muted">no dated events found</p>')
    parts.append("</section>")
    if doc["charts"]:
        parts.append('<section id="charts"><h2>Charts</h2>')
        for chart in doc["charts"]:
            parts.append("<h3>%s</h3>%s" % (esc(chart["title"]), report_svg.line_chart(chart, utc)))
        parts.append("</section>")
    for section in doc["sections"]:
        parts.append('<section id="%s"><h2>%s</h2>' % (esc(section["id"]), esc(section["title"])))
        related = [f for f in doc["findings"] if f["severity"] in ("critical", "warning")
                   and any(f["check"].startswith(p) for p in section.get("checks", ()))]
        if related:
            parts.append('<p>%s</p>' % " ".join('<a class="badge %s" href="#f-%s">%s</a>' % (
                SEV_CLASS[f["severity"]], esc(f["check"]), esc(f["title"][:60])) for f in related))
        if not section["items"]:
            parts.append('<p class="muted">nothing collected for this section</p>')
        for item in section["items"]:
            parts.append(_item_html(item, utc))
        parts.append("</section>")
    if doc["warnings"]:
        parts.append('<section id="warnings"><h2>Warnings (%d)</h2><ul>%s</ul></section>' % (
            len(doc["warnings"]), "".join("<li>%s</li>" % esc(w) for w in doc["warnings"][:200])))
    parts.append('<p class="muted">generated by rescuekit report %s%s</p>' % (
        esc(VERSION), " in %.1f s" % doc["elapsed_s"] if doc.get("elapsed_s") is not None else ""))
    parts.append('</main><script>%s</script></body></html>\n' % JS)
    page = "".join(parts)
    if len(page) > HTML_LIMIT and not _trimmed:
        doc = dict(doc)
        doc["sections"] = [dict(s, items=[i for i in s["items"] if i["type"] in ("kv", "table")]) for s in doc["sections"]]
        doc["warnings"] = list(doc["warnings"]) + ["page over %d MiB: command outputs and log excerpts left out"
                                                   % (HTML_LIMIT >> 20)]
        return render_html(doc, utc, True)
    return page


def render_json_text(doc):
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str)
