"""report serve --scrub: the real server over loopback.

The sos 4 fixture was scrubbed when it was made (host001, 198.18.x.x,
02:00:00:..., 2001:db8::N are the shared scrubber's own tokens), so a second
scrub would hand out the same tokens again and prove nothing.  The tests
therefore upload a copy of that real archive given back identities that can
not be tokens (a hostname, documentation and link-local addresses, a
qemu-style MAC), named as sos names its archives, and then look for those
identities in everything the server answers."""

import io
import json
import os
import re
import stat
import tarfile
import threading
import time

import pytest

from conftest import fixture_path
from shared import report_server
from test_report_fleet import identifying_values
from test_report_serve import call, multipart, running

ARCHIVE = fixture_path("report", "sos4-debian12.tar.xz")
HOST = "dbprod7"
UPLOAD_NAME = "sosreport-%s-2026-11-26-qkzt.tar.xz" % HOST

# the fixture's tokens -> identities no scrubber would hand out
_IDENTITIES = (
    (re.compile(rb"host001"), lambda m: HOST.encode()),
    (re.compile(rb"(?<![\d.])198\.18\.0\.(\d+)(?![\d.])"), lambda m: b"192.0.2.%d" % (70 + int(m.group(1)))),
    (re.compile(rb"02:00:00:00:00:0(\d)"), lambda m: b"52:54:00:6b:2e:7" + m.group(1)),
    (re.compile(rb"2001:db8::(\d)(?![0-9a-fA-F:])"), lambda m: b"fe80::5054:ff:fe6b:2e7" + m.group(1)),
)


def _identify(data):
    for pattern, replacement in _IDENTITIES:
        data = pattern.sub(replacement, data)
    return data


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """(path of the re-identified archive, (hostnames, IPv4, MACs, IPv6) its report would show)."""
    target = str(tmp_path_factory.mktemp("scrub") / UPLOAD_NAME)
    with tarfile.open(ARCHIVE, "r:xz") as source, tarfile.open(target, "w:xz") as copy:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            member.pax_headers = {}           # its "path" would win over the new name
            member.name = _identify(member.name.encode()).decode()
            if member.issym() or member.islnk():
                member.linkname = _identify(member.linkname.encode()).decode()
            if data is not None:
                data = _identify(data)
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data) if data is not None else None)
    names, v4, macs, v6 = identifying_values(target)
    # the copy does hold identities to hide (derived from its report, not listed by hand)
    assert HOST in names and "192.0.2.73" in v4 and macs and v6
    assert not any(value.startswith(("198.18.", "02:00:00:", "2001:db8:")) for value in v4 | macs | v6)
    return target, (names, v4, macs, v6)


def assert_clean(text, identities, where):
    names, v4, macs, v6 = identities
    lower = text.lower()
    for host in names:
        assert not re.search(r"(?<![a-z0-9])%s(?![a-z0-9])" % re.escape(host.lower()), lower), (where, host)
    for value in v4 | macs | v6:
        assert not re.search(r"(?<![\w.:])%s(?![\w.:])" % re.escape(value.lower()), lower), (where, value)


def read_map(path):
    mapping = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle.read().splitlines():
            token, original = line.split("\t")
            mapping[original] = token
    return mapping


def poll_done(service, status_url, identities):
    """Poll /api/jobs/ID to the end, every answer checked on the way."""
    deadline = time.time() + 120
    while True:
        status, _, body = call(service, status_url)
        assert status == 200
        assert_clean(body.decode(), identities, status_url)
        state = json.loads(body.decode())
        listing = call(service, "/api/reports")[2].decode()
        assert_clean(listing, identities, "listing while %s" % state["state"])
        entry = json.loads(listing)["reports"][0]
        if entry["state"] in ("queued", "analyzing"):       # neutral until the hostnames are known
            assert entry["name"] == "upload-%s.tar.xz" % state["id"]
        if state["state"] in ("done", "failed") or time.time() > deadline:
            return state
        time.sleep(0.05)


