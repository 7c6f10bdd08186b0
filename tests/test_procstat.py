"""procstat and the samplers: parsers, iostat/mpstat arithmetic, odd kernels, the CLI, golden snapshots."""

import json
import os

import pytest

from conftest import fixture_path, run_tool
from scripts import procstat
from shared import metrics, procfs, sampler_cgroup, sampler_disks, sampler_net, sampler_procs, samplers

FIXTURES = ("v1-memlimit-dstate", "netns-veth-tbf", "nopsi-derived", "qemu-nvme-md-dm-v2")


def write_tree(base, files):
    """Make a small /proc + /sys tree: {relative path: text}."""
    for relative, text in files.items():
        path = os.path.join(str(base), relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    return str(base)


# ---------------------------------------------------------------- /proc/stat and CPU

def test_guest_time_is_inside_user_and_not_counted_twice():
    old = [100, 0, 50, 800, 0, 0, 0, 0, 40, 0]
    new = [200, 0, 50, 800, 0, 0, 0, 0, 140, 0]  # 100 ticks of user, all of them guest
    split = samplers.cpu_split(old, new)
    assert split["guest_pct"] == pytest.approx(100.0)
    assert split["user_pct"] == pytest.approx(0.0)
    total = sum(split[k] for k in ("user_pct", "nice_pct", "system_pct", "idle_pct", "iowait_pct", "irq_pct",
                                   "softirq_pct", "steal_pct", "guest_pct", "guest_nice_pct"))
    assert total == pytest.approx(100.0)


def test_a_counter_going_backwards_gives_no_negative_share():
    old = [100, 0, 100, 1000, 500, 0, 0, 0, 0, 0]
    new = [150, 0, 150, 1100, 400, 0, 0, 0, 0, 0]  # iowait went backwards (NO_HZ accounting)
    split = samplers.cpu_split(old, new)
    assert split["iowait_pct"] == 0.0
    assert all(v >= 0 for k, v in split.items())
    assert split["user_pct"] + split["system_pct"] + split["idle_pct"] == pytest.approx(100.0)


def test_cpus_appearing_disappearing_and_reset_are_reported_not_fatal():
    old = {"cpu": [10] * 10, "cpu0": [5] * 10, "cpu1": [5] * 10, "cpu2": [9] * 10}
    new = {"cpu": [20] * 10, "cpu0": [10] * 10, "cpu1": [1] * 10, "cpu3": [3] * 10}
    total, per_cpu, changes = samplers.cpu_rates(old, new)
    assert [c["cpu"] for c in per_cpu] == ["0"]
    kinds = dict((c["cpu"], c["change"]) for c in changes)
    assert kinds["3"] == "appeared"
    assert kinds["2"].startswith("disappeared")
    assert "reset" in kinds["1"]


def test_counter_delta_handles_32_bit_wrap_and_reset():
    assert samplers.counter_delta(2 ** 32 - 10, 5) == 15
    assert samplers.counter_delta(1000, 10) is None
    assert samplers.counter_delta(None, 10) is None


def test_parse_stat_tolerates_garbage_and_short_cpu_lines():
    parsed = samplers.parse_stat("cpu  1 2 3 4\ncpu0 x y z w v\nctxt 99\nintr\n\x00\x01junk\nprocs_running 3\n")
    assert parsed["cpus"]["cpu"] == [1, 2, 3, 4]
    assert parsed["ctxt"] == 99 and parsed["procs_running"] == 3
    assert samplers.parse_stat(None) == {"cpus": {}}


# ---------------------------------------------------------------- memory, vmstat, PSI

def test_memavailable_missing_on_old_kernels_is_estimated():
    gauges = samplers.memory_gauges({"MemTotal": 1000, "MemFree": 100, "Buffers": 50, "Cached": 300,
                                     "Shmem": 20})
    assert gauges["mem.available_kb"] == 430
    assert gauges["mem.available_pct"] == pytest.approx(43.0)


def test_reclaim_counters_across_kernel_generations():
    old_kernel = {"pgscan_kswapd_normal": 10, "pgscan_kswapd_dma32": 5, "pgscan_direct_normal": 7,
                  "pgsteal_normal": 12, "pgsteal_dma32": 3}
    counters = samplers.reclaim_counters(old_kernel)
    assert counters["scan"] == 22 and counters["scan_kswapd"] == 15 and counters["steal"] == 15
    new_kernel = {"pgscan_kswapd": 100, "pgscan_direct": 0, "pgscan_anon": 10, "pgscan_file": 390,
                  "pgsteal_anon": 5, "pgsteal_file": 300, "pgscan_direct_throttle": 99}
    counters = samplers.reclaim_counters(new_kernel)
    # cgroup-limit reclaim shows only in pgscan_anon/file: counted as direct
    assert counters["scan"] == 400 and counters["scan_direct"] == 300 and counters["steal"] == 305


def test_psi_parsing_and_missing_pressure(tmp_path):
    parsed = samplers.parse_psi("some avg10=1.50 avg60=2.00 avg300=0.10 total=12345\nfull avg10=x total=7\n")
    assert parsed["some"]["avg10"] == 1.5 and parsed["some"]["total"] == 12345
    assert parsed["full"] == {"total": 7}
    root = write_tree(tmp_path, {"proc/stat": "cpu 1 1 1 1\n"})
    assert samplers.read_psi(procfs.ProcFS(root)) == {}


# ---------------------------------------------------------------- disks

DISKSTATS_OLD = "   8       0 sda 100 10 8000 500 50 5 4000 250 0 600 750\n   8       1 sda1 90 7200 40 3200\n"


def test_iostat_arithmetic():
    old = {"sda": [100, 10, 8000, 500, 50, 5, 4000, 250, 0, 600, 750]}
    new = {"sda": [300, 30, 16000, 1500, 150, 15, 12000, 1250, 2, 1600, 2750]}
    row = sampler_disks.compute(old, new, 2.0)[0]
    assert row["r_ps"] == 100.0 and row["w_ps"] == 50.0
    assert row["rkb_ps"] == 2000.0 and row["wkb_ps"] == 2000.0
    assert row["r_await_ms"] == 5.0 and row["w_await_ms"] == 10.0
    assert row["await_ms"] == pytest.approx(2000.0 / 300)
    assert row["aqu_sz"] == 1.0 and row["util_pct"] == 50.0
    assert row["inflight"] == 2


def test_diskstats_formats_partitions_and_unused_devices():
    parsed = sampler_disks.parse_diskstats(DISKSTATS_OLD + "   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
                                           "garbage line\n 8 16 sdb 1 2 3\n")
    assert parsed["sda1"][0] == 90 and len(parsed["sda1"]) == 11  # 2.6 partition lines
    rows = sampler_disks.compute({}, parsed, 10.0)
    assert [r["dev"] for r in rows] == ["sda"]  # partitions and never-used devices left out
    with_parts = sampler_disks.compute({}, parsed, 10.0, partitions=True)
    assert "sda1" in [r["dev"] for r in with_parts]


def test_dm_and_md_names_come_from_sysfs(tmp_path):
    root = write_tree(tmp_path, {
        "sys/block/dm-0/dm/name": "vg0-root\n", "sys/block/dm-0/dm/uuid": "LVM-abcdef\n",
        "sys/block/dm-0/slaves/nvme0n1p2/x": "", "sys/block/nvme0n1/queue/rotational": "0\n",
        "sys/block/nvme0n1/nvme0n1p2/partition": "2\n", "sys/block/md127/md/level": "raid1\n",
        "proc/diskstats": " 259 0 nvme0n1 5 0 40 1 0 0 0 0 0 1 1\n 259 2 nvme0n1p2 5 0 40 1 0 0 0 0 0 1 1\n"
                          " 253 0 dm-0 5 0 40 1 0 0 0 0 0 1 1\n   9 127 md127 1 0 8 0 0 0 0 0 0 0 0\n",
    })
    pfs = procfs.ProcFS(root)
    names = sampler_disks.device_names(pfs)
    assert names["dm-0"]["name"] == "vg0-root" and names["dm-0"]["kind"] == "lvm"
    assert names["dm-0"]["slaves"] == ["nvme0n1p2"]
    assert names["nvme0n1p2"]["partition"] is True
    rows = sampler_disks.compute({}, sampler_disks.read_diskstats(pfs), 1.0, names)
    assert [(r["dev"], r["name"]) for r in rows] == [("dm-0", "vg0-root"), ("md127", "md127"),
                                                      ("nvme0n1", "nvme0n1")]


QEMU = "qemu-nvme-md-dm-v2"


def test_real_nvme_md_and_dm_names_resolve_and_partitions_are_not_counted_twice():
    """A real capture (Debian 6.1 guest): LVM-named dm linear on an NVMe partition,
    md raid1 over two virtio disks with a dm volume on top, a CRYPT-uuid dm device."""
    later = procfs.ProcFS(fixture_path("procstat", QEMU))
    earlier = procfs.ProcFS(fixture_path("procstat", QEMU, "earlier"))
    names = sampler_disks.device_names(later)
    assert (names["dm-0"]["name"], names["dm-0"]["kind"], names["dm-0"]["slaves"]) == \
        ("vg0-root", "lvm", ["nvme0n1p2"])
    assert (names["dm-1"]["name"], names["dm-1"]["slaves"]) == ("vg1-data", ["md0"])
    assert (names["dm-2"]["name"], names["dm-2"]["kind"]) == ("crypt-plain", "crypt")
    assert names["md0"]["kind"] == "md" and names["md0"]["slaves"] == ["vda", "vdb"]
    assert names["nvme0n1"]["kind"] == "nvme" and names["nvme0n1"]["rotational"] is False
    assert names["nvme0n1p1"]["partition"] and names["nvme0n1p2"]["partition"]
    seconds = samplers.parse_uptime(later.read("proc/uptime")) - samplers.parse_uptime(earlier.read("proc/uptime"))
    old, new = sampler_disks.read_diskstats(earlier), sampler_disks.read_diskstats(later)
    rows = dict((r["dev"], r) for r in sampler_disks.compute(old, new, seconds, names))
    assert sorted(rows) == ["dm-0", "dm-1", "dm-2", "md0", "nvme0n1", "vda", "vdb", "vdc"]
    # the partitions' writes are inside nvme0n1's: the whole device is listed once
    written = (new["nvme0n1"][6] - old["nvme0n1"][6]) / 2.0 / seconds
    assert rows["nvme0n1"]["wkb_ps"] == pytest.approx(written)
    assert (new["nvme0n1p1"][6] - old["nvme0n1p1"][6]) + (new["nvme0n1p2"][6] - old["nvme0n1p2"][6]) == \
        new["nvme0n1"][6] - old["nvme0n1"][6]
    # 400 x 64 KiB O_DIRECT writes to the LVM-named volume in the interval
    assert rows["dm-0"]["w_ps"] * seconds == pytest.approx(400) and rows["dm-0"]["name"] == "vg0-root"
    with_parts = sampler_disks.compute(old, new, seconds, names, partitions=True)
    assert "nvme0n1p2" in [r["dev"] for r in with_parts]


def test_real_cgroup_v2_limits_and_throttling(capsys):
    """The same guest: cgroup2 with memory, cpu, io and pids enabled; the capturing
    shell in a group with memory.max 100M and cpu.max 50000/100000."""
    later = procfs.ProcFS(fixture_path("procstat", QEMU))
    earlier = procfs.ProcFS(fixture_path("procstat", QEMU, "earlier"))
    seconds = samplers.parse_uptime(later.read("proc/uptime")) - samplers.parse_uptime(earlier.read("proc/uptime"))
    old, new = sampler_cgroup.read_self(earlier), sampler_cgroup.read_self(later)
    result = sampler_cgroup.compute(old, new, seconds, host_cpus=1, host_mem_bytes=later.meminfo_kib()["MemTotal"] * 1024)
    assert result["memory"]["version"] == "v2" and result["memory"]["limit_kb"] == 100 * 1024
    assert 50 < result["memory"]["usage_pct"] < 100        # 60 MiB of shmem held in the group
    assert result["cpu"]["quota_cpus"] == 0.5
    assert result["cpu"]["throttled_pct"] > 50             # a busy loop against half a CPU
    code, out, err = run_tool(procstat, ["--root", fixture_path("procstat", QEMU), "-m"], capsys)
    assert code == 0, err
    assert "CGROUP  memory" in out and "of 100M" in out and "CPU quota 0.5" in out


# ---------------------------------------------------------------- network

def test_net_dev_snmp_softnet_and_retransmit_share():
    dev = ("Inter-|   Receive\n face |bytes\n  eth0: 1024 10 0 1 0 0 0 0 2048 20 0 0 0 0 0 0\n"
           "  bad: 1 2\n")
    assert sampler_net.parse_net_dev(dev)["eth0"]["tx_bytes"] == 2048
    snmp = "Tcp: InSegs OutSegs RetransSegs\nTcp: 100 1000 10\nUdp: InDatagrams\nUdp: 5\n"
    assert sampler_net.parse_pairs(snmp)["Tcp"]["RetransSegs"] == 10
    assert sampler_net.parse_softnet("0000000a 00000002 00000001\n00000005 00000000 00000000\n") == \
        {"processed": 15, "dropped": 2, "squeezed": 1}
    prev = {"tcp": {"out_segs": 1000, "retrans": 10}, "udp": {}, "softnet": {}, "dev": {}}
    cur = {"tcp": {"out_segs": 2000, "retrans": 60}, "udp": {}, "softnet": {}, "dev": {}}
    sample = {"metrics": {}}
    sampler_net.compute(prev, cur, 1.0, sample)
    assert sample["metrics"]["tcp.retrans_pct"] == 5.0


def test_qdisc_statistics_from_real_tc_output():
    with open(fixture_path("procstat", "netns-veth-tbf", "tc-s-qdisc-show.txt")) as handle:
        qdiscs = sampler_net.parse_qdiscs(handle.read())
    tbf = [q for q in qdiscs if q["kind"] == "tbf"][0]
    assert tbf["rate_kbit"] == 8000.0 and tbf["root"]
    assert tbf["drops"] > 0 and tbf["overlimits"] > 0 and tbf["backlog_packets"] > 0
    assert sampler_net.parse_rate("1500Kbps") == 12000.0
    assert sampler_net.parse_rate("fast") is None


def _tc_htb(name):
    with open(fixture_path("procstat", "tc-htb", name)) as handle:
        return handle.read()


def test_htb_classes_from_real_tc_output():
    classes = sampler_net.parse_classes(_tc_htb("tc-s-class-2.txt"), "rkhtbn")
    by_id = dict((c["classid"], c) for c in classes)
    assert sorted(by_id) == ["1:1", "1:10", "1:20"]
    assert by_id["1:1"]["root"] and by_id["1:1"]["ceil_kbit"] == 10000.0
    assert by_id["1:10"]["parent"] == "1:1" and by_id["1:10"]["leaf"] == "10"
    assert by_id["1:10"]["rate_kbit"] == 8000.0 and by_id["1:10"]["ceil_kbit"] == 10000.0
    assert by_id["1:20"]["drops"] == 6 and by_id["1:20"]["backlog_packets"] == 3
    assert by_id["1:10"]["lended"] > 0 and by_id["1:10"]["borrowed"] >= 0
    # hfsc prints service curves instead of rate/ceil (format of tc-hfsc(8))
    hfsc = sampler_net.parse_classes(
        "class hfsc 1:10 parent 1:1 leaf 8001: rt m1 0bit d 0us m2 2Mbit ls m1 0bit d 0us m2 2Mbit "
        "ul m1 0bit d 0us m2 5Mbit \n Sent 100 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) \n", "eth1")
    assert hfsc[0]["rate_kbit"] == 2000.0 and hfsc[0]["ceil_kbit"] == 5000.0 and hfsc[0]["bytes"] == 100
    assert sampler_net.parse_classes("junk\nclass\n\0\n") == []


class _TwoStateRunner(object):
    """Answers tc from the first capture, then from the second."""

    def __init__(self):
        self.state = 1
        self.calls = []

    def __call__(self, argv, timeout=30, **_):
        from shared import runner
        self.calls.append(" ".join(argv))
        name = "tc-s-class-%d.txt" if argv[2] == "class" else "tc-s-qdisc-%d.txt"
        return runner.CommandResult(argv, 0, _tc_htb(name % self.state), "", 0.0, "ok")


def test_htb_shaped_link_gets_class_rates_and_a_qdisc_rate_from_its_classes():
    tc = _TwoStateRunner()
    times = iter([100.0, 102.0])
    sampler = samplers.Sampler("/", views=("net",), runner=tc, qdisc=True, clock=lambda: next(times))
    sampler.prime()
    tc.state = 2
    sample = sampler.sample()
    assert "tc -s class show dev rkhtbn" in tc.calls
    assert not [c for c in tc.calls if c.endswith("dev lo")]          # noqueue: no classes asked for
    m = sample["metrics"]
    # 1:20 sent 545110 bytes in 2 s = 2180 kbit/s against a 2 Mbit ceiling
    assert m["net.rkhtbn.class_1_20_kbit_ps"] == pytest.approx(2180.44)
    assert m["net.rkhtbn.class_1_20_util_pct"] == 100.0
    assert m["net.rkhtbn.class_1_10_ceil_kbit"] == 10000.0
    # the htb root qdisc has no rate of its own: the sum of its root classes' ceilings
    assert m["net.rkhtbn.qdisc_rate_kbit"] == 10000.0 and m["net.rkhtbn.qdisc_util_pct"] > 95
    assert not [name for name in m if not metrics.known(name)]
    rows = dict((c["classid"], c) for c in sample["classes"])
    assert rows["1:10"]["overlimits_ps"] == pytest.approx(73.0)


def test_procstat_shows_htb_classes_of_a_shaped_veth_in_a_namespace(tmp_path):
    """Live: htb on a veth inside a network namespace, procstat -n --qdisc run inside it."""
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces and tc)")
    if not shutil.which("ip") or not shutil.which("tc"):
        pytest.skip("needs ip and tc (iproute2)")
    ns = "rkpst%d" % os.getpid()
    host = "rkp%d" % (os.getpid() % 100000)

    def sh(*argv):
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    if sh("ip", "netns", "add", ns).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        ok = sh("ip", "link", "add", host, "type", "veth", "peer", "name", "rkin0", "netns", ns).returncode == 0
        if not ok:
            pytest.skip("cannot create a veth pair here")
        if sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "rkin0", "root", "handle", "1:", "htb",
              "default", "20").returncode != 0:
            pytest.skip("the kernel has no htb qdisc (sch_htb)")
        for parent, classid, rate in (("1:", "1:1", "10mbit"), ("1:1", "1:20", "2mbit")):
            assert sh("ip", "netns", "exec", ns, "tc", "class", "add", "dev", "rkin0", "parent", parent,
                      "classid", classid, "htb", "rate", rate, "ceil", rate).returncode == 0
        script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                              "procstat.py")
        done = sh("ip", "netns", "exec", ns, sys.executable, script, "-n", "--qdisc", "--json", "0.2", "1")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.splitlines()[-1])["result"]
        classes = dict((c["classid"], c) for c in result["classes"])
        assert classes["1:20"]["ceil_kbit"] == 2000.0 and classes["1:1"]["root"]
        root = [q for q in result["qdiscs"] if q["dev"] == "rkin0" and q["root"]][0]
        assert root["kind"] == "htb" and root["rate_kbit"] == 10000.0 and root["rate_from"] == "classes"
        text = sh("ip", "netns", "exec", ns, sys.executable, script, "-n", "--qdisc", "0.2", "1").stdout
        assert "CLASS" in text and "1:20" in text
    finally:
        sh("ip", "link", "del", host)
        sh("ip", "netns", "del", ns)


