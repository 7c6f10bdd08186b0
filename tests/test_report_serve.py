"""report serve: the real server over loopback with urllib and raw sockets.

Uploads (raw body and multipart), the JSON/HTML answers, several uploads at
once, the upload cap (413 before a byte is stored), the disk floor,
report ids and path traversal, the token, Host/Origin checks, JSON errors
and the streaming multipart parser at every chunk boundary."""

import contextlib
import io
import json
import os
import socket
import tarfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import fixture_path, run_tool
from scripts import report as tool
from shared import report_fleet, report_server

ARCHIVE = fixture_path("report", "sos4-debian12.tar.xz")
SCC = fixture_path("report", "scc_sles15_240609_1200.txz")


@contextlib.contextmanager
def running(tmp_path, **options):
    options.setdefault("min_free", 0)
    options.setdefault("workers", 2)
    config = report_server.Config(bind="127.0.0.1:0", data=str(tmp_path / "data"), **options)
    service = report_server.ReportService(config).start()
    thread = threading.Thread(target=service.serve_forever)
    thread.start()
    try:
        yield service
    finally:
        service.close()
        thread.join()


def base(service):
    return "http://127.0.0.1:%d" % service.port


def call(service, path, data=None, method=None, headers=None):
    """(status, headers, body bytes) -- errors included."""
    request = urllib.request.Request(base(service) + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def raw_request(service, head, body=b""):
    """A hand-written request over a socket; returns (status, parsed JSON body)."""
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
    try:
        sock.sendall(head.encode("latin-1") + body)
        data = read_all(sock)
    finally:
        sock.close()
    header, _, payload = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ")[1])
    return status, json.loads(payload.decode("utf-8"))


def local_findings(path):
    document, _ = report_fleet.analyze_bundle(path, report_fleet.Settings())
    return [(f["severity"], f["check"]) for f in document["findings"]]


def multipart(fields, file_field, filename, payload, boundary="----rescuekitTestBoundary7MA4YWxkTrZu0gW"):
    parts = []
    for name, value in fields.items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            boundary, name, value)).encode())
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n" % (boundary, file_field, filename)).encode())
    parts.append(payload)
    parts.append(("\r\n--%s--\r\n" % boundary).encode())
    return b"".join(parts), "multipart/form-data; boundary=%s" % boundary


def stored(service):
    return sorted(os.listdir(service.uploads)), sorted(os.listdir(service.reports))


# ------------------------------------------------------------ analysis

def test_raw_upload_answers_the_report_envelope_and_deletes_the_upload(tmp_path):
    with open(ARCHIVE, "rb") as handle:
        payload = handle.read()
    with running(tmp_path) as service:
        status, headers, body = call(service, "/api/analyze?name=sosreport-web1.tar.xz", payload, "POST")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        envelope = json.loads(body.decode())
        assert envelope["tool"] == "report" and envelope["schema"] == 1
        got = [(f["severity"], f["check"]) for f in envelope["result"]["findings"]]
        assert got == local_findings(ARCHIVE)          # the same analysis as the CLI's
        assert envelope["result"]["source"] == "sosreport-web1.tar.xz"   # not the server's upload path
        assert service.uploads not in body.decode()
        uploads, reports = stored(service)
        assert uploads == [] and len(reports) == 1     # upload deleted, report kept
        status, _, listing = call(service, "/api/reports")
        entry = json.loads(listing.decode())["reports"][0]
        assert entry["state"] == "done" and entry["worst"] == envelope["result"]["health"]["worst"]
        assert entry["name"] == "sosreport-web1.tar.xz"


def test_multipart_upload_with_accept_html_answers_the_same_page_as_the_report_url(tmp_path):
    with open(SCC, "rb") as handle:
        payload = handle.read()
    body, content_type = multipart({"note": "case 4711"}, "bundle", "scc_db2.txz", payload)
    with running(tmp_path) as service:
        status, headers, page = call(service, "/api/analyze", body, "POST",
                                     {"Content-Type": content_type, "Accept": "text/html"})
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert page.startswith(b"<!DOCTYPE html>") and b'id="health"' in page
        report_id = json.loads(call(service, "/api/reports")[2].decode())["reports"][0]["id"]
        assert call(service, "/reports/%s" % report_id)[2] == page
        status, _, again = call(service, "/api/reports/%s" % report_id, headers={"Accept": "text/html"})
        assert again == page
        status, headers, document = call(service, "/api/reports/%s" % report_id)
        assert status == 200 and json.loads(document.decode())["result"]["source"] == "scc_db2.txz"
        listing = call(service, "/reports")[2].decode()
        assert report_id in listing and "scc_db2.txz" in listing


