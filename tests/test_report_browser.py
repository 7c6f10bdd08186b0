"""report HTML in a real browser: headless Chromium driven through chromedriver's
WebDriver HTTP API with urllib (no selenium).  Skips with the reason when
Debian's chromium / chromium-driver are not installed."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, fixture_path
from shared import report_engine, report_render

FIXTURES = ("sos4-debian12.tar.xz", "sos3-rhel7", "scc_sles15_240609_1200.txz", "minimal")
SHOTS = os.path.join(ROOT, "tests", "artifacts", "screenshots")


def _binaries():
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return browser, driver


def _free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Driver(object):
    def __init__(self, browser, driver, prefs=None):
        self.port = _free_port()
        self.proc = subprocess.Popen([driver, "--port=%d" % self.port], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % self.port
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1800"], "prefs": prefs or {}},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read().decode())["value"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def script(self, code):
        return self.s("POST", "/execute/sync", {"script": code, "args": []})

    def close(self):
        try:
            self.call("DELETE", "/session/%s" % self.session)
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def driver():
    browser, chromedriver = _binaries()
    if not browser or not chromedriver:
        pytest.skip("chromium and chromedriver not installed (apt-get install chromium chromium-driver)")
    try:
        instance = Driver(browser, chromedriver)
    except (OSError, KeyError, ValueError) as error:
        pytest.skip("chromedriver did not start a session: %s" % error)
    yield instance
    instance.close()


@pytest.mark.parametrize("name", FIXTURES)
def test_report_page_in_chromium(name, driver, tmp_path):
    source = report_engine.open_bundle(fixture_path("report", name))
    doc = report_engine.analyze(source, report_engine.Options()).to_dict()
    page = tmp_path / "report.html"
    page.write_text(report_render.render_html(doc), encoding="utf-8")
    driver.s("POST", "/url", {"url": "file://%s" % page})
    state = driver.script("""
        var health = document.getElementById('health');
        var visible = function(){ return Array.prototype.filter.call(
            document.querySelectorAll('.finding'), function(e){ return e.offsetHeight > 0; }).length; };
        var before = visible();
        var crit = document.querySelector('#controls input[value=crit]');
        var critical = document.querySelectorAll('.finding.crit').length;
        crit.click();
        var withoutCritical = visible();
        crit.click();
        var q = document.getElementById('q');
        q.value = 'zzz-no-such-finding'; q.dispatchEvent(new Event('input'));
        var searched = visible();
        q.value = ''; q.dispatchEvent(new Event('input'));
        return {health: health.offsetHeight, worst: document.getElementById('worst').textContent,
                controls: !document.getElementById('controls').hidden, before: before,
                critical: critical, withoutCritical: withoutCritical, searched: searched,
                after: visible(), title: document.title};
    """)
    logs = driver.s("POST", "/se/log", {"type": "browser"})
    errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert errors == []
    assert state["health"] > 0 and state["controls"]
    assert state["worst"] == doc["health"]["worst"].upper()
    assert state["before"] > 0                              # findings visible
    assert state["withoutCritical"] == state["before"] - state["critical"]   # the filter works
    assert state["searched"] == 0 and state["after"] == state["before"]      # and the search
    if not os.path.isdir(SHOTS):
        os.makedirs(SHOTS)
    png = base64.b64decode(driver.s("GET", "/screenshot"))
    assert png.startswith(b"\x89PNG")
    with open(os.path.join(SHOTS, "report-%s.png" % name.split(".")[0]), "wb") as handle:
        handle.write(png)


def test_core_content_readable_without_javascript(tmp_path):
    """With JavaScript disabled the health card and findings are there; the controls stay hidden."""
    browser, chromedriver = _binaries()
    if not browser or not chromedriver:
        pytest.skip("chromium and chromedriver not installed (apt-get install chromium chromium-driver)")
    source = report_engine.open_bundle(fixture_path("report", "sos3-rhel7"))
    doc = report_engine.analyze(source, report_engine.Options()).to_dict()
    page = tmp_path / "report.html"
    page.write_text(report_render.render_html(doc), encoding="utf-8")
    nojs = Driver(browser, chromedriver, prefs={"profile.managed_default_content_settings.javascript": 2})
    try:
        nojs.s("POST", "/url", {"url": "file://%s" % page})
        health = nojs.s("POST", "/element", {"using": "css selector", "value": "#health"})
        key = [k for k in health if k.startswith("element")][0]
        text = nojs.s("GET", "/element/%s/text" % health[key])
        controls = nojs.s("POST", "/element", {"using": "css selector", "value": "#controls"})
        shown = nojs.s("GET", "/element/%s/displayed" % controls[key])
    finally:
        nojs.close()
    assert "md0 is degraded" in text and "CRITICAL" in text
    assert shown is False
