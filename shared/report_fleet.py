"""The fleet view of ``report``: many bundles in, one report each plus an index.

``run_fleet(paths, out_dir, FleetOptions(...))`` analyses bundles in
parallel -- each in its own forked process (``Scheduler``), so one bundle
that breaks, hangs in a corrupt archive or is killed by the OOM killer is
shown as broken and does not stop the others -- and writes, per bundle,
``<name>.html`` (the same self-contained page as ``report -o``) and
``<name>.json`` (the report envelope), then ``index.html`` (hosts as rows,
check families as columns, the worst severity per cell, links into each
report) and ``index.json`` (the same data; schema in report(8)).

Memory stays bounded: a worker process holds one bundle at a time and is
gone when it is done; the parent keeps one small summary per bundle (a few
KiB), never a document.

``--scrub`` across a run uses ONE ``scrub.Scrubber`` for every report: the
workers write their unscrubbed documents to a private work folder (mode
0700, outside the output folder, deleted at the end), the parent first
registers the hostnames of every bundle, then scrubs and renders the
documents one after another in input order, so the same hostname, address
or MAC is the same token in every report and in the index.  File names and
sources become ``bundle-001`` ...; the mapping (tokens and bundle names) is
written to a separate file for the owner (default ``OUT.scrub-map``, next
to the output folder, mode 0600), never into the output folder.

``Scheduler`` (fork-per-task with a limit, results over a pipe) is also
what the web service's analysis launcher runs (``report_server``).
"""

import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import tempfile

from . import findings as F
from . import output, report_engine, report_render, scrub, sources
from .version import VERSION

TOOL = "report"
STATUS_OK = "ok"
STATUS_DAMAGED = "damaged"      # read, but parts of the archive could not be
STATUS_BROKEN = "broken"        # no report at all
_ARCHIVE_SUFFIX = re.compile(r"(\.tar)?(\.(xz|gz|bz2|zst|lzma|tgz|txz|tbz|tbz2|tar))+$", re.I)


# ------------------------------------------------------------ processes

def _one_line(error):
    text = str(error).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(error, sources.SourceError):
        return text[:500]
    return ("%s: %s" % (type(error).__name__, text))[:500]