def test_several_uploads_at_once_all_finish_with_their_own_report(tmp_path):
    bundles = [ARCHIVE, SCC, ARCHIVE, SCC, ARCHIVE]
    expected = dict((path, local_findings(path)) for path in set(bundles))
    answers = [None] * len(bundles)

    def upload(index):
        with open(bundles[index], "rb") as handle:
            answers[index] = call(service, "/api/analyze?name=b%d" % index, handle.read(), "POST")

    with running(tmp_path, workers=2) as service:
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(bundles))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        listing = json.loads(call(service, "/api/reports")[2].decode())["reports"]
    for index, (status, _, body) in enumerate(answers):
        assert status == 200
        result = json.loads(body.decode())["result"]
        assert [(f["severity"], f["check"]) for f in result["findings"]] == expected[bundles[index]]
        assert result["source"] == "b%d" % index
    assert len(set(entry["id"] for entry in listing)) == len(bundles)
    assert all(entry["state"] == "done" for entry in listing)


def test_wait_0_answers_202_and_the_job_can_be_polled_to_done(tmp_path):
    with open(ARCHIVE, "rb") as handle:
        payload = handle.read()
    with running(tmp_path, keep_uploads=True) as service:
        status, headers, body = call(service, "/api/analyze?wait=0", payload, "POST")
        assert status == 202
        answer = json.loads(body.decode())
        assert headers["Location"] == answer["status"]
        deadline = time.time() + 120
        while True:
            state = json.loads(call(service, answer["status"])[2].decode())
            assert state["state"] in ("queued", "analyzing", "done")
            assert 0 <= state["fraction"] <= 1
            if state["state"] == "done" or time.time() > deadline:
                break
            time.sleep(0.1)
        assert state["state"] == "done" and state["report"] == answer["report"]
        assert call(service, answer["report"])[0] == 200
        uploads, _ = stored(service)
        assert len(uploads) == 1                      # --keep-uploads
        with open(os.path.join(service.uploads, uploads[0]), "rb") as handle:
            assert handle.read() == payload


def test_a_bundle_that_cannot_be_read_is_a_json_error_not_a_traceback(tmp_path):
    with running(tmp_path) as service:
        status, headers, body = call(service, "/api/analyze", b"this is not an archive\n" * 10, "POST")
        assert status == 422 and headers["Content-Type"].startswith("application/json")
        error = json.loads(body.decode())["error"]
        assert "could not be analysed" in error and "tar archive" in error and "Traceback" not in error
        report_id = json.loads(call(service, "/api/reports")[2].decode())["reports"][0]["id"]
        status, _, body = call(service, "/api/reports/%s" % report_id)
        assert status == 422 and "failed" in json.loads(body.decode())["error"]
        assert stored(service)[0] == []                # the upload is gone all the same


def test_unknown_pages_methods_and_empty_uploads_are_json_errors(tmp_path):
    with running(tmp_path) as service:
        for path, data, method, code in (("/nope", None, "GET", 404), ("/api/analyze", None, "GET", 405),
                                         ("/api/analyze", b"x", "PUT", 405), ("/api/analyze", b"", "POST", 400)):
            status, headers, body = call(service, path, data, method)
            assert status == code, path
            assert headers["Content-Type"].startswith("application/json")
            assert json.loads(body.decode())["error"]


# ------------------------------------------------------------ limits

