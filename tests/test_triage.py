"""triage: the rule engine, snapshots of captured trees, health checks, engine hooks, the CLI.

The verdict under real load is tested in test_triage_load.py.
"""

import json
import os
import sys
import types

import pytest


from conftest import fixture_path, run_tool
from scripts import triage
from shared import findings, procfs, sampler_fs, verdict


def stats_of(samples):
    return verdict.aggregate([verdict.derive(dict(s)) for s in samples])


BUSY = {"cpu.count": 4, "cpu.busy_pct": 97.0, "cpu.user_pct": 80.0, "cpu.system_pct": 17.0,
        "procs.running": 6.0, "cpu.idle_pct": 3.0}


# ---------------------------------------------------------------- rules

def test_cpu_saturation_is_cpu_bound_with_its_numbers_and_rule():
    result = verdict.judge(stats_of([BUSY, dict(BUSY, **{"procs.running": 8.0})]))
    assert result["verdict"] == "cpu" and result["bound"] == ["cpu"]
    item = [i for i in result["items"] if i["rule"] == "cpu.saturated"][0]
    assert item["numbers"]["procs.runq_per_cpu"] == 1.75  # mean of 6/4 and 8/4
    assert item["rule_text"] == "cpu.busy_pct >= 85 and procs.runq_per_cpu >= 1"
    assert "97% busy" in item["title"] and "7.0 runnable tasks for 4 CPU(s)" in item["title"]
    assert verdict.headline(result, stats_of([BUSY])) == "CPU-bound (user)"


def test_busy_cpus_without_a_queue_are_not_cpu_bound():
    result = verdict.judge(stats_of([dict(BUSY, **{"procs.running": 2.0})]))
    assert result["verdict"] == "none"
    assert verdict.headline(result, {}) == "not resource-bound"


def test_a_container_is_judged_against_its_cpu_quota():
    sample = {"cpu.count": 32, "cpu.busy_pct": 90.0, "procs.running": 3.0, "cgroup.cpu.quota_cpus": 2.0,
              "cgroup.cpu.throttled_pct": 60.0}
    result = verdict.judge(stats_of([sample]))
    rules = set(i["rule"] for i in result["items"] if i["level"] == "bound")
    assert {"cpu.saturated", "cpu.quota"} <= rules  # 3 runnable for a 2-CPU quota, not for 32 CPUs
    assert "(quota)" in verdict.headline(result, stats_of([sample]))


def test_steal_is_named():
    result = verdict.judge(stats_of([{"cpu.count": 2, "cpu.steal_pct": 25.0, "cpu.busy_pct": 50.0}]))
    assert result["bound"] == ["cpu"] and verdict.headline(result, {}) == "CPU-bound (steal)"


def test_per_instance_rules_name_the_device():
    sample = {"disk.sda.util_pct": 99.0, "disk.sda.await_ms": 45.0, "disk.sda.r_ps": 10.0, "disk.sda.w_ps": 300.0,
              "disk.nvme0n1.util_pct": 99.0, "disk.nvme0n1.await_ms": 0.2, "disk.nvme0n1.r_ps": 9000.0}
    result = verdict.judge(stats_of([sample]))
    saturated = [i for i in result["items"] if i["rule"] == "io.device_saturated"]
    assert [i["instance"] for i in saturated] == ["sda"]  # nvme at 100 % util with 0.2 ms is not saturated
    assert saturated[0]["numbers"]["disk.sda.util_pct"] == 99.0
    assert saturated[0]["numbers"]["disk.sda.await_ms"] == 45.0
    assert "sda is saturated: 99% busy, requests take 45.0 ms" == saturated[0]["title"]
    busy = set(i["instance"] for i in result["items"] if i["rule"] == "io.device_busy")
    assert busy == {"sda", "nvme0n1"}


def test_io_caused_by_page_cache_thrashing_is_a_memory_verdict():
    sample = {"psi.memory.some_pct": 12.0, "psi.io.some_pct": 45.0, "page.refault_ps": 200000.0,
              "page.in_kbps": 850000.0}
    result = verdict.judge(stats_of([sample]))
    assert result["verdict"] == "memory"
    io_items = [i for i in result["items"] if i["resource"] == "io"]
    assert io_items and all(i["level"] == "warning" and "symptom of memory shortage" in i["note"]
                            for i in io_items)
    # the same I/O pressure without refaults stays an I/O verdict
    plain = verdict.judge(stats_of([{"psi.memory.some_pct": 12.0, "psi.io.some_pct": 45.0,
                                     "page.in_kbps": 850000.0, "page.refault_ps": 0.0}]))
    assert plain["verdict"] == "several" and plain["bound"][:2] == ["io", "memory"]


