"""``report serve``: a small local web service around the report engine.

Standard library only and Python 3.6-compatible: ``socketserver.ThreadingMixIn``
+ ``http.server.HTTPServer`` (``ThreadingHTTPServer`` is 3.7+) and our own
streaming multipart/form-data parser (``cgi`` is gone in 3.13).

Pages and API (every request needs the token when ``--token`` is set, as
``Authorization: Bearer T`` or ``?token=T``; every error is JSON
``{"error": "..."}`` with a proper status, never a traceback):

  GET  /                     upload page: drag and drop, upload progress
                             (XHR upload events) and analysis progress
                             (polling /api/jobs/ID)
  GET  /reports              the past reports
  GET  /reports/ID           one report: the same self-contained HTML the CLI writes
  POST /api/analyze          the bundle as the raw body or multipart/form-data;
                             answers the report envelope (JSON), or the HTML
                             with ``Accept: text/html``; ``?wait=0`` answers
                             202 {"id", "status", "report"} at once instead
  GET  /api/jobs/ID          {"id", "state": queued|analyzing|done|failed,
                             "message", "fraction", "error", "report"}
  GET  /api/reports          [{id, name, size, state, host, worst, counts, submitted, finished}]
  GET  /api/reports/ID       the envelope (HTML with ``Accept: text/html``)
  DELETE /api/reports/ID     remove a stored report

Analysis runs in worker processes: a *launcher* process is forked before
the server starts any thread, and forks one short-lived child per upload
(``report_fleet.Scheduler``; at most ``workers`` at once, the rest queued),
so several uploads proceed at once, a bundle that crashes or exhausts
memory takes only its own child down, and no process is ever forked from a
multi-threaded one.

Uploads are streamed to ``DATA/uploads/`` (never held in memory), refused
with 413 before a byte is read when ``Content-Length`` exceeds the cap, with
507 when the disk would fall under the free-space floor, and deleted after
the analysis unless ``keep_uploads``.  Reports live in ``DATA/reports/ID/``
(meta.json, report.json, report.html).  Report ids are generated here and
validated strictly (``YYYYMMDD-HHMMSS-<8 hex>``) before any path is built.

With ``scrub`` (``report serve --scrub``) every report is scrubbed before it
is stored (JSON, HTML, the listing, job states): one new ``scrub.Scrubber``
per report knowing that bundle's own hostnames; the uploaded file's name
(sos names carry the hostname) is shown as ``upload-ID`` until the analysis
knows the hostnames, then scrubbed with the same scrubber.  The owner's
mapping goes to ``DATA/scrub-maps/ID.map`` (0600, folder 0700), which no
route serves; deleting a report deletes its map.

Bound to loopback, the server also refuses Host headers that are not a
loopback name or address (DNS rebinding) and cross-origin POSTs (``Origin``
not this server).
"""

import hmac
import http.server
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import socketserver
import sys
import threading
import time
import collections
import urllib.parse

from . import report_engine, report_fleet, report_render
from .version import VERSION

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_MAX_UPLOAD = 2 * 1024 ** 3
DEFAULT_MIN_FREE = 1024 ** 3
CHUNK = 1024 * 1024
ID_RE = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9a-f]{8}\Z")
_NAME_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_SUFFIXES = (".tar.xz", ".tar.gz", ".tar.bz2", ".tar.zst", ".tar", ".txz", ".tgz", ".tbz", ".tbz2", ".xz", ".gz",
             ".bz2", ".zst")
STAGES = (("reading archive", 0.15), ("checking the bundle", 0.4), ("computed checks", 0.45),
          ("scanning logs", 0.5), ("kernel reports", 0.7), ("boot timeline", 0.8), ("kdump", 0.88),
          ("writing the report", 0.95))