def test_virtual_links_get_no_utilisation_metric(tmp_path):
    root = write_tree(tmp_path, {
        "proc/net/dev": "h\nh\n  veth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        "sys/class/net/veth0/speed": "10000\n", "sys/class/net/eth0/speed": "1000\n",
        "sys/class/net/eth0/device/x": "",
    })
    pfs = procfs.ProcFS(root)
    first = sampler_net.read_all(pfs)
    later = json.loads(json.dumps(first))
    later["dev"]["veth0"]["tx_bytes"] = later["dev"]["eth0"]["tx_bytes"] = 125000 * 100
    sample = {"metrics": {}}
    sampler_net.compute(first, later, 1.0, sample)
    assert "net.veth0.util_pct" not in sample["metrics"]
    # 12.5 MB/s is 100 Mbit/s: 10 % of a 1000 Mbit/s link
    assert sample["metrics"]["net.eth0.util_pct"] == pytest.approx(10.0)


# ---------------------------------------------------------------- processes

def test_pid_stat_with_parentheses_and_spaces_in_the_name():
    line = b"42 (my (odd) name) S 1 42 42 0 -1 4194560 10 0 3 0 7 5 0 0 20 0 2 0 12345 1000000 250 " \
           b"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 9 0 0\n"
    parsed = sampler_procs.parse_stat_bytes(line)
    assert parsed["comm"] == "my (odd) name" and parsed["state"] == "S"
    assert parsed["utime"] == 7 and parsed["majflt"] == 3 and parsed["blkio"] == 9
    assert sampler_procs.parse_stat_bytes(b"garbage") is None
    assert sampler_procs.parse_stat_bytes(b"1 (x) S 1 2") is None


