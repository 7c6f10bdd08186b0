"""toaster's building blocks: histograms, rate limiting, mounts, guards, records, parsing."""

import json
import os
import random
import select

import pytest

from conftest import fixture_path
from shared import load_common, load_net
from scripts import toaster


def test_latency_percentiles_follow_the_data_within_the_bucket_resolution():
    rng = random.Random(7)
    values = [rng.randint(1000, 5000000) for _ in range(20000)]
    hist = load_common.Latency()
    for value in values:
        hist.add(value)
    ordered = sorted(values)
    for pct in (50, 99):
        exact = ordered[int(len(ordered) * pct / 100.0) - 1]
        assert abs(hist.percentile(pct) - exact) <= exact * 0.035
    assert hist.max == max(values)
    summary = hist.summary_us()
    assert summary["samples"] == len(values)
    assert summary["max"] == round(max(values) / 1000.0, 1)


def test_latency_histograms_merge_like_one():
    whole, left, right = load_common.Latency(), load_common.Latency(), load_common.Latency()
    for value in range(1, 5000, 7):
        whole.add(value * 1000)
        (left if value % 2 else right).add(value * 1000)
    merged = load_common.Latency().merge(json.loads(json.dumps(left.to_dict()))).merge(right.to_dict())
    assert merged.summary_us() == whole.summary_us()


def test_rate_limiter_holds_the_long_run_rate():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = load_common.RateLimiter(1000.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(500):
        limiter.take(10)
    # 5000 units at 1000/s take about 5 seconds of (simulated) sleeping
    assert 4.9 <= now[0] <= 5.1
    assert max(slept) <= 0.1


def test_rate_limiter_stops_sleeping_when_asked():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    limiter = load_common.RateLimiter(1.0, clock=lambda: now[0], sleep=sleep)
    limiter.take(1000, stopped=lambda: now[0] > 0.3)
    assert now[0] < 1.0


def test_mountinfo_parsing_unescapes_and_skips_optional_fields():
    with open(fixture_path("toaster", "mountinfo-loop-tmpfs.txt")) as handle:
        mounts = load_common.parse_mountinfo(handle.read() + "garbage line\n\n")
    by_point = {m.mountpoint: m for m in mounts}
    loop = by_point["/tmp/mnt with space"]
    assert (loop.fstype, loop.source, loop.major, loop.minor) == ("ext4", "/dev/loop0", 7, 0)
    bind = by_point["/run/netns"]
    assert bind.fstype == "ext4" and bind.root == "/run/netns"
    assert by_point["/tmp/tfs"].fstype == "tmpfs"


def test_mount_description_names_device_mapper_and_ram_disks(tmp_path):
    # A sysfs tree in the kernel's layout: dm-3 named vg0-data on top of ram0.
    block = tmp_path / "sys" / "dev" / "block"
    block.mkdir(parents=True)
    dm = tmp_path / "sys" / "devices" / "virtual" / "block" / "dm-3"
    (dm / "dm").mkdir(parents=True)
    (dm / "dm" / "name").write_text("vg0-data\n")
    (dm / "slaves").mkdir()
    (dm / "slaves" / "ram0").mkdir()
    os.symlink(str(dm), str(block / "253:3"))
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "mountinfo").write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "50 27 253:3 / /data rw,relatime - xfs /dev/mapper/vg0-data rw\n"
        "51 27 0:40 / /scratch rw - tmpfs tmpfs rw,size=1024k\n"
        "52 27 0:41 / /sys/kernel/debug rw - debugfs debugfs rw\n")
    mounts = {m.mountpoint: m for m in load_common.disk_targets(str(tmp_path))}
    assert set(mounts) == {"/", "/data", "/scratch"}
    data = mounts["/data"]
    assert data.dm_name == "vg0-data" and data.device_name == "dm-3"
    assert data.ram_backed and "ram0" in data.ram_reason
    assert "/dev/mapper/vg0-data" in data.describe()
    assert mounts["/scratch"].ram_backed and "tmpfs" in mounts["/scratch"].describe()
    assert not mounts["/"].ram_backed


def test_mount_for_finds_the_file_system_of_a_path(tmp_path):
    mount = load_common.mount_for(str(tmp_path))
    st = os.stat(str(tmp_path))
    assert (mount.major, mount.minor) == (os.major(st.st_dev), os.minor(st.st_dev))