def test_shaped_link_and_retransmits_are_network_bound():
    sample = {"net.veth1.qdisc_util_pct": 99.0, "net.veth1.qdisc_rate_kbit": 8000.0,
              "net.veth1.qdisc_overlimits_ps": 300.0, "net.veth1.qdisc_drops_ps": 20.0,
              "net.veth1.qdisc_backlog_kb": 40.0}
    result = verdict.judge(stats_of([sample]))
    item = [i for i in result["items"] if i["rule"] == "network.shaped"][0]
    assert item["instance"] == "veth1" and "(8000 kbit/s)" in item["title"]
    assert result["verdict"] == "network"
    idle_shaper = dict(sample, **{"net.veth1.qdisc_util_pct": 10.0})
    assert verdict.judge(stats_of([idle_shaper]))["verdict"] == "none"


def test_missing_metrics_never_fire_rules():
    assert verdict.judge(verdict.aggregate([{}]))["items"] == []
    assert verdict.judge(stats_of([{"cpu.busy_pct": 99.0}]))["verdict"] == "none"  # no run queue, no verdict


def test_memory_rules_with_aggregates():
    samples = [{"mem.available_pct": 40.0, "mem.oom_kills": 0}, {"mem.available_pct": 4.0, "mem.oom_kills": 2}]
    result = verdict.judge(stats_of(samples))
    rules = dict((i["rule"], i) for i in result["items"])
    assert rules["memory.low"]["numbers"]["mem.available_pct"] == 4.0  # min, not mean
    assert rules["memory.oom"]["numbers"]["mem.oom_kills"] == 2  # sum
    assert "killed 2 process(es)" in rules["memory.oom"]["title"]


def test_rules_are_well_formed():
    ids = [r["id"] for r in verdict.RULES]
    assert len(ids) == len(set(ids))
    for rule in verdict.RULES:
        assert rule["resource"] in verdict.RESOURCES and rule["level"] in ("bound", "warning", "info")
        for condition in rule["when"]:
            assert condition[1] in (">=", ">", "<=", "<")
            assert len(condition) == 3 or condition[3] in ("mean", "max", "min", "sum", "last")


# ---------------------------------------------------------------- health

class FakeStat(object):
    def __init__(self, blocks, bfree, bavail, files, ffree):
        self.f_blocks, self.f_bfree, self.f_bavail = blocks, bfree, bavail
        self.f_files, self.f_ffree, self.f_frsize = files, ffree, 4096


def test_full_readonly_and_inode_exhausted_filesystems(tmp_path):
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "mounts").write_text(
        "/dev/sda1 / ext4 rw,relatime 0 0\n/dev/sdb1 /data xfs ro,relatime 0 0\n"
        "tmpfs /run tmpfs rw,nosuid 0 0\nproc /proc proc rw 0 0\n/dev/sdc1 /var/spool ext4 rw 0 0\n"
        "/dev/loop0 /snap/core squashfs ro 0 0\n")
    table = {"/": FakeStat(1000, 20, 10, 100, 50), "/data": FakeStat(1000, 900, 900, 100, 90),
             "/run": FakeStat(100, 50, 50, 100, 90), "/var/spool": FakeStat(1000, 500, 500, 1000, 3)}

    def fake(path):
        if path not in table:
            raise OSError("nope")
        return table[path]
    result = sampler_fs.check(procfs.ProcFS(str(tmp_path)), live=True, statvfs=fake)
    by = dict(((f.check, f.title.split()[0]), f) for f in result)
    assert by[("fs.full", "/")].severity == findings.CRITICAL and "99%" in by[("fs.full", "/")].title
    assert by[("fs.readonly", "/data")].severity == findings.WARNING
    assert by[("fs.inodes", "/var/spool")].severity == findings.CRITICAL
    assert not [f for f in result if "/snap" in f.title or "/proc" in f.title or "/run" in f.title]


def test_health_under_root_is_not_evaluated_not_ok():
    result = sampler_fs.check(procfs.ProcFS(fixture_path("procstat", "v1-memlimit-dstate")), live=False)
    assert [f.severity for f in result] == [findings.NOT_EVALUATED]


# ---------------------------------------------------------------- snapshots and the CLI

def test_snapshot_of_a_captured_tree(capsys):
    code, out, err = run_tool(triage, ["--root", fixture_path("procstat", "v1-memlimit-dstate"), "--json"],
                              capsys)
    assert code == 0, err
    result = json.loads(out)["result"]
    assert result["snapshot"] is True
    dstate = result["dstate"]
    assert dstate[0]["comm"] == "python3" and dstate[0]["wchan"] == "submit_bio_wait"
    assert "ext4_sync_file" in dstate[0]["stack"]
    memcg = result["top"]["memcg"][0]
    assert memcg["cgroup"] == "rescuekit-fixture" and memcg["limit_kb"] == 96 * 1024
    assert any(i["rule"] == "memory.cgroup_full" for i in result["items"])
    assert result["health"][0]["severity"] == "not evaluated"