def _child(writer, func, args):
    """Run in the forked child: func(*args) -> (True, value) or (False, message) over the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        result = (True, func(*args))
    except BaseException as error:  # a task must report, never hang its parent
        result = (False, _one_line(error))
    try:
        writer.send(result)
    except Exception as error:
        writer.send((False, "the result could not be sent back (%s)" % _one_line(error)))
    writer.close()


def _death(exitcode):
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "signal %d" % -exitcode
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -exitcode == signal.SIGKILL else ""
        return "the analysis process was killed by %s%s" % (name, hint)
    return "the analysis process ended without a result (exit code %s)" % exitcode


class Scheduler(object):
    """Each task in a fresh forked process, at most ``limit`` at once.

    ``start(key, func, args)``; ``wait(timeout, extra=())`` -> (finished
    [(key, ok, value)], ready extra connections).  ``value`` is what
    func returned (picklable) or a one-line error; a child that dies without
    answering is a one-line error naming the signal.
    """

    def __init__(self, limit):
        self.limit = max(1, int(limit))
        self.context = multiprocessing.get_context("fork")
        self.running = {}   # reader connection -> (key, process)

    def free(self):
        return self.limit - len(self.running)

    def start(self, key, func, args=()):
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child, args=(writer, func, tuple(args)), name="report-%s" % key)
        process.start()
        writer.close()
        self.running[reader] = (key, process)

    def wait(self, timeout=None, extra=()):
        watched = list(self.running) + list(extra)
        if not watched:
            return [], []
        ready = multiprocessing.connection.wait(watched, timeout)
        finished, others = [], []
        for conn in ready:
            if conn not in self.running:
                others.append(conn)
                continue
            key, process = self.running.pop(conn)
            try:
                ok, value = conn.recv()
            except (EOFError, OSError):
                ok, value = False, None
            conn.close()
            process.join()
            if value is None and not ok:
                value = _death(process.exitcode)
            finished.append((key, ok, value))
        return finished, others

    def stop(self):
        """End every running task (by its own pid) and reap it."""
        for conn, (key, process) in list(self.running.items()):
            if process.is_alive():
                process.terminate()
            process.join(5)
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
                process.join()
            conn.close()
        self.running.clear()


def run_parallel(tasks, limit):
    """tasks: iterable of (key, func, args); yields (key, ok, value) as each finishes."""
    scheduler = Scheduler(limit)
    tasks = iter(tasks)
    exhausted = False
    try:
        while True:
            while not exhausted and scheduler.free() > 0:
                try:
                    key, func, args = next(tasks)
                except StopIteration:
                    exhausted = True
                    break
                scheduler.start(key, func, args)
            if not scheduler.running:
                return
            finished, _ = scheduler.wait()
            for item in finished:
                yield item
    finally:
        scheduler.stop()


# ------------------------------------------------------------ one bundle

class Settings(object):
    """What every analysis of a run shares (picklable; no callables)."""

    def __init__(self, thresholds=None, utc=False, engines=True, now=None):
        self.thresholds = dict(thresholds or {})
        self.utc = utc
        self.engines = engines
        self.now = now


def analyze_bundle(path, settings, progress=None):
    """One bundle -> (document, hostnames it names for itself). Raises sources.SourceError."""
    source = report_engine.open_bundle(path, progress=progress)
    try:
        options = report_engine.Options(thresholds=settings.thresholds, utc=settings.utc, progress=progress,
                                        engines=settings.engines, now=settings.now)
        result = report_engine.analyze(source, options)
        names = list(scrub.hostnames_from_source(source))
    finally:
        tree = getattr(source, "tree", None)
        if tree is not None:
            tree.close()
    if result.facts.get("hostname"):
        names.append(result.facts["hostname"])
    return result.to_dict(), sorted(set(names))


def new_scrubber(hostnames):
    """The run's one scrubber, knowing every bundle's own hostnames."""
    return scrub.Scrubber(hostnames=sorted(set(hostnames)))


def envelope_text(document):
    return output.dumps(output.envelope(TOOL, document, document["warnings"], source=document["source"])) + "\n"


def family(check):
    """The index column of a check id: its first word ('fs.space' -> 'fs'); log rules
    by their subject ('log.io.medium' -> 'io')."""
    parts = check.split(".")
    if parts[0] == "log" and len(parts) > 2:
        return parts[1]
    return parts[0]


def summarize(document):
    """The index row of one report: host, worst, counts, and per check family
    the worst severity, the checks in it and the finding to link to."""
    cells = {}
    for finding in document["findings"]:
        name = family(finding["check"])
        cell = cells.setdefault(name, {"severity": F.NOT_EVALUATED, "checks": {}, "title": None, "anchor": None})
        previous = cell["checks"].get(finding["check"])
        if previous is None or F.SEVERITIES.index(finding["severity"]) < F.SEVERITIES.index(previous):
            cell["checks"][finding["check"]] = finding["severity"]
        if cell["title"] is None or F.SEVERITIES.index(finding["severity"]) < F.SEVERITIES.index(cell["severity"]):
            cell["severity"] = finding["severity"]
            cell["title"] = finding["title"]
            cell["anchor"] = "f-" + finding["check"]
    damaged = any(f["check"] == "bundle.damaged" for f in document["findings"])
    facts = document.get("facts") or {}
    return {"host": facts.get("hostname") or None, "os": facts.get("os"), "kernel": facts.get("kernel"),
            "collected": (document.get("bundle") or {}).get("collected_local"),
            "status": STATUS_DAMAGED if damaged else STATUS_OK, "error": None,
            "worst": document["health"]["worst"], "counts": document["health"]["counts"],
            "cells": cells, "warnings": len(document.get("warnings") or ()),
            "elapsed_s": document.get("elapsed_s")}


def write_text(path, text, private=False):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)


def write_report(document, out_dir, name, utc=False):
    """<name>.html and <name>.json in out_dir; returns the summary row."""
    write_text(os.path.join(out_dir, name + ".html"), report_render.render_html(document, utc=utc))
    write_text(os.path.join(out_dir, name + ".json"), envelope_text(document))
    row = summarize(document)
    row["report"] = name + ".html"
    row["json"] = name + ".json"
    return row


def _fleet_task(path, name, out_dir, work_dir, settings):
    """In a worker: analyse, then write the report (or, when scrubbing, the raw document)."""
    document, hostnames = analyze_bundle(path, settings)
    if work_dir is not None:
        write_text(os.path.join(work_dir, name + ".json"), json.dumps(document), private=True)
        return {"hostnames": hostnames}
    return write_report(document, out_dir, name, settings.utc)


# ------------------------------------------------------------ the fleet

class FleetOptions(object):
    def __init__(self, jobs=None, settings=None, scrub=False, scrub_map=None, progress=None, warn=None):
        self.jobs = jobs or default_jobs()
        self.settings = settings or Settings()
        self.scrub = scrub
        self.scrub_map = scrub_map
        self.progress = progress          # callable(message) or None
        self.warn = warn                  # callable(message) or None


def default_jobs():
    return max(1, min(os.cpu_count() or 1, 8))


def report_names(paths, scrubbed):
    """A distinct, file-system-safe report name per bundle; neutral numbers when scrubbing
    (bundle file names carry hostnames)."""
    width = max(3, len(str(len(paths))))
    if scrubbed:
        return ["bundle-%0*d" % (width, i + 1) for i in range(len(paths))]
    names, seen = [], set()
    for path in paths:
        base = os.path.basename(os.path.normpath(path)) or "bundle"
        base = _ARCHIVE_SUFFIX.sub("", base) or base
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "bundle"
        if base.lower() in ("index",):
            base = "bundle-" + base
        name, number = base, 2
        while name.lower() in seen:
            name = "%s-%d" % (base, number)
            number += 1
        seen.add(name.lower())
        names.append(name)
    return names


def _alias(value, replacements):
    """Every string in a JSON-like value with the bundle paths replaced by their alias."""
    if isinstance(value, str):
        for old, new in replacements:
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_alias(v, replacements) for v in value]
    if isinstance(value, dict):
        return dict((k, _alias(v, replacements)) for k, v in value.items())
    return value


def _path_aliases(path, name):
    full = os.path.abspath(path)
    found = [(full, name), (path, name), (os.path.basename(os.path.normpath(path)), name)]
    return sorted(set(p for p in found if p[0]), key=lambda p: -len(p[0]))


def alias_paths(document, path, name):
    """The document with every mention of the bundle's path replaced by ``name``."""
    document = _alias(document, _path_aliases(path, name))
    document["source"] = name
    return document