def test_vanished_and_unreadable_processes_are_skipped(tmp_path):
    stat = "%d (p) R 1 1 1 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 100 4096 10 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
    root = write_tree(tmp_path, {"proc/10/stat": stat % 10, "proc/11/status": "Name: gone\n",
                                 "proc/12/stat": "", "proc/13/stat": "13 (bad"})
    os.makedirs(os.path.join(root, "proc", "14"))  # listed, then vanished: no files at all
    scan = sampler_procs.scan(procfs.ProcFS(root))
    assert sorted(scan) == [10]
    assert scan[10].get("rb") is None  # no io file: no I/O numbers, no crash


def test_pid_reuse_is_a_new_process_and_rates_are_per_interval():
    old = {7: {"start": 100, "utime": 1000, "stime": 0, "minflt": 0, "majflt": 0, "ppid": 1, "comm": "a",
               "state": "S", "threads": 1, "vsize": 0, "rss": 0}}
    new = {7: dict(old[7], start=5000, utime=50, comm="b")}
    rows = sampler_procs.compute(old, new, 1.0, 100, 60.0, 1000, 4)
    assert rows[0]["comm"] == "b" and rows[0]["cpu_pct"] == pytest.approx(50.0)  # counted from 0, not -950
    same = {7: dict(old[7], utime=1050)}
    rows = sampler_procs.compute(old, same, 2.0, 100, 60.0, 1000, 4)
    assert rows[0]["usr_pct"] == pytest.approx(25.0)


