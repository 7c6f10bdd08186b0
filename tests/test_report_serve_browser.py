"""report serve in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven through chromedriver's WebDriver API as in
test_report_browser) opens the upload page, uploads a fixture bundle through
the page's file input (the same XHR path drag-and-drop takes), follows the
progress to the rendered report and checks it; then the fleet index.
Skips with the reason when chromium or chromedriver is missing."""

import base64
import json
import os
import threading
import time

from conftest import ROOT, fixture_path
from shared import report_fleet, report_server
import test_report_browser

driver = test_report_browser.driver     # the same Chromium session fixture (skips without chromium)

SHOTS = os.path.join(ROOT, "tests", "artifacts", "screenshots")
BUNDLE = fixture_path("report", "sos4-debian12.tar.xz")


def _shot(driver, name):
    if not os.path.isdir(SHOTS):
        os.makedirs(SHOTS)
    png = base64.b64decode(driver.s("GET", "/screenshot"))
    assert png.startswith(b"\x89PNG")
    with open(os.path.join(SHOTS, name), "wb") as handle:
        handle.write(png)


def _element(driver, css):
    found = driver.s("POST", "/element", {"using": "css selector", "value": css})
    return found[[k for k in found if k.startswith("element")][0]]


def test_upload_page_uploads_a_bundle_and_shows_the_report(driver, tmp_path):
    expected, _ = report_fleet.analyze_bundle(BUNDLE, report_fleet.Settings())
    config = report_server.Config(bind="127.0.0.1:0", data=str(tmp_path / "data"), min_free=0, workers=1,
                                  token="browser-token")
    service = report_server.ReportService(config).start()
    thread = threading.Thread(target=service.serve_forever)
    thread.start()
    try:
        driver.s("POST", "/url", {"url": "http://127.0.0.1:%d/?token=browser-token" % service.port})
        assert driver.s("GET", "/title") == "report serve"
        driver.s("POST", "/element/%s/value" % _element(driver, "#file"), {"text": BUNDLE})
        deadline = time.time() + 120
        seen = set()
        while time.time() < deadline:
            state = driver.script("return {title: document.title, up: (document.getElementById('up')||{}).value,"
                                  " error: (document.getElementById('error')||{}).textContent || ''};")
            assert not state["error"], state["error"]
            seen.add(state["up"])
            if state["title"].startswith("report:"):
                break
            time.sleep(0.2)
        page = driver.script("""
            return {title: document.title, worst: document.getElementById('worst').textContent,
                    health: document.getElementById('health').offsetHeight,
                    findings: document.querySelectorAll('.finding').length,
                    url: location.pathname};""")
        assert page["title"] == "report: %s" % expected["facts"]["hostname"]
        assert page["worst"] == expected["health"]["worst"].upper() and page["health"] > 0
        assert page["findings"] == len(expected["findings"])
        report_id = page["url"].rsplit("/", 1)[1]
        assert report_server.valid_id(report_id)
        _shot(driver, "serve-report.png")
        # the past reports page lists it, with a working link
        driver.s("POST", "/url", {"url": "http://127.0.0.1:%d/reports?token=browser-token" % service.port})
        listing = driver.script("return document.getElementById('reports').textContent;")
        assert report_id in listing and "sos4-debian12.tar.xz" in listing
        logs = driver.s("POST", "/se/log", {"type": "browser"})
        assert [entry for entry in logs if entry.get("level") == "SEVERE"] == []
        assert os.listdir(service.uploads) == []        # deleted after the analysis
    finally:
        service.close()
        thread.join()


def test_fleet_index_in_chromium_filters_and_links(driver, tmp_path):
    out = str(tmp_path / "fleet")
    broken = tmp_path / "broken.tar.xz"
    broken.write_bytes(b"junk")
    result = report_fleet.run_fleet([BUNDLE, fixture_path("report", "sos3-rhel7"),
                                     fixture_path("report", "minimal"), str(broken)], out,
                                    report_fleet.FleetOptions(jobs=2))
    index = json.loads(open(result.index_json).read())["result"]
    driver.s("POST", "/url", {"url": "file://%s" % result.index_html})
    state = driver.script("""
        var rows = function(){ return Array.prototype.filter.call(document.querySelectorAll('tr[data-worst]'),
            function(r){ return r.offsetHeight > 0; }).length; };
        var all = rows();
        var p = document.getElementById('problems'); p.click(); var problems = rows(); p.click();
        var q = document.getElementById('q'); q.value = 'db2'; q.dispatchEvent(new Event('input'));
        var searched = rows();
        var link = document.querySelector('tr[data-worst] td a');
        return {all: all, problems: problems, searched: searched, link: link.getAttribute('href')};""")
    assert state["all"] == len(index["hosts"])
    assert state["problems"] == len([h for h in index["hosts"] if h["status"] == "broken"
                                     or h["worst"] in ("critical", "warning")])
    assert state["searched"] == 1
    _shot(driver, "fleet-index.png")
    driver.s("POST", "/url", {"url": "file://%s/%s" % (out, state["link"])})
    assert driver.s("GET", "/title").startswith("report: ")
    logs = driver.s("POST", "/se/log", {"type": "browser"})
    assert [entry for entry in logs if entry.get("level") == "SEVERE"] == []