def test_disk_floor_is_five_percent_or_one_gib():
    gib = 1024 ** 3
    assert load_common.disk_floor(10 * gib) == gib
    assert load_common.disk_floor(100 * gib) == 5 * gib
    assert load_common.disk_floor(100 * gib, "2G") == 2 * gib
    assert load_common.disk_floor(100 * gib, "1%") == gib


def test_memory_state_keeps_a_tenth_of_memtotal(tmp_path):
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "meminfo").write_text(
        "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\n")
    (tmp_path / "proc" / "self" / "mountinfo").write_text("")
    (tmp_path / "proc" / "self" / "cgroup").write_text("0::/\n")
    from shared import procfs
    state = load_common.memory_state(procfs.ProcFS(str(tmp_path)))
    assert state["floor"] == 1600000 * 1024
    assert state["headroom"] == (4000000 - 1600000) * 1024
    tight = load_common.memory_state(procfs.ProcFS(str(tmp_path)), floor_pct=30)
    assert tight["headroom"] == 0 and tight["margin"] < 0


def test_cpu_lists_round_trip():
    assert load_common.parse_cpu_list("0-3,6, 8") == [0, 1, 2, 3, 6, 8]
    assert load_common.format_cpu_list([0, 1, 2, 3, 6, 8]) == "0-3,6,8"
    for bad in ("", "3-1", "x"):
        with pytest.raises(ValueError):
            load_common.parse_cpu_list(bad)


def test_split_spreads_work_without_losing_any():
    assert load_common.split(10, 3) == [4, 3, 3]
    assert sum(load_common.split(1001, 7)) == 1001
    assert load_common.split(None, 2) == [None, None]


def test_menu_selection_accepts_numbers_and_ranges_and_rejects_the_rest():
    assert toaster.parse_selection("1,3", 5) == [1, 3]
    assert toaster.parse_selection("2-4 1", 5) == [1, 2, 3, 4]
    for bad in ("", "0", "6", "4-2", "a", "1-", "-"):
        with pytest.raises(ValueError):
            toaster.parse_selection(bad, 5)


def test_host_port_parsing():
    assert load_net.parse_hostport("192.0.2.7") == ("192.0.2.7", load_net.DEFAULT_PORT)
    assert load_net.parse_hostport("192.0.2.7:9000") == ("192.0.2.7", 9000)
    assert load_net.parse_hostport("[2001:db8::1]:80") == ("2001:db8::1", 80)
    assert load_net.parse_hostport(":7000") == ("127.0.0.1", 7000)
    for bad in ("host:notaport", "host:70000", ""):
        with pytest.raises(ValueError):
            load_net.parse_hostport(bad)


def test_udp_statistics_count_loss_reordering_and_jitter():
    stats = load_net.UdpStats()
    ms = 1000000
    expected_jitter = 0.0
    previous = None
    for seq, delay in ((0, 1), (1, 1), (3, 17), (2, 1), (5, 1)):
        stats.add(seq, seq * 10 * ms, 1000, seq * 10 * ms + delay * ms)
        if previous is not None:
            expected_jitter += (abs(delay - previous) - expected_jitter) / 16.0
        previous = delay
    result = stats.to_dict()
    assert result["packets"] == 5 and result["expected"] == 6 and result["lost"] == 1
    assert result["out_of_order"] == 1
    assert result["jitter_ms"] == round(expected_jitter, 3) and result["jitter_ms"] > 0


def test_server_only_talks_to_named_hosts():
    with pytest.raises(load_net.NetError) as caught:
        load_net.Server(("0.0.0.0", 0))
    assert "--allow" in caught.value.fix
    server = load_net.Server(("127.0.0.1", 0), allow=["192.0.2.10"])
    try:
        assert server.allowed_peer("127.0.0.1")
        assert server.allowed_peer("192.0.2.10")
        assert not server.allowed_peer("192.0.2.11")
    finally:
        server.close()


def test_run_record_is_locked_while_alive_and_cleaned_after(tmp_path):
    state = tmp_path / "state"
    target = tmp_path / "target"
    target.mkdir()
    record = load_common.RunRecord("disk", folder=str(state.mkdir() or state))
    run_dir = record.make_dir(str(target))
    with open(os.path.join(run_dir, "w0.dat"), "wb") as handle:
        handle.write(b"x" * 4096)
    live = load_common.cleanup([str(target)], folder=str(state))
    assert run_dir in live["live"] and not live["removed"] and os.path.isdir(run_dir)
    record.release()
    assert not os.listdir(str(target)) and not os.listdir(str(state))