class FleetResult(object):
    def __init__(self, rows, index_json, index_html, scrub_map):
        self.rows = rows
        self.index_json = index_json
        self.index_html = index_html
        self.scrub_map = scrub_map

    @property
    def broken(self):
        return [r for r in self.rows if r["status"] == STATUS_BROKEN]

    @property
    def damaged(self):
        return [r for r in self.rows if r["status"] == STATUS_DAMAGED]


def run_fleet(paths, out_dir, options=None):
    """Analyse every bundle (in parallel), write the reports and the index -> FleetResult."""
    options = options or FleetOptions()
    paths = list(paths)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    names = report_names(paths, options.scrub)
    say = options.progress or (lambda message: None)
    work_dir = None
    if options.scrub:
        parent = os.path.dirname(os.path.abspath(out_dir))
        work_dir = tempfile.mkdtemp(prefix=".report-fleet-", dir=parent)   # mode 0700
    rows = [None] * len(paths)
    hostnames = []
    done = 0
    try:
        tasks = ((i, _fleet_task, (paths[i], names[i], out_dir, work_dir, options.settings))
                 for i in range(len(paths)))
        for index, ok, value in run_parallel(tasks, options.jobs):
            done += 1
            if ok and work_dir is not None:
                hostnames.extend(value["hostnames"])
                rows[index] = {"pending": True}
            elif ok:
                rows[index] = value
            else:
                rows[index] = _broken_row(value)
                if options.warn:
                    label = paths[index] if work_dir is None else names[index]
                    options.warn("broken bundle: %s" % (value if work_dir is None and value.startswith(label)
                                                         else "%s: %s" % (label, value if work_dir is None
                                                                          else "see the index")))
            say("%d/%d bundles analysed" % (done, len(paths)))
        scrubber = None
        if work_dir is not None:
            scrubber = new_scrubber(hostnames)
            for index, path in enumerate(paths):
                aliases = _path_aliases(path, names[index])
                if rows[index].get("pending"):
                    say("scrubbing %d/%d" % (index + 1, len(paths)))
                    raw = os.path.join(work_dir, names[index] + ".json")
                    with open(raw, encoding="utf-8") as handle:
                        document = json.load(handle)
                    os.unlink(raw)
                    document = report_engine.scrub_document(alias_paths(document, path, names[index]), scrubber)
                    rows[index] = write_report(document, out_dir, names[index], options.settings.utc)
                else:
                    rows[index]["error"] = scrubber.scrub(_alias(rows[index]["error"], aliases))
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
    for index, row in enumerate(rows):
        row["name"] = names[index]
        row["bundle"] = names[index] if options.scrub else paths[index]
        if not row.get("host"):
            row["host"] = names[index]
    map_path = None
    if scrubber is not None:
        map_path = options.scrub_map or os.path.abspath(out_dir).rstrip("/") + ".scrub-map"
        bundles = "".join("%s\t%s\n" % (names[i], os.path.abspath(p)) for i, p in enumerate(paths))
        write_text(map_path, scrubber.mapping_text() + bundles, private=True)
    index = index_document(rows, scrubbed=options.scrub)
    json_path = os.path.join(out_dir, "index.json")
    html_path = os.path.join(out_dir, "index.html")
    source = "fleet of %d bundle(s)" % len(paths) if options.scrub else out_dir
    warnings = ["%s: %s" % (r["name"], r["error"]) for r in rows if r["status"] == STATUS_BROKEN]
    write_text(json_path, output.dumps(output.envelope(TOOL, index, warnings, source=source)) + "\n")
    write_text(html_path, render_index_html(index))
    return FleetResult(rows, json_path, html_path, map_path)


