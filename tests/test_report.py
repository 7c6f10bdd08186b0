"""report: fixtures -> findings (golden), formats, CLI behaviour, sar locales, guarded engines."""

import json
import os
import re
import time

import pytest

from conftest import fixture_path, run_tool
from scripts import report as tool
from shared import report_engine, report_render, report_sar, sources

FIXTURES = ("sos4-debian12.tar.xz", "sos3-rhel7", "scc_sles15_240609_1200.txz", "minimal")
NOW = 1795699318 + 86400  # a day after the sos 4 fixture was collected
GOLDEN = fixture_path("report", "golden")


def analyze(name, **options):
    source = report_engine.open_bundle(fixture_path("report", name))
    try:
        return report_engine.analyze(source, report_engine.Options(now=NOW, **options)).to_dict()
    finally:
        source.tree.close()


def by_check(doc):
    result = {}
    for finding in doc["findings"]:
        result.setdefault(finding["check"], []).append(finding)
    return result


@pytest.mark.parametrize("name", FIXTURES)
def test_findings_match_golden(name, utc):
    doc = analyze(name)
    got = [[f["severity"], f["check"], f["title"]] for f in doc["findings"]]
    path = os.path.join(GOLDEN, name.split(".")[0] + ".json")
    if os.environ.get("RESCUEKIT_UPDATE_GOLDEN"):
        if not os.path.isdir(GOLDEN):
            os.makedirs(GOLDEN)
        with open(path, "w") as handle:
            json.dump(got, handle, indent=1)
            handle.write("\n")
    with open(path) as handle:
        expected = json.load(handle)
    assert got == expected


def test_planted_problems_of_the_real_sos4_are_found(utc):
    doc = analyze("sos4-debian12.tar.xz")
    checks = by_check(doc)
    assert checks["fs.space"][0]["severity"] == "critical"
    assert "/var/lib/postgresql 98%" in checks["fs.space"][0]["title"]
    assert any("/home 87%" in f["title"] and f["severity"] == "warning" for f in checks["fs.space"])
    assert checks["log.fs.readonly"][0]["severity"] == "critical"
    assert checks["oops.io-error"][0]["evidence"][0]["origin"] == "var/log/syslog"
    assert checks["oops.null-deref"][0]["severity"] == "critical"          # via the oops engine
    assert checks["bootlog.unclean"][0]["severity"] == "critical"          # via the bootlog engine
    assert "NULL pointer" in checks["bootlog.unclean"][0]["title"]          # the cause, read from the archive
    assert "postgresql@15-main.service" in checks["systemd.failed"][0]["title"]
    assert "D W O" in checks["kernel.taint"][0]["title"]
    assert checks["mem.hugepages-unused"][0]["severity"] in ("warning", "info")
    assert "burst" in checks["log.auth.failures"][0]["title"]
    assert checks["cpu.vulnerabilities"][0]["severity"] == "warning"
    assert checks["log.net.link-flap"][0]["severity"] == "warning"
    # evidence points into the bundle with line numbers
    first = checks["fs.space"][0]["evidence"][0]
    assert first["origin"] == "sos_commands/filesys/df_-al_-x_autofs" and first["line"] > 1


def test_timeline_merges_boots_kernel_and_services_in_order(utc):
    doc = analyze("sos4-debian12.tar.xz")
    kinds = [e["kind"] for e in doc["timeline"]]
    assert {"boot", "shutdown", "kernel", "service", "log", "package", "bundle"} <= set(kinds)
    stamps = [e["stamp"] for e in doc["timeline"]]
    assert stamps == sorted(stamps)
    ended = [e for e in doc["timeline"] if e["kind"] == "shutdown" and "unclean" in e["title"]]
    oops = [e for e in doc["timeline"] if e["kind"] == "kernel" and "NULL pointer" in e["title"]]
    assert ended and oops and oops[0]["stamp"] <= ended[0]["stamp"] + 60