def test_scrubbing_server_leaks_no_identity_and_keeps_the_map_private(tmp_path, bundle):
    path, identities = bundle
    with open(path, "rb") as handle:
        payload = handle.read()
    with running(tmp_path, scrub=True) as service:
        # the upload page and the listing say so
        assert b'id="scrubnote"' in call(service, "/")[2]
        assert b'id="scrubnote"' in call(service, "/reports")[2]
        assert json.loads(call(service, "/api/status")[2].decode())["scrub"] is True
        # asynchronous: every job state and listing on the way is clean
        status, _, body = call(service, "/api/analyze?wait=0&name=" + UPLOAD_NAME, payload, "POST")
        assert status == 202
        answer = json.loads(body.decode())
        state = poll_done(service, answer["status"], identities)
        assert state["state"] == "done"
        report_id = answer["id"]
        # synchronous JSON (multipart, the file name in the form) and HTML answers
        form, content_type = multipart({}, "bundle", UPLOAD_NAME, payload)
        status, _, sync_json = call(service, "/api/analyze", form, "POST", {"Content-Type": content_type})
        assert status == 200
        status, _, sync_html = call(service, "/api/analyze?name=" + UPLOAD_NAME, payload, "POST",
                                    {"Accept": "text/html"})
        assert status == 200 and sync_html.startswith(b"<!DOCTYPE html>")
        answers = {"sync json": sync_json, "sync html": sync_html,
                   "json": call(service, "/api/reports/%s" % report_id)[2],
                   "html": call(service, "/reports/%s" % report_id)[2],
                   "listing": call(service, "/api/reports")[2], "listing page": call(service, "/reports")[2],
                   "job": call(service, answer["status"])[2]}
        for where, text in answers.items():
            assert_clean(text.decode(), identities, where)
        # the report is still the bundle's report, with tokens where the identities were
        result = json.loads(answers["json"].decode())["result"]
        mapping = read_map(os.path.join(service.scrub_maps, report_id + ".map"))
        assert result["facts"]["hostname"] == mapping[HOST]
        assert any(f["check"] == "log.auth.failures" for f in result["findings"])
        scrubbed_name = UPLOAD_NAME.replace(HOST, mapping[HOST])
        assert result["source"] == scrubbed_name
        entry = [e for e in json.loads(answers["listing"].decode())["reports"] if e["id"] == report_id][0]
        assert entry["name"] == scrubbed_name and entry["host"] == mapping[HOST] and entry["scrubbed"] is True
        assert scrubbed_name.encode() in answers["listing page"]
        # the owner's map: one per report, private, complete, beside reports/ and not in it
        maps_dir = os.path.join(service.config.data, "scrub-maps")
        assert stat.S_IMODE(os.stat(maps_dir).st_mode) == 0o700
        maps = sorted(os.listdir(maps_dir))
        assert len(maps) == 3 and report_id + ".map" in maps
        map_path = os.path.join(maps_dir, report_id + ".map")
        assert stat.S_IMODE(os.stat(map_path).st_mode) == 0o600
        names, v4, macs, v6 = identities
        for value in v4 | macs | v6 | {HOST}:
            assert value in mapping, value
        assert mapping[UPLOAD_NAME] == scrubbed_name
        for root, _, files in os.walk(service.reports):
            assert not [f for f in files if f.endswith(".map")]
            for name in files:
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    assert_clean(handle.read(), identities, name)
        # not reachable over HTTP, however asked
        for probe in ("/scrub-maps/{0}.map", "/api/scrub-maps/{0}", "/api/reports/{0}.map", "/reports/{0}.map",
                      "/reports/{0}/../../scrub-maps/{0}.map", "/reports/..%2Fscrub-maps%2F{0}.map",
                      "/api/reports/{0}/map", "/api/jobs/{0}.map", "/api/reports/{0}?format=map"):
            url = probe.format(report_id)
            status, _, body = call(service, url)
            assert mapping[HOST].encode() + b"\t" not in body and HOST.encode() not in body, url
            if "?" not in url:
                assert status in (400, 404), url
        # DELETE takes the map along
        status, _, _ = call(service, "/api/reports/%s" % report_id, method="DELETE")
        assert status == 200
        assert not os.path.exists(map_path) and len(os.listdir(maps_dir)) == 2