class HTTPError(Exception):
    def __init__(self, status, message, headers=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def default_data_dir():
    """/var/lib/rescuekit/report-serve for root, else $XDG_DATA_HOME (~/.local/share)/rescuekit/report-serve."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/rescuekit/report-serve"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "rescuekit", "report-serve")


def parse_bind(text):
    """'HOST:PORT', '[v6]:PORT', 'HOST' (port 8000) or ':PORT' -> (host, port). ValueError when bad."""
    text = (text or DEFAULT_BIND).strip()
    match = re.match(r"\A\[([0-9A-Fa-f:.]+)\](?::(\d+))?\Z", text)
    if match:
        host, port = match.group(1), match.group(2)
    elif text.count(":") > 1:
        host, port = text, None          # a bare IPv6 address
    else:
        host, _, port = text.partition(":")
    host = host or "127.0.0.1"
    try:
        port = int(port) if port not in (None, "") else 8000
    except ValueError:
        raise ValueError("bad port in %r (use HOST:PORT, e.g. 127.0.0.1:8000)" % text)
    if not 0 <= port <= 65535:
        raise ValueError("port out of range in %r" % text)
    return host, port


def is_loopback(host):
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def free_bytes(path):
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def new_id():
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def valid_id(value):
    return bool(ID_RE.match(value or ""))


def display_name(name):
    """An uploaded file's name, reduced to something safe to show and to keep a suffix from."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = _NAME_SAFE.sub("_", name).strip("._")[:200]
    return name or "bundle"


def _suffix(name):
    lower = name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return ""


def _write_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(value, handle, sort_keys=True)
    os.replace(temporary, path)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------ multipart

def multipart_boundary(content_type):
    """The boundary of a multipart/form-data Content-Type, or None."""
    kind, _, params = (content_type or "").partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    match = re.search(r'boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))', params, re.I)
    if not match:
        raise HTTPError(400, "multipart/form-data without a boundary")
    return (match.group(1) or match.group(2)).encode("latin-1")


class _Body(object):
    """Exactly ``length`` bytes of a request body, read in chunks."""

    def __init__(self, stream, length):
        self.stream = stream
        self.left = length

    def read(self, size=CHUNK):
        if self.left <= 0:
            return b""
        data = self.stream.read(min(size, self.left))
        if not data:
            raise HTTPError(400, "the upload ended early (%d bytes missing)" % self.left)
        self.left -= len(data)
        return data

    def more(self, buffer, why):
        """buffer + the next chunk; HTTPError(400, why) when the body has ended."""
        chunk = self.read()
        if not chunk:
            raise HTTPError(400, why)
        return buffer + chunk


def _parse_part_headers(raw):
    headers = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    fields = dict((m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3))
                  for m in re.finditer(r';\s*([\w*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))', disposition))
    return fields.get("name") or "", fields.get("filename")


def read_multipart(stream, length, boundary, sink, field_limit=64 * 1024, header_limit=16 * 1024):
    """Stream a multipart/form-data body of ``length`` bytes.

    The first part with a filename is written to ``sink`` (a binary file)
    as it arrives; other parts are small fields.  Returns (filename, fields,
    bytes written).  Malformed bodies raise HTTPError(400).
    """
    body = _Body(stream, length)
    buffer = b""
    opening = b"--" + boundary
    separator = b"\r\n--" + boundary
    # preamble: up to the first boundary line
    while True:
        at = buffer.find(opening)
        if at >= 0 and (at == 0 or buffer[at - 2:at] == b"\r\n"):
            buffer = buffer[at + len(opening):]
            break
        if len(buffer) > header_limit:
            raise HTTPError(400, "multipart body without its boundary")
        buffer = body.more(buffer, "multipart body without its boundary")
    filename, fields, written, have_file = None, {}, 0, False
    while True:
        while len(buffer) < 2:
            buffer = body.more(buffer, "multipart body ends inside a boundary")
        if buffer.startswith(b"--"):
            break                                          # the closing boundary
        # the rest of the boundary line (transport padding allowed), then the part headers
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > header_limit:
                raise HTTPError(400, "multipart part headers too long")
            buffer = body.more(buffer, "multipart body ends inside part headers")
        line_end = buffer.find(b"\r\n")
        headers_end = buffer.find(b"\r\n\r\n", line_end)
        if line_end < 0 or buffer[:line_end].strip(b" \t"):
            raise HTTPError(400, "malformed multipart boundary line")
        if headers_end == line_end:
            raw = b""
        else:
            raw = buffer[line_end + 2:headers_end]
        name, part_filename = _parse_part_headers(raw)
        buffer = buffer[headers_end + 4:]
        to_file = part_filename is not None and not have_file
        value = []
        size = 0
        while True:
            at = buffer.find(separator)
            if at >= 0:
                data, buffer = buffer[:at], buffer[at + len(separator):]
            else:
                keep = len(separator) - 1
                data, buffer = buffer[:-keep] if len(buffer) > keep else b"", buffer[-keep:] if \
                    len(buffer) > keep else buffer
            if data:
                if to_file:
                    sink.write(data)
                    written += len(data)
                elif part_filename is None:
                    size += len(data)
                    if size > field_limit:
                        raise HTTPError(400, "multipart field %r too long" % name)
                    value.append(data)
            if at >= 0:
                break
            buffer = body.more(buffer, "multipart body ends before its closing boundary")
        if to_file:
            filename, have_file = part_filename, True
        elif part_filename is None:
            fields[name] = b"".join(value).decode("utf-8", "replace")
    # drain the epilogue (the client is told the body length; leave nothing unread)
    while body.read():
        pass
    if not have_file:
        raise HTTPError(400, "no file in the multipart upload (send the bundle as a file field, "
                             "e.g. curl -F bundle=@FILE)")
    return filename, fields, written


# ------------------------------------------------------------ analysis (in worker processes)

def neutral_name(job_id, name):
    """What a scrubbing server shows for an upload before its hostnames are known."""
    return "upload-%s%s" % (job_id, _suffix(name or ""))


def _map_text(scrubber, shown, name):
    """The owner's key: the scrubber's tokens, then the name shown and the uploaded file's name."""
    return (scrubber.mapping_text() if scrubber is not None else "") + "%s\t%s\n" % (shown, name)