def test_sos3_layout_rhel7_and_sar_charts(utc):
    doc = analyze("sos3-rhel7")
    checks = by_check(doc)
    assert checks["md.degraded"][0]["severity"] == "critical"
    assert "older than the newest installed 3.10.0-1160" in checks["kernel.outdated"][0]["title"]
    assert checks["bundle.timeouts"][0]["title"].endswith("nfs")
    assert checks["net.bond"][0]["title"] == "bond0: member eth2 is down"
    assert checks["os.eol"][0]["severity"] == "warning"        # RHEL 7 ended 2024-06-30
    charts = dict((c["id"], c) for c in doc["charts"])
    assert {"cpu", "memory", "disk-util_pct", "net-rx_kbps"} <= set(charts)
    busy = dict((s["name"], s["points"]) for s in charts["cpu"]["series"])["cpu.busy_pct"]
    # 12-hour clock: 12:00:01 AM is midnight and the series runs forward in time
    assert time.strftime("%H:%M", time.gmtime(busy[0][0])) == "00:00"
    assert [p[0] for p in busy] == sorted(p[0] for p in busy)


def test_supportconfig_sections_and_german_sar(utc):
    doc = analyze("scc_sles15_240609_1200.txz")
    checks = by_check(doc)
    assert checks["fs.space"][0]["evidence"][0]["origin"] == "basic-health-check.txt"
    assert "wickedd-dhcp6.service" in checks["systemd.failed"][0]["title"]
    assert checks["log.io.nvme"][0]["severity"] == "warning"
    assert checks["kernel.outdated"][0]["severity"] == "ok"     # 5.14.21-150500.55.39.1 is the running one
    chart = [c for c in doc["charts"] if c["id"] == "cpu"][0]
    points = chart["series"][0]["points"]
    assert max(v for _, v in points) == pytest.approx(66.0, abs=0.1)   # 100 - 34,00 idle: decimal commas read
    assert time.strftime("%Y-%m-%d", time.gmtime(points[0][0])) == "2024-06-09"


def test_minimal_bundle_says_not_evaluated_never_ok(utc):
    doc = analyze("minimal")
    checks = by_check(doc)
    for key in ("fs.space", "mem.available", "systemd.failed", "load.per-cpu", "time.sync", "kernel.taint"):
        assert checks[key][0]["severity"] == "not evaluated", key
        assert checks[key][0]["detail"].startswith("not evaluated (missing: ")
    assert doc["health"]["worst"] != "ok" or doc["health"]["counts"]["not evaluated"] > 10


def test_missing_engine_gives_not_evaluated(monkeypatch, utc):
    real = report_engine._engine

    def broken(name):
        if name == "kernelreport":
            return None, "kernelreport (ImportError: simulated)"
        return real(name)
    monkeypatch.setattr(report_engine, "_engine", broken)
    doc = analyze("sos4-debian12.tar.xz")
    checks = by_check(doc)
    assert checks["oops.engine"][0]["severity"] == "not evaluated"
    assert "simulated" in checks["oops.engine"][0]["detail"]
    assert doc["engines"]["oops"].startswith("missing")
    assert "fs.space" in checks      # the rest of the report is there