def test_oversize_upload_is_refused_with_413_before_anything_is_stored(tmp_path):
    with running(tmp_path, max_upload=64 * 1024) as service:
        head = ("POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % (service.port, 10 * 1024 ** 3))
        status, answer = raw_request(service, head)           # headers only: the body never comes
        assert status == 413 and "over the limit of 64K" in answer["error"]
        head = head.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n")
        status, answer = raw_request(service, head)           # curl's way: no 100 Continue, a 413
        assert status == 413
        body, content_type = multipart({}, "bundle", "big.tar.xz", b"x" * (65 * 1024))
        status, _, data = call(service, "/api/analyze", body, "POST", {"Content-Type": content_type})
        assert status == 413
        assert stored(service) == ([], [])


def test_disk_floor_refuses_with_507(tmp_path):
    with running(tmp_path, min_free=1024 ** 6) as service:        # an exbibyte free: never
        status, _, body = call(service, "/api/analyze", b"0123456789", "POST")
        assert status == 507 and "--min-free" in json.loads(body.decode())["error"]
        assert stored(service) == ([], [])


def test_chunked_uploads_need_a_content_length(tmp_path):
    with running(tmp_path) as service:
        head = ("POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n\r\n"
                % service.port)
        status, answer = raw_request(service, head, b"5\r\nhello\r\n0\r\n\r\n")
        assert status == 411 and "Content-Length" in answer["error"]


# ------------------------------------------------------------ ids, token, origin

@pytest.mark.parametrize("path", [
    "/api/reports/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/reports/%2e%2e",
    "/api/reports/..",
    "/reports/..%2Fmeta.json",
    "/api/jobs/..%2F..%2Fuploads",
    "/api/reports/20240609-120000-0123abcd%2F..%2F..%2Fx",
    "/api/reports/20240609-120000-0123ABCD",
])
def test_report_ids_are_validated_before_any_path_is_built(tmp_path, path):
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    with running(tmp_path) as service:
        status, headers, body = call(service, path)
        assert status == 400
        assert "invalid report id" in json.loads(body.decode())["error"]
        assert b"root:x" not in body


def test_traversal_in_the_raw_path_and_unknown_ids_find_nothing(tmp_path):
    with running(tmp_path) as service:
        status, answer = raw_request(service, "GET /api/reports/../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                              "\r\n")
        assert status == 404 and "root:" not in json.dumps(answer)
        status, _, body = call(service, "/api/reports/20240609-120000-0123abcd")
        assert status == 404 and "no report" in json.loads(body.decode())["error"]
        status, _, body = call(service, "/api/reports/20240609-120000-0123abcd", method="DELETE")
        assert status == 404


def test_token_is_required_on_every_request(tmp_path):
    with open(ARCHIVE, "rb") as handle:
        payload = handle.read()
    with running(tmp_path, token="s3cret-Token") as service:
        for path in ("/", "/reports", "/api/reports", "/api/status", "/api/reports/20240609-120000-0123abcd"):
            status, headers, body = call(service, path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert "token" in json.loads(body.decode())["error"]
        status, _, _ = call(service, "/api/analyze", payload, "POST")
        assert status == 401
        status, _, _ = call(service, "/api/analyze", payload, "POST", {"Authorization": "Bearer wrong"})
        assert status == 401
        status, _, _ = call(service, "/api/reports?token=s3cret-Tokenx")
        assert status == 401
        assert stored(service) == ([], [])             # refused uploads leave nothing behind
        assert call(service, "/api/reports", headers={"Authorization": "Bearer s3cret-Token"})[0] == 200
        assert call(service, "/?token=s3cret-Token")[0] == 200
        status, _, body = call(service, "/api/analyze?token=s3cret-Token", payload, "POST")
        assert status == 200 and json.loads(body.decode())["tool"] == "report"
        listing = call(service, "/reports?token=s3cret-Token")[2].decode()
        assert "?token=s3cret-Token" in listing         # links keep working in the browser


def test_foreign_host_names_and_cross_origin_posts_are_refused_on_loopback(tmp_path):
    with running(tmp_path) as service:
        status, _, body = call(service, "/api/reports", headers={"Host": "attacker.example:%d" % service.port})
        assert status == 403 and "loopback" in json.loads(body.decode())["error"]
        status, _, body = call(service, "/api/analyze", b"x", "POST", {"Origin": "http://attacker.example"})
        assert status == 403 and "cross-origin" in json.loads(body.decode())["error"]
        assert call(service, "/api/reports", headers={"Host": "localhost:%d" % service.port})[0] == 200
        assert stored(service) == ([], [])


# ------------------------------------------------------------ CLI face

def test_serve_warns_when_bound_beyond_loopback(tmp_path):
    lines = []

    def ready(service):
        threading.Thread(target=service.server.shutdown).start()

    config = report_server.Config(bind="0.0.0.0:0", data=str(tmp_path / "d"), min_free=0, workers=1)
    report_server.serve(config, say=lines.append, ready=ready)
    assert lines[0].startswith("serving on http://0.0.0.0:")
    assert any(line.startswith("WARNING: bound to 0.0.0.0") and "--token" in line for line in lines)


def test_serve_usage_errors(tmp_path, capsys):
    code, out, err = run_tool(tool, ["serve", "extra-argument"], capsys)
    assert code == 2 and "takes only its options" in err
    code, out, err = run_tool(tool, ["serve", "--bind", "127.0.0.1:http"], capsys)
    assert code == 2 and "bad --bind" in err


def test_bind_parsing():
    assert report_server.parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert report_server.parse_bind("[::1]:9000") == ("::1", 9000)
    assert report_server.parse_bind("0.0.0.0") == ("0.0.0.0", 8000)
    assert report_server.parse_bind(":8001") == ("127.0.0.1", 8001)
    with pytest.raises(ValueError):
        report_server.parse_bind("host:99999")


def test_default_data_dir_is_documented():
    expected = "/var/lib/rescuekit/report-serve" if os.geteuid() == 0 else "rescuekit/report-serve"
    assert report_server.default_data_dir().endswith(expected)


# ------------------------------------------------------------ multipart parser

class Trickle(object):
    """A stream that hands out at most ``size`` bytes per read."""

    def __init__(self, data, size):
        self.data = io.BytesIO(data)
        self.size = size

    def read(self, count):
        return self.data.read(min(count, self.size))


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 40, 41, 1 << 20])
def test_multipart_parser_keeps_the_file_byte_for_byte_at_any_chunking(piece):
    boundary = "xYz--boundary"
    payload = (b"\r\n--xYz--boundar" + bytes(range(256)) + b"\r\n--xYz" + b"\r\n" + b"--" + b"\r\n--xYz--bound\r\n")
    body, _ = multipart({"name": "db2", "note": "two\r\nlines"}, "bundle", "a.tar.xz", payload, boundary)
    sink = io.BytesIO()
    filename, fields, size = report_server.read_multipart(Trickle(body, piece), len(body), boundary.encode(), sink)
    assert sink.getvalue() == payload and size == len(payload)
    assert filename == "a.tar.xz" and fields == {"name": "db2", "note": "two\r\nlines"}


@pytest.mark.parametrize("body,why", [
    (b"no boundary anywhere", "without its boundary"),
    (b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nunterminated", "closing boundary"),
    (b"--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nonly a field\r\n--B--\r\n", "no file"),
])
def test_multipart_parser_refuses_malformed_bodies(body, why):
    with pytest.raises(report_server.HTTPError) as caught:
        report_server.read_multipart(io.BytesIO(body), len(body), b"B", io.BytesIO())
    assert caught.value.status == 400 and why in caught.value.message


def test_multipart_upload_of_a_folder_made_into_a_tarball(tmp_path):
    """A plain .tar (uncompressed) of an extracted sos folder is a bundle too."""
    target = tmp_path / "sos3.tar"
    with tarfile.open(str(target), "w") as archive:
        archive.add(fixture_path("report", "sos3-rhel7"), arcname="sosreport-db2-2024")
    body, content_type = multipart({}, "file", "sos3.tar", target.read_bytes())
    with running(tmp_path) as service:
        status, _, answer = call(service, "/api/analyze", body, "POST", {"Content-Type": content_type})
    assert status == 200
    result = json.loads(answer.decode())["result"]
    assert result["facts"]["hostname"] == "db2.example.com"
    assert any(f["check"] == "md.degraded" and f["severity"] == "critical" for f in result["findings"])


def test_an_upload_cut_off_midway_leaves_nothing_behind(tmp_path):
    with running(tmp_path) as service:
        sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
        sock.sendall(("POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                      ).encode() + b"x" * 5000)
        sock.shutdown(socket.SHUT_WR)                  # the client goes away halfway
        answer = read_all(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 400") and b"ended early" in answer
        assert stored(service) == ([], [])
