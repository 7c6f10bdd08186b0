"""triage against REAL load: each test drives one resource hard while triage samples.

CPU burn on every core -> cpu; page-cache thrash inside a memory-limited
cgroup (v1 or v2) -> memory; O_DIRECT writes to a file on a loop device ->
io; TCP through a veth pair into a network namespace, shaped with tc tbf
-> network; nothing -> not resource-bound.  Other work may run on the same
machine, so the assertions look for *our* load in the evidence (the
responsible process, device, interface or cgroup is ours) rather than for
an otherwise quiet box; the idle test skips when foreign load makes the
box busy.  Every facility (root, loop devices, memory cgroups, netns, tc)
is checked first and the test skips with the reason when it is missing.
Everything created is removed, also on failure.
"""

import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import need_root, run_tool
from scripts import triage

DURATION = ["--duration", "3s", "--interval", "0.5s"]


def _run_triage(capsys, extra=()):
    code, out, err = run_tool(triage, ["--json"] + DURATION + list(extra), capsys)
    assert code == 0, err
    return json.loads(out)["result"]


def _which(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def _sh(*argv, **kw):
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


def _kill(procs):
    for proc in procs:
        try:
            proc.terminate()
        except OSError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=5) if hasattr(proc, "wait") else proc.join(5)
        except Exception:
            try:
                proc.kill()
            except OSError:
                pass


# ---------------------------------------------------------------- CPU

def _spin():
    while True:
        pass


@contextlib.contextmanager
def cpu_burn(count):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_spin, daemon=True) for _ in range(count)]
    for proc in procs:
        proc.start()
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(5)


def test_cpu_burn_on_every_core_is_cpu_bound(capsys):
    cpus = os.cpu_count() or 1
    with cpu_burn(cpus + 1) as pids:
        time.sleep(0.3)
        result = _run_triage(capsys, ["--top", "10"])
    assert "cpu" in result["bound"], result["headline"]
    cpu_items = [i for i in result["items"] if i["resource"] == "cpu" and i["level"] == "bound"]
    assert cpu_items and any(i["rule"] in ("cpu.saturated", "cpu.waiting") for i in cpu_items)
    named = [p["pid"] for i in cpu_items for p in i["responsible"].get("processes", [])]
    named += [p["pid"] for p in result["top"]["cpu"]]
    assert set(named) & set(pids), "our burners are not among the top CPU users: %s" % named
    assert result["metrics"]["cpu.busy_pct"] >= 85


# ---------------------------------------------------------------- memory

MEM_LOAD = r"""
import os, sys, time
cgroup_procs, data, hold_mb, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with open(cgroup_procs, "w") as handle:
    handle.write(str(os.getpid()))
fd = os.open(data, os.O_RDONLY)
os.fsync(fd)  # dirty pages would survive DONTNEED, cached outside the limited cgroup
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
hold = bytearray(hold_mb * 1024 * 1024)
for i in range(0, len(hold), 4096):
    hold[i] = 1
sys.stdout.write("ready\n")
sys.stdout.flush()
end = time.time() + seconds
while time.time() < end:
    with open(data, "rb") as handle:
        while handle.read(1 << 20):
            pass
"""