def _broken_row(error):
    return {"host": None, "os": None, "kernel": None, "collected": None, "status": STATUS_BROKEN,
            "error": error, "worst": None, "counts": {}, "cells": {}, "warnings": 0, "elapsed_s": None,
            "report": None, "json": None}


_ROW_KEYS = ("name", "host", "bundle", "status", "error", "worst", "counts", "os", "kernel", "collected",
             "report", "json", "warnings", "elapsed_s", "cells")


def index_document(rows, scrubbed=False):
    """index.json's result: columns (check families) and one row per bundle, worst first."""
    columns = sorted(set(name for row in rows for name in row.get("cells", {})))
    order = dict((s, i) for i, s in enumerate(F.SEVERITIES))
    ranked = sorted(rows, key=lambda r: (0 if r["status"] == STATUS_BROKEN else 1, order.get(r["worst"], 9),
                                         str(r.get("host") or ""), r["name"]))
    counts = {"bundles": len(rows), "broken": 0, "damaged": 0}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    worst = dict((s, sum(1 for r in rows if r.get("worst") == s)) for s in F.SEVERITIES)
    return {"generated_by": "rescuekit report %s" % VERSION, "scrubbed": bool(scrubbed), "summary": counts,
            "hosts_by_worst": worst, "columns": columns,
            "hosts": [dict((k, row.get(k)) for k in _ROW_KEYS) for row in ranked]}


# ------------------------------------------------------------ index.html