# ---------------------------------------------------------------- cgroups

def test_cgroup_v1_limit_from_a_captured_tree():
    pfs = procfs.ProcFS(fixture_path("procstat", "v1-memlimit-dstate"))
    snap = sampler_cgroup.read_self(pfs)
    assert snap["memory"]["version"] == "v1"
    assert snap["memory"]["limit"] == 96 * 1024 * 1024
    row = sampler_cgroup.compute({}, snap, 1.0, host_mem_bytes=24 * 1024 ** 3)["memory"]
    assert row["limit_kb"] == 96 * 1024 and row["usage_pct"] > 90


def test_cgroup_v2_quota_and_the_smallest_limit_up_the_tree(tmp_path):
    root = write_tree(tmp_path, {
        "proc/self/cgroup": "0::/system.slice/app.service\n",
        "proc/self/mountinfo": "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory io\n",
        "sys/fs/cgroup/system.slice/cgroup.controllers": "cpu memory\n",
        "sys/fs/cgroup/system.slice/memory.max": "536870912\n",
        "sys/fs/cgroup/system.slice/cpu.max": "max 100000\n",
        "sys/fs/cgroup/system.slice/app.service/cgroup.controllers": "",
        "sys/fs/cgroup/system.slice/app.service/memory.max": "max\n",
        "sys/fs/cgroup/system.slice/app.service/memory.current": "268435456\n",
        "sys/fs/cgroup/system.slice/app.service/memory.events": "low 0\nhigh 0\nmax 40\noom 0\noom_kill 1\n",
        "sys/fs/cgroup/system.slice/app.service/cpu.max": "150000 100000\n",
        "sys/fs/cgroup/system.slice/app.service/cpu.stat": "usage_usec 5000000\nnr_periods 100\n"
                                                           "nr_throttled 30\nthrottled_usec 9\n",
        "sys/fs/cgroup/system.slice/app.service/memory.pressure": "some avg10=0 avg60=0 avg300=0 total=100\n"
                                                                  "full avg10=0 avg60=0 avg300=0 total=0\n",
    })
    pfs = procfs.ProcFS(root)
    snap = sampler_cgroup.read_self(pfs)
    result = sampler_cgroup.compute(sampler_cgroup.zero(snap), snap, 10.0, host_cpus=8,
                                    host_mem_bytes=16 * 1024 ** 3)
    assert result["cpu"]["quota_cpus"] == 1.5
    assert result["cpu"]["throttled_pct"] == 30.0
    assert result["memory"]["limit_kb"] == 512 * 1024  # the parent's limit binds
    assert result["memory"]["usage_pct"] == 50.0
    assert result["memory"]["failcnt_ps"] == 4.0 and result["memory"]["oom_kills"] == 1
    assert result["metrics"]["cgroup.cpu.quota_cpus"] == 1.5