def test_snapshot_without_psi_says_what_it_could_not_see(capsys):
    code, out, _ = run_tool(triage, ["--root", fixture_path("procstat", "nopsi-derived"), "--json"], capsys)
    assert code == 0
    result = json.loads(out)["result"]
    assert result["psi"] is False
    assert any("pressure stall information" in n for n in result["not_seen"])
    assert not any(name.startswith("psi.") for name in result["metrics"])


def test_golden_snapshot_text(capsys, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    # A relative root keeps the text (and its wrapping) independent of where the checkout lives.
    monkeypatch.chdir(fixture_path("procstat"))
    code, out, _ = run_tool(triage, ["--root", "v1-memlimit-dstate", "--utc"], capsys)
    assert code == 0
    assert all(len(line) <= 80 for line in out.splitlines()), out
    path = fixture_path("procstat", "golden", "triage-v1-memlimit-dstate.txt")
    if os.environ.get("RESCUEKIT_UPDATE_GOLDEN"):
        with open(path, "w") as handle:
            handle.write(out)
    with open(path) as handle:
        assert out == handle.read(), "golden differs (RESCUEKIT_UPDATE_GOLDEN=1 to regenerate)"
    assert "VERDICT: CPU-bound" in out


def test_fail_on(capsys):
    root = fixture_path("procstat", "v1-memlimit-dstate")
    code, _, _ = run_tool(triage, ["--root", root, "--fail-on", "bound"], capsys)
    assert code == 1  # the capture was taken on a CPU-bound box
    code, _, _ = run_tool(triage, ["--root", root, "--fail-on", "network"], capsys)
    assert code == 0
    code, _, err = run_tool(triage, ["--root", root, "--fail-on", "disk"], capsys)
    assert code == 2 and "unknown --fail-on value: disk" in err


def test_bad_arguments_are_one_line_errors(capsys, tmp_path):
    code, _, err = run_tool(triage, ["--root", str(tmp_path / "missing")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, _, err = run_tool(triage, ["--duration", "soon"], capsys)
    assert code == 2


def test_help_has_examples(capsys):
    code, out, _ = run_tool(triage, ["--help"], capsys)
    assert code == 0 and "triage --fail-on bound" in out and "exit status:" in out


def test_live_run_without_root_says_so(capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, out, err = run_tool(triage, ["--json", "--duration", "0.4s", "--interval", "0.2s"], capsys)
    assert code == 0, err
    result = json.loads(out)["result"]
    assert result["samples"] == 2
    assert any("not root" in n for n in result["not_seen"])
    assert result["verdict"] in ("none", "cpu", "memory", "io", "network", "several")


# ---------------------------------------------------------------- other engines

def test_kernel_and_boot_hooks_survive_missing_and_failing_engines(monkeypatch):
    class FakeSource(object):
        live = True
        warnings = []
    broken = types.ModuleType("shared.kernelreport")

    def scan_source(*args, **kwargs):
        raise RuntimeError("bad log")
    broken.scan_source = scan_source
    broken.primaries = lambda reports: reports
    monkeypatch.setitem(sys.modules, "shared.kernelreport", broken)
    import shared
    monkeypatch.setattr(shared, "kernelreport", broken, raising=False)
    result = triage.kernel_reports(FakeSource())
    assert result["available"] is False and "RuntimeError: bad log" in result["reason"]

    class Report(object):
        def to_dict(self):
            return {"kind": "oops", "title": "BUG: unable to handle page fault in foo", "severity": "critical",
                    "time": {"iso": "2024-06-09T06:06:20Z"}, "origin": "dmesg", "line": 3}
    working = types.ModuleType("shared.kernelreport")
    working.scan_source = lambda *a, **k: [Report()]
    working.primaries = lambda reports: reports
    monkeypatch.setitem(sys.modules, "shared.kernelreport", working)
    monkeypatch.setattr(shared, "kernelreport", working, raising=False)
    result = triage.kernel_reports(FakeSource())
    assert result["available"] and result["reports"][0]["title"].startswith("BUG: unable")
    assert triage.boot_history(Exception("no source"))["available"] is False


def test_man_page_lists_every_rule():
    with open(os.path.join(os.path.dirname(fixture_path()), "scripts", "triage.8")) as handle:
        page = handle.read().replace("\\-", "-")
    assert not [r["id"] for r in verdict.RULES if r["id"] not in page]
    assert not [r["id"] for r in verdict.RULES if verdict.rule_text(r) not in page]


def test_sampling_keeps_a_fixed_schedule_under_an_injected_clock():
    from shared import samplers
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds + 0.25  # every sleep oversleeps, as on a loaded box

    sampler = samplers.Sampler(fixture_path("procstat", "netns-veth-tbf"), clock=lambda: now[0],
                               wall=lambda: 1.7e9 + now[0])
    observation = verdict.observe(sampler, 3.0, 1.0, sleep=sleep, scan_cgroups=False)
    assert len(observation["samples"]) == 3
    assert slept == [1.0, 0.75, 0.75]  # the oversleep is absorbed: no drift
    assert observation["seconds"] == pytest.approx(3.25)
