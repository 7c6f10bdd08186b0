"""perfcollect's engine: segments, budget, floor, schedule, clocks, triggers, analysis.

The recorder runs in-process here with injected clocks (``FakeClock``), a
synchronous writer and, where the data itself does not matter, a sampler
that makes up metrics (``FakeSampler``) -- so hours of recording take
milliseconds and nothing depends on how fast this machine is.
"""

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time

import pytest

from conftest import fixture_path, need_root

from shared import perf_analyze, perf_budget, perf_format, perf_triggers, procfs, recorder, runner, samplers


class FakeClock(object):
    """Monotonic and wall clocks that move only when told to."""

    def __init__(self, mono=1000.0, wall=1718000000.0):
        self.mono = mono
        self.wall = wall
        self.hooks = []
        self.sleeps = 0

    def monotonic(self):
        return self.mono

    def time(self):
        return self.wall

    def advance(self, seconds):
        self.mono += seconds
        self.wall += seconds

    def sleep(self, seconds):
        self.sleeps += 1
        self.advance(seconds)
        for hook in list(self.hooks):
            hook(self)


class FakeSampler(object):
    """Snapshots that cost ``cost`` seconds of fake time and carry noisy metrics."""

    def __init__(self, clock, metrics=60, cost=0.0, stall_at=None, stall=0.0, seed=1):
        self.clock = clock
        self.procfs = procfs.ProcFS("/")
        self.count = 0
        self.metrics = metrics
        self.cost = cost
        self.stall_at = stall_at
        self.stall = stall
        self.random = random.Random(seed)
        self.snapshots = []

    def snapshot(self):
        self.count += 1
        self.clock.advance(self.cost)
        if self.stall_at is not None and self.count == self.stall_at:
            self.clock.advance(self.stall)
        snap = {"mono": self.clock.monotonic(), "wall": self.clock.time(), "uptime": 5000.0,
                "stat": {"cpus": {"cpu": [0] * 10, "cpu0": [0] * 10}}, "procs": {}}
        self.snapshots.append(snap["mono"])
        return snap

    def compute(self, prev, cur):
        values = dict(("disk.sd%s.await_ms" % chr(97 + i), self.random.random() * 1000) for i in range(self.metrics))
        values["load1"] = 1.0
        return {"time": cur["wall"], "interval": cur["mono"] - prev["mono"], "metrics": values, "processes": []}

    def disk_names(self):
        return {}


def settings(tmp_path, **options):
    options.setdefault("inventory", False)
    options.setdefault("kmsg", False)
    options.setdefault("fsync", False)
    return recorder.Settings(str(tmp_path / "rec"), argv=["test"], **options)


def make_recorder(tmp_path, clock, sampler=None, statvfs=os.statvfs, **options):
    rec = recorder.Recorder(settings(tmp_path, **options), sampler=sampler, clock=clock.monotonic,
                            wall=clock.time, sleep=clock.sleep, threaded=False, statvfs=statvfs,
                            run=runner.RecordingRunner())
    return rec


def records(directory, kind=None):
    found = []
    for _, path in perf_format.list_segments(directory):
        for record in perf_format.SegmentReader(path):
            if kind is None or record.get("type") == kind:
                found.append(record)
    return found


# ---------------------------------------------------------------- the segment format

def test_segment_reads_back_with_gzip_and_without_its_trailer(tmp_path):
    path = str(tmp_path / "segment-000001.jsonl.gz")
    writer = perf_format.SegmentWriter(path)
    for number in range(50):
        writer.append(perf_format.dumps({"type": "sample", "t": number, "m": {"load1": number / 10.0}}))
    writer.close()
    with gzip.open(path, "rt") as handle:       # what a pandas user does
        assert [json.loads(line)["t"] for line in handle] == list(range(50))
    # a recorder killed mid-segment leaves no trailer: every record before reads back
    killed = str(tmp_path / "segment-000002.jsonl.gz")
    writer = perf_format.SegmentWriter(killed)
    for number in range(20):
        writer.append(perf_format.dumps({"type": "sample", "t": number}))
    writer.abandon()
    reader = perf_format.SegmentReader(killed)
    assert [r["t"] for r in reader] == list(range(20))
    assert "no end marker" in reader.problem