def test_sar_parser_locales_and_clocks():
    us = ("Linux 5.14 (h) \t06/09/2024 \t_x86_64_\t(4 CPU)\n\n"
          "11:50:01 PM     CPU     %user     %nice   %system   %iowait    %steal     %idle\n"
          "11:50:01 PM     all      1.00      0.00      1.00      0.00      0.00     98.00\n"
          "12:00:01 AM     all      5.00      0.00      5.00      0.00      0.00     90.00\n"
          "12:10:01 AM       LINUX RESTART\t(4 CPU)\n")
    data = report_sar.parse(us.splitlines(), utc=True)
    points = data.series["cpu.busy_pct"]
    assert [p[1] for p in points] == [2.0, 10.0]
    assert points[1][0] - points[0][0] == 600            # past midnight: the next day
    assert data.restarts == [points[1][0] + 600]
    fr = ("Linux 5.14 (h) \t25/12/2024 \t_x86_64_\t(4 CPU)\n\n"
          "08:00:01        CPU     %user     %nice   %system   %iowait    %steal     %idle\n"
          "08:10:01        all      1,50      0,00      0,50      0,00      0,00     98,00\n"
          "Moyenne :       all      1,50      0,00      0,50      0,00      0,00     98,00\n")
    data = report_sar.parse(fr.splitlines(), utc=True)
    assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(data.series["cpu.busy_pct"][0][0])) == "2024-12-25 08:10"
    assert data.series["cpu.busy_pct"][0][1] == pytest.approx(2.0)
    iso = ("Linux 6.1 (h) \t2024-03-01 \t_x86_64_\t(2 CPU)\n\n"
           "10:00:01        IFACE   rxpck/s   txpck/s    rxkB/s    txkB/s   rxcmp/s   txcmp/s  rxmcst/s   %ifutil\n"
           "10:10:01         eth0     10.00      5.00    123.40     10.00      0.00      0.00      0.00      0.10\n"
           "10:10:01           lo      1.00      1.00      0.10      0.10      0.00      0.00      0.00      0.00\n")
    data = report_sar.parse(iso.splitlines(), utc=True)
    assert data.series == {"net.eth0.rx_kbps": [(data.series["net.eth0.rx_kbps"][0][0], 123.4)],
                           "net.eth0.tx_kbps": [(data.series["net.eth0.rx_kbps"][0][0], 10.0)]}
    assert report_sar.parse_date("06/09/24") == (2024, 6, 9)
    assert report_sar.parse_date("13/02/2024") == (2024, 2, 13)
    assert report_sar.parse_date("09.06.2024") == (2024, 6, 9)
    assert report_sar.parse_date("junk") is None


# ------------------------------------------------------------------ CLI

def test_cli_text_fits_80_columns_and_exit_codes(capsys, utc):
    code, out, err = run_tool(tool, [fixture_path("report", "sos3-rhel7"), "--format", "text"], capsys)
    assert code == 0
    assert out.startswith("report: db2.example.com")
    assert "HEALTH: CRITICAL" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out, err = run_tool(tool, [fixture_path("report", "sos3-rhel7"), "--format", "text",
                                     "--fail-on", "critical"], capsys)
    assert code == 1
    code, out, err = run_tool(tool, [fixture_path("report", "minimal"), "--format", "text",
                                     "--fail-on", "critical"], capsys)
    assert code == 0