def _memory_cgroup(name):
    """(directory, limit file, procs file) of a new memory cgroup (v1 or v2), or skip."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.isfile(os.path.join(v1, "memory.limit_in_bytes")):
        path = os.path.join(v1, name)
        os.mkdir(path)
        return path, "memory.limit_in_bytes"
    for v2 in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        controllers = os.path.join(v2, "cgroup.controllers")
        if os.path.isfile(controllers) and "memory" in open(controllers).read().split():
            path = os.path.join(v2, name)
            os.mkdir(path)
            return path, "memory.max"
    pytest.skip("no memory cgroup controller mounted (v1 memory or v2 with memory enabled)")


def test_page_cache_thrash_in_a_limited_cgroup_is_memory_bound(capsys, tmp_path):
    need_root()
    name = "rescuekit-test-mem-%d" % os.getpid()
    directory, limit_file = _memory_cgroup(name)
    data = tmp_path / "working-set.dat"
    proc = None
    try:
        with open(str(data), "wb") as handle:
            block = os.urandom(1 << 20)
            for _ in range(192):
                handle.write(block)
        limit = 96 * 1024 * 1024
        with open(os.path.join(directory, limit_file), "w") as handle:
            handle.write(str(limit))
        proc = subprocess.Popen([sys.executable, "-c", MEM_LOAD, os.path.join(directory, "cgroup.procs"),
                                 str(data), "56", "20"], stdout=subprocess.PIPE, universal_newlines=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        result = _run_triage(capsys)
    finally:
        if proc is not None:
            _kill([proc])
        for _ in range(50):
            try:
                os.rmdir(directory)
                break
            except OSError:
                time.sleep(0.1)
        if data.exists():
            data.unlink()  # 192 MiB: do not leave it for pytest's tmp retention
    assert "memory" in result["bound"], result["headline"]
    memory_items = [i for i in result["items"] if i["resource"] == "memory" and i["level"] == "bound"]
    ours = [i for i in memory_items if i.get("instance") and i["instance"].endswith(name)]
    assert ours, "our cgroup is not named: %s" % [i["title"] for i in memory_items]
    assert any(p["pid"] == proc.pid for i in ours for p in i["responsible"].get("processes", []))
    assert not os.path.exists(directory)


# ---------------------------------------------------------------- I/O

IO_LOAD = r"""
import mmap, os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
size = 1 << 20
buf = mmap.mmap(-1, size)
buf.write(os.urandom(size))
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
sys.stdout.write("ready\n")
sys.stdout.flush()
end = time.time() + seconds
offset = 0
while time.time() < end:
    os.pwrite(fd, buf, offset)
    offset = (offset + size) % (48 << 20)
    os.fdatasync(fd)
"""


@contextlib.contextmanager
def loop_filesystem(tmp_path):
    need_root()
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if not _which(tool):
            pytest.skip("%s is not installed" % tool)
    image = str(tmp_path / "disk.img")
    with open(image, "wb") as handle:
        handle.truncate(128 << 20)
    made = _sh(_which("losetup"), "--find", "--show", image)
    if made.returncode != 0:
        pytest.skip("no loop device: %s" % made.stderr.strip())
    device = made.stdout.strip()
    mountpoint = str(tmp_path / "mnt")
    os.mkdir(mountpoint)
    mounted = False
    try:
        mkfs = _sh(_which("mkfs.ext4"), "-q", "-F", device)
        assert mkfs.returncode == 0, mkfs.stderr
        mount = _sh(_which("mount"), device, mountpoint)
        if mount.returncode != 0:
            pytest.skip("cannot mount a loop device here: %s" % mount.stderr.strip())
        mounted = True
        yield device, mountpoint
    finally:
        if mounted:
            for _ in range(20):
                if _sh(_which("umount"), mountpoint).returncode == 0:
                    break
                time.sleep(0.2)
        _sh(_which("losetup"), "-d", device)
        os.unlink(image)


def test_o_direct_writes_to_a_loop_device_are_io_bound(capsys, tmp_path):
    with loop_filesystem(tmp_path) as (device, mountpoint):
        proc = subprocess.Popen([sys.executable, "-c", IO_LOAD, os.path.join(mountpoint, "data"), "20"],
                                stdout=subprocess.PIPE, universal_newlines=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.3)
            result = _run_triage(capsys)
        finally:
            _kill([proc])
    dev = os.path.basename(device)
    assert "io" in result["bound"], result["headline"]
    io_items = [i for i in result["items"] if i["resource"] == "io"]
    devices = set(d for i in io_items for d in i["responsible"].get("devices", []))
    assert dev in devices, "loop device %s not named: %s" % (dev, devices)
    writers = [p["pid"] for i in io_items for p in i["responsible"].get("processes", [])]
    assert proc.pid in writers
    loop_row = [d for d in result["top"]["disks"] if d["dev"] == dev][0]
    assert loop_row["w_ps"] > 0 and loop_row["util_pct"] > 50


# ---------------------------------------------------------------- network

NET_SERVER = r"""
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], 5201))
server.listen(4)
sys.stdout.write("ready\n")
sys.stdout.flush()
conn, _ = server.accept()
while conn.recv(1 << 16):
    pass
"""

NET_CLIENT = r"""
import socket, sys, time
sock = socket.create_connection((sys.argv[1], 5201), timeout=5)
block = b"x" * (1 << 16)
start = time.time()
end = start + float(sys.argv[2])
mbit = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0   # 0: as fast as it can, else paced
sys.stdout.write("ready\n")
sys.stdout.flush()
sent = 0
while time.time() < end:
    sock.sendall(block)
    sent += len(block)
    if mbit:
        time.sleep(max(0.0, start + sent * 8 / (mbit * 1e6) - time.time()))