def test_segment_survives_a_record_cut_in_half_and_trailing_garbage(tmp_path):
    path = str(tmp_path / "segment-000001.jsonl.gz")
    writer = perf_format.SegmentWriter(path)
    for number in range(10):
        writer.append(perf_format.dumps({"type": "sample", "t": number, "pad": "x" * 300}))
    chunk = writer.encode(perf_format.dumps({"type": "sample", "t": 10, "pad": "y" * 3000}))
    os.write(writer.fd, chunk[:len(chunk) // 2])   # SIGKILL in the middle of a write
    writer.abandon()
    reader = perf_format.SegmentReader(path)
    assert [r["t"] for r in reader] == list(range(10))
    # power loss: the file was extended with zeros that never got their data
    with open(path, "ab") as handle:
        handle.write(b"\0" * 4096)
    reader = perf_format.SegmentReader(path)
    assert [r["t"] for r in reader] == list(range(10))
    assert reader.problem


def test_procfs_reads_proc_sys_files_that_refuse_large_reads():
    # /proc/sys handlers allocate the whole read size; an 8 MiB read fails with ENOMEM
    value = procfs.ProcFS("/").read("proc/sys/kernel/random/boot_id")
    assert value is not None and len(value.strip()) == 36


# ---------------------------------------------------------------- budget and rotation

def test_budget_is_never_exceeded_and_oldest_segments_go_first(tmp_path):
    clock = FakeClock()
    max_size = 256 * 1024
    rec = make_recorder(tmp_path, clock, FakeSampler(clock), interval=1.0, duration=900, max_size=max_size)
    directory = rec.settings.out
    sizes = []
    seen_segments = set()
    clock.hooks.append(lambda c: sizes.append(perf_format.directory_size(directory)))
    clock.hooks.append(lambda c: seen_segments.update(n for n, _ in perf_format.list_segments(directory)))
    summary = rec.run()
    assert summary["samples"] == 900
    assert max(sizes) <= max_size, "the directory grew past --max-size"
    assert perf_format.directory_size(directory) <= max_size
    left = [n for n, _ in perf_format.list_segments(directory)]
    assert min(left) > 1, "no rotation: the cap was never reached"
    assert len(seen_segments) > len(left), "older segments were not deleted"
    assert left == sorted(seen_segments)[-len(left):], "not the oldest segments were deleted"
    manifest, _ = perf_format.read_manifest(directory)
    assert manifest["deleted"]["segments"] == len(seen_segments) - len(left)
    assert [s["name"] for s in manifest["segments"]] == [perf_format.segment_name(n) for n in left]
    # what is left reads back in order, the newest sample last
    stamps = [r["t"] for r in records(directory, "sample")]
    assert stamps == sorted(stamps) and stamps[-1] == pytest.approx(clock.wall, abs=1.0)


def test_a_too_small_budget_drops_records_instead_of_exceeding(tmp_path):
    clock = FakeClock()
    rec = make_recorder(tmp_path, clock, FakeSampler(clock, metrics=3000), interval=1.0, duration=50,
                        max_size=64 * 1024)
    rec.run()
    assert perf_format.directory_size(rec.settings.out) <= 64 * 1024
    manifest, _ = perf_format.read_manifest(rec.settings.out)
    assert manifest["dropped"]["budget"] > 0
    assert any("did not fit" in e["message"] for e in manifest["errors"])


class FakeStatvfs(object):
    """A filesystem of 10 GiB whose free space the test sets."""

    def __init__(self, free):
        self.free = free

    def __call__(self, path):
        class Result(object):
            f_frsize = 4096
            f_blocks = 10 * 1024 ** 3 // 4096
            f_bavail = self.free // 4096
            f_bfree = self.free // 4096
        return Result()


def test_free_space_floor_pauses_and_resumes(tmp_path, capsys):
    clock = FakeClock()
    fs = FakeStatvfs(free=8 * 1024 ** 3)
    warnings = []
    rec = make_recorder(tmp_path, clock, FakeSampler(clock), statvfs=fs, interval=1.0, duration=60,
                        max_size=10 * 1024 ** 2)
    rec.warn = warnings.append

    def weather(c):
        second = c.mono - 1000.0
        fs.free = 200 * 1024 ** 2 if 20 <= second < 40 else 8 * 1024 ** 3   # default floor: 1 GiB
    clock.hooks.append(weather)
    rec.run()
    stamps = [r["t"] - 1718000000.0 for r in records(rec.settings.out, "sample")]
    assert not [s for s in stamps if 21 <= s < 39], "samples were written under the floor"
    assert [s for s in stamps if s < 20] and [s for s in stamps if s >= 41]
    manifest, _ = perf_format.read_manifest(rec.settings.out)
    assert len(manifest["pauses"]) == 1 and manifest["pauses"][0]["until"] is not None
    assert any("paused" in w and "floor" in w for w in warnings)
    assert any("resumed" in w for w in warnings)
    assert [e for e in records(rec.settings.out, "event") if e["event"] == "resume"]


def test_floor_setting_forms():
    assert perf_budget.floor_bytes(None, 100 * 1024 ** 3) == 5 * 1024 ** 3      # 5 % of 100G
    assert perf_budget.floor_bytes(None, 4 * 1024 ** 3) == 1024 ** 3           # but at least 1G
    assert perf_budget.floor_bytes(perf_budget.parse_floor("10%"), 1000) == 100
    assert perf_budget.floor_bytes(perf_budget.parse_floor("2M"), 1000) == 2 * 1024 ** 2
    with pytest.raises(ValueError):
        perf_budget.parse_floor("150%")


def test_floor_on_a_real_small_tmpfs(tmp_path):
    need_root()
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % result.stderr.decode().strip())
    try:
        clock = FakeClock()
        out = str(mount / "rec")
        rec = recorder.Recorder(recorder.Settings(out, interval=1.0, duration=30, max_size=3 * 1024 ** 2,
                                                  floor=perf_budget.parse_floor("1M"), inventory=False,
                                                  kmsg=False, fsync=False, argv=["t"]),
                                sampler=FakeSampler(clock), clock=clock.monotonic, wall=clock.time,
                                sleep=clock.sleep, threaded=False)
        filler = str(mount / "filler")

        def fill(c):
            if c.mono - 1000.0 == 10:   # leave well under 1 MiB free
                with open(filler, "wb") as handle:
                    handle.write(b"\0" * (os.statvfs(str(mount)).f_bavail * 4096 - 512 * 1024))
            if c.mono - 1000.0 == 20:
                os.unlink(filler)
        clock.hooks.append(fill)
        rec.run()
        stamps = [r["t"] - 1718000000.0 for r in records(out, "sample")]
        assert [s for s in stamps if s < 10] and [s for s in stamps if s > 21]
        assert not [s for s in stamps if 11 <= s < 20]
        manifest, _ = perf_format.read_manifest(out)
        assert manifest["pauses"] and manifest["pauses"][0]["until"]
        # the default floor (1 GiB) is always above a 4 MiB filesystem: nothing but the pause
        rec = recorder.Recorder(recorder.Settings(str(mount / "rec2"), interval=1.0, duration=5,
                                                  max_size=1024 ** 2, inventory=False, kmsg=False, argv=["t"]),
                                sampler=FakeSampler(clock), clock=clock.monotonic, wall=clock.time,
                                sleep=clock.sleep, threaded=False)
        rec.run()
        assert not records(str(mount / "rec2"), "sample")
        manifest, _ = perf_format.read_manifest(str(mount / "rec2"))
        assert manifest["state"] == "stopped" and manifest["pauses"][0]["until"] is None
    finally:
        subprocess.run(["umount", str(mount)])


# ---------------------------------------------------------------- schedule and clocks

def test_schedule_does_not_drift_and_skips_missed_slots(tmp_path):
    clock = FakeClock()
    sampler = FakeSampler(clock, cost=0.3, stall_at=11, stall=2.6)   # every sample costs 30 %
    rec = make_recorder(tmp_path, clock, sampler, interval=1.0, duration=20, max_size=10 * 1024 ** 2)
    summary = rec.run()
    start = sampler.snapshots[0]   # the priming snapshot; the schedule starts there
    offsets = [round(m - start, 2) for m in sampler.snapshots[1:]]
    # each sample starts on its slot (+ its own cost), not after the previous one
    assert offsets[:9] == [round(k + 0.3, 2) for k in range(1, 10)]
    # slot 10 stalled for 2.6 s: slot 11 is skipped (a whole step late), slot 12 runs 0.9 s
    # late, and from slot 13 on the samples are back on the grid -- no burst, no drift
    assert summary["missed"] == 1
    assert 11.3 not in offsets and 13.2 in offsets
    assert offsets[-7:] == [round(k + 0.3, 2) for k in range(14, 21)]
    missed = [e for e in records(rec.settings.out, "event") if e["event"] == "missed"]
    assert missed and missed[0]["count"] == 1


def test_a_wall_clock_step_is_recorded_and_the_schedule_holds(tmp_path):
    clock = FakeClock()
    sampler = samplers.Sampler("/", clock=clock.monotonic, wall=clock.time)

    def step_back(c):
        if round(c.mono - 1000.0) == 5:
            c.wall -= 3600.0      # NTP steps the clock back an hour
    clock.hooks.append(step_back)
    rec = make_recorder(tmp_path, clock, sampler, interval=1.0, duration=10, max_size=10 * 1024 ** 2)
    summary = rec.run()
    assert summary["samples"] == 10 and summary["missed"] == 0
    samples = records(rec.settings.out, "sample")
    monos = [s["mono"] for s in samples]
    assert [round(b - a, 3) for a, b in zip(monos, monos[1:])] == [1.0] * 9
    walls = [s["t"] for s in samples]
    assert walls[4] - walls[3] == pytest.approx(-3599.0)
    steps = [e for e in records(rec.settings.out, "event") if e["event"] == "clock_step"]
    assert len(steps) == 1 and steps[0]["step"] == pytest.approx(-3600.0)
    manifest, _ = perf_format.read_manifest(rec.settings.out)
    assert manifest["clock_steps"][0]["step"] == pytest.approx(-3600.0)
    # the analysis still works and puts the step on its timeline
    result, _, _ = perf_analyze.analyze(rec.settings.out)
    assert result["samples"] == 10
    assert any("stepped by -3600.0 s" in row["text"] for row in result["timeline"])


# ---------------------------------------------------------------- processes that vanish

class VanishingProcFS(procfs.ProcFS):
    """Lists pids that exited after the listing (the race every process scanner meets)."""

    def __init__(self, ghosts):
        procfs.ProcFS.__init__(self, "/")
        self.ghosts = ghosts

    def pids(self):
        return sorted(procfs.ProcFS.pids(self) + self.ghosts)


def dead_pids(count=3):
    pids = []
    for _ in range(count):
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        pids.append(child.pid)
    return pids


def test_processes_vanishing_between_listing_and_reading(tmp_path):
    ghosts = [p for p in dead_pids() if not os.path.exists("/proc/%d" % p)]
    pfs = VanishingProcFS(ghosts)
    clock = FakeClock()
    sampler = samplers.Sampler("/", procfs=pfs, clock=clock.monotonic, wall=clock.time)
    rec = recorder.Recorder(settings(tmp_path, interval=1.0, duration=3, max_size=10 * 1024 ** 2,
                                     triggers=["procs.total>0"], hires_interval=0.5, proc_interval=1.0),
                            sampler=sampler, procfs=pfs, clock=clock.monotonic, wall=clock.time,
                            sleep=clock.sleep, threaded=False, run=runner.RecordingRunner())
    summary = rec.run()
    assert summary["samples"] == 3 and summary["fired"] == 1
    for record in records(rec.settings.out, "procs"):
        pids = set(row[0] for row in record["rows"])
        assert os.getpid() in pids and not pids & set(ghosts)
    snapshot = os.path.join(rec.settings.out, "snapshots", os.listdir(os.path.join(rec.settings.out,
                                                                                    "snapshots"))[0])
    with open(os.path.join(snapshot, "ps.txt")) as handle:
        table = handle.read()
    assert " %d " % os.getpid() in table
    for ghost in ghosts:
        assert "\n%7d " % ghost not in table


# ---------------------------------------------------------------- triggers

def test_trigger_expressions():
    trigger = perf_triggers.parse("mem_available_pct<5")
    assert (trigger.name, trigger.op, trigger.threshold) == ("mem.available_pct", "<", 5.0)
    assert perf_triggers.parse("disk:sda:await_ms>50").name == "disk.sda.await_ms"
    assert perf_triggers.parse("psi_io_some_avg10>20").name == "psi.io.some_avg10"
    assert perf_triggers.parse("dstate>=3").name == "procs.dstate"
    wildcard = perf_triggers.parse("disk:*:util_pct>=90")
    assert wildcard.check({"disk.sda.util_pct": 12.0, "disk.dm-0.util_pct": 95.5}) == ("disk.dm-0.util_pct", 95.5)
    assert wildcard.check({"disk.sda.util_pct": 12.0}) is None
    log = perf_triggers.parse("log:/var/log/messages:hung_task|blocked for more")
    assert log.path == "/var/log/messages" and log.check(["x", "INFO: task a:1 blocked for more than 120 s"])
    assert perf_triggers.parse("kmsg:soft lockup").check(["watchdog: BUG: soft lockup - CPU#1 stuck"])
    for bad in ("load1>>3", "nonsense_metric>3", "log:relative/path:x", "kmsg:(", "log:/x"):
        with pytest.raises(perf_triggers.TriggerError):
            perf_triggers.parse(bad)


def test_log_follower_handles_rotation_and_truncation(tmp_path):
    path = str(tmp_path / "messages")
    with open(path, "w") as handle:
        handle.write("old line before the start\n")
    follower = perf_triggers.LogFollower(path)
    assert follower.poll() == []
    with open(path, "a") as handle:
        handle.write("one\ntw")
    assert follower.poll() == ["one"]
    with open(path, "a") as handle:
        handle.write("o\n")
    assert follower.poll() == ["two"]
    os.rename(path, path + ".1")                       # logrotate: rename, new file
    with open(path + ".1", "a") as handle:
        handle.write("last of the old file\n")
    with open(path, "w") as handle:
        handle.write("first of the new file\n")
    assert follower.poll() == ["last of the old file"]
    assert follower.poll() == ["first of the new file"]
    with open(path, "w") as handle:                    # copytruncate
        handle.write("after truncation\n")
    assert follower.poll() == ["after truncation"]
    follower.close()
    missing = perf_triggers.LogFollower(str(tmp_path / "later"))
    assert missing.problem and missing.poll() == []
    with open(str(tmp_path / "later"), "w") as handle:
        handle.write("appeared\n")
    assert missing.poll() == ["appeared"]
    missing.close()


def test_trigger_trip_writes_the_pre_trigger_window_and_a_snapshot(tmp_path):
    clock = FakeClock()
    log = str(tmp_path / "app.log")
    open(log, "w").close()

    def incident(c):
        if round(c.mono - 1000.0, 3) == 40.0:
            with open(log, "a") as handle:
                handle.write("ERROR: BOOM in the request path\n")
    clock.hooks.append(incident)
    sampler = samplers.Sampler("/", clock=clock.monotonic, wall=clock.time)
    rec = make_recorder(tmp_path, clock, sampler, interval=5.0, hires_interval=1.0, duration=80,
                        max_size=20 * 1024 ** 2, pre=10.0, post=10.0, cooldown=600.0,
                        triggers=["log:%s:BOOM" % log])
    summary = rec.run()
    assert summary["fired"] == 1
    samples = records(rec.settings.out, "sample")
    normal = [s for s in samples if s["res"] == "n"]
    hires = [s for s in samples if s["res"] == "h"]
    assert len(normal) == 16 and all(s["dt"] == pytest.approx(5.0) for s in normal[1:])
    trip = [e for e in records(rec.settings.out, "event") if e["event"] == "trigger"][0]
    before = [s for s in hires if s["t"] <= trip["t"]]
    after = [s for s in hires if s["t"] > trip["t"]]
    # the ten seconds before the trip at one-second resolution, then ten seconds after it
    assert [round(trip["t"] - s["t"]) for s in before] == list(range(10, -1, -1))
    assert trip["pre_samples"] == len(before) == 11
    assert len(after) == 10 and all(s["dt"] == pytest.approx(1.0) for s in hires)
    snapshot = os.path.join(rec.settings.out, "snapshots", trip["snapshot"])
    index = json.load(open(os.path.join(snapshot, "index.json")))
    assert index["trigger"] == "log:%s:BOOM" % log and "BOOM in the request path" in index["detail"]
    assert index["pre_window"]["samples"] == 11
    for name in ("ps.txt", "meminfo.txt", "vmstat.txt", "interrupts.txt", "mounts.txt"):
        assert os.path.getsize(os.path.join(snapshot, name)) > 0
        assert index["files"][name].startswith("ok")
    assert not [name for name, state in index["files"].items()
                if not os.path.exists(os.path.join(snapshot, name)) and state.startswith("ok")]
    result, _, _ = perf_analyze.analyze(rec.settings.out)
    assert result["snapshots"][0]["name"] == trip["snapshot"]
    assert result["hires_samples"] == 21


def test_cooldown_and_once(tmp_path):
    clock = FakeClock()
    sampler = FakeSampler(clock)     # load1 is always 1.0: the trigger holds on every sample
    rec = make_recorder(tmp_path, clock, sampler, interval=1.0, duration=100, max_size=20 * 1024 ** 2,
                        triggers=["load1>=1"], pre=0.0, post=0.0, cooldown=30.0)
    summary = rec.run()
    assert summary["fired"] == 4            # t = 1, 31, 61, 91
    suppressed = [e for e in records(rec.settings.out, "event") if e["event"] == "suppressed"]
    assert sum(e["count"] for e in suppressed) == 96
    rec = make_recorder(tmp_path / "once", clock, FakeSampler(clock), interval=1.0, duration=100,
                        max_size=20 * 1024 ** 2, triggers=["load1>=1"], pre=0.0, post=0.0, cooldown=30.0, once=True)
    assert rec.run()["fired"] == 1


# ---------------------------------------------------------------- analysis

def write_recording(directory, samples, interval=5.0, kmsg=(), procs=(), events=(), start=1718000000.0,
                    manifest=True, boot_time=None):
    """A recording made of hand-built records (for exact answers)."""
    os.makedirs(directory)
    writer = perf_format.SegmentWriter(os.path.join(directory, perf_format.segment_name(1)))
    writer.append(perf_format.dumps({"type": "header", "format": "perfcollect", "version": 1, "interval": interval,
                                     "boot_id": "b1",
                                     "boot_time": start - 10000.0 if boot_time is None else boot_time,
                                     "devices": {"dm-0": {"name": "vg0-data", "kind": "lvm"}}}))
    records_ = []
    for index, metrics in enumerate(samples):
        records_.append({"type": "sample", "t": start + index * interval, "mono": 10000.0 + index * interval,
                         "dt": interval, "res": "n", "seq": index + 1, "m": metrics})
    records_.extend(kmsg)
    records_.extend(procs)
    records_.extend(events)
    records_.sort(key=lambda r: r["t"])
    for record in records_:
        writer.append(perf_format.dumps(record))
    writer.close()
    if manifest:
        perf_format.write_json_atomic(os.path.join(directory, perf_format.MANIFEST),
                                      {"format": "perfcollect", "host": "host.example", "state": "stopped",
                                       "settings": {"interval": interval}, "kmsg": "recorded"})


def base_metrics(**extra):
    metrics = {"load1": 0.5, "cpu.count": 4, "procs.running": 1, "cpu.iowait_pct": 1.0, "cpu.busy_pct": 10.0,
               "mem.available_pct": 60.0, "swap.in_kbps": 0.0, "swap.out_kbps": 0.0, "disk.sda.await_ms": 2.0,
               "disk.sda.util_pct": 5.0, "disk.dm-0.await_ms": 3.0, "net.eth0.rx_drop_ps": 0.0,
               "psi.io.some_avg10": 0.0}
    metrics.update(extra)
    return metrics


def test_analysis_finds_episodes_with_times_and_peaks(tmp_path):
    samples = [base_metrics() for _ in range(60)]
    for i in range(10, 14):          # iowait and a slow LVM volume, 20 s
        samples[i].update({"cpu.iowait_pct": 35.0 + i, "disk.dm-0.await_ms": 80.0 + i})
    for i in range(30, 33):
        samples[i].update({"swap.out_kbps": 2048.0 * (i - 29), "mem.available_pct": 4.0})
    samples[40]["procs.running"] = 9       # 4 CPUs
    samples[50]["net.eth0.rx_drop_ps"] = 12.5
    directory = str(tmp_path / "rec")
    write_recording(directory, samples)
    result, warnings, found = perf_analyze.analyze(directory, utc=True)
    assert result["samples"] == 60 and not warnings
    start = 1718000000.0
    iowait = result["episodes"]["iowait"]
    assert len(iowait) == 1 and iowait[0]["start"] == start + 50 and iowait[0]["last"] == start + 65
    assert iowait[0]["peak"] == 48.0 and iowait[0]["peak_time"] == start + 65
    disk = result["episodes"]["disk-await"]
    assert [(e["instance"], e["name"], e["peak"]) for e in disk] == [("dm-0", "vg0-data", 93.0)]
    swap = result["episodes"]["swap"]
    assert swap[0]["start"] == start + 150 and swap[0]["peak"] == 6144.0
    low = result["episodes"]["memory-low"]
    assert low[0]["peak"] == 4.0 and low[0]["samples"] == 3
    assert result["episodes"]["runqueue"][0]["peak"] == 9
    assert result["episodes"]["net-drops"][0]["instance"] == "eth0"
    checks = dict((f.check, f) for f in found)
    assert checks["perfcollect.disk-await"].severity == "warning"
    assert "vg0-data" in checks["perfcollect.disk-await"].title
    assert "2024-06-10 06:14:10 UTC" in checks["perfcollect.iowait"].title   # first episode start, shown in UTC
    # a window that ends before the swap storm does not see it
    result, _, _ = perf_analyze.analyze(directory, since=start, until=start + 100)
    assert result["episodes"]["swap"] == [] and result["episodes"]["iowait"]


def test_leak_suspects_grow_steadily(tmp_path):
    procs = []
    for index in range(20):
        rows = [[100, 1, "app", "leaky", "S", 50000 + index * 8000, 900000, 1.0, 4, 10.0],
                [200, 1, "db", "steady", "S", 400000 + (index % 3) * 1000, 900000, 1.0, 4, 10.0],
                [300, 1, "web", "spiky", "S", 10000 if index % 2 else 90000, 90000, 1.0, 4, 10.0]]
        procs.append({"type": "procs", "t": 1718000000.0 + index * 60, "cols": list(recorder.PROC_COLS),
                      "rows": rows})
    directory = str(tmp_path / "rec")
    write_recording(directory, [base_metrics() for _ in range(240)], procs=procs)
    result, _, found = perf_analyze.analyze(directory)
    suspects = result["leak_suspects"]
    assert [s["comm"] for s in suspects] == ["leaky"]
    assert suspects[0]["growth_kb"] == 19 * 8000
    assert suspects[0]["rate_kb_per_hour"] == pytest.approx(8000 * 60, rel=0.01)
    assert any(f.check == "perfcollect.leak" for f in found)


def test_baseline_comparison_ranks_what_changed(tmp_path):
    good = [base_metrics() for _ in range(30)]
    bad = [base_metrics(**{"cpu.iowait_pct": 40.0, "disk.sda.await_ms": 120.0}) for _ in range(30)]
    directory = str(tmp_path / "rec")
    write_recording(directory, good + bad)
    start = 1718000000.0
    result, _, _ = perf_analyze.analyze(directory, since=start + 150, until=start + 300,
                                        baseline=(start, start + 145))
    changes = result["baseline"]["changes"]
    assert result["baseline"]["samples"] == 30
    names = [c["metric"] for c in changes]
    assert set(names[:2]) == {"disk.sda.await_ms", "cpu.iowait_pct"}
    assert "load1" not in names   # unchanged
    assert changes[0]["direction"] == "higher"


def kmsg_lines():
    """Kernel messages of a real hung-task report (fixtures/perfcollect, see its README)."""
    with open(fixture_path("perfcollect", "kmsg-hung-task-6.1.txt")) as handle:
        return [line.rstrip("\n") for line in handle if line.startswith("[")]


def test_analysis_scans_the_recorded_kernel_messages(tmp_path):
    lines = kmsg_lines()
    boot_time = 1718000000.0 - 30.0       # the report comes 2.4 s into the recording
    kmsg = []
    for line in lines:
        mono = float(line[1:line.index("]")])
        kmsg.append({"type": "kmsg", "t": boot_time + mono, "line": line})
    directory = str(tmp_path / "rec")
    write_recording(directory, [base_metrics() for _ in range(60)], kmsg=kmsg, boot_time=boot_time)
    result, _, found = perf_analyze.analyze(directory, utc=True)
    assert result["kernel"]["evaluated"] is True
    kinds = [r["kind"] for r in result["kernel"]["reports"]]
    assert "hung-task" in kinds
    report = [r for r in result["kernel"]["reports"] if r["kind"] == "hung-task"][0]
    assert report["time"] == pytest.approx(boot_time + 32.408949, abs=0.01)
    finding = [f for f in found if f.check == "perfcollect.kernel"][0]
    assert finding.severity in ("warning", "critical") and "hung" in finding.title.lower()
    assert any(row["what"] == "kernel" for row in result["timeline"])


def test_missing_kernel_engine_is_not_evaluated(tmp_path, monkeypatch):
    directory = str(tmp_path / "rec")
    write_recording(directory, [base_metrics() for _ in range(5)],
                    kmsg=[{"type": "kmsg", "t": 1718000001.0, "line": "[ 1.0] hello"}])
    import shared
    monkeypatch.setitem(sys.modules, "shared.kernelreport", None)   # import fails
    monkeypatch.delattr(shared, "kernelreport", raising=False)
    result, _, found = perf_analyze.analyze(directory)
    assert result["kernel"]["evaluated"] is False
    finding = [f for f in found if f.check == "perfcollect.kernel"][0]
    assert finding.severity == "not evaluated" and "engine not available" in finding.detail


def test_analysis_without_manifest_and_with_a_damaged_segment(tmp_path):
    directory = str(tmp_path / "rec")
    write_recording(directory, [base_metrics() for _ in range(10)], manifest=False)
    shutil.copy(os.path.join(directory, perf_format.segment_name(1)),
                os.path.join(directory, perf_format.segment_name(2)))
    with open(os.path.join(directory, perf_format.segment_name(1)), "r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff" * 64)
    result, warnings, _ = perf_analyze.analyze(directory)
    assert any("manifest.json missing" in w for w in warnings)
    assert result["samples"] >= 10     # the intact copy, plus whatever precedes the damage
    assert any("corrupt" in p for p in result["read_problems"])


# ---------------------------------------------------------------- sysstat children

def test_with_sysstat_children_are_started_and_killed_by_pid(tmp_path):
    if not runner.which("sar") or not runner.which("pidstat"):
        pytest.skip("sysstat is not installed (apt-get install -y sysstat)")
    from shared import recorder_daemon
    children = recorder_daemon.SysstatChildren(str(tmp_path), 1.0)
    started, problems = children.start()
    assert started == ["sar", "pidstat"] and not problems
    pids = [process.pid for _, process in children.children]
    time.sleep(1.5)   # one interval: sar writes its header, pidstat its first report
    children.stop()
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    # nothing of theirs is left in their process groups (sar's sadc child included)
    for pid in pids:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = open("/proc/%s/stat" % entry).read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                assert int(fields[2]) != pid or fields[0] == "Z"
    assert os.path.getsize(str(tmp_path / "sysstat" / "sa.data")) > 0
    assert "%CPU" in open(str(tmp_path / "sysstat" / "pidstat.txt")).read()


# ---------------------------------------------------------------- additions to shared modules

class CountingProcFS(procfs.ProcFS):
    def __init__(self):
        procfs.ProcFS.__init__(self, "/")
        self.reads = []

    def read_raw(self, relative, limit=65536):
        self.reads.append(relative)
        return procfs.ProcFS.read_raw(self, relative, limit)


def test_lazy_process_details_skip_idle_processes_only():
    from shared import sampler_procs
    sleeper = subprocess.Popen(["sleep", "30"])
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert wait_state(sleeper.pid, "S")
        pfs = CountingProcFS()
        cache = {}
        first = sampler_procs.scan(pfs, cache=cache, now=1.0)
        assert first[sleeper.pid]["uid"] == os.getuid() and first[sleeper.pid]["dmono"] == 1.0
        time.sleep(0.3)                                     # the burner uses clock ticks meanwhile
        pfs.reads = []
        second = sampler_procs.scan(pfs, cache=cache, now=2.0)
        assert not [r for r in pfs.reads if r.startswith("proc/%d/" % sleeper.pid)]   # idle: nothing re-read
        assert second[sleeper.pid] is first[sleeper.pid]    # the very entry, details carried
        assert "proc/%d/status" % burner.pid in pfs.reads   # it ran: read again
        assert second[burner.pid]["dmono"] == 2.0 and second[burner.pid]["utime"] + second[burner.pid]["stime"] > \
            first[burner.pid]["utime"] + first[burner.pid]["stime"]
        # the older form: idle since a previous scan (no CPU time, not R or D) keeps status and io
        pfs.reads = []
        third = sampler_procs.scan(pfs, previous=second)
        assert [r for r in pfs.reads if r.startswith("proc/%d/" % sleeper.pid)] == []
        assert third[sleeper.pid]["uid"] == second[sleeper.pid]["uid"]
        lazy = samplers.Sampler("/", lazy_details=True)
        lazy.snapshot()
        assert lazy.snapshot()["procs"][sleeper.pid]["uid"] == os.getuid()
    finally:
        for process in (sleeper, burner):
            process.kill()
            process.wait()


def test_details_carried_across_idle_intervals_are_divided_by_the_time_between_reads():
    from shared import sampler_procs
    base = {"start": 100, "utime": 10, "stime": 0, "minflt": 0, "majflt": 0, "ppid": 1, "comm": "a",
            "state": "S", "threads": 1, "vsize": 0, "rss": 0}
    t0 = dict(base, vcs=100, nvcs=0, wb=0, dmono=10.0)
    # idle for 4 s (details carried), then 1 s of work: 500 switches and 5 MiB written since t0
    t5 = dict(base, utime=60, vcs=600, nvcs=0, wb=5 * 1024 * 1024, dmono=15.0)
    row = sampler_procs.compute({7: t0}, {7: t5}, 1.0, 100, 60.0, 1000, 4)[0]
    assert row["cpu_pct"] == pytest.approx(50.0)                 # stat: the interval
    assert row["cswch_ps"] == pytest.approx(100.0)               # 500 over the 5 s since the last read
    assert row["write_kbps"] == pytest.approx(1024.0)
    # read at both ends of the interval: the interval, as pidstat
    t6 = dict(t5, utime=110, vcs=700, dmono=16.0)
    row = sampler_procs.compute({7: t5}, {7: t6}, 1.0, 100, 60.0, 1000, 4)[0]
    assert row["cswch_ps"] == pytest.approx(100.0) and row["write_kbps"] == 0.0


def test_unchanged_processes_reuse_their_row_without_sharing_it():
    from shared import sampler_procs
    proc = {"start": 100, "utime": 10, "stime": 0, "minflt": 0, "majflt": 0, "ppid": 1, "comm": "a",
            "state": "S", "threads": 1, "vsize": 8192, "rss": 2, "vcs": 5, "nvcs": 1, "uid": 0}
    cache = {}
    first = sampler_procs.compute({7: proc}, {7: proc}, 1.0, 100, 60.0, 1000, 4, {0: "root"}, cache=cache)
    first[0]["cmdline"] = "changed by a caller"
    second = sampler_procs.compute({7: proc}, {7: proc}, 1.0, 100, 60.0, 1000, 4, {0: "root"}, cache=cache)
    assert second[0]["cpu_pct"] == 0.0 and second[0]["cswch_ps"] == 0.0 and second[0]["user"] == "root"
    assert second[0]["rss_kb"] == 8 and "cmdline" not in second[0]
    moved = dict(proc, utime=60)
    third = sampler_procs.compute({7: proc}, {7: moved}, 1.0, 100, 60.0, 1000, 4, {0: "root"}, cache=cache)
    assert third[0]["cpu_pct"] == pytest.approx(50.0)


def test_stat_descriptors_are_kept_reread_and_closed_when_the_process_is_gone():
    sleeper = subprocess.Popen(["sleep", "30"])
    pfs = procfs.ProcFS("/")
    try:
        assert wait_state(sleeper.pid, "S")
        first = pfs.pid_stat_raw(sleeper.pid)
        assert first.startswith(b"%d (sleep) " % sleeper.pid) and sleeper.pid in pfs._stat_fds
        assert pfs.pid_stat_raw(sleeper.pid) == first          # re-read through the kept descriptor
        sleeper.kill()
        sleeper.wait()
        assert pfs.pid_stat_raw(sleeper.pid) is None            # reaped: ESRCH, descriptor dropped
        assert sleeper.pid not in pfs._stat_fds
        pfs.pid_stat_raw(os.getpid())
        pfs.forget_pids(set())
        assert pfs._stat_fds == {}
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        pfs.close()


def test_beyond_the_descriptor_budget_stat_is_still_read(monkeypatch):
    monkeypatch.setattr(procfs, "_fd_budget", lambda: 2)
    pfs = procfs.ProcFS("/")
    try:
        pids = pfs.pids()[:6]
        first = [pfs.pid_stat_raw(pid) for pid in pids]
        assert len(pfs._stat_fds) == 2                        # the rest read with open/read/close
        again = [pfs.pid_stat_raw(pid) for pid in pids]
        assert [d is not None for d in again] == [d is not None for d in first]
        assert all(d.startswith(b"%d (" % pid) for pid, d in zip(pids, again) if d)
    finally:
        pfs.close()
    assert procfs.ProcFS(str(os.path.dirname(__file__))).pid_stat_raw(1) is None   # not a /proc tree


def wait_state(pid, state, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == state:
                return True
        except OSError:
            return False
        time.sleep(0.02)
    return False


def test_runner_spawn_and_stop_child_end_the_whole_group(tmp_path):
    out = str(tmp_path / "out.txt")
    process, status = runner.spawn(["sh", "-c", "echo started; sleep 30 & sleep 30"], out)
    assert status is None
    deadline = time.time() + 5
    while time.time() < deadline and "started" not in open(out).read():
        time.sleep(0.02)
    members = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(p) == process.pid]
    assert len(members) >= 2            # the shell and its background sleep
    runner.stop_child(process)
    assert process.poll() is not None
    # The group got its signal; give a loaded machine a moment to let every member exit.
    deadline = time.time() + 10
    while time.time() < deadline and [p for p in members if _pgid(p) == process.pid and _alive(p)]:
        time.sleep(0.05)
    assert not [p for p in members if _pgid(p) == process.pid and _alive(p)]
    missing, status = runner.spawn(["no-such-binary-here"], out)
    assert missing is None and status == "not available"


def _pgid(pid):
    try:
        return int(open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    try:
        return open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
