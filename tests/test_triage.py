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


# ---------------------------------------------------------------- shaping classes (tc -s class show)

class _TcCaptures(object):
    """Answers ``tc -s qdisc/class show`` from a real two-capture folder (fixtures/procstat/<name>/
    tc-s-{qdisc,class}-{1,2}.txt): the first snapshot gets capture 1, every later one capture 2.
    Other commands go to ``other`` (the real runner in CLI tests)."""

    def __init__(self, name, other=None):
        self.folder = fixture_path("procstat", name)
        self.other = other
        self.qdisc_calls = 0

    def __call__(self, argv, timeout=30, **kw):
        from shared import runner
        if list(argv[:2]) != ["tc", "-s"]:
            return self.other(argv, timeout=timeout, **kw)
        if argv[2] == "qdisc":
            self.qdisc_calls += 1
        state = 1 if self.qdisc_calls <= 1 else 2
        with open(os.path.join(self.folder, "tc-s-%s-%d.txt" % (argv[2], state))) as handle:
            return runner.CommandResult(argv, 0, handle.read(), "", 0.0, "ok")


def _judge_capture(name, seconds=2.0):
    """The verdict over the two real captures of ``name``, ``seconds`` apart (net view only)."""
    from shared import samplers
    times = iter([100.0, 100.0 + seconds])
    sampler = samplers.Sampler("/", views=("net",), runner=_TcCaptures(name), qdisc=True,
                               clock=lambda: next(times))
    sampler.prime()
    sample = sampler.sample()
    verdict.derive(sample["metrics"], sample)
    observation = {"samples": [sample["metrics"]], "window": sample, "seconds": seconds}
    return verdict.assess(observation)


def test_a_leaf_class_at_its_ceil_on_a_link_with_room_is_network_bound_by_shaping():
    # real capture: root class 1:1 1gbit at ~3 %, leaf 1:20 (ceil 20mbit, u32 filter on port 5002)
    # sending 20.3 Mbit/s with overlimits and a backlog
    result = _judge_capture("tc-htb-leaf")
    assert "network" in result["bound"]
    items = [i for i in result["items"] if i["rule"] == "network.class_saturated"]
    assert [i["instance"] for i in items] == ["rkleafn/1:20"]      # 1:10 (8 Mbit of 1 Gbit) is not named
    item = items[0]
    assert item["level"] == "bound" and item["parts"] == {"dev": "rkleafn", "classid": "1:20"}
    assert item["title"].startswith("by shaping: class 1:20 on rkleafn at 100% of its 20 Mbit ceil")
    assert item["numbers"]["netclass.rkleafn/1:20.ceil_kbit"] == 20000.0
    assert item["numbers"]["netclass.rkleafn/1:20.overlimits_ps"] == pytest.approx(186.5)
    assert "tc -s filter show dev rkleafn" in item["fix"] and "classid 1:20" in item["fix"]
    responsible = item["responsible"]
    assert responsible["interfaces"] == ["rkleafn"] and responsible["class"] == "1:20"
    assert responsible["parent"]["class"] == "1:1" and responsible["parent"]["util_pct"] < 5
    assert responsible["parent"]["ceil_kbit"] == 1000000.0
    # the link itself is not full: no link rule fires for it
    assert not [i for i in result["items"] if i["rule"] in verdict.LINK_RULES]
    leaves = [(c["classid"], c["leaf"]) for c in result["top"]["classes"]]
    assert ("1:20", True) in leaves and ("1:10", True) in leaves and ("1:1", False) in leaves


def test_a_leaf_class_at_its_ceil_on_a_full_link_is_folded_into_the_link_verdict():
    # real capture: htb whose root class 1:1 (10mbit) is full; leaf 1:20 (2mbit) at its ceil with drops
    result = _judge_capture("tc-htb")
    assert "network" in result["bound"]   # (the live /proc of a busy test box may add CPU)
    assert not [i for i in result["items"] if i["rule"] == "network.class_saturated"]   # no double report
    shaped = [i for i in result["items"] if i["rule"] == "network.shaped"]
    assert [i["instance"] for i in shaped] == ["rkhtbn"]
    at_ceil = dict((c["class"], c) for c in shaped[0]["classes_at_ceil"])
    assert "1:20" in at_ceil and at_ceil["1:20"]["util_pct"] == 100.0 and at_ceil["1:20"]["ceil_kbit"] == 2000.0