def test_cgroup_path_under_a_mount_with_a_subtree_root():
    mounts = sampler_cgroup.parse_mountinfo(
        "40 30 0:35 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n")
    assert sampler_cgroup._join(mounts[0], "/docker/abc") == "/sys/fs/cgroup/memory"
    assert sampler_cgroup._join(mounts[0], "/docker/abc/sub") == "/sys/fs/cgroup/memory/sub"
    assert sampler_cgroup._join(mounts[0], "/elsewhere") == "/sys/fs/cgroup/memory"


# ---------------------------------------------------------------- metric names

def test_every_metric_a_sample_emits_is_documented():
    for name in FIXTURES:
        sampler = samplers.Sampler(fixture_path("procstat", name))
        sample = sampler.sample()
        undocumented = [m for m in sample["metrics"] if not metrics.known(m)]
        assert not undocumented, "%s: %s" % (name, undocumented)


def test_metric_name_spellings_and_split():
    assert metrics.canonical("mem_available_pct") == "mem.available_pct"
    assert metrics.canonical("disk:sda:await_ms") == "disk.sda.await_ms"
    assert metrics.canonical("psi_io_some_avg10") == "psi.io.some_avg10"
    assert metrics.canonical("iowait_pct") == "cpu.iowait_pct"
    assert metrics.canonical("dstate") == "procs.dstate"
    assert metrics.split("net.eth0.100.rx_kbps") == ("net", "eth0.100", "rx_kbps")
    assert metrics.split("load1") == ("load1", None, None)
    assert metrics.unit("disk.nvme0n1.await_ms") == "ms"
    assert metrics.unit("psi.memory.full_avg300") == "%"