def _analyze_upload(upload, report_dir, settings, name=None, scrub_map=None):
    """Runs in a forked child: the bundle -> report.json + report.html; returns the summary.
    With ``scrub_map`` (a path) the report is scrubbed and the owner's mapping written there."""
    progress_path = os.path.join(report_dir, "progress.json")
    state = {"last": 0.0, "fraction": 0.05}

    def progress(message):
        if scrub_map and message.startswith("scanned "):
            message = "scanning logs"      # a bundle's file names may name its host
        for prefix, fraction in STAGES:
            if message.startswith(prefix):
                state["fraction"] = max(state["fraction"], fraction)
        now = time.time()
        if now - state["last"] >= 0.2 or not message.startswith("reading archive"):
            state["last"] = now
            _write_json(progress_path, {"message": message, "fraction": state["fraction"]})

    progress("opening the bundle")
    document, hostnames = report_fleet.analyze_bundle(upload, settings, progress=progress)
    shown = None
    if scrub_map:
        scrubber = report_fleet.new_scrubber(hostnames)
        shown = scrubber.scrub_name(name or "bundle")      # sos archive names carry the host
        # the upload's path becomes a neutral name (nothing in it to scrub), is scrubbed with the
        # rest, then becomes the scrubbed file name (scrubbing that again would re-token it)
        neutral = neutral_name(os.path.basename(report_dir), name)
        document = report_fleet.alias_paths(document, upload, neutral)
        document = report_fleet.alias_paths(report_engine.scrub_document(document, scrubber), neutral, shown)
        report_fleet.write_text(scrub_map, _map_text(scrubber, shown, name or "bundle"), private=True)
    elif name:    # the report names the uploaded file, not where this server keeps it
        document = report_fleet.alias_paths(document, upload, name)
    progress("writing the report")
    report_fleet.write_text(os.path.join(report_dir, "report.json"), report_fleet.envelope_text(document))
    report_fleet.write_text(os.path.join(report_dir, "report.html"),
                            report_render.render_html(document, utc=settings.utc))
    summary = report_fleet.summarize(document)
    result = dict((k, summary[k]) for k in ("host", "os", "kernel", "worst", "counts", "status", "elapsed_s"))
    if shown is not None:
        result["name"] = shown
    return result


def _launcher_main(conn, limit):
    """The launcher process: jobs in over ``conn``, one forked child per job, results back."""
    try:
        from .load_common import set_pdeathsig
        set_pdeathsig()
    except Exception:
        pass
    scheduler = report_fleet.Scheduler(limit)
    queue = collections.deque()
    try:
        while True:
            while queue and scheduler.free() > 0:
                job_id, args = queue.popleft()
                scheduler.start(job_id, _analyze_upload, args)
                conn.send(("started", job_id, None, None))
            finished, ready = scheduler.wait(None, [conn])
            for key, ok, value in finished:
                conn.send(("done", key, ok, value))
            if ready:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return
                if message[0] == "quit":
                    return
                if message[0] == "job":
                    queue.append((message[1], message[2]))
    finally:
        scheduler.stop()
        conn.close()


class Launcher(object):
    """The parent's side of the launcher: submit jobs, get callbacks from a reader thread."""

    def __init__(self, workers, on_event):
        import multiprocessing
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_launcher_main, args=(child, workers), name="report-serve-launcher")
        self.process.start()                      # before any thread of ours exists
        child.close()
        self.lock = threading.Lock()
        self.on_event = on_event
        self.reader = threading.Thread(target=self._read, name="report-serve-results")
        self.reader.daemon = True
        self.reader.start()

    def submit(self, job_id, args):
        with self.lock:
            self.conn.send(("job", job_id, args))

    def _read(self):
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self.on_event(("gone", None, None, None))
                return
            self.on_event(message)

    def close(self):
        with self.lock:
            try:
                self.conn.send(("quit",))
            except OSError:
                pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.reader.join(5)        # it ends on the launcher's EOF
        self.conn.close()


# ------------------------------------------------------------ the service

class Config(object):
    def __init__(self, bind=DEFAULT_BIND, data=None, token=None, max_upload=DEFAULT_MAX_UPLOAD,
                 min_free=DEFAULT_MIN_FREE, workers=None, keep_uploads=False, settings=None, log=None,
                 scrub=False):
        self.bind = bind
        self.data = data or default_data_dir()
        self.token = token or None
        self.max_upload = max_upload
        self.min_free = min_free
        self.workers = workers or report_fleet.default_jobs()
        self.keep_uploads = keep_uploads
        self.settings = settings or report_fleet.Settings()
        self.log = log                    # callable(line) for the access log, or None
        self.scrub = bool(scrub)          # scrub every report; mappings in DATA/scrub-maps


class Job(object):
    def __init__(self, job_id, name, size, upload, shown=None):
        self.id = job_id
        self.name = name                  # the uploaded file's name (kept in memory only)
        self.shown = shown or name        # what the API shows for it until the analysis ends
        self.size = size
        self.upload = upload
        self.state = "queued"
        self.error = None
        self.done = threading.Event()