def _class_stats(util, drops=3.0, backlog=20.0, overlimits=50.0, ceil=20000.0, **extra):
    rows = [{"dev": "eth1", "kind": "htb", "classid": "1:1", "parent": None, "root": True, "leaf": None,
             "ceil_kbit": 1e6, "rate_kbit": 1e6, "util_pct": 3.0, "kbit_ps": 30000.0},
            {"dev": "eth1", "kind": "htb", "classid": "1:20", "parent": "1:1", "root": False, "leaf": None,
             "ceil_kbit": ceil, "rate_kbit": 5000.0, "util_pct": util, "kbit_ps": ceil * util / 100.0,
             "drops_ps": drops, "overlimits_ps": overlimits, "backlog_kb": backlog}]
    metrics = dict(extra)
    verdict.derive(metrics, {"classes": rows})
    return verdict.aggregate([metrics])


def test_a_busy_leaf_below_its_ceil_is_not_a_shaping_verdict():
    assert verdict.judge(_class_stats(85.0))["verdict"] == "network"                 # the same threshold
    below = verdict.judge(_class_stats(60.0))
    assert below["verdict"] == "none" and not below["items"]                        # drops alone do not make it
    idle = verdict.judge(_class_stats(95.0, drops=0.0, backlog=0.0, overlimits=0.0))
    assert idle["verdict"] == "none"                                                # nothing held back
    # the inner class 1:1 is never judged as a leaf; hfsc without an upper limit has no ceil
    assert not [n for n in _class_stats(85.0) if n.startswith("netclass.eth1/1:1.")]
    hfsc = {"dev": "eth1", "kind": "hfsc", "classid": "1:30", "parent": "1:1", "rate_kbit": 2000.0,
            "util_pct": 100.0, "kbit_ps": 2000.0, "drops_ps": 5.0}
    assert verdict.derive({}, {"classes": [hfsc]}) == {}


def test_a_full_physical_link_takes_the_class_as_evidence():
    stats = _class_stats(99.0, **{"net.eth1.util_pct": 97.0, "net.eth1.speed_mbps": 1000.0})
    result = verdict.judge(stats)
    assert [i["rule"] for i in result["items"] if i["level"] == "bound"] == ["network.link_saturated"]
    assert result["items"][0]["classes_at_ceil"][0]["class"] == "1:20"


def test_a_saturated_leaf_shows_the_same_evidence_in_text_and_json(capsys, monkeypatch):
    from shared import runner
    outputs = {}
    for mode in ("text", "json"):
        monkeypatch.setattr(runner, "run", _TcCaptures("tc-htb-leaf", runner.run))
        # one sample: the captures stand for one interval whatever the wall clock says
        argv = ["--duration", "0.2s", "--interval", "0.2s", "-v"] + (["--json"] if mode == "json" else [])
        code, out, err = run_tool(triage, argv, capsys)
        assert code == 0, err
        outputs[mode] = out
        monkeypatch.undo()
    item = [i for i in json.loads(outputs["json"])["result"]["items"] if i["rule"] == "network.class_saturated"][0]
    text = outputs["text"]
    assert item["title"].split(",")[0] in text.replace("\n          ", " ")
    assert "class: 1:20 (htb rate 5Mbit ceil 20Mbit), parent 1:1 at" in text
    assert item["responsible"]["parent"]["class"] == "1:1"
    assert "next: tc -s filter show dev rkleafn" in text and item["responsible"]["next"] == \
        "tc -s filter show dev rkleafn"
    assert "SHAPING  rkleafn 1:20 100% of 20Mbit" in text
    assert all(len(line) <= 80 for line in text.splitlines())
