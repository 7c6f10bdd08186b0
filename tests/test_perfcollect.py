"""perfcollect as users run it: run, start/status/stop, SIGKILL, non-root, quick, services, analyze.

Recordings here use sub-second intervals and durations of a second or
two; background recorders are started through the real command line in
a subprocess and always stopped (or killed) by their own PID.
"""

import gzip
import json
import os
import pwd
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from conftest import ROOT, fixture_path, run_tool

from scripts import perfcollect
from shared import perf_format, perf_service, recorder_daemon

SCRIPT = os.path.join(ROOT, "scripts", "perfcollect.py")
GOLDEN = fixture_path("perfcollect", "golden")
RECORDING = fixture_path("perfcollect", "rec-incident")


def tool(argv, **options):
    env = dict(os.environ, RESCUEKIT_NO_MANNERS="1", NO_COLOR="1")
    return subprocess.Popen([sys.executable, SCRIPT] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, universal_newlines=True, **options)


def finish(process, timeout=60):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def samples_in(directory):
    count = 0
    for _, path in perf_format.list_segments(directory):
        count += sum(1 for r in perf_format.SegmentReader(path) if r.get("type") == "sample")
    return count


def wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- help and usage

def test_help_names_every_action_and_example(capsys):
    code, out, _ = run_tool(perfcollect, ["--help"], capsys)
    assert code == 0
    for action in perfcollect.ACTIONS:
        assert action in out
    assert "perfcollect quick --duration 60s --scrub" in out and "exit status:" in out