class ReportService(object):
    """The launcher, the store and the HTTP server; start() then serve_forever() (or a thread)."""

    def __init__(self, config):
        self.config = config
        self.jobs = {}
        self.lock = threading.Lock()
        self.server = None
        self.launcher = None
        self.uploads = os.path.join(config.data, "uploads")
        self.reports = os.path.join(config.data, "reports")
        self.scrub_maps = os.path.join(config.data, "scrub-maps")     # never under reports/, never served

    # -- lifecycle
    def start(self):
        host, port = parse_bind(self.config.bind)
        for folder in (self.config.data, self.uploads, self.reports):
            if not os.path.isdir(folder):
                os.makedirs(folder, 0o700)
        if self.config.scrub:
            if not os.path.isdir(self.scrub_maps):
                os.makedirs(self.scrub_maps, 0o700)
            os.chmod(self.scrub_maps, 0o700)
        for name in os.listdir(self.uploads):          # partial uploads of a previous run
            if name.endswith(".partial"):
                try:
                    os.unlink(os.path.join(self.uploads, name))
                except OSError:
                    pass
        self._fail_stale()
        # The launcher first: forked before any thread of ours and before the
        # listening socket exists (so no analysis process holds the port).
        self.launcher = Launcher(self.config.workers, self._event)
        try:
            server_class = _Server6 if ":" in host else _Server
            self.server = server_class((host, port), _Handler)
        except BaseException:
            self.launcher.close()
            raise
        self.server.service = self
        self.host = host
        self.port = self.server.server_address[1]
        self.loopback = is_loopback(host)
        return self

    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d/" % (host, self.port)

    def serve_forever(self):
        self.server.serve_forever(poll_interval=0.2)

    def close(self, serving=True):
        """Stop accepting (serving: serve_forever runs in another thread), stop the
        analyses, fail what was pending, end every connection."""
        if self.server is not None and serving:
            self.server.shutdown()
        if self.launcher is not None:
            self.launcher.close()
        with self.lock:
            for job in self.jobs.values():
                if not job.done.is_set():
                    job.state, job.error = "failed", "the server stopped before the analysis finished"
                    self._finish(job, None)
        if self.server is not None:
            self.server.stop_connections()
            self.server.server_close()

    def _fail_stale(self):
        for job_id in os.listdir(self.reports):
            meta_path = os.path.join(self.reports, job_id, "meta.json")
            meta = _read_json(meta_path)
            if meta and meta.get("state") in ("queued", "analyzing"):
                meta.update(state="failed", error="the server stopped before the analysis finished")
                _write_json(meta_path, meta)

    # -- jobs
    def report_dir(self, job_id):
        if not valid_id(job_id):
            raise HTTPError(400, "invalid report id %r (ids look like 20240609-120000-0123abcd)" % job_id[:80])
        return os.path.join(self.reports, job_id)

    def meta(self, job_id):
        meta = _read_json(os.path.join(self.report_dir(job_id), "meta.json"))
        if meta is None:
            raise HTTPError(404, "no report %s" % job_id)
        return meta

    def scrub_map(self, job_id):
        """DATA/scrub-maps/ID.map: the owner's mapping of a scrubbed report."""
        self.report_dir(job_id)            # the id's shape is checked there
        return os.path.join(self.scrub_maps, job_id + ".map")

    def submit(self, job_id, name, size, upload):
        scrubbing = self.config.scrub
        job = Job(job_id, name, size, upload, neutral_name(job_id, name) if scrubbing else None)
        folder = self.report_dir(job_id)
        os.makedirs(folder, 0o700)
        meta = {"id": job_id, "name": job.shown, "size": size, "state": "queued", "submitted": time.time(),
                "finished": None, "error": None, "host": None, "worst": None, "counts": {}}
        if scrubbing:
            meta["scrubbed"] = True
        _write_json(os.path.join(folder, "meta.json"), meta)
        with self.lock:
            self.jobs[job_id] = job
        args = (upload, folder, self.config.settings, name)
        if scrubbing:
            args += (self.scrub_map(job_id),)
        self.launcher.submit(job_id, args)
        return job

    def _event(self, message):
        kind, job_id, ok, value = message
        if kind == "gone":
            with self.lock:
                for job in self.jobs.values():
                    if not job.done.is_set():
                        job.state, job.error = "failed", "the analysis launcher stopped"
                        self._finish(job, None)
            return
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            return
        if kind == "started":
            job.state = "analyzing"
            self._update_meta(job_id, state="analyzing")
            return
        if ok:
            job.state = "done"
            self._finish(job, value)
        else:   # the message names the upload by its name, not by where this server keeps it
            job.state, job.error = "failed", str(value).replace(job.upload, job.shown)
            if self.config.scrub:       # the bundle's hostnames are unknown: addresses and secrets
                job.error = report_fleet.new_scrubber(()).scrub(job.error)
                self._write_failed_map(job)
            self._finish(job, None)

    def _write_failed_map(self, job):
        try:
            report_fleet.write_text(self.scrub_map(job.id), _map_text(None, job.shown, job.name), private=True)
        except OSError:
            pass

    def _finish(self, job, summary):
        changes = {"state": job.state, "error": job.error, "finished": time.time()}
        if summary:
            changes.update(summary)
        self._update_meta(job.id, **changes)
        if not self.config.keep_uploads and job.upload:
            try:
                os.unlink(job.upload)
            except OSError:
                pass
        try:
            os.unlink(os.path.join(self.reports, job.id, "progress.json"))
        except OSError:
            pass
        job.done.set()

    def _update_meta(self, job_id, **changes):
        path = os.path.join(self.reports, job_id, "meta.json")
        meta = _read_json(path) or {"id": job_id}
        meta.update(changes)
        _write_json(path, meta)

    def status(self, job_id):
        meta = self.meta(job_id)
        state = meta.get("state")
        status = {"id": job_id, "state": state, "error": meta.get("error"), "message": state,
                  "fraction": 1.0 if state in ("done", "failed") else 0.0,
                  "report": "/reports/%s" % job_id if state == "done" else None}
        if state == "analyzing":
            progress = _read_json(os.path.join(self.reports, job_id, "progress.json")) or {}
            status["message"] = progress.get("message") or "analyzing"
            status["fraction"] = progress.get("fraction") or 0.05
        if state == "queued":
            status["message"] = "waiting for a free worker"
        return status

    def listing(self, limit=500):
        found = []
        for job_id in os.listdir(self.reports):
            if valid_id(job_id):
                meta = _read_json(os.path.join(self.reports, job_id, "meta.json"))
                if meta:
                    found.append(meta)
        found.sort(key=lambda m: (m.get("submitted") or 0, m.get("id")), reverse=True)
        return found[:limit]

    def delete(self, job_id):
        folder = self.report_dir(job_id)
        meta = self.meta(job_id)
        if meta.get("state") in ("queued", "analyzing"):
            raise HTTPError(409, "report %s is still being analysed" % job_id)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.unlink(self.scrub_map(job_id))
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per connection, each tracked, so close() ends idle and stalled
    connections (a browser's pre-connects, a client that stopped sending) too."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler):
        self._open = {}
        self._open_lock = threading.Lock()
        http.server.HTTPServer.__init__(self, address, handler)

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name="report-serve-request")
        thread.daemon = True
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.pop(request, None)
        http.server.HTTPServer.shutdown_request(self, request)

    def stop_connections(self, timeout=5.0):
        with self._open_lock:
            items = list(self._open.items())
        for sock, _ in items:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in items:
            thread.join(timeout)


