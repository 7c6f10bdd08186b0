"""toaster: each workload runs about a second and reports plausible numbers; guards; signals; menu.

Throughput is never asserted here (other tests share this machine): only
that work happened, was counted, verified and cleaned up.
"""

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, fixture_path, need_root, run_tool
from scripts import toaster
from shared import load_common

SCRIPT = os.path.join(ROOT, "scripts", "toaster.py")


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    """Run records go to a private state directory, never /run."""
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv(load_common.STATE_ENV, str(state))
    return state


def run_json(argv, capsys):
    code, out, err = run_tool(toaster, argv + ["--json"], capsys)
    document = json.loads(out)
    assert document["tool"] == "toaster"
    return code, document["result"], document, err


def toaster_env(state):
    env = dict(os.environ)
    env[load_common.STATE_ENV] = str(state)
    return env


def children_of(pid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as handle:
                text = handle.read()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(name))
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ usage

def test_help_shows_examples_and_exit_codes(capsys):
    code, out, _ = run_tool(toaster, ["--help"], capsys)
    assert code == 0
    assert "toaster cpu,mem,disk --duration 10m" in out and "130" in out


def test_no_workload_without_a_terminal_is_a_one_line_usage_error(capsys):
    code, out, err = run_tool(toaster, [], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("toaster: no workload given")


@pytest.mark.parametrize("argv,needle", [
    (["gpu"], "unknown workload"),
    (["disk", "--device", "/dev/null"], "--yes-destroy-data"),
    (["net", "--reverse", "--bidir"], "--reverse and --bidir"),
    (["cpu", "--root", "/tmp"], "--root only applies"),
    (["cpu", "--cpus", "4096"], "affinity"),
])
def test_bad_requests_are_usage_errors_in_one_line(argv, needle, capsys):
    code, out, err = run_tool(toaster, argv, capsys)
    assert code == 2, err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


# ------------------------------------------------------------------ workloads

def test_cpu_runs_verified_work_on_every_selected_cpu(capsys):
    cpus = load_common.allowed_cpus()
    code, result, _, _ = run_json(["cpu", "--duration", "1s", "--method", "sha256",
                                   "--cpus", load_common.format_cpu_list(cpus)], capsys)
    assert code == 0
    cpu = result["cpu"]
    assert len(cpu["workers"]) == len(cpus)
    assert sorted(w["cpu"] for w in cpu["workers"]) == cpus
    assert cpu["ops"] > 0 and cpu["ops_per_s"] > 0 and cpu["bytes_per_s"] > 0
    assert cpu["errors"] == 0 and cpu["verified"]
    assert all(w["busy_pct"] > 0 for w in cpu["workers"])
    assert result["stopped"] == "duration"


def test_cpu_fixed_work_is_exact_and_repeatable(capsys):
    code, result, _, _ = run_json(["cpu", "--ops", "7", "--method", "int", "--workers", "2"], capsys)
    assert code == 0
    assert result["cpu"]["ops"] == 7 and result["stopped"] == "work done"
    assert sorted(w["ops"] for w in result["cpu"]["workers"]) == [3, 4]


def test_cpu_duty_cycle_text_summary(capsys):
    code, out, err = run_tool(toaster, ["cpu", "--duration", "1s", "--load", "30", "--cpus", "0",
                                        "--method", "float"], capsys)
    assert code == 0, err
    assert "float, 1 worker(s) on CPUs 0 (pinned), load 30%" in out
    assert "0 error(s), every result verified" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_memory_bandwidth_copies_and_checks(capsys):
    code, result, _, _ = run_json(["mem", "--mem-mode", "bandwidth", "--size", "32M", "--duration", "1s"], capsys)
    assert code == 0
    mem = result["mem"]
    assert mem["bytes_per_s"] > 0 and mem["errors"] == 0
    assert mem["workers"][0]["copied"] > 0


def test_memory_verify_passes_patterns_without_mismatch(capsys):
    code, result, _, _ = run_json(["mem", "--mem-mode", "verify", "--size", "16M", "--duration", "1s"], capsys)
    assert code == 0
    assert result["mem"]["passes"] >= 1 and result["mem"]["mismatches"] == 0


def test_memory_hold_touches_the_whole_size(capsys):
    code, result, _, _ = run_json(["mem", "--mem-mode", "hold", "--size", "48M", "--duration", "1s"], capsys)
    assert code == 0
    mem = result["mem"]
    assert mem["held_peak"] == 48 * 1024 * 1024
    assert mem["workers"][0]["touched"] == 48 * 1024 * 1024


def test_memory_guard_refuses_what_would_cross_the_floor(capsys):
    code, out, err = run_tool(toaster, ["mem", "--size", "100%", "--duration", "1s"], capsys)
    assert code == 1 and out == ""
    assert "memory guard" in err and "--mem-floor" in err and err.count("\n") == 1


def test_disk_sequential_read_on_a_directory_leaves_nothing(tmp_path, capsys):
    target = tmp_path / "target"
    target.mkdir()
    code, result, _, _ = run_json(["disk", "--target", str(target), "--file-size", "8M", "--duration", "1s",
                                   "--disk-floor", "0"], capsys)
    assert code == 0
    disk = result["disk"][0]
    assert disk["ops"] > 0 and disk["bytes_per_s"] > 0 and disk["reads"] == disk["ops"]
    lat = disk["latency_read_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert disk["mount"]["mountpoint"] == load_common.mount_for(str(target)).mountpoint
    assert os.listdir(str(target)) == []


def test_disk_random_mixed_with_verify_and_iops_limit(tmp_path, capsys):
    code, result, _, _ = run_json(["disk", "--target", str(tmp_path), "--disk-mode", "rand-rw", "--read-pct", "70",
                                   "--file-size", "4M", "--iodepth", "2", "--verify", "--ops", "400",
                                   "--iops", "2000", "--disk-floor", "0"], capsys)
    assert code == 0
    disk = result["disk"][0]
    assert disk["ops"] == 400 and disk["workers"] == 2
    assert disk["reads"] > 0 and disk["writes"] > 0
    assert disk["verify_errors"] == 0 and disk["errors"] == 0
    assert disk["latency_write_us"]["samples"] == disk["writes"]


def test_ram_backed_target_is_named_as_such(capsys):
    shm = "/dev/shm"
    mount = load_common.mount_for(shm) if os.path.isdir(shm) else None
    if mount is None or not mount.ram_backed:
        pytest.skip("no tmpfs at /dev/shm on this machine")
    code, out, err = run_tool(toaster, ["disk", "--target", shm, "--file-size", "4M", "--ops", "50",
                                        "--disk-mode", "rand-read"], capsys)
    assert code == 0, err
    assert "RAM-BACKED" in out and "measures memory, not a disk" in out
    assert not [n for n in os.listdir(shm) if n.startswith("%s%d." % (load_common.RUN_PREFIX, os.getpid()))]


def test_network_loopback_tcp_self_test(capsys):
    code, result, document, _ = run_json(["net", "--duration", "1s", "--streams", "2"], capsys)
    assert code == 0, document["warnings"]
    net = result["net"]
    assert net["loopback_self_test"] and net["host"] == "127.0.0.1"
    up = net["totals"]["up"]
    assert up["received"] > 0 and up["bytes_per_s"] > 0
    assert sorted(s["stream"] for s in net["streams"]) == [0, 1]
    assert all(s["received"] > 0 for s in net["streams"])


def test_network_udp_reports_loss_and_jitter(capsys):
    code, result, document, _ = run_json(["net", "--udp", "--rate", "2M", "--duration", "1s"], capsys)
    assert code == 0, document["warnings"]
    udp = result["net"]["totals"]["up"]["udp"]
    assert udp["packets"] > 0 and udp["expected"] >= udp["packets"] - udp["lost"]
    assert "loss_pct" in udp and udp["jitter_ms"] >= 0


def test_network_reverse_receives_from_the_server(capsys):
    code, result, document, _ = run_json(["net", "--reverse", "--duration", "1s"], capsys)
    assert code == 0, document["warnings"]
    assert set(result["net"]["totals"]) == {"down"}
    assert result["net"]["totals"]["down"]["received"] > 0


def test_delay_proxy_delays_and_forwards_intact(capsys):
    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen(1)

    def serve():
        conn, _ = echo.accept()
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    answers = []

    def client():
        sock = None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.05)
        for word in (b"one", b"two", b"three"):
            sock.sendall(word)
            answers.append(sock.recv(100))
        sock.close()

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    code, result, _, _ = run_json(["net", "--delay-proxy", "127.0.0.1:%d" % port,
                                   "127.0.0.1:%d" % echo.getsockname()[1], "--delay", "50ms",
                                   "--jitter", "10ms", "--duration", "1.5s"], capsys)
    thread.join(5)
    echo.close()
    assert code == 0
    assert answers == [b"one", b"two", b"three"]
    assert result["connections"] == 1 and result["bytes_up"] == 11 and result["bytes_down"] == 11
    assert 40 <= result["delay_mean_ms"] <= 60 and result["delay_max_ms"] <= 60


def test_socket_exhaustion_is_bounded(capsys):
    code, result, _, _ = run_json(["net", "--sockets", "300", "--duration", "0.1s"], capsys)
    assert code == 0
    assert result["opened"] == 300 and result["accepted"] == 300 and result["error"] is None


def test_mixed_workloads_give_one_summary(tmp_path, capsys):
    code, result, _, _ = run_json(["cpu,mem,disk", "--duration", "1s", "--workers", "1", "--mem-mode",
                                   "bandwidth", "--size", "16M", "--target", str(tmp_path), "--file-size", "4M",
                                   "--disk-floor", "0"], capsys)
    assert code == 0
    assert result["workloads"] == ["cpu", "mem", "disk"]
    assert result["cpu"]["ops"] > 0 and result["mem"]["bytes_per_s"] > 0 and result["disk"][0]["ops"] > 0
    assert result["command"].startswith("toaster cpu,mem,disk --duration 1s")


# ------------------------------------------------------------------ guards on real small file systems

@pytest.fixture
def small_tmpfs(tmp_path):
    need_root()
    point = tmp_path / "small"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64M", "toaster-test", str(point)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode:
        pytest.skip("cannot mount a tmpfs: %s" % done.stderr.decode().strip())
    yield point
    subprocess.run(["umount", "-l", str(point)])


def test_disk_guard_refuses_files_that_would_cross_the_floor(small_tmpfs, capsys):
    code, out, err = run_tool(toaster, ["disk", "--target", str(small_tmpfs), "--file-size", "8M",
                                        "--duration", "1s"], capsys)
    assert code == 1 and out == ""
    assert "disk guard" in err and "at least 1.0G must stay free" in err
    code, out, err = run_tool(toaster, ["disk", "--target", str(small_tmpfs), "--file-size", "40M",
                                        "--disk-floor", "32M", "--duration", "1s"], capsys)
    assert code == 1 and "disk guard" in err and "--disk-floor" in err
    assert os.listdir(str(small_tmpfs)) == []


def test_disk_guard_stops_a_run_when_others_fill_the_disk(small_tmpfs, private_state):
    proc = subprocess.Popen([sys.executable, SCRIPT, "disk", "--target", str(small_tmpfs), "--file-size", "4M",
                             "--disk-floor", "24M", "--duration", "60s", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=toaster_env(private_state))
    try:
        assert wait_for(lambda: any(n.startswith(load_common.RUN_PREFIX) for n in os.listdir(str(small_tmpfs))))
        time.sleep(0.5)
        with open(str(small_tmpfs / "filler"), "wb") as handle:
            handle.write(b"\0" * (40 * 1024 * 1024))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err
    result = json.loads(out.decode())["result"]
    assert result["stopped"].startswith("disk guard") and result["elapsed"] < 60
    assert os.listdir(str(small_tmpfs)) == ["filler"]


@pytest.fixture
def loop_device(tmp_path):
    need_root()
    image = tmp_path / "disk.img"
    with open(str(image), "wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    done = subprocess.run(["losetup", "-f", "--show", str(image)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode:
        pytest.skip("no loop device: %s" % done.stderr.decode().strip())
    device = done.stdout.decode().strip()
    yield device, image
    subprocess.run(["umount", device], stderr=subprocess.PIPE)
    subprocess.run(["losetup", "-d", device])


def test_raw_devices_need_both_flags_and_must_not_be_mounted(loop_device, tmp_path, capsys):
    device, image = loop_device
    with open(device, "r+b") as handle:
        handle.write(b"PRECIOUS" * 512)
    code, _, err = run_tool(toaster, ["disk", "--target", device, "--duration", "1s"], capsys)
    assert code == 2 and "--device %s --yes-destroy-data" % device in err
    code, _, err = run_tool(toaster, ["disk", "--device", device, "--duration", "1s"], capsys)
    assert code == 2 and "--yes-destroy-data" in err
    with open(device, "rb") as handle:
        assert handle.read(8) == b"PRECIOUS"
    code, result, _, _ = run_json(["disk", "--device", device, "--yes-destroy-data", "--disk-mode", "seq-write",
                                   "--bs", "64K", "--ops", "64", "--verify"], capsys)
    assert code == 0
    assert result["disk"][0]["device"] and result["disk"][0]["verify_errors"] == 0
    with open(device, "rb") as handle:
        assert handle.read(8) != b"PRECIOUS"
    # a mounted device is refused even with both flags
    subprocess.run(["mkfs.ext4", "-q", "-F", device], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    point = tmp_path / "mnt"
    point.mkdir()
    if subprocess.run(["mount", device, str(point)], stderr=subprocess.PIPE).returncode:
        pytest.skip("cannot mount the loop file system")
    try:
        code, _, err = run_tool(toaster, ["disk", "--device", device, "--yes-destroy-data", "--ops", "1"], capsys)
        assert code == 1 and "is mounted on %s" % point in err
        # the small loop file system itself: the default floor of 1 GiB refuses any file
        code, _, err = run_tool(toaster, ["disk", "--target", str(point), "--file-size", "1M", "--ops", "1"],
                                capsys)
        assert code == 1 and "disk guard" in err
    finally:
        subprocess.run(["umount", str(point)])


def _memory_cgroup_dir():
    kind, dirs = load_common._cgroup_dirs(load_common.procfs.ProcFS("/"), "memory")
    if kind != "cgroup" or not dirs:
        return None
    return dirs[0]


@pytest.fixture
def memory_cgroup():
    need_root()
    parent = _memory_cgroup_dir()
    if parent is None or not os.access(parent, os.W_OK):
        pytest.skip("no writable cgroup v1 memory controller here")
    path = os.path.join(parent, "toaster-test-%d" % os.getpid())
    try:
        os.mkdir(path)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as handle:
            handle.write("%d" % (256 * 1024 * 1024))
    except OSError as error:
        pytest.skip("cannot create a memory-limited cgroup: %s" % error)
    yield path
    for _ in range(50):
        try:
            os.rmdir(path)
            break
        except OSError:
            time.sleep(0.1)


def _in_cgroup(path):
    def enter():
        with open(os.path.join(path, "cgroup.procs"), "w") as handle:
            handle.write("0")
    return enter


def test_memory_guard_holds_inside_a_limited_cgroup(memory_cgroup, private_state):
    env = toaster_env(private_state)
    refused = subprocess.run([sys.executable, SCRIPT, "mem", "--size", "240M", "--duration", "1s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             preexec_fn=_in_cgroup(memory_cgroup))
    assert refused.returncode == 1
    assert b"memory guard" in refused.stderr and b"cgroup limit 256M" in refused.stderr
    grown = subprocess.run([sys.executable, SCRIPT, "mem", "--mem-mode", "growth", "--rate", "600M",
                            "--duration", "1.5s", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, preexec_fn=_in_cgroup(memory_cgroup))
    assert grown.returncode in (0, 3), grown.stderr    # never killed by the OOM killer
    mem = json.loads(grown.stdout.decode())["result"]["mem"]
    assert mem["guard"]["cgroup"]["limit"] == 256 * 1024 * 1024
    assert 0 < mem["held_peak"] < 256 * 1024 * 1024
    with open(os.path.join(memory_cgroup, "memory.failcnt")) as handle:
        assert handle.read().strip() == "0"


def test_memory_guard_stops_the_run_when_another_process_crosses_it(memory_cgroup, private_state):
    # floor 20 % (51M): the hog leaves about 30M of the 256M free, well clear of the limit itself
    proc = subprocess.Popen([sys.executable, SCRIPT, "mem", "--size", "32M", "--mem-floor", "20", "--duration", "60s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=toaster_env(private_state),
                            preexec_fn=_in_cgroup(memory_cgroup))
    hog = None
    try:
        assert wait_for(lambda: len(children_of(proc.pid)) >= 1)
        time.sleep(1.0)
        hog = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(180 << 20); time.sleep(30)"],
                               preexec_fn=_in_cgroup(memory_cgroup))
        out, err = proc.communicate(timeout=30)
    finally:
        for child in (proc, hog):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
    assert proc.returncode == 3, err
    text = out.decode()
    assert "stopped: memory guard" in text and "cgroup limit 256M" in text
    with open(os.path.join(memory_cgroup, "memory.failcnt")) as handle:
        assert handle.read().strip() == "0"


# ------------------------------------------------------------------ signals and cleanup

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_stop_everything_print_the_summary_and_leave_nothing(sig, tmp_path, private_state):
    target = tmp_path / "target"
    target.mkdir()
    proc = subprocess.Popen([sys.executable, SCRIPT, "cpu,mem,disk", "--workers", "1", "--target", str(target),
                             "--file-size", "4M", "--disk-floor", "0", "--mem-mode", "hold", "--size", "16M",
                             "--duration", "60s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=toaster_env(private_state))
    try:
        assert wait_for(lambda: len(children_of(proc.pid)) >= 3 and os.listdir(str(target)))
        workers = children_of(proc.pid)
        time.sleep(0.3)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    text = out.decode()
    assert "stopped: " in text and "cpu " in text and "mem " in text and "disk " in text
    assert b"Traceback" not in err
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5)
    assert os.listdir(str(target)) == [] and os.listdir(str(private_state)) == []


def test_workers_die_with_a_killed_parent_and_cleanup_removes_the_files(tmp_path, private_state, capsys):
    target = tmp_path / "target"
    target.mkdir()
    proc = subprocess.Popen([sys.executable, SCRIPT, "disk", "--target", str(target), "--file-size", "4M",
                             "--disk-floor", "0", "--iodepth", "2", "--duration", "60s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=toaster_env(private_state))
    assert wait_for(lambda: len(children_of(proc.pid)) >= 2 and os.listdir(str(target)))
    workers = children_of(proc.pid)
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5), "workers outlived the parent"
    assert os.listdir(str(target)), "nothing left behind to clean (the test needs a SIGKILLed run)"
    code, out, _ = run_tool(toaster, ["cleanup"], capsys)
    assert code == 0 and "removed %s" % target in out
    assert os.listdir(str(target)) == [] and os.listdir(str(private_state)) == []
    code, out, _ = run_tool(toaster, ["cleanup"], capsys)
    assert code == 0 and "nothing to clean up" in out


# ------------------------------------------------------------------ the menu, through a pseudo-terminal

def drive_menu(answers, state, timeout=30.0):
    """Run toaster with no arguments on a pty, typing ``answers``; returns (exit code, screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ["TERM"] = "dumb"
        os.environ[load_common.STATE_ENV] = str(state)
        os.execv(sys.executable, [sys.executable, SCRIPT])
    screen = b""
    pending = list(answers)
    end = time.monotonic() + timeout
    status = None
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            screen += data
            if pending and screen.rstrip().endswith((b":", b"]:")):
                os.write(fd, pending.pop(0).encode() + b"\n")
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
    if status is None or not os.WIFEXITED(status):
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, screen.decode("utf-8", "replace")


def test_menu_rejects_bad_input_without_a_traceback(private_state):
    code, screen = drive_menu(["abc", "0", "9", "3-1", "1-", "q"], private_state)
    assert code == 0
    assert screen.count("not understood") == 5
    assert "nothing run" in screen and "Traceback" not in screen


def test_menu_shows_the_equivalent_command_and_runs_it(private_state):
    code, screen = drive_menu(["1", "later", "1s", "0", "40", "y"], private_state)
    assert code == 0, screen
    assert "not understood" in screen
    assert "toaster cpu --duration 1s --load 40" in screen
    assert "stopped: duration" in screen and "Traceback" not in screen


# ------------------------------------------------------------------ fixed work, targets

def test_fixed_work_ends_the_workloads_that_have_none(capsys):
    code, result, _, _ = run_json(["cpu,mem", "--ops", "6", "--method", "int", "--workers", "1",
                                   "--mem-mode", "hold", "--size", "8M"], capsys)
    assert code == 0
    assert result["stopped"] == "work done" and result["cpu"]["ops"] == 6
    # The hold ends with the CPU work; on a busy machine it may not have reached
    # its size by then, and the result must say so rather than claim it.
    held = result["mem"]["held_peak"]
    assert 0 <= held <= 8 * 1024 * 1024
    if result["mem"]["seconds_to_target"] is not None:
        assert held == 8 * 1024 * 1024
    code, _, err = run_tool(toaster, ["mem", "--mem-mode", "hold", "--ops", "3"], capsys)
    assert code == 2 and "give --duration" in err


def test_targets_lists_real_file_systems(capsys):
    code, out, _ = run_tool(toaster, ["targets"], capsys)
    assert code == 0
    assert out.startswith("MOUNT") and "\n/ " in out
    code, result, _, _ = run_json(["targets"], capsys)
    root = [t for t in result["targets"] if t["mountpoint"] == "/"][0]
    assert root["free"] > 0 and root["floor"] >= 1024 ** 3 and root["usable"] == max(0, root["free"] - root["floor"])


def test_targets_of_a_captured_tree(tmp_path, capsys):
    (tmp_path / "proc" / "self").mkdir(parents=True)
    with open(fixture_path("toaster", "mountinfo-loop-tmpfs.txt")) as handle:
        (tmp_path / "proc" / "self" / "mountinfo").write_text(handle.read())
    code, result, _, _ = run_json(["targets", "--root", str(tmp_path)], capsys)
    assert code == 0
    points = {t["mountpoint"]: t for t in result["targets"]}
    assert "/tmp/mnt with space" in points and points["/tmp/tfs"]["ram_backed"]
    assert "/run/netns" not in points           # a bind mount of part of /
    assert "/sys/fs/cgroup" not in points and "/mnt/sandboxing/model_tools_env/v1/python" not in points
    assert points["/"]["free"] is None          # no live numbers for a captured tree


def test_progress_goes_to_a_terminal_only(private_state):
    quiet = subprocess.run([sys.executable, SCRIPT, "cpu", "--workers", "1", "--duration", "1.5s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=toaster_env(private_state))
    assert quiet.returncode == 0 and quiet.stderr == b""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child: stderr (and stdout) on the terminal
        os.environ[load_common.STATE_ENV] = str(private_state)
        os.execv(sys.executable, [sys.executable, SCRIPT, "cpu", "--workers", "1", "--duration", "2.5s"])
    screen = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        screen += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WEXITSTATUS(status) == 0
    text = screen.decode("utf-8", "replace")
    assert "\rtoaster: cpu " in text and "ops/s" in text and "stopped: duration" in text


def test_client_without_a_server_is_one_line(capsys):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    code, out, err = run_tool(toaster, ["net", "--client", "127.0.0.1:%d" % port, "--duration", "1s"], capsys)
    assert code == 1 and out == ""
    assert "cannot connect to 127.0.0.1 port %d" % port in err and err.count("\n") == 1


def test_a_public_server_needs_named_clients(capsys):
    code, _, err = run_tool(toaster, ["net", "--server", "--bind", "0.0.0.0:0", "--duration", "1s"], capsys)
    assert code == 1 and "--allow HOST" in err