"""


@contextlib.contextmanager
def shaped_veth(rate="8mbit", kind="tbf"):
    """A veth pair into a new namespace, the host end shaped: ``tbf`` at ``rate``; ``htb``: one root
    class at ``rate``; ``htb-leaf``: a 1gbit root class 1:1 with the default leaf 1:10 (1gbit) and a
    leaf 1:20 with ceil ``rate`` that a u32 filter fills with the test's TCP (port 5201)."""
    need_root()
    ip, tc = _which("ip"), _which("tc")
    if not ip or not tc:
        pytest.skip("iproute2 (ip, tc) is not installed")
    tag = "%d" % (os.getpid() % 100000)
    # RFC 2544 benchmarking addresses, varied per run so parallel runs do not clash
    net = "198.18.%d" % (os.getpid() % 250)
    ns, host_if, ns_if = "rktest%s" % tag, "rkh%s" % tag, "rkn%s" % tag
    made = _sh(ip, "netns", "add", ns)
    if made.returncode != 0:
        pytest.skip("cannot create a network namespace: %s" % made.stderr.strip())
    try:
        steps = [
            (ip, "link", "add", host_if, "type", "veth", "peer", "name", ns_if),
            (ip, "link", "set", ns_if, "netns", ns),
            (ip, "addr", "add", net + ".1/30", "dev", host_if),
            (ip, "link", "set", host_if, "up"),
            (ip, "netns", "exec", ns, ip, "addr", "add", net + ".2/30", "dev", ns_if),
            (ip, "netns", "exec", ns, ip, "link", "set", ns_if, "up"),
            (ip, "netns", "exec", ns, ip, "link", "set", "lo", "up"),
        ]
        if kind == "tbf":
            steps.append((tc, "qdisc", "add", "dev", host_if, "root", "tbf", "rate", rate, "burst", "16kb",
                          "latency", "50ms"))
        elif kind == "htb-leaf":
            steps += [(tc, "qdisc", "add", "dev", host_if, "root", "handle", "1:", "htb", "default", "10"),
                      (tc, "class", "add", "dev", host_if, "parent", "1:", "classid", "1:1", "htb", "rate", "1gbit",
                       "ceil", "1gbit"),
                      (tc, "class", "add", "dev", host_if, "parent", "1:1", "classid", "1:10", "htb", "rate",
                       "1gbit", "ceil", "1gbit"),
                      (tc, "class", "add", "dev", host_if, "parent", "1:1", "classid", "1:20", "htb", "rate",
                       "5mbit", "ceil", rate),
                      (tc, "filter", "add", "dev", host_if, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                       "match", "ip", "dport", "5201", "0xffff", "flowid", "1:20")]
        else:
            # htb: the root qdisc has no rate; one class under it carries the limit
            steps += [(tc, "qdisc", "add", "dev", host_if, "root", "handle", "1:", "htb", "default", "10"),
                      (tc, "class", "add", "dev", host_if, "parent", "1:", "classid", "1:10", "htb", "rate", rate,
                       "ceil", rate)]
        for argv in steps:
            done = _sh(*argv)
            if done.returncode != 0:
                pytest.skip("cannot build the veth/tc setup (%s): %s" % (" ".join(argv[1:4]), done.stderr.strip()))
        yield ns, host_if, net + ".2"
    finally:
        _sh(ip, "link", "del", host_if)
        _sh(ip, "netns", "del", ns)


def _triage_under_traffic(capsys, kind, rate="8mbit", pace_mbit=0):
    """(triage result, host interface) while one TCP client sends into the shaped veth."""
    with shaped_veth(rate=rate, kind=kind) as (ns, host_if, address):
        server = subprocess.Popen([_which("ip"), "netns", "exec", ns, sys.executable, "-c", NET_SERVER,
                                   address], stdout=subprocess.PIPE, universal_newlines=True)
        client = None
        try:
            assert server.stdout.readline().strip() == "ready"
            client = subprocess.Popen([sys.executable, "-c", NET_CLIENT, address, "20", str(pace_mbit)],
                                      stdout=subprocess.PIPE, universal_newlines=True)
            assert client.stdout.readline().strip() == "ready"
            time.sleep(0.5)
            return _run_triage(capsys), host_if
        finally:
            _kill([p for p in (client, server) if p is not None])