class _Server6(_Server):
    address_family = socket.AF_INET6


# ------------------------------------------------------------ HTTP

class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "rescuekit-report/" + VERSION
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 120          # seconds a client may stay silent (headers or upload) before we hang up

    # -- plumbing
    @property
    def service(self):
        return self.server.service

    def log_message(self, fmt, *args):
        log = self.service.config.log
        if log is not None:
            log("%s %s" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        path = urllib.parse.urlsplit(self.path).path        # never log ?token=
        self.log_message('"%s %s" %s', self.command, path, code)

    def handle_expect_100(self):
        return True        # answered (or refused) in _receive, after the checks

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (bad request line, unsupported method): JSON too
        self._send_json(code, {"error": message or self.responses.get(code, ("error",))[0]})

    def _send(self, status, body, content_type, headers=None):
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_json(self, status, value, headers=None):
        body = (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send_html(self, status, text):
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _dispatch(self, method):
        try:
            self._checks()
            url = urllib.parse.urlsplit(self.path)
            self.query = urllib.parse.parse_qs(url.query)
            path = url.path
            route = getattr(self, "_%s_%s" % (method, _route_name(path)), None)
            if route is None:
                if any(hasattr(self, "_%s_%s" % (m, _route_name(path))) for m in ("get", "post", "delete")):
                    raise HTTPError(405, "%s is not allowed on %s" % (self.command, path))
                raise HTTPError(404, "no such page: %s" % path[:200])
            route(path)
        except HTTPError as error:
            if error.status == 413 or error.status == 507:
                self._drain()
            self._send_json(error.status, {"error": error.message}, error.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except socket.timeout:
            self._send_json(408, {"error": "the client stopped sending for %d s" % self.timeout})
        except Exception as error:   # never a traceback to the client
            self._send_json(500, {"error": "internal error: %s: %s (this is a bug; the server log has "
                                           "the request)" % (type(error).__name__, error)})
            sys.stderr.write("report serve: internal error on %s %s: %s: %s\n" % (
                self.command, urllib.parse.urlsplit(self.path).path, type(error).__name__, error))

    def do_GET(self):
        self._dispatch("get")

    def do_HEAD(self):
        self._dispatch("get")

    def do_POST(self):
        self._dispatch("post")

    def do_DELETE(self):
        self._dispatch("delete")

    def do_PUT(self):
        self._dispatch("put")

    def _drain(self):
        """Read (and drop) a little of an unwanted body so the client sees our answer."""
        if self.headers.get("Expect", "").lower() == "100-continue":
            return          # the client waits for us: it has sent nothing
        try:
            self.connection.settimeout(0.5)
            left = min(int(self.headers.get("Content-Length") or 0), 256 * 1024)
            while left > 0:
                data = self.rfile.read1(min(left, 65536)) if hasattr(self.rfile, "read1") else b""
                if not data:
                    break
                left -= len(data)
        except (OSError, ValueError):
            pass

    def _checks(self):
        service = self.service
        if service.loopback:
            host = (self.headers.get("Host") or "").strip()
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
            if host and not is_loopback_literal(name):
                raise HTTPError(403, "Host %r refused: this server is bound to loopback (use "
                                     "http://127.0.0.1:PORT/, or --bind for other names)" % host[:100])
        if service.config.token:
            given = None
            auth = self.headers.get("Authorization") or ""
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            else:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                given = (query.get("token") or [None])[0]
            if not given or not hmac.compare_digest(given.encode("utf-8"), service.config.token.encode("utf-8")):
                raise HTTPError(401, "a valid token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)",
                                {"WWW-Authenticate": 'Bearer realm="report"'})
        origin = self.headers.get("Origin")
        if origin and self.command in ("POST", "DELETE", "PUT"):
            origin_host = urllib.parse.urlsplit(origin).netloc
            if origin_host != (self.headers.get("Host") or ""):
                raise HTTPError(403, "cross-origin request refused (Origin %s)" % origin[:100])

    def _token_query(self):
        token = (self.query.get("token") or [None])[0]
        return "?token=" + urllib.parse.quote(token) if token else ""

    def _wants_html(self):
        accept = (self.headers.get("Accept") or "").lower()
        if (self.query.get("format") or [""])[0] == "html":
            return True
        return "text/html" in accept and "application/json" not in accept

    # -- routes
    def _get_root(self, path):
        self._send_html(200, UPLOAD_PAGE.replace("%MAX%", str(self.service.config.max_upload)).replace(
            "%MAXTEXT%", _size(self.service.config.max_upload)).replace("%VERSION%", report_render.esc(VERSION))
            .replace("%SCRUBNOTE%", SCRUB_NOTE if self.service.config.scrub else ""))

    def _get_reports(self, path):
        self._send_html(200, listing_page(self.service.listing(), self._token_query(),
                                          scrubbed=self.service.config.scrub))

    def _get_report_page(self, path):
        job_id = path.split("/")[2]
        self._send_report(job_id, html=True)

    def _get_api_reports(self, path):
        self._send_json(200, {"reports": self.service.listing()})

    def _get_api_report(self, path):
        self._send_report(path.split("/")[3], html=self._wants_html())

    def _delete_api_report(self, path):
        job_id = path.split("/")[3]
        self.service.delete(job_id)
        self._send_json(200, {"deleted": job_id})

    def _get_api_job(self, path):
        self._send_json(200, self.service.status(path.split("/")[3]))

    def _get_api_status(self, path):
        service = self.service
        with service.lock:
            states = collections.Counter(job.state for job in service.jobs.values())
        self._send_json(200, {"version": VERSION, "workers": service.config.workers, "jobs": dict(states),
                              "max_upload": service.config.max_upload, "keep_uploads": service.config.keep_uploads,
                              "scrub": service.config.scrub})

    def _post_api_analyze(self, path):
        service = self.service
        job_id, name, size, upload = self._receive()
        job = service.submit(job_id, name, size, upload)
        wait = (self.query.get("wait") or ["1"])[0].lower() not in ("0", "no", "false")
        if not wait:
            self._send_json(202, {"id": job_id, "status": "/api/jobs/%s" % job_id,
                                  "report": "/reports/%s" % job_id}, {"Location": "/api/jobs/%s" % job_id})
            return
        job.done.wait()
        if job.state != "done":
            raise HTTPError(422, "the bundle could not be analysed: %s" % job.error)
        self._send_report(job_id, html=self._wants_html())

    def _send_report(self, job_id, html):
        meta = self.service.meta(job_id)
        if meta.get("state") != "done":
            if meta.get("state") == "failed":
                raise HTTPError(422, "report %s failed: %s" % (job_id, meta.get("error")))
            raise HTTPError(409, "report %s is not ready (%s); poll /api/jobs/%s" % (job_id, meta.get("state"),
                                                                                    job_id))
        name = "report.html" if html else "report.json"
        try:
            with open(os.path.join(self.service.report_dir(job_id), name), "rb") as handle:
                body = handle.read()
        except OSError:
            raise HTTPError(404, "report %s has no %s" % (job_id, name))
        self._send(200, body, "text/html; charset=utf-8" if html else "application/json; charset=utf-8")

    def _receive(self):
        """Stream the upload to DATA/uploads -> (id, display name, size, path)."""
        service = self.service
        config = service.config
        if self.headers.get("Transfer-Encoding"):
            raise HTTPError(411, "chunked uploads are not supported: send a Content-Length "
                                 "(curl --data-binary @FILE or curl -F bundle=@FILE do)")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HTTPError(411, "a Content-Length is required")
        if length <= 0:
            raise HTTPError(400, "empty upload: send the bundle as the request body or as a multipart file")
        if length > config.max_upload:
            raise HTTPError(413, "upload of %s is over the limit of %s (the server's --max-upload)"
                            % (_size(length), _size(config.max_upload)))
        free = free_bytes(config.data)
        if free - length < config.min_free:
            raise HTTPError(507, "not enough disk space for %s: %s free in %s and the floor is %s "
                                 "(--min-free)" % (_size(length), _size(free), config.data, _size(config.min_free)))
        boundary = multipart_boundary(self.headers.get("Content-Type"))
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        job_id = new_id()
        partial = os.path.join(service.uploads, job_id + ".partial")
        name = (self.query.get("name") or [None])[0]
        try:
            handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(handle, "wb") as sink:
                if boundary is not None:
                    filename, fields, size = read_multipart(self.rfile, length, boundary, sink)
                    name = name or filename or fields.get("name")
                else:
                    body = _Body(self.rfile, length)
                    size = 0
                    while True:
                        data = body.read()
                        if not data:
                            break
                        sink.write(data)
                        size += len(data)
            if size == 0:
                raise HTTPError(400, "empty upload")
        except BaseException:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise
        name = display_name(name)
        upload = os.path.join(service.uploads, job_id + _suffix(name))
        os.rename(partial, upload)
        return job_id, name, size, upload


def is_loopback_literal(name):
    if name.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_ROUTES = (
    (re.compile(r"\A/\Z"), "root"),
    (re.compile(r"\A/reports/?\Z"), "reports"),
    (re.compile(r"\A/reports/[^/]+\Z"), "report_page"),
    (re.compile(r"\A/api/analyze/?\Z"), "api_analyze"),
    (re.compile(r"\A/api/reports/?\Z"), "api_reports"),
    (re.compile(r"\A/api/reports/[^/]+\Z"), "api_report"),
    (re.compile(r"\A/api/jobs/[^/]+\Z"), "api_job"),
    (re.compile(r"\A/api/status/?\Z"), "api_status"),
)


def _route_name(path):
    for pattern, name in _ROUTES:
        if pattern.match(path):
            return name
    return "none"


def _size(count):
    from .timeparse import format_size
    return format_size(count)


# ------------------------------------------------------------ pages

_PAGE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header a{color:#cfd8dc;margin-left:16px;font-size:13px}main{max-width:900px;margin:0 auto;padding:16px 24px}
#drop{border:3px dashed #90a4ae;border-radius:10px;padding:48px;text-align:center;background:#fff;cursor:pointer}
#drop.over{border-color:#1565c0;background:#e3f2fd}
progress{width:100%;height:18px}.row{margin:12px 0}.muted{color:#777;font-size:12px}
#error{color:#c62828;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}th{background:#eceff1}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-weight:600;font-size:12px;color:#fff}
.crit{background:#c62828}.warn{background:#ef6c00}.info{background:#1565c0}.ok{background:#2e7d32}.na{background:#78909c}
"""

_CSP = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'script-src \'unsafe-inline\'; connect-src \'self\'; img-src data:">')

UPLOAD_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">""" + _CSP + """
<meta name="viewport" content="width=device-width, initial-scale=1"><title>report serve</title>
<style>""" + _PAGE_CSS + """</style></head><body>
<header><h1>report serve<a id="list" href="/reports">past reports</a></h1></header><main>
<p>Drop a sosreport or supportconfig archive here (or click to choose one); up to %MAXTEXT%.
The bundle is analysed on this server and the report opens when it is ready.</p>
%SCRUBNOTE%<noscript><p id="error">This page needs JavaScript to upload; without it use
<code>curl --data-binary @BUNDLE http://HOST:PORT/api/analyze</code>.</p></noscript>
<div id="drop" tabindex="0">drop a bundle here, or click to choose<input id="file" type="file" hidden></div>
<div class="row">upload <span id="upmsg" class="muted"></span><progress id="up" max="100" value="0"></progress></div>
<div class="row">analysis <span id="anmsg" class="muted"></span><progress id="an" max="100" value="0"></progress></div>
<div class="row" id="error"></div>
<p class="muted">rescuekit report %VERSION% &middot; API: POST /api/analyze (raw body or multipart),
GET /api/reports, GET /api/reports/ID, GET /api/jobs/ID</p>
</main><script>
(function(){
  var token=new URLSearchParams(location.search).get('token');
  function q(u){return token?u+(u.indexOf('?')<0?'?':'&')+'token='+encodeURIComponent(token):u;}
  document.getElementById('list').href=q('/reports');
  var drop=document.getElementById('drop'),file=document.getElementById('file');
  var up=document.getElementById('up'),an=document.getElementById('an'),err=document.getElementById('error');
  var upmsg=document.getElementById('upmsg'),anmsg=document.getElementById('anmsg');
  function fail(text){err.textContent=text;drop.style.pointerEvents='';}
  function answer(x){try{return JSON.parse(x.responseText);}catch(e){return {error:'HTTP '+x.status};}}
  function poll(id){
    var x=new XMLHttpRequest();x.open('GET',q('/api/jobs/'+encodeURIComponent(id)));
    x.onload=function(){var s=answer(x);
      if(x.status!==200){fail(s.error||('HTTP '+x.status));return;}
      an.value=Math.round((s.fraction||0)*100);anmsg.textContent=s.message||s.state;
      if(s.state==='done'){an.value=100;location.href=q(s.report);}
      else if(s.state==='failed'){fail('analysis failed: '+s.error);}
      else{setTimeout(function(){poll(id);},500);}};
    x.onerror=function(){fail('lost the server while polling');};x.send();
  }
  function send(f){
    err.textContent='';up.value=0;an.value=0;anmsg.textContent='';
    if(f.size>%MAX%){fail(f.name+' is larger than the server accepts (%MAXTEXT%)');return;}
    var x=new XMLHttpRequest();
    x.open('POST',q('/api/analyze?wait=0&name='+encodeURIComponent(f.name)));
    x.setRequestHeader('Content-Type','application/octet-stream');
    x.upload.onprogress=function(e){if(e.lengthComputable){up.value=Math.round(e.loaded/e.total*100);
      upmsg.textContent=Math.round(e.loaded/1048576)+' of '+Math.round(e.total/1048576)+' MiB';}};
    x.onload=function(){var r=answer(x);
      if(x.status!==202){fail(r.error||('HTTP '+x.status));return;}
      up.value=100;upmsg.textContent='uploaded';anmsg.textContent='queued';poll(r.id);};
    x.onerror=function(){fail('the upload failed (connection lost or refused)');};
    x.send(f);
  }
  drop.addEventListener('click',function(){file.click();});
  drop.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' ')file.click();});
  file.addEventListener('change',function(){if(file.files.length)send(file.files[0]);});
  ['dragenter','dragover'].forEach(function(n){drop.addEventListener(n,function(e){e.preventDefault();
    drop.classList.add('over');});});
  ['dragleave','drop'].forEach(function(n){drop.addEventListener(n,function(e){e.preventDefault();
    drop.classList.remove('over');});});
  drop.addEventListener('drop',function(e){if(e.dataTransfer.files.length)send(e.dataTransfer.files[0]);});
})();
</script></body></html>
"""


SCRUB_NOTE = ('<p class="muted" id="scrubnote">This server scrubs every report: hostnames, addresses, MACs and '
              'secrets are replaced by tokens (file names too); the mapping stays on the server for its '
              'owner.</p>\n')


def listing_page(reports, token_query="", scrubbed=False):
    esc = report_render.esc
    rows = []
    for meta in reports:
        worst = meta.get("worst")
        cls = report_render.SEV_CLASS.get(worst, "na")
        link = esc(meta["id"])
        if meta.get("state") == "done":
            link = '<a href="/reports/%s%s">%s</a>' % (esc(meta["id"]), esc(token_query), esc(meta["id"]))
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            link, esc(meta.get("name")), esc(meta.get("host") or "-"),
            '<span class="badge %s">%s</span>' % (cls, esc(worst)) if worst else esc(meta.get("state")),
            esc(time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(meta.get("submitted") or 0))),
            esc(_size(meta.get("size"))) + (" &middot; " + esc(meta.get("error")) if meta.get("error") else "")))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">" + _CSP +
            "<title>report serve: past reports</title><style>%s</style></head><body>"
            "<header><h1>past reports<a href=\"/%s\">upload</a></h1></header><main>"
            "%s<table id=\"reports\"><tr><th>report</th><th>bundle</th><th>host</th><th>worst</th><th>submitted</th>"
            "<th>size</th></tr>%s</table>%s</main></body></html>\n" % (
                _PAGE_CSS, esc(token_query), SCRUB_NOTE if scrubbed else "", "".join(rows),
                "" if rows else '<p class="muted">no reports yet</p>'))


# ------------------------------------------------------------ running it

def serve(config, say=None, ready=None):
    """Run until Ctrl-C/SIGTERM. say(line): diagnostics (stderr); ready(service): called once listening."""
    import signal
    service = ReportService(config).start()
    if say:
        say("serving on %s (data in %s, %d worker(s), uploads up to %s%s%s)" % (
            service.url(), config.data, config.workers, _size(config.max_upload),
            ", token required" if config.token else "",
            "; reports scrubbed, mappings in %s" % service.scrub_maps if config.scrub else ""))
        plain = sum(1 for meta in service.listing(None) if not meta.get("scrubbed")) if config.scrub else 0
        if plain:
            say("WARNING: %d report(s) in %s were made without --scrub and are served as they are (delete "
                "them through the API, or use another --data)" % (plain, service.reports))
        if not service.loopback:
            say("WARNING: bound to %s, reachable from other machines: anyone who can reach it can upload "
                "bundles and read every report%s" % (service.host, "" if config.token else
                                                     " (set --token, and prefer an SSH tunnel)"))
    if ready:
        ready(service)

    def stop(signum, frame):
        raise KeyboardInterrupt()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        service.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        service.close(serving=False)      # serve_forever has returned already
    return service