# ---------------------------------------------------------------- the tool

def _golden(name, text):
    path = fixture_path("procstat", "golden", name)
    if os.environ.get("RESCUEKIT_UPDATE_GOLDEN"):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert text == handle.read(), "golden %s differs (RESCUEKIT_UPDATE_GOLDEN=1 to regenerate)" % name


@pytest.mark.parametrize("name", FIXTURES)
def test_golden_snapshot_text(name, capsys, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    code, out, err = run_tool(procstat, ["--root", fixture_path("procstat", name), "-A", "--utc"], capsys)
    assert code == 0, err
    assert all(len(line) <= 80 for line in out.splitlines() if not line.startswith("--- ")), out
    _golden("procstat-%s.txt" % name, out)


@pytest.mark.parametrize("name", FIXTURES)
def test_golden_snapshot_json(name, capsys):
    code, out, err = run_tool(procstat, ["--root", fixture_path("procstat", name), "-A", "--json"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    envelope = json.loads(lines[0])
    assert envelope["tool"] == "procstat" and envelope["schema"] == 1
    _golden("procstat-%s.json" % name, json.dumps(envelope["result"], indent=1, sort_keys=True) + "\n")


def test_snapshot_shows_dstate_zombie_and_cgroup_limit(capsys):
    code, out, _ = run_tool(procstat, ["--root", fixture_path("procstat", "v1-memlimit-dstate"), "-p", "-m",
                                       "--utc"], capsys)
    assert code == 0
    assert "wchan=submit_bio_wait" in out and "ext4_sync_file" in out
    assert "zombies (reaped only" in out and ", parent 13340 python3" in out
    assert "CGROUP  memory 95M of 96M" in out


def test_no_psi_kernel_says_so(capsys):
    code, out, _ = run_tool(procstat, ["--root", fixture_path("procstat", "nopsi-derived"), "-m"], capsys)
    assert code == 0 and "PRESSURE not available" in out


def test_live_intervals_skip_the_since_boot_report(capsys):
    code, out, err = run_tool(procstat, ["0.2", "3"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["r", "b"]
    assert len(lines) == 5  # two header lines, three reports


def test_live_json_lines_are_envelopes_with_every_view(capsys):
    code, out, err = run_tool(procstat, ["-A", "--json", "0.2", "2"], capsys)
    assert code == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == 2
    result = docs[-1]["result"]
    assert result["since_boot"] is False and 0.1 < result["interval"] < 5
    for key in ("cpus", "processes", "disks", "interfaces"):
        assert key in result
    assert result["metrics"]["cpu.count"] == len(result["cpus"])
    shares = [p["cpu_pct"] or 0 for p in result["processes"]]
    assert shares == sorted(shares, reverse=True) and len(shares) == min(10, result["process_count"])
    assert os.getpid() not in [p["pid"] for p in result["processes"]]  # the sampler leaves itself out


def test_usage_errors_are_one_line(capsys, tmp_path):
    code, _, err = run_tool(procstat, ["-P", "zero"], capsys)
    assert code == 2 and err.strip().startswith("procstat: bad CPU list") and len(err.strip().splitlines()) == 1
    code, _, err = run_tool(procstat, ["--root", str(tmp_path / "nope")], capsys)
    assert code == 2 and "not a directory" in err
    code, _, err = run_tool(procstat, ["--root", str(tmp_path)], capsys)
    assert code == 4 and "no /proc/stat" in err


def test_help_has_examples(capsys):
    code, out, _ = run_tool(procstat, ["--help"], capsys)
    assert code == 0 and "examples:" in out and "procstat -P ALL 1 5" in out


def test_man_page_documents_every_metric_and_the_json():
    with open(os.path.join(os.path.dirname(fixture_path()), "scripts", "procstat.8")) as handle:
        page = handle.read().replace("\\-", "-")
    missing = [row[0] for row in metrics.METRICS if row[0] not in page]
    assert not missing
    for section in (".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH FIELDS", ".SH JSON", ".SH OVERHEAD",
                    ".SH EXIT STATUS", ".SH EXAMPLES", ".SH SEE ALSO"):
        assert section in page


def test_junk_and_truncated_proc_files_never_raise(tmp_path, capsys):
    """Every captured file replaced by binary junk, truncated or emptied: a report, no traceback."""
    import shutil
    source = fixture_path("procstat", "v1-memlimit-dstate")
    junk = [b"\x00\xff\xfe garbage \x00\n\x01\x02\n1 (\n" + b"9" * 5000, b"", b"cpu  1 2\nprocs_running x\n"]
    for round_number, payload in enumerate(junk):
        root = str(tmp_path / ("tree%d" % round_number))
        shutil.copytree(source, root)
        for folder, _, names in os.walk(root):
            for index, name in enumerate(names):
                path = os.path.join(folder, name)
                if name == "stat" and folder.endswith("proc") and round_number == 1:
                    continue  # keep /proc/stat once so the tool gets past its first check
                with open(path, "rb") as handle:
                    data = handle.read()
                with open(path, "wb") as handle:
                    # alternate: junk, or the real file cut in half
                    handle.write(payload if index % 2 == 0 else data[:len(data) // 2])
        for argv in (["-A"], ["-A", "--json"])[:1 + round_number % 2]:
            code, out, err = run_tool(procstat, ["--root", root] + argv, capsys)
            assert code in (0, 4), err
            assert "Traceback" not in err and "internal error" not in err
        from scripts import triage
        code, out, err = run_tool(triage, ["--root", root, "--json"], capsys)
        assert code in (0, 4), err
        assert "internal error" not in err


def test_procfs_read_raw_counts_refusals_without_growing_a_set(tmp_path):
    root = write_tree(tmp_path, {"proc/1/stat": "1 (init) S 0"})
    pfs = procfs.ProcFS(root)
    assert pfs.read_raw("proc/1/stat") == b"1 (init) S 0"
    assert pfs.read_raw("/proc/1/stat", limit=3) == b"1 ("
    assert pfs.read_raw("proc/2/stat") is None
    if os.geteuid() == 0:
        return  # root reads mode-000 files; the refusal path needs an ordinary user
    secret = os.path.join(root, "proc", "1", "io")
    open(secret, "w").close()
    os.chmod(secret, 0)
    assert pfs.read_raw("proc/1/io") is None and pfs.denied_count == 1 and not pfs.denied