def test_a_failed_upload_on_a_scrubbing_server_shows_only_the_neutral_name(tmp_path):
    with running(tmp_path, scrub=True) as service:
        status, _, body = call(service, "/api/analyze?name=sosreport-web9-4711.tar.xz",
                               b"this is not an archive\n" * 10, "POST")
        assert status == 422 and b"web9" not in body
        listing = call(service, "/api/reports")[2].decode()
        entry = json.loads(listing)["reports"][0]
        assert entry["state"] == "failed" and "web9" not in listing
        assert entry["name"] == "upload-%s.tar.xz" % entry["id"]
        mapping = read_map(os.path.join(service.scrub_maps, entry["id"] + ".map"))
        assert mapping == {"sosreport-web9-4711.tar.xz": entry["name"]}    # the owner can still tell


def test_without_scrub_nothing_changes(tmp_path, bundle):
    path, identities = bundle
    with open(path, "rb") as handle:
        payload = handle.read()
    with running(tmp_path) as service:
        assert b"scrubnote" not in call(service, "/")[2] and b"scrubnote" not in call(service, "/reports")[2]
        status, _, body = call(service, "/api/analyze?name=" + UPLOAD_NAME, payload, "POST")
        assert status == 200
        result = json.loads(body.decode())["result"]
        assert result["facts"]["hostname"] == HOST and result["source"] == UPLOAD_NAME
        assert "192.0.2.73" in body.decode()
        entry = json.loads(call(service, "/api/reports")[2].decode())["reports"][0]
        assert entry["name"] == UPLOAD_NAME and entry["host"] == HOST and "scrubbed" not in entry
        assert json.loads(call(service, "/api/status")[2].decode())["scrub"] is False
        assert not os.path.exists(os.path.join(service.config.data, "scrub-maps"))


def test_scrub_name_finds_hostnames_glued_into_sos_archive_names():
    scrubber = report_server.report_fleet.new_scrubber(["db7.corp.example"])
    name = scrubber.scrub_name("sosreport-db7-case_db7.corp.example-10.1.2.3.tar.xz")
    assert "db7" not in name and "corp" not in name and "10.1.2.3" not in name
    assert name.startswith("sosreport-host001-case_host001.domain001.example-198.18.0.1")
    # a word merely containing the hostname stays
    assert scrubber.scrub_name("sosreport-db77.tar.xz") == "sosreport-db77.tar.xz"


def test_serve_cli_refuses_scrub_map(tmp_path, capsys):
    from conftest import run_tool
    from scripts import report as tool
    code, _, err = run_tool(tool, ["serve", "--scrub", "--scrub-map", str(tmp_path / "m")], capsys)
    assert code == 2 and "takes only its options" in err


def test_scrubbing_server_says_so_and_counts_reports_made_without_scrub(tmp_path):
    folder = tmp_path / "d" / "reports" / "20261126-120000-0123abcd"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"id": folder.name, "name": "sosreport-web1.tar.xz",
                                                  "state": "done", "submitted": 1}))
    lines = []

    def ready(service):
        threading.Thread(target=service.server.shutdown).start()

    config = report_server.Config(bind="127.0.0.1:0", data=str(tmp_path / "d"), min_free=0, workers=1, scrub=True)
    report_server.serve(config, say=lines.append, ready=ready)
    assert "reports scrubbed, mappings in %s" % os.path.join(str(tmp_path / "d"), "scrub-maps") in lines[0]
    assert any(line.startswith("WARNING: 1 report(s)") and "without --scrub" in line for line in lines)
    assert stat.S_IMODE(os.stat(str(tmp_path / "d" / "scrub-maps")).st_mode) == 0o700