def test_cleanup_never_touches_directories_without_the_marker(tmp_path):
    lookalike = tmp_path / (load_common.RUN_PREFIX + "999.0")
    lookalike.mkdir()
    (lookalike / "precious").write_text("keep me")
    result = load_common.cleanup([str(tmp_path)], folder=str(tmp_path / "nostate"))
    assert not result["removed"] and (lookalike / "precious").exists()


def _fake_cgroup_tree(tmp_path, version):
    cg = tmp_path / "cg"
    inner = cg / "app.slice" / "db.service"
    inner.mkdir(parents=True)
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "meminfo").write_text(
        "MemTotal:       16000000 kB\nMemFree:         9000000 kB\nMemAvailable:   12000000 kB\n")
    if version == 2:
        (tmp_path / "proc" / "self" / "cgroup").write_text("0::/app.slice/db.service\n")
        (tmp_path / "proc" / "self" / "mountinfo").write_text(
            "30 25 0:26 / %s rw,nosuid - cgroup2 cgroup2 rw\n" % cg)
        (cg / "app.slice" / "memory.max").write_text("max\n")
        (cg / "app.slice" / "memory.current").write_text("900000000\n")
        (inner / "memory.max").write_text("%d\n" % (512 * 1024 * 1024))
        (inner / "memory.current").write_text("%d\n" % (300 * 1024 * 1024))
        (inner / "memory.stat").write_text("anon 100\ninactive_file %d\n" % (100 * 1024 * 1024))
        (inner / "cpu.max").write_text("150000 100000\n")
        (cg / "app.slice" / "cpu.max").write_text("max 100000\n")
    else:
        (tmp_path / "proc" / "self" / "cgroup").write_text(
            "4:memory:/app.slice/db.service\n3:cpu,cpuacct:/app.slice/db.service\n")
        (tmp_path / "proc" / "self" / "mountinfo").write_text(
            "35 31 0:32 / %s rw - cgroup cgroup rw,memory\n36 31 0:33 / %s rw - cgroup cgroup rw,cpu,cpuacct\n"
            % (cg, cg))
        (inner / "memory.limit_in_bytes").write_text("%d\n" % (512 * 1024 * 1024))
        (inner / "memory.usage_in_bytes").write_text("%d\n" % (300 * 1024 * 1024))
        (inner / "memory.stat").write_text("total_inactive_file %d\n" % (100 * 1024 * 1024))
        (cg / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        (cg / "memory.usage_in_bytes").write_text("1\n")
        (inner / "cpu.cfs_quota_us").write_text("150000\n")
        (inner / "cpu.cfs_period_us").write_text("100000\n")
    from shared import procfs
    return procfs.ProcFS(str(tmp_path))


@pytest.mark.parametrize("version", [1, 2])
def test_memory_guard_and_cpu_quota_follow_the_cgroup(tmp_path, version):
    proc = _fake_cgroup_tree(tmp_path, version)
    group = load_common.cgroup_memory(proc)
    mib = 1024 * 1024
    assert group["limit"] == 512 * mib and group["usage"] == 200 * mib and group["version"] == version
    state = load_common.memory_state(proc)
    # 512M limit - 200M used - 10 % of the limit; far tighter than MemAvailable
    assert state["headroom"] == 512 * mib - 200 * mib - int(512 * mib * 0.1)
    assert load_common.cpu_quota(proc) == 1.5


def test_interact_ask_reads_the_terminal_not_stdin():
    from shared import cli, interact
    master, slave = os.openpty()
    try:
        os.write(master, b"  2-3  \n")
        assert interact.ask("Which? ", tty_path=os.ttyname(slave)) == "2-3"
        screen = b""
        while select.select([master], [], [], 0.2)[0]:
            screen += os.read(master, 1024)
        assert b"Which? " in screen
    finally:
        os.close(master)
        os.close(slave)
    with pytest.raises(cli.ToolError) as caught:
        interact.ask("Which? ", tty_path="/nonexistent/tty")
    assert caught.value.code == cli.EXIT_USAGE