@pytest.mark.parametrize("kind", ["tbf", "htb"])
def test_traffic_into_a_shaped_veth_is_network_bound(capsys, kind):
    result, host_if = _triage_under_traffic(capsys, kind)
    assert "network" in result["bound"], result["headline"]
    net_items = [i for i in result["items"] if i["resource"] == "network" and i["level"] == "bound"]
    shaped = [i for i in net_items if i["rule"] == "network.shaped" and i["instance"] == host_if]
    assert shaped, [i["title"] for i in net_items]
    numbers = shaped[0]["numbers"]
    assert numbers["net.%s.qdisc_util_pct" % host_if] >= 80
    assert numbers["net.%s.qdisc_rate_kbit" % host_if] == 8000
    if kind == "htb":
        # htb's root qdisc has no rate of its own: it came from its class (tc -s class show)
        root = [q for q in result["top"]["qdiscs"] if q["dev"] == host_if and q.get("root")]
        assert root and root[0]["kind"] == "htb" and root[0].get("rate_from") == "classes", root
        # its one class is a leaf at its ceil too, but the link is the bottleneck: named once, as evidence
        assert not [i for i in result["items"] if i["rule"] == "network.class_saturated"
                    and i["parts"]["dev"] == host_if], result["headline"]
        assert [c["class"] for c in shaped[0].get("classes_at_ceil", [])] == ["1:10"]


def _our_class(result, host_if, classid):
    rows = [c for c in result["top"].get("classes", []) if c["dev"] == host_if and c["classid"] == classid]
    assert rows, "class %s of %s not in the evidence: %s" % (classid, host_if, result["top"].get("classes"))
    return rows[0]


def test_a_saturated_leaf_class_on_a_link_with_room_is_network_bound_by_shaping(capsys):
    # root 1gbit, our TCP classified (u32, port 5201) into leaf 1:20 with a 20mbit ceil
    result, host_if = _triage_under_traffic(capsys, "htb-leaf", rate="20mbit")
    assert "network" in result["bound"], result["headline"]
    ours = [i for i in result["items"] if i["rule"] == "network.class_saturated"
            and i["parts"] == {"dev": host_if, "classid": "1:20"}]
    assert ours and ours[0]["level"] == "bound", [i["title"] for i in result["items"]]
    item = ours[0]
    assert item["title"].startswith("by shaping: class 1:20 on %s at " % host_if)
    assert "of its 20 Mbit ceil" in item["title"]
    assert item["numbers"]["netclass.%s/1:20.util_pct" % host_if] >= 80
    assert item["responsible"]["parent"]["class"] == "1:1" and item["responsible"]["parent"]["util_pct"] < 80
    assert "tc -s filter show dev %s" % host_if in item["fix"]
    # the link itself has room: no link verdict for it
    assert not [i for i in result["items"] if i["rule"] in ("network.shaped", "network.link_saturated")
                and i["instance"] == host_if]


def test_a_busy_leaf_class_below_its_ceil_is_not_a_shaping_verdict(capsys):
    # the same layout, a 50mbit ceil, the client paced to 10 Mbit/s: busy, but a fifth of its ceil
    result, host_if = _triage_under_traffic(capsys, "htb-leaf", rate="50mbit", pace_mbit=10)
    leaf = _our_class(result, host_if, "1:20")
    assert leaf["leaf"] and leaf["kbit_ps"] > 1000, leaf               # the traffic did go through it
    assert leaf["util_pct"] < 80, leaf
    assert not [i for i in result["items"] if i.get("parts", {}).get("dev") == host_if
                or i.get("instance") == host_if], [i["title"] for i in result["items"]]


# ---------------------------------------------------------------- idle

def test_an_idle_box_is_not_resource_bound(capsys):
    result = _run_triage(capsys)
    if result["bound"]:
        ours = set([os.getpid()] + [c.pid for c in multiprocessing.active_children()])
        named = set(p["pid"] for i in result["items"] for p in i["responsible"].get("processes", []))
        assert not (named & ours), "triage blamed the test process itself: %s" % result["headline"]
        pytest.skip("the machine is busy with foreign load (%s); an idle verdict cannot be tested now"
                    % result["headline"])
    assert result["verdict"] == "none"
    assert result["headline"] == "not resource-bound"
    assert not [i for i in result["items"] if i["level"] == "bound"]