INDEX_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header .meta{font-size:13px;color:#cfd8dc}main{padding:12px 24px}
table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{border:1px solid #dde;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eceff1;position:sticky;top:0}th.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
td.c{text-align:center;font-weight:600;font-size:11px;white-space:nowrap}td.c a{color:inherit;text-decoration:none}
.crit{background:#c62828;color:#fff}.warn{background:#ef6c00;color:#fff}.info{background:#1565c0;color:#fff}
.ok{background:#c8e6c9;color:#1b5e20}.na{background:#eceff1;color:#607d8b}.none{background:#fff;color:#bbb}
.broken{background:#4a148c;color:#fff}.muted{color:#777;font-size:12px}td.os{white-space:nowrap;font-size:12px}
#controls{margin:8px 0}#q{padding:4px 8px;width:240px}.hide{display:none}
"""

INDEX_JS = """
(function(){
  var c=document.getElementById('controls');c.hidden=false;
  var q=document.getElementById('q'),p=document.getElementById('problems');
  function apply(){var n=q.value.toLowerCase(),rows=document.querySelectorAll('tr[data-worst]'),shown=0;
    for(var i=0;i<rows.length;i++){var r=rows[i],w=r.getAttribute('data-worst');
      var ok=(!n||r.textContent.toLowerCase().indexOf(n)>=0)&&(!p.checked||w==='critical'||w==='warning'||w==='broken');
      r.classList.toggle('hide',!ok);if(ok)shown++;}
    document.getElementById('shown').textContent=shown+' host(s) shown';}
  q.addEventListener('input',apply);p.addEventListener('change',apply);apply();
})();
"""


def _cell_html(row, column):
    cell = row["cells"].get(column)
    if not cell:
        return '<td class="c none">-</td>'
    cls = report_render.SEV_CLASS[cell["severity"]]
    tip = "; ".join("%s: %s" % (check, severity) for check, severity in sorted(cell["checks"].items()))
    label = report_render.SEV_TAG[cell["severity"]].strip()
    if row.get("report"):
        label = '<a href="%s#%s">%s</a>' % (report_render.esc(row["report"]), report_render.esc(cell["anchor"]),
                                            label)
    return '<td class="c %s" title="%s">%s</td>' % (cls, report_render.esc(tip), label)


def render_index_html(index):
    esc = report_render.esc
    columns = index["columns"]
    summary = index["summary"]
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
             'script-src \'unsafe-inline\'; img-src data:">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>report: fleet of %d</title><style>%s</style></head><body>" % (summary["bundles"], INDEX_CSS)]
    worst = index["hosts_by_worst"]
    meta = "%d bundle(s): %s%s%s" % (
        summary["bundles"], ", ".join("%d %s" % (worst[s], s) for s in F.SEVERITIES if worst.get(s)) or "none read",
        "; %d broken" % summary["broken"] if summary["broken"] else "",
        "; scrubbed" if index["scrubbed"] else "")
    parts.append('<header><h1>report: fleet of %d</h1><div class="meta">%s</div></header><main>' % (
        summary["bundles"], esc(meta)))
    parts.append('<div id="controls" hidden><input id="q" type="search" placeholder="filter hosts"> '
                 '<label><input type="checkbox" id="problems"> only hosts with problems</label> '
                 '<span id="shown" class="muted"></span></div>')
    parts.append('<table id="fleet"><tr><th>host</th><th>worst</th>%s<th>OS / kernel</th><th>collected</th>'
                 '<th>bundle</th></tr>' % "".join('<th class="col">%s</th>' % esc(c) for c in columns))
    for row in index["hosts"]:
        if row["status"] == STATUS_BROKEN:
            parts.append('<tr data-worst="broken"><td>%s</td><td class="c broken">BROKEN</td>'
                         '<td colspan="%d">%s</td><td></td><td></td><td>%s</td></tr>' % (
                             esc(row["host"]), max(1, len(columns)), esc(row["error"]), esc(row["bundle"])))
            continue
        cls = report_render.SEV_CLASS.get(row["worst"], "na")
        host = '<a href="%s">%s</a>' % (esc(row["report"]), esc(row["host"]))
        damaged = ' <span class="muted">(damaged)</span>' if row["status"] == STATUS_DAMAGED else ""
        parts.append('<tr data-worst="%s"><td>%s%s</td><td class="c %s">%s</td>%s<td class="os">%s<br>'
                     '<span class="muted">%s</span></td><td class="os">%s</td><td class="muted">%s</td></tr>' % (
                         esc(row["worst"]), host, damaged, cls, esc(report_render.SEV_TAG[row["worst"]].strip()),
                         "".join(_cell_html(row, c) for c in columns), esc(row["os"] or "-"),
                         esc(row["kernel"] or "-"), esc(row["collected"] or "-"), esc(row["bundle"])))
    parts.append("</table>")
    parts.append('<p class="muted">cells: the worst severity of the checks in that family (hover for the checks, '
                 'click for the finding); - = no such check. Also as index.json. generated by rescuekit report '
                 '%s</p>' % esc(VERSION))
    parts.append("</main><script>%s</script></body></html>\n" % INDEX_JS)
    return "".join(parts)


def exit_code(result, fail_on=()):
    """The shared exit table: 1 when nothing could be read or a host reaches --fail-on,
    3 when some bundles are broken or damaged, else 0."""
    from . import cli
    rows = result.rows
    readable = [r for r in rows if r["status"] != STATUS_BROKEN]
    if not readable:
        return cli.EXIT_FINDINGS
    for level in fail_on:
        limit = F.SEVERITIES.index(level)
        if any(r["worst"] in F.SEVERITIES[:limit + 1] for r in readable):
            return cli.EXIT_FINDINGS
    if len(readable) < len(rows) or result.damaged:
        return cli.EXIT_PARTIAL
    return cli.EXIT_OK