def test_cli_json_is_only_the_envelope(capsys, utc):
    code, out, err = run_tool(tool, [fixture_path("report", "scc_sles15_240609_1200.txz"), "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["tool"] == "report" and document["schema"] == 1
    finding = document["result"]["findings"][0]
    assert set(finding) >= {"severity", "check", "title", "detail", "evidence", "fix"}
    assert document["result"]["health"]["worst"] == "critical"


def test_cli_html_escapes_bundle_content_and_is_self_contained(tmp_path, capsys, utc):
    target = str(tmp_path / "r.html")
    code, out, err = run_tool(tool, [fixture_path("report", "sos4-debian12.tar.xz"), "-o", target], capsys)
    assert code == 0 and out == ""
    assert "wrote %s" % target in err
    page = open(target, encoding="utf-8").read()
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page           # the planted log line, as text
    assert page.count("<script>") == 1               # ours only
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)   # no CDN, no remote anything
    assert "Content-Security-Policy" in page
    assert 'id="health"' in page and 'class="finding crit"' in page
    assert len(page) < 2 * 1024 * 1024


def test_cli_markdown(capsys, utc):
    code, out, err = run_tool(tool, [fixture_path("report", "sos3-rhel7"), "--format", "md"], capsys)
    assert code == 0
    assert out.startswith("# report: db2.example.com")
    assert "- **CRITICAL** `md.degraded`" in out
    assert "## Timeline" in out


def test_cli_scrub_replaces_hostnames_and_addresses(tmp_path, capsys, utc):
    target = str(tmp_path / "s.json")
    code, out, err = run_tool(tool, [fixture_path("report", "sos3-rhel7"), "--scrub", "-o", target,
                                     "--format", "json"], capsys)
    assert code == 0
    text = open(target).read()
    assert "db2" not in text and "192.0.2.12" not in text
    mapping = open(target + ".scrub-map").read()
    assert "db2" in mapping
    assert oct(os.stat(target + ".scrub-map").st_mode & 0o777) == "0o600"


def test_cli_errors_are_one_line(tmp_path, capsys):
    code, out, err = run_tool(tool, [str(tmp_path / "nope.tar.xz")], capsys)
    assert code == 1 and out == ""
    assert err.startswith("report: ") and len(err.strip().splitlines()) == 1
    assert "no such file" in err
    encrypted = tmp_path / "sosreport.tar.xz.gpg"
    encrypted.write_bytes(b"\x85\x01\x0c\x03" + b"\x00" * 64)
    code, out, err = run_tool(tool, [str(encrypted)], capsys)
    assert code == 1 and "encrypted bundle" in err and "gpg --decrypt" in err
    code, out, err = run_tool(tool, ["--threshold", "nonsense=3", fixture_path("report", "minimal")], capsys)
    assert code == 2 and "unknown threshold" in err


def test_threshold_override_changes_the_verdict(capsys, utc):
    source = report_engine.open_bundle(fixture_path("report", "scc_sles15_240609_1200.txz"))
    loose = report_engine.analyze(source, report_engine.Options(now=NOW, thresholds={"fs_crit_pct": 99.0})).to_dict()
    assert by_check(loose)["fs.space"][0]["severity"] == "warning"


def test_renderers_work_from_a_stored_document(utc):
    doc = json.loads(json.dumps(analyze("sos3-rhel7")))   # a stored, re-loaded document
    assert "md0 is degraded" in report_render.render_text(doc)
    assert "<svg" in report_render.render_html(doc)
    assert "md0 is degraded" in report_render.render_md(doc)


def test_zstd_archive_through_the_zstd_binary(tmp_path, utc):
    from shared import runner
    if not runner.which("zstd"):
        pytest.skip("zstd binary not installed")
    import tarfile
    plain = str(tmp_path / "b.tar")
    with tarfile.open(fixture_path("report", "scc_sles15_240609_1200.txz")) as src, tarfile.open(plain, "w") as dst:
        for info in src:
            dst.addfile(info, src.extractfile(info) if info.isreg() else None)
    result = runner.run(["zstd", "-q", "-f", plain, "-o", plain + ".zst"])
    assert result.ok
    source = report_engine.open_bundle(plain + ".zst")
    assert source.kind == "supportconfig"
    doc = report_engine.analyze(source, report_engine.Options(now=NOW)).to_dict()
    assert by_check(doc)["fs.space"][0]["severity"] == "critical"


def test_zstd_without_the_binary_is_a_clear_message(tmp_path, monkeypatch):
    from shared import runner
    path = tmp_path / "b.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 32)
    monkeypatch.setattr(runner, "which", lambda name, path=None: None)
    with pytest.raises(sources.SourceError) as info:
        report_engine.open_bundle(str(path))
    assert "zstd" in str(info.value) and "install zstd" in str(info.value)


def test_bundle_path_table_finds_sos3_sos4_and_supportconfig_names():
    from shared import bundle
    for name, datum, origin in (("sos4-debian12.tar.xz", "df", "sos_commands/filesys/df_-al_-x_autofs"),
                                ("sos3-rhel7", "df", "sos_commands/filesys/df_-al"),
                                ("sos3-rhel7", "ps", "ps"),   # the root-level symlink sos 3 makes
                                ("scc_sles15_240609_1200.txz", "df", "basic-health-check.txt:"),
                                ("scc_sles15_240609_1200.txz", "meminfo", "memory.txt"),
                                ("scc_sles15_240609_1200.txz", "ps", "basic-health-check.txt:")):
        source = report_engine.open_bundle(fixture_path("report", name))
        found = bundle.Bundle(source).get(datum)
        assert found is not None and found[1].startswith(origin), (name, datum, found and found[1])