def test_bad_trigger_is_a_one_line_usage_error(tmp_path, capsys):
    code, out, err = run_tool(perfcollect, ["run", "--out", str(tmp_path), "--trigger", "lod1>3"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("perfcollect: bad --trigger") and "unknown metric" in err and len(err.splitlines()) == 1


def test_analyze_refuses_a_folder_without_a_recording(tmp_path, capsys):
    code, _, err = run_tool(perfcollect, ["analyze", str(tmp_path)], capsys)
    assert code == 2 and "no perfcollect recording" in err
    code, _, err = run_tool(perfcollect, ["status", str(tmp_path)], capsys)
    assert code == 2 and "not a perfcollect recording" in err


# ---------------------------------------------------------------- foreground run and analysis

def test_run_then_analyze(tmp_path, capsys):
    out_dir = str(tmp_path / "rec")
    code, out, err = run_tool(perfcollect, ["run", "--out", out_dir, "--interval", "0.2", "--duration", "1",
                                            "--max-size", "2M", "--min-free", "1M"], capsys)
    assert code == 0, err
    assert out.startswith("recorded 5 sample(s) into %s" % out_dir)
    assert "recording into %s every 0.2s" % out_dir in err
    assert samples_in(out_dir) == 5
    names = os.listdir(out_dir)
    assert "manifest.json" in names and [n for n in names if n.startswith("inventory-")]
    inventory = json.load(open(os.path.join(out_dir, [n for n in names if n.startswith("inventory-")][0])))
    assert inventory["kernel"]["release"] == os.uname().release
    assert inventory["cpu"]["logical_cpus"] >= 1 and inventory["memory"]["MemTotal_kb"] > 0
    for name, entry in inventory["commands"].items():      # never an empty answer
        assert entry["status"] != "ok" or entry["output"] is not None
        assert entry["status"] == "ok" or entry["status"]
    code, out, err = run_tool(perfcollect, ["analyze", out_dir, "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    analysis = document["result"]["analysis"]
    assert document["tool"] == "perfcollect" and analysis["samples"] == 5
    assert analysis["recording"]["state"] == "stopped"
    assert analysis["headline"]["load1"]["samples"] == 5
    # every record carries the shared metric names and epoch times
    first = [r for r in perf_format.SegmentReader(perf_format.list_segments(out_dir)[0][1])
             if r["type"] == "sample"][0]
    assert "cpu.user_pct" in first["m"] and "mem.available_kb" in first["m"] and "load1" in first["m"]
    assert "cpu.0.user_pct" in first["m"]
    assert abs(first["t"] - time.time()) < 600
    assert set(first["top"]) >= {"cpu", "mem", "io", "dstate"}


def test_run_with_sysstat_leaves_no_children(tmp_path, capsys):
    from shared import runner
    if not runner.which("sar") or not runner.which("pidstat"):
        pytest.skip("sysstat is not installed (apt-get install -y sysstat)")
    out_dir = str(tmp_path / "rec")
    code, _, err = run_tool(perfcollect, ["run", "--out", out_dir, "--interval", "1", "--duration", "2",
                                          "--max-size", "4M", "--min-free", "1M", "--with-sysstat"], capsys)
    assert code == 0, err
    assert os.path.getsize(os.path.join(out_dir, "sysstat", "sa.data")) > 0
    manifest, _ = perf_format.read_manifest(out_dir)
    assert manifest["sysstat"] == ["sar", "pidstat"]
    mine = [p for p in os.listdir("/proc") if p.isdigit() and _is_child_of_dir(p, out_dir)]
    assert mine == []


def _is_child_of_dir(pid, out_dir):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            return out_dir.encode() in handle.read()
    except OSError:
        return False


# ---------------------------------------------------------------- background: start, status, stop

def test_start_status_stop_by_pid_file(tmp_path):
    out_dir = str(tmp_path / "rec")
    code, out, err = finish(tool(["start", "--out", out_dir, "--interval", "0.2", "--max-size", "2M",
                                  "--min-free", "1M", "--trigger", "procs.total>0", "--pre", "1s",
                                  "--hires-interval", "0.1"]))
    assert code == 0, err
    pid = int(out.split("as pid ")[1].split()[0])
    try:
        assert recorder_daemon.read_pidfile(out_dir)[0] == pid
        assert open("/proc/%d/comm" % pid).read().strip() == "perfcollect"
        assert os.getsid(pid) != os.getsid(0)                      # detached into its own session
        assert wait_for(lambda: samples_in(out_dir) >= 3)
        code, out, err = finish(tool(["status", out_dir]))
        assert code == 0 and "recording, pid %d" % pid in " ".join(out.split())   # long paths wrap
        # a second recorder on the same folder is refused
        code, _, err = finish(tool(["start", "--out", out_dir, "--min-free", "1M"]))
        assert code == 1 and "already being recorded by pid %d" % pid in err
        code, _, _ = finish(tool(["start", "--out", out_dir, "--if-not-running", "--min-free", "1M"]))
        assert code == 0
        code, out, err = finish(tool(["stop", out_dir]))
        assert code == 0 and "stopped pid %d" % pid in out
    finally:
        _kill_if_alive(pid)
    assert not os.path.exists("/proc/%d" % pid) or _state(pid) == "Z"
    assert recorder_daemon.read_pidfile(out_dir) is None
    code, out, _ = finish(tool(["status", out_dir, "--json"]))
    status = json.loads(out)["result"]["status"]
    assert code == 1 and status["running"] is False and status["state"] == "stopped"
    snapshots = os.listdir(os.path.join(out_dir, "snapshots"))
    assert len(snapshots) == 1    # the trigger held all along: one trip, then the cool-down


def _state(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _kill_if_alive(pid):
    if _state(pid) not in (None, "Z"):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_stop_never_signals_a_process_that_is_not_its_recorder(tmp_path):
    out_dir = str(tmp_path / "rec")
    os.makedirs(out_dir)
    with open(os.path.join(out_dir, "manifest.json"), "w") as handle:
        json.dump({"format": "perfcollect", "state": "running"}, handle)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        recorder_daemon.write_pidfile(out_dir, bystander.pid)
        code, _, err = finish(tool(["stop", out_dir]))
        assert code == 1 and "pid %d is not perfcollect" % bystander.pid in err and "nothing was signalled" in err
        assert bystander.poll() is None
        # a pid file whose process is gone
        bystander.kill()
        bystander.wait()
        code, _, err = finish(tool(["stop", out_dir]))
        assert code == 1 and "is not running" in err
        code, out, _ = finish(tool(["status", out_dir]))
        assert code == 1 and "stale pid file" in " ".join(out.split())
    finally:
        if bystander.poll() is None:
            bystander.kill()
            bystander.wait()


def test_sigkill_mid_run_then_analyze_and_restart(tmp_path):
    out_dir = str(tmp_path / "rec")
    process = tool(["run", "--out", out_dir, "--interval", "0.1", "--max-size", "4M", "--min-free", "1M"])
    try:
        assert wait_for(lambda: samples_in(out_dir) >= 10), "no samples written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    recorded = samples_in(out_dir)
    assert recorded >= 10
    reader = perf_format.SegmentReader(perf_format.list_segments(out_dir)[-1][1])
    list(reader)
    assert "no end marker" in reader.problem
    code, out, err = finish(tool(["analyze", out_dir]))
    assert code == 0, err
    assert "did not stop cleanly" in err
    assert "host " in out and "%d sample(s)" % recorded in out
    # the folder can be recorded again at once: the lock died with the process
    code, out, err = finish(tool(["run", "--out", out_dir, "--interval", "0.2", "--duration", "0.5",
                                  "--max-size", "4M", "--min-free", "1M"]))
    assert code == 0, err
    manifest, _ = perf_format.read_manifest(out_dir)
    assert manifest["runs"][0]["end_reason"].startswith("killed or crashed")
    assert manifest["runs"][1]["end_reason"] == "duration reached"
    assert len(perf_format.list_segments(out_dir)) == 2   # a new segment, the killed one kept as it was
    assert samples_in(out_dir) >= recorded + 2


def test_stop_ends_a_foreground_run_cleanly(tmp_path):
    out_dir = str(tmp_path / "rec")
    process = tool(["run", "--out", out_dir, "--interval", "0.1", "--max-size", "4M", "--min-free", "1M"])
    try:
        assert wait_for(lambda: samples_in(out_dir) >= 3)
        code, out, err = finish(tool(["status", out_dir]))
        assert code == 0 and "recording, pid %d" % process.pid in " ".join(out.split())
        code, out, err = finish(tool(["stop", out_dir]))      # SIGTERM, by the run's pid file
        assert code == 0 and "stopped pid %d" % process.pid in out
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
    code, out, err = finish(process)
    assert code == 0 and out.startswith("recorded ")
    manifest, _ = perf_format.read_manifest(out_dir)
    assert manifest["state"] == "stopped" and manifest["runs"][-1]["end_reason"] == "signal TERM"
    reader = perf_format.SegmentReader(perf_format.list_segments(out_dir)[-1][1])
    list(reader)
    assert reader.complete and reader.problem is None


def test_non_root_run(tmp_path, capsys):
    if os.geteuid() != 0:
        out_dir = str(tmp_path / "rec")
        code, _, err = run_tool(perfcollect, ["run", "--out", out_dir, "--interval", "0.2", "--duration", "0.6",
                                              "--max-size", "2M", "--min-free", "1M"], capsys)
        assert code == 0, err
        _check_non_root_recording(out_dir, os.geteuid())
        return
    # as root: fork, drop to nobody, record into a folder nobody owns (pytest's own
    # temporary folders are private to root, so this one is made beside them)
    import shutil
    import tempfile
    nobody = pwd.getpwnam("nobody")
    top = tempfile.mkdtemp(prefix="perfcollect-nobody-")
    try:
        os.chmod(top, 0o755)
        out_dir = os.path.join(top, "rec")
        os.makedirs(out_dir)
        os.chown(out_dir, nobody.pw_uid, nobody.pw_gid)
        errors = os.path.join(top, "stderr")
        from shared import perf_inventory, perf_snapshot  # noqa: F401 (imported before dropping privileges)
        child = os.fork()
        if child == 0:
            code = 99
            try:
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                sys.stdout = open(os.devnull, "w")
                sys.stderr = open(errors if os.access(top, os.W_OK) else os.devnull, "w")
                code = perfcollect.main(["run", "--out", out_dir, "--interval", "0.2", "--duration", "0.6",
                                         "--max-size", "2M", "--min-free", "1M", "--trigger", "procs.total>0"])
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.WEXITSTATUS(status) == 0
        _check_non_root_recording(out_dir, nobody.pw_uid)
        snapshot = os.path.join(out_dir, "snapshots", os.listdir(os.path.join(out_dir, "snapshots"))[0])
        index = json.load(open(os.path.join(snapshot, "index.json")))
        assert "root" in index["files"]["slabinfo.txt"]           # not available, and why
        assert not os.path.exists(os.path.join(snapshot, "slabinfo.txt"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _check_non_root_recording(out_dir, uid):
    manifest, _ = perf_format.read_manifest(out_dir)
    assert manifest["runs"][0]["uid"] == uid and manifest["state"] == "stopped"
    assert samples_in(out_dir) == 3
    if uid != 0 and open("/proc/sys/kernel/dmesg_restrict").read().strip() == "1":
        assert manifest["kmsg"].startswith("not recorded") and "permission denied" in manifest["kmsg"]


# ---------------------------------------------------------------- quick

def test_quick_packs_one_archive_and_scrubs_secrets(tmp_path, capsys):
    secret = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "--password=hunter2secret"])
    try:
        code, out, err = run_tool(perfcollect, ["quick", "--duration", "1", "--interval", "0.25", "--scrub",
                                                "--out", str(tmp_path), "--trigger", "procs.total>0",
                                                "--min-free", "1M"], capsys)
    finally:
        secret.kill()
        secret.wait()
    assert code == 0, err
    archive = out.strip()
    assert archive.endswith(".tar.gz") and os.path.isfile(archive)
    mapping = archive[:-len(".tar.gz")] + ".scrub-map.txt"
    left = set(os.listdir(str(tmp_path)))    # the working folder is gone: the archive (and the map)
    assert left == set([os.path.basename(archive)] + ([os.path.basename(mapping)] if os.path.exists(mapping) else []))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert any(n.endswith("/manifest.json") for n in names)
        assert any("/segment-" in n for n in names) and any("/snapshots/" in n for n in names)
        blob = b""
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()
                if member.name.endswith(".gz"):
                    data = gzip.decompress(data)
                    for line in data.splitlines():
                        json.loads(line.decode())     # still valid JSON after scrubbing
                blob += data
    assert b"hunter2secret" not in blob and b"--password=********" in blob
    host = os.uname().nodename
    if len(host) >= 3:
        assert host.encode() not in blob
        assert os.stat(mapping).st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- service install

def systemd_root(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/systemd").write_text("")
    (root / "etc/systemd/system").mkdir(parents=True)
    return str(root)


def test_install_service_systemd_under_root_and_uninstall_exactly(tmp_path, capsys):
    root = systemd_root(tmp_path)
    argv = ["install-service", "--root", root, "--out", "/var/log/perfcollect", "--interval", "10",
            "--max-size", "1G", "--trigger", "kmsg:soft lockup", "--program", "/usr/bin/python3 /opt/rk/perfcollect.py"]
    code, out, _ = run_tool(perfcollect, argv, capsys)
    assert code == 0 and "would do (systemd)" in out and "nothing changed" in out
    unit = os.path.join(root, perf_service.UNIT_PATH)
    assert not os.path.exists(unit)
    code, out, err = run_tool(perfcollect, argv + ["--yes"], capsys)
    assert code == 0, err
    text = open(unit).read()
    assert ('ExecStart=/usr/bin/python3 /opt/rk/perfcollect.py run --out /var/log/perfcollect --interval 10 '
            '--max-size 1G --trigger "kmsg:soft lockup"') in text
    assert "IOSchedulingClass=idle" in text and "WantedBy=multi-user.target" in text
    link = os.path.join(root, perf_service.WANTS_LINK)
    assert os.readlink(link) == "/" + perf_service.UNIT_PATH
    # someone else's file next to ours is left alone by uninstall
    other = os.path.join(root, "etc/systemd/system/other.service")
    open(other, "w").write("[Unit]\n")
    code, out, err = run_tool(perfcollect, ["uninstall-service", "--root", root, "--yes"], capsys)
    assert code == 0, err
    assert not os.path.exists(unit) and not os.path.lexists(link)
    assert not os.path.exists(os.path.join(root, perf_service.RECEIPT))
    assert os.path.exists(other)


def test_uninstall_keeps_a_unit_changed_since_install(tmp_path, capsys):
    root = systemd_root(tmp_path)
    argv = ["install-service", "--root", root, "--program", "/usr/bin/perfcollect", "--yes"]
    assert run_tool(perfcollect, argv, capsys)[0] == 0
    unit = os.path.join(root, perf_service.UNIT_PATH)
    with open(unit, "a") as handle:
        handle.write("# local change\n")
    code, out, err = run_tool(perfcollect, ["uninstall-service", "--root", root, "--yes"], capsys)
    assert code == 0
    assert os.path.exists(unit) and "keep  /%s" % perf_service.UNIT_PATH in out and "changed since install" in out


def test_install_refuses_to_overwrite_a_foreign_unit(tmp_path, capsys):
    root = systemd_root(tmp_path)
    unit = os.path.join(root, perf_service.UNIT_PATH)
    open(unit, "w").write("[Service]\nExecStart=/bin/true\n")
    code, _, err = run_tool(perfcollect, ["install-service", "--root", root, "--program", "/usr/bin/perfcollect",
                                          "--yes"], capsys)
    assert code == 1 and "was not written by perfcollect" in err
    assert open(unit).read() == "[Service]\nExecStart=/bin/true\n"


def test_install_service_cron_where_there_is_no_systemd(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "etc/cron.d").mkdir(parents=True)
    code, out, err = run_tool(perfcollect, ["install-service", "--root", str(root), "--program",
                                            "/usr/local/sbin/perfcollect", "--max-size", "200M", "--yes"], capsys)
    assert code == 0, err
    text = open(str(root / perf_service.CRON_PATH)).read()
    line = ("/usr/local/sbin/perfcollect start --if-not-running --out /var/log/perfcollect --interval 5 "
            "--max-size 200M")
    assert "@reboot root %s" % line in text and "*/10 * * * * root %s" % line in text
    code, _, err = run_tool(perfcollect, ["uninstall-service", "--root", str(root), "--yes"], capsys)
    assert code == 0 and not os.path.exists(str(root / perf_service.CRON_PATH))
    code, _, err = run_tool(perfcollect, ["uninstall-service", "--root", str(root), "--yes"], capsys)
    assert code == 1 and "no perfcollect service installed" in err


# ---------------------------------------------------------------- a real recording, analysed

def test_analysis_of_a_real_recording_matches_the_golden_output(capsys):
    cwd_before = os.getcwd()
    if not os.path.isdir(RECORDING):
        pytest.skip("fixture recording missing")
    # A path relative to the checkout keeps the text (and its wrapping) the same wherever it lives.
    import conftest
    os.chdir(conftest.ROOT)
    try:
        code, out, err = run_tool(perfcollect, ["analyze", "fixtures/perfcollect/rec-incident", "--utc"], capsys)
    finally:
        os.chdir(cwd_before)
    assert code == 0, err
    golden = os.path.join(GOLDEN, "analyze-rec-incident.txt")
    if os.environ.get("RESCUEKIT_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(golden, "w") as handle:
            handle.write(out)
    with open(golden) as handle:
        assert out == handle.read()


def test_analysis_of_the_real_recording_answers_the_questions(capsys):
    if not os.path.isdir(RECORDING):
        pytest.skip("fixture recording missing")
    code, out, _ = run_tool(perfcollect, ["analyze", RECORDING, "--json", "--fail-on", "warning"], capsys)
    analysis = json.loads(out)["result"]["analysis"]
    assert code == 1           # warnings were found
    assert analysis["episodes"]["runqueue"], "the CPU hogs pushed the run queue past the CPU count"
    assert [s for s in analysis["leak_suspects"] if s["comm"] == "python3"], "the leaking process"
    kinds = [r["kind"] for r in analysis["kernel"]["reports"]]
    assert "hung-task" in kinds
    snap = analysis["snapshots"][0]
    assert snap["trigger"].startswith("kmsg:") and snap["pre_window"]["samples"] > 0
