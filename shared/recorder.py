"""The perfcollect recorder: a fixed schedule, a disk budget, triggers, snapshots.

``Recorder(settings).run()`` samples the live system through
``samplers.Sampler`` (the same readers and metric names as procstat) and
writes records into gzip'ed JSON Lines segments (``perf_format``) inside a
hard disk budget (``perf_budget``) until the duration ends or ``stop()``.

Schedule: tick *k* is due at ``start + k * step`` on the monotonic clock,
so slow samples never accumulate drift; a tick that is more than a whole
step late is skipped and counted (``missed``), never run in a burst.  Wall
time only labels records; a jump of the wall clock against the monotonic
one (NTP step, manual ``date``) is recorded as a ``clock_step`` event.
Both clocks and the sleep are injectable (``clock``, ``wall``, ``sleep``).

Resolution: without triggers every tick is a normal-resolution sample.
With triggers the sampler ticks at ``hires_interval`` (default 1 s),
keeps the last ``pre`` seconds of those samples in memory, and writes a
normal sample over each ``interval``; when a trigger trips, the ring is
written (``res: "h"``), a snapshot is captured, and high-resolution
samples are written for ``post`` seconds.  ``cooldown`` stops one storm
from filling the budget; ``once`` disarms after the first trip.

Writing happens in a writer thread (``threaded=True``) so a stalled disk
delays the records, not the sampling; tests use ``threaded=False``.
"""

import collections
import os
import socket
import sys
import threading
import time

from . import perf_budget, perf_format, perf_snapshot, perf_triggers, sampler_procs, samplers
from . import procfs as procfs_module
from . import runner as runner_module
from .version import VERSION

PROC_COLS = ("pid", "ppid", "user", "comm", "state", "rss_kb", "vsz_kb", "cpu_s", "threads", "start_s")
ROW_KEYS = ("pid", "ppid", "user", "comm", "state", "cpu_pct", "usr_pct", "sys_pct", "rss_kb", "mem_pct",
            "read_kbps", "write_kbps", "majflt_ps", "iodelay_ms_ps", "cswch_ps", "nvcswch_ps", "threads",
            "cmdline", "wchan", "stack")
MAX_DSTATE_ROWS = 50
MAX_KMSG_KEEP = 2000
MANIFEST_LIST_CAP = 200
MANIFEST_SAVE_EVERY = 5.0
RESCAN_EVERY = 60.0
CLOCK_STEP_LIMIT = 1.0
SYSSTAT_SHARE = 0.2
SYSSTAT_RESERVE = 0.25
SYSSTAT_CHECK_EVERY = 5.0


class Settings(object):
    """What to record and how (the options of ``perfcollect run``)."""

    def __init__(self, out, interval=5.0, hires_interval=None, duration=None, max_size=500 * 1024 ** 2,
                 floor=None, pre=300.0, post=300.0, cooldown=600.0, once=False, triggers=(), top=10,
                 proc_interval=60.0, with_sysstat=False, fsync=True, argv=None, inventory=True,
                 kmsg=True, quick=False):
        self.out = os.path.abspath(out)
        self.interval = float(interval)
        self.hires_interval = float(hires_interval) if hires_interval else min(1.0, self.interval)
        self.duration = duration
        self.max_size = int(max_size)
        self.floor = floor
        self.pre = float(pre)
        self.post = float(post)
        self.cooldown = float(cooldown)
        self.once = once
        self.triggers = list(triggers)
        self.top = top
        self.proc_interval = float(proc_interval)
        self.with_sysstat = with_sysstat
        self.fsync = fsync
        self.argv = list(argv) if argv is not None else list(sys.argv)
        self.inventory = inventory
        self.kmsg = kmsg
        self.quick = quick

    def to_dict(self):
        return {"interval": self.interval, "hires_interval": self.hires_interval if self.triggers else None,
                "duration": self.duration, "max_size": self.max_size,
                "min_free": perf_budget.describe_floor(self.floor),
                "floor": list(self.floor) if self.floor else None, "pre": self.pre, "post": self.post,
                "cooldown": self.cooldown, "once": self.once, "triggers": list(self.triggers),
                "top": self.top, "proc_interval": self.proc_interval, "with_sysstat": self.with_sysstat}


class RecorderError(Exception):
    """The recording cannot start (the message says why and what to do)."""


# ================================================================ the writer

class Writer(object):
    """Every byte perfcollect writes goes through here: segments, snapshots, manifest.

    Owns the manifest (a dict) and the budget.  ``threaded``: a thread
    drains a queue, so the sampler never waits for the disk.
    """

    QUEUE_LIMIT = 20000

    def __init__(self, directory, settings, budget, manifest, warn, threaded=True, wall=time.time):
        self.directory = directory
        self.settings = settings
        self.budget = budget
        self.manifest = manifest
        self.warn = warn
        self.wall = wall
        self.segment = None
        self.segment_size = perf_budget.segment_size_for(settings.max_size)
        self.header = {}
        self.paused = False
        self.dropped_paused = 0
        self.dropped_budget = 0
        self.dropped_queue = 0
        self._manifest_size = 0
        self._last_manifest_save = None
        self._lock = threading.RLock()
        self._queue = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self.thread = None
        if threaded:
            self.thread = threading.Thread(target=self._drain, name="perfcollect-writer")
            self.thread.daemon = True
            self.thread.start()

    # ------------------------------------------------------------ queueing

    def submit(self, kind, *payload):
        if self.thread is None:
            self._handle(kind, payload)
            return
        with self._cond:
            if len(self._queue) >= self.QUEUE_LIMIT and kind == "record":
                self.dropped_queue += 1
                return
            self._queue.append((kind, payload))
            self._cond.notify()

    def _drain(self):
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait(1.0)
                if not self._queue and self._closing:
                    return
                batch = list(self._queue)
                self._queue.clear()
            for kind, payload in batch:
                try:
                    self._handle(kind, payload, sync=False)
                except Exception as error:  # never let the writer die silently
                    self.warn("writer: %s: %s" % (type(error).__name__, error))
            if self.segment is not None and self.settings.fsync:
                with self._lock:
                    if self.segment is not None and not self.segment.closed:
                        self.segment.sync()

    def close(self, state="stopped"):
        if self.thread is not None:
            with self._cond:
                self._closing = True
                self._cond.notify()
            self.thread.join()
        with self._lock:
            if self.segment is not None:
                self._close_segment()
            self.manifest["state"] = state
            self.save_manifest(force=True)

    # ------------------------------------------------------------ handling

    def _handle(self, kind, payload, sync=True):
        with self._lock:
            if kind == "record":
                self._record(*payload)
                if sync and self.settings.fsync and self.segment is not None:
                    self.segment.sync()
            elif kind == "snapshot":
                self._snapshot(*payload)
            elif kind == "event":
                self._event(*payload)
            elif kind == "manifest":
                self.save_manifest(force=payload[0] if payload else False)
            elif kind == "header":
                self.header = payload[0]
            elif kind == "inventory":
                self._inventory(*payload)
            elif kind == "set":
                self.manifest[payload[0]] = payload[1]
            elif kind == "rescan":
                self.budget.rescan()
                self.save_manifest()
            elif kind == "finish":
                self._finish(*payload)

    def _finish(self, reason, samples):
        runs = self.manifest.get("runs") or []
        if runs:
            runs[-1]["ended"] = self.wall()
            runs[-1]["end_reason"] = reason
            runs[-1]["samples"] = samples

    def _check_floor(self, extra):
        under = self.budget.under_floor(extra)
        if under and not self.paused:
            self.paused = True
            entry = {"from": self.wall(), "until": None, "free": self.budget.free, "floor": self.budget.floor_value}
            self.manifest["pauses"] = (self.manifest.get("pauses", []) + [entry])[-MANIFEST_LIST_CAP:]
            self.manifest["state"] = "paused"
            self.warn("paused: %s free on the filesystem of %s, under the floor of %s (free space, or "
                      "lower the floor with --min-free; recording resumes by itself)"
                      % (_size(self.budget.free), self.directory, _size(self.budget.floor_value)))
            self._error("paused writing: free space %s under the floor %s"
                        % (_size(self.budget.free), _size(self.budget.floor_value)), save=False)
            self.save_manifest(force=True, room_check=False)
        elif not under and self.paused:
            self.paused = False
            pauses = self.manifest.get("pauses") or []
            if pauses and pauses[-1].get("until") is None:
                pauses[-1]["until"] = self.wall()
                pauses[-1]["dropped"] = self.dropped_paused
            self.manifest["state"] = "running"
            self.warn("resumed: free space is back above the floor (%s free)" % _size(self.budget.free))
            self._record(perf_format.dumps({"type": "event", "t": self.wall(), "event": "resume",
                                             "dropped": self.dropped_paused}))
            self.dropped_paused = 0
            self.save_manifest(force=True)
        return under

    def _open_segment(self):
        numbers = [n for n, _ in perf_format.list_segments(self.directory)]
        known = [s.get("number", 0) for s in self.manifest.get("segments", [])]
        number = max(numbers + known + [self.manifest.get("last_segment", 0)]) + 1
        path = os.path.join(self.directory, perf_format.segment_name(number))
        self.segment = perf_format.SegmentWriter(path)
        self.budget.add(self.segment.size)
        self.manifest["last_segment"] = number
        entry = {"name": os.path.basename(path), "number": number, "first": None, "last": None,
                 "records": 0, "samples": 0, "bytes": self.segment.size, "closed": False,
                 "boot_id": self.header.get("boot_id")}
        self.manifest.setdefault("segments", []).append(entry)
        header = collections.OrderedDict((("type", "header"), ("format", perf_format.FORMAT),
                                          ("version", perf_format.FORMAT_VERSION), ("segment", number),
                                          ("t", self.wall())))
        header.update(self.header)
        self._append(perf_format.dumps(header), None, "header")
        self.save_manifest(force=True)

    def _close_segment(self):
        segment = self.segment
        self.segment = None
        before = segment.size
        segment.close(sync=self.settings.fsync)
        self.budget.add(segment.size - before)
        entry = self._segment_entry(segment)
        if entry is not None:
            entry["closed"] = True
            entry["bytes"] = segment.size

    def _segment_entry(self, segment):
        name = os.path.basename(segment.path)
        for entry in reversed(self.manifest.get("segments", [])):
            if entry.get("name") == name:
                return entry
        return None

    def _bound(self, line):
        # deflate never grows data by more than ~0.1 % plus a few bytes per flush
        return len(line) + len(line) // 500 + 64

    def _record(self, line, stamp=None, kind="sample"):
        bound = self._bound(line)
        if self._check_floor(bound):
            self.dropped_paused += 1
            return False
        if self.segment is None or self.segment.size + bound + 16 > self.segment_size:
            if self.segment is not None:
                self._close_segment()
            if not self.budget.make_room(bound + 1024, None):
                return self._no_room()
            self._open_segment()
        if not self.budget.make_room(bound, self.segment.path):
            return self._no_room()
        self._forget_deleted()
        return self._append(line, stamp, kind)

    def _append(self, line, stamp, kind):
        try:
            written = self.segment.append(line)
        except OSError as error:
            self._error("write to %s failed: %s (the recording continues in a new segment)"
                        % (os.path.basename(self.segment.path), error.strerror or error))
            self.segment.abandon()
            self.segment = None
            self.budget.rescan()
            return False
        self.budget.add(written)
        entry = self._segment_entry(self.segment)
        if entry is not None:
            entry["records"] += 1
            entry["bytes"] = self.segment.size
            if kind == "sample":
                entry["samples"] += 1
            if stamp is not None:
                if entry["first"] is None:
                    entry["first"] = stamp
                entry["last"] = stamp
        first = False
        if kind == "sample" and stamp is not None:
            first = self.manifest.get("last_sample") is None
            self.manifest["last_sample"] = stamp
        self.save_manifest(force=first)
        return True

    def _no_room(self):
        self.dropped_budget += 1
        if self.dropped_budget == 1 or self.dropped_budget % 1000 == 0:
            self._error("a record did not fit into --max-size %s even after deleting every older segment "
                        "(%d dropped; raise --max-size)" % (_size(self.budget.max_size), self.dropped_budget))
        return False

    def _forget_deleted(self):
        deleted = self.budget.deleted_segments
        if deleted:
            names = set(deleted)
            info = self.manifest.setdefault("deleted", {"segments": 0, "snapshots": 0, "last_segment": None})
            info["segments"] += len(deleted)
            info["last_segment"] = sorted(names)[-1]
            self.manifest["segments"] = [s for s in self.manifest.get("segments", []) if s.get("name") not in names]
            del deleted[:]
        if self.budget.deleted_snapshots:
            names = set(self.budget.deleted_snapshots)
            info = self.manifest.setdefault("deleted", {"segments": 0, "snapshots": 0, "last_segment": None})
            info["snapshots"] += len(names)
            self.manifest["snapshots"] = [s for s in self.manifest.get("snapshots", [])
                                          if s.get("name") not in names]
            del self.budget.deleted_snapshots[:]

    def _snapshot(self, name, files, index):
        data = dict((file_name, text.encode("utf-8", "replace")) for file_name, text in files.items())
        index_bytes = perf_format.dumps(index)
        total = sum(len(v) for v in data.values()) + len(index_bytes) + 4096
        if self._check_floor(total):
            self._error("snapshot %s not written: free space under the floor" % name)
            return
        if not self.budget.make_room(total, self.segment.path if self.segment else None):
            self._error("snapshot %s not written: it does not fit into --max-size %s"
                        % (name, _size(self.budget.max_size)))
            return
        self._forget_deleted()
        folder = os.path.join(self.directory, perf_format.SNAPSHOTS, name)
        try:
            os.makedirs(folder)
            for file_name, content in data.items():
                with open(os.path.join(folder, file_name), "wb") as handle:
                    handle.write(content)
            with open(os.path.join(folder, "index.json"), "wb") as handle:
                handle.write(index_bytes)
        except OSError as error:
            self._error("snapshot %s: %s" % (name, error.strerror or error))
        self.budget.add(perf_format.directory_size(folder))
        entry = {"name": name, "time": index.get("time"), "trigger": index.get("trigger")}
        self.manifest["snapshots"] = (self.manifest.get("snapshots", []) + [entry])[-MANIFEST_LIST_CAP:]
        self.save_manifest(force=True)

    def _inventory(self, name, document):
        path = os.path.join(self.directory, name)
        data_size = len(perf_format.dumps(document)) * 2
        if self._check_floor(data_size) or not self.budget.make_room(data_size, None):
            self._error("inventory not written: no room (free space floor or --max-size)")
            return
        self._forget_deleted()
        try:
            size = perf_format.write_json_atomic(path, document, sync=False)
        except OSError as error:
            self._error("inventory: %s" % (error.strerror or error))
            return
        self.budget.add(size)
        # keep the three newest inventories
        names = sorted(n for n in os.listdir(self.directory) if perf_format.INVENTORY_RE.match(n))
        for old in names[:-3]:
            try:
                old_path = os.path.join(self.directory, old)
                old_size = os.path.getsize(old_path)
                os.unlink(old_path)
                self.budget.remove(old_size)
            except OSError:
                pass
        self.manifest["inventory"] = name

    def _error(self, message, save=True):
        entry = {"time": self.wall(), "message": message}
        errors = self.manifest.setdefault("errors", [])
        errors.append(entry)
        if len(errors) > MANIFEST_LIST_CAP:
            self.manifest["errors_dropped"] = self.manifest.get("errors_dropped", 0) + len(errors) - MANIFEST_LIST_CAP
            del errors[:len(errors) - MANIFEST_LIST_CAP]
        if save:
            self.save_manifest(force=True)

    def _event(self, event):
        """An event record in the segment, and its trace in the manifest."""
        kind = event.get("event")
        if kind == "trigger":
            fired = self.manifest.setdefault("fired", [])
            fired.append(dict((k, event.get(k)) for k in ("t", "trigger", "detail", "value", "snapshot",
                                                         "pre_samples")))
            if len(fired) > MANIFEST_LIST_CAP:
                self.manifest["fired_dropped"] = self.manifest.get("fired_dropped", 0) + 1
                del fired[0]
            self.manifest["fired_count"] = self.manifest.get("fired_count", 0) + 1
        elif kind == "clock_step":
            steps = self.manifest.setdefault("clock_steps", [])
            steps.append({"t": event.get("t"), "step": event.get("step")})
            del steps[:-MANIFEST_LIST_CAP]
        elif kind in ("error", "warning"):
            self._error(event.get("message"), save=False)
        elif kind == "missed":
            self.manifest["missed"] = self.manifest.get("missed", 0) + event.get("count", 0)
        if not self.paused:
            self._record(perf_format.dumps(event), None, "event")
        self.save_manifest(force=kind in ("trigger", "clock_step", "error", "start"))

    def save_manifest(self, force=False, room_check=True):
        now = time.monotonic()
        if not force and self._last_manifest_save is not None and \
                now - self._last_manifest_save < MANIFEST_SAVE_EVERY:
            return
        self._last_manifest_save = now
        self.manifest["updated"] = self.wall()
        self.manifest["usage"] = {"used": self.budget.used, "max_size": self.budget.max_size,
                                  "free": self.budget.free, "floor": self.budget.floor_value}
        self.manifest["dropped"] = {"paused": self.dropped_paused, "budget": self.dropped_budget,
                                    "queue": self.dropped_queue}
        path = os.path.join(self.directory, perf_format.MANIFEST)
        try:
            size = perf_format.write_json_atomic(path, self.manifest, sync=self.settings.fsync and force)
        except OSError as error:
            self.warn("manifest not written: %s" % (error.strerror or error))
            return
        self.budget.add(size - self._manifest_size)
        self._manifest_size = size
        # room for the next rewrite (old and new file exist for a moment)
        self.budget.reserve = max(self.budget.reserve, min(2 * size + 8192, self.budget.max_size // 4))


def _size(value):
    from .timeparse import format_size
    return format_size(value) if value is not None else "?"


# ================================================================ the recorder

class Recorder(object):
    """Samples on a fixed schedule and hands records to the Writer."""

    def __init__(self, settings, sampler=None, procfs=None, clock=None, wall=None, sleep=None,
                 run=None, statvfs=os.statvfs, kmsg_path="/dev/kmsg", warn=None, threaded=True,
                 inventory=None, spawn=None):
        self.settings = settings
        self.procfs = procfs or (sampler.procfs if sampler is not None else procfs_module.ProcFS("/"))
        self.clock = clock or time.monotonic
        self.wall = wall or time.time
        self.sampler = sampler or samplers.Sampler("/", procfs=self.procfs, clock=self.clock, wall=self.wall,
                                                   lazy_details=True)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self.run_command = run or runner_module.run
        self.statvfs = statvfs
        self.kmsg_path = kmsg_path
        self.warn = warn or (lambda message: None)
        self.threaded = threaded
        self.inventory_fn = inventory
        self.spawn = spawn
        self.stop_reason = None
        self.writer = None
        self.triggers = None
        self.kmsg = None
        self.sysstat = None
        self.lock_fd = None
        self.summary = {}
        self._cmdlines = {}
        self._users = None
        self._kmsg_recent = collections.deque(maxlen=MAX_KMSG_KEEP)
        self._warned = 0

    # ------------------------------------------------------------ control

    def stop(self, reason="stopped"):
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    @property
    def stopping(self):
        return self._stop.is_set()

    # ------------------------------------------------------------ setup

    def open(self):
        """Lock the folder, read or start the manifest, start the writer; raises RecorderError."""
        try:
            self._open()
        except BaseException:
            if self.writer is None and self.lock_fd is not None:
                from . import recorder_daemon
                recorder_daemon.unlock(self.lock_fd)
                self.lock_fd = None
            raise

    def _open(self):
        s = self.settings
        from . import recorder_daemon
        try:
            os.makedirs(s.out, exist_ok=True)
        except OSError as error:
            raise RecorderError("cannot create %s (%s)" % (s.out, error.strerror or error),
                                "choose a writable folder with --out")
        if not os.access(s.out, os.W_OK):
            raise RecorderError("cannot write into %s (permission denied)" % s.out,
                                "choose a folder you can write, or run as its owner")
        self.lock_fd = recorder_daemon.lock(s.out)
        try:
            self.triggers = perf_triggers.TriggerSet(s.triggers)
        except perf_triggers.TriggerError as error:
            raise RecorderError(str(error), "fix the --trigger expression")
        manifest, problem = perf_format.read_manifest(s.out)
        previous = None
        if manifest is not None and manifest.get("format") == perf_format.FORMAT:
            previous = manifest
        else:
            if problem not in (None, "missing") or (manifest is not None):
                self.warn("%s/%s was %s; starting a new manifest (the segments are kept)"
                          % (s.out, perf_format.MANIFEST, problem or "not a perfcollect manifest"))
            manifest = {"format": perf_format.FORMAT, "format_version": perf_format.FORMAT_VERSION,
                        "created": self.wall(), "runs": [], "segments": [], "errors": []}
            for number, path in perf_format.list_segments(s.out):
                manifest["segments"].append({"name": os.path.basename(path), "number": number, "first": None,
                                             "last": None, "records": None, "samples": None,
                                             "bytes": os.path.getsize(path), "closed": None})
        if previous is not None:
            for run in manifest.get("runs", []):
                if run.get("ended") is None:
                    run["ended"] = manifest.get("last_sample") or manifest.get("updated")
                    run["end_reason"] = "killed or crashed (no clean stop recorded)"
            for entry in manifest.get("segments", []):
                if not entry.get("closed"):
                    entry["closed"] = False
        boot_id = (self.procfs.read("proc/sys/kernel/random/boot_id") or "").strip() or None
        first = self.sampler.snapshot()
        self._prev = first
        boot_time = first["wall"] - (first.get("uptime") or 0.0)
        self.boot_time = boot_time
        self._offset = first["wall"] - first["mono"]
        manifest.update({"format_version": perf_format.FORMAT_VERSION, "tool_version": VERSION,
                         "host": socket.gethostname(), "state": "running", "settings": s.to_dict(),
                         "triggers": list(s.triggers)})
        run_entry = {"started": first["wall"], "ended": None, "pid": os.getpid(), "uid": os.geteuid(),
                     "boot_id": boot_id, "boot_time": boot_time, "argv": s.argv, "interval": s.interval,
                     "end_reason": None}
        manifest.setdefault("runs", []).append(run_entry)
        manifest["runs"] = manifest["runs"][-MANIFEST_LIST_CAP:]
        if s.kmsg:
            self.kmsg = perf_triggers.KmsgFollower(self.kmsg_path)
            if self.kmsg.problem:
                manifest["kmsg"] = "not recorded: " + self.kmsg.problem
                if self.triggers.wants_kmsg():
                    self.warn("kmsg triggers cannot fire: %s" % self.kmsg.problem)
            else:
                manifest["kmsg"] = "recorded"
        else:
            manifest["kmsg"] = "not recorded: switched off"
        for line in self.triggers.problems():
            self.warn(line)
        budget = perf_budget.Budget(s.out, s.max_size, s.floor, self.statvfs)
        if s.with_sysstat:
            # sysstat's files get a fifth of the budget (stopped there), ours the rest
            budget.reserve += int(s.max_size * SYSSTAT_RESERVE)
            budget.exclude = (perf_format.SYSSTAT,)
            budget.rescan()
        self.writer = Writer(s.out, s, budget, manifest, self.warn, threaded=self.threaded, wall=self.wall)
        # from here on the writer owns the manifest: changes go through submit()
        header = {"host": manifest["host"], "boot_id": boot_id, "boot_time": boot_time,
                  "interval": s.interval, "hires_interval": s.hires_interval if self.ring_enabled else None,
                  "tool_version": VERSION, "clock_ticks": procfs_module.clock_ticks(),
                  "page_kb": procfs_module.page_size() // 1024,
                  "cpus": len([n for n in first.get("stat", {}).get("cpus", {}) if n != "cpu"]),
                  "devices": self._devices(), "proc_cols": list(PROC_COLS)}
        self.writer.submit("header", header)
        self.writer.submit("event", {"type": "event", "t": first["wall"], "event": "start", "pid": os.getpid(),
                                     "uid": os.geteuid(), "boot_id": boot_id, "settings": s.to_dict()})
        if s.inventory:
            self._write_inventory(first["wall"])
        if s.with_sysstat:
            from . import recorder_daemon as daemon
            self.sysstat = daemon.SysstatChildren(s.out, s.interval, spawn=self.spawn)
            started, problems = self.sysstat.start()
            for problem in problems:
                self.warn(problem)
                self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "warning",
                                             "message": problem})
            self.writer.submit("set", "sysstat", started or "not available")

    def _devices(self):
        try:
            names = self.sampler.disk_names()
        except Exception:
            return {}
        return dict((dev, {"name": info.get("name"), "kind": info.get("kind")})
                    for dev, info in names.items() if not info.get("partition"))

    def _write_inventory(self, stamp):
        try:
            if self.inventory_fn is not None:
                document = self.inventory_fn()
            else:
                from . import perf_inventory
                document = perf_inventory.collect(self.procfs, self.run_command, runner_module.which,
                                                  now=stamp)
        except Exception as error:
            self.warn("inventory incomplete: %s: %s" % (type(error).__name__, error))
            return
        name = "inventory-%s.json" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(stamp))
        self.writer.submit("inventory", name, document)

    @property
    def ring_enabled(self):
        s = self.settings
        return bool(s.triggers) and s.hires_interval < s.interval

    # ------------------------------------------------------------ the loop

    def run(self, started=None, opened=False):
        """Record until the duration ends or stop(); returns a summary dict.

        ``started()`` is called once the recording has begun (the daemon
        reports success to its parent then); ``opened``: open() was called.
        """
        if not opened:
            self.open()
        if started is not None:
            try:
                started()
            except BaseException:
                self.close("error")
                raise
        reason = "error"
        try:
            self._loop()
            reason = self.stop_reason or "duration reached"
        except KeyboardInterrupt:
            reason = "interrupted"
            raise
        finally:
            self.close(reason)
        return self.summary

    def _loop(self):
        s = self.settings
        ring = self.ring_enabled
        step = s.hires_interval if ring else s.interval
        clock = self.clock
        start = clock()
        end = start + s.duration if s.duration else None
        prev = self._prev
        last_written = prev
        last_procs = None
        post_until = None
        cooldown_until = None
        armed = bool(self.triggers)
        suppressed = collections.Counter()
        pre_ring = collections.deque(maxlen=int(s.pre / step) + 2) if ring else None
        seq = 0
        samples = 0
        missed = 0
        tick = 0
        last_rescan = start
        last_sysstat = start
        fired_total = 0
        while not self.stopping:
            tick += 1
            due = start + tick * step
            if end is not None and due > end + 1e-6:
                break
            delay = due - clock()
            if delay > 0:
                self._sleep(delay)
                if self.stopping:
                    break
            now = clock()
            late = now - due
            if late >= step:
                skipped = int(late // step)
                tick += skipped
                missed += skipped
                self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "missed",
                                             "count": skipped, "late_s": round(late, 3)})
                if end is not None and start + tick * step > end + 1e-6:
                    break
            cur = self.sampler.snapshot()
            self._check_clock(cur)
            kmsg_lines = self._poll_kmsg(cur)
            sample = self.sampler.compute(prev, cur)
            prev = cur
            self._sampler_warnings()
            in_post = post_until is not None and cur["mono"] <= post_until + 1e-6
            if ring:
                seq += 1
                line = perf_format.dumps(self._sample_record(sample, cur, "h", seq))
                if in_post:
                    self.writer.submit("record", line, sample["time"], "sample")
                else:
                    pre_ring.append((sample["time"], line))
            if not ring or cur["mono"] - last_written["mono"] >= s.interval - step / 2.0:
                normal = sample if not ring else self.sampler.compute(last_written, cur)
                seq += 1
                self.writer.submit("record", perf_format.dumps(self._sample_record(normal, cur, "n", seq)),
                                   normal["time"], "sample")
                last_written = cur
                samples += 1
            if last_procs is None or cur["mono"] - last_procs >= s.proc_interval - step / 2.0:
                self.writer.submit("record", perf_format.dumps(self._procs_record(cur)), cur["wall"], "procs")
                last_procs = cur["mono"]
            if armed:
                fired = self.triggers.check(sample["metrics"], kmsg_lines)
                if fired:
                    if cooldown_until is not None and cur["mono"] < cooldown_until:
                        for trigger, _, _ in fired:
                            suppressed[trigger.text] += 1
                    else:
                        if suppressed:
                            self._report_suppressed(suppressed)
                        fired_total += 1
                        flushed = self._trip(fired, sample, cur, pre_ring, fired_total)
                        post_until = cur["mono"] + s.post
                        cooldown_until = cur["mono"] + s.cooldown
                        if s.once:
                            armed = False
                        self.summary["last_trip_pre_samples"] = flushed
            if cooldown_until is not None and cur["mono"] >= cooldown_until and suppressed:
                self._report_suppressed(suppressed)
            if self.sysstat is not None and cur["mono"] - last_sysstat >= SYSSTAT_CHECK_EVERY:
                last_sysstat = cur["mono"]
                self._check_sysstat()
            if cur["mono"] - last_rescan >= RESCAN_EVERY:
                last_rescan = cur["mono"]
                self.writer.submit("manifest", False)
                self._housekeeping()
        if suppressed:
            self._report_suppressed(suppressed)
        self.summary.update({"samples": samples, "missed": missed, "ticks": tick, "fired": fired_total,
                             "step": step})

    def _report_suppressed(self, suppressed):
        for text, count in sorted(suppressed.items()):
            self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "suppressed",
                                         "trigger": text, "count": count,
                                         "message": "%s tripped %d more time(s) during the cool-down"
                                                    % (text, count)})
        suppressed.clear()

    def _housekeeping(self):
        self.writer.submit("rescan")

    def _check_sysstat(self):
        if self.sysstat is not None:
            problem = self.sysstat.check_budget(self.settings.max_size, SYSSTAT_SHARE)
            if problem:
                self.warn(problem)
                self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "warning",
                                             "message": problem})

    def _check_clock(self, cur):
        offset = cur["wall"] - cur["mono"]
        step = offset - self._offset
        if abs(step) >= CLOCK_STEP_LIMIT:
            self.writer.submit("event", {"type": "event", "t": cur["wall"], "event": "clock_step",
                                         "step": round(step, 3),
                                         "message": "the wall clock jumped by %+.1f s (NTP step, date, or a suspend)" % step})
            self.boot_time += step
        self._offset = offset

    def _poll_kmsg(self, cur):
        if self.kmsg is None:
            return []
        lines = []
        for usec, level, caller, body in self.kmsg.poll():
            line = perf_triggers.kmsg_line(usec, caller, body)
            lines.append(line)
            self._kmsg_recent.append(line)
            record = {"type": "kmsg", "t": round(self.boot_time + usec / 1e6, 6), "usec": usec,
                      "prio": level & 7, "fac": level >> 3, "line": line}
            self.writer.submit("record", perf_format.dumps(record), None, "kmsg")
        if self.kmsg.lost:
            self.writer.submit("event", {"type": "event", "t": cur["wall"], "event": "warning",
                                         "message": "%d kernel message(s) overwritten before they were read"
                                                    % self.kmsg.lost})
            self.kmsg.lost = 0
        return lines

    def _sampler_warnings(self):
        warnings = self.procfs.warnings
        while self._warned < len(warnings):
            message = warnings[self._warned]
            self._warned += 1
            self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "warning",
                                         "message": message})

    # ------------------------------------------------------------ records

    def _sample_record(self, sample, cur, res, seq):
        record = {"type": "sample", "t": sample["time"], "mono": round(cur["mono"], 3),
                  "dt": round(sample["interval"], 3) if sample.get("interval") else None,
                  "res": res, "seq": seq, "m": perf_format.round_all(sample["metrics"])}
        rows = sample.get("processes") or []
        if rows:
            count = self.settings.top
            chosen = {}
            top = {}
            for key in ("cpu", "mem", "io"):
                picked = sampler_procs.top(rows, key, count)
                top[key] = [r["pid"] for r in picked]
                for r in picked:
                    chosen[r["pid"]] = r
            dstate = [r for r in rows if r.get("state") == "D"][:MAX_DSTATE_ROWS]
            for r in dstate:
                chosen[r["pid"]] = r
            top["dstate"] = [r["pid"] for r in dstate]
            self._fill_cmdlines(list(chosen.values()), cur)
            record["top"] = top
            record["procs"] = [self._row(chosen[pid]) for pid in sorted(chosen)]
        if sample.get("cpus_changed"):
            record["cpus_changed"] = sample["cpus_changed"]
        return record

    def _row(self, row):
        out = {}
        for key in ROW_KEYS:
            value = row.get(key)
            if value is not None:
                out[key] = perf_format.round_value(value)
        return out

    def _fill_cmdlines(self, rows, cur):
        procs = cur.get("procs") or {}
        cache = self._cmdlines
        missing = []
        for row in rows:
            if "cmdline" in row:
                continue
            key = (row["pid"], (procs.get(row["pid"]) or {}).get("start"))
            if key in cache:
                row["cmdline"] = cache[key]
            else:
                missing.append((key, row))
        if missing:
            sampler_procs.fill_cmdline(self.procfs, [row for _, row in missing])
            for key, row in missing:
                cache[key] = row["cmdline"]
            if len(cache) > 5000:
                live = set((pid, p.get("start")) for pid, p in procs.items())
                for key in [k for k in cache if k not in live]:
                    del cache[key]

    def _procs_record(self, cur):
        procs = cur.get("procs") or {}
        if self._users is None:
            self._users = sampler_procs.read_users(self.procfs)
        ticks = float(procfs_module.clock_ticks())
        page_kb = procfs_module.page_size() // 1024
        rows = []
        for pid in sorted(procs):
            p = procs[pid]
            uid = p.get("uid")
            rows.append([pid, p.get("ppid"), self._users.get(uid, str(uid) if uid is not None else None),
                         p.get("comm"), p.get("state"), (p.get("rss") or 0) * page_kb, (p.get("vsize") or 0) // 1024,
                         round(((p.get("utime") or 0) + (p.get("stime") or 0)) / ticks, 2), p.get("threads"),
                         round((p.get("start") or 0) / ticks, 2)])
        return {"type": "procs", "t": cur["wall"], "mono": round(cur["mono"], 3), "cols": list(PROC_COLS),
                "rows": rows}

    # ------------------------------------------------------------ triggers

    def _trip(self, fired, sample, cur, pre_ring, number):
        s = self.settings
        stamp = sample["time"]
        flushed = 0
        first = None
        if pre_ring:
            for when, line in pre_ring:
                if when >= stamp - s.pre - 1e-6:
                    self.writer.submit("record", line, when, "sample")
                    flushed += 1
                    if first is None:
                        first = when
            pre_ring.clear()
        trigger, detail, value = fired[0]
        name = "%s-%03d" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(stamp)), number % 1000)
        rows = list(sample.get("processes") or [])
        sampler_procs.fill_cmdline(self.procfs, sampler_procs.top(rows, "cpu", 15) +
                                   sampler_procs.top(rows, "mem", 15) + sampler_procs.top(rows, "io", 15))
        files, index = perf_snapshot.capture(self.procfs, self.run_command, rows, list(self._kmsg_recent),
                                             when=stamp, trigger=trigger.text, detail=detail)
        index["also"] = [{"trigger": t.text, "detail": d} for t, d, _ in fired[1:]]
        index["pre_window"] = {"from": first, "to": stamp, "samples": flushed,
                               "resolution": s.hires_interval if self.ring_enabled else s.interval}
        index["post_until"] = stamp + s.post
        self.writer.submit("snapshot", name, files, index)
        event = {"type": "event", "t": stamp, "event": "trigger", "trigger": trigger.text, "detail": detail,
                 "value": perf_format.round_value(value), "snapshot": name, "pre_samples": flushed,
                 "also": [t.text for t, _, _ in fired[1:]]}
        self.writer.submit("event", event)
        self.warn("trigger %s: %s (snapshot %s, %d pre-trigger samples)" % (trigger.text, detail, name, flushed))
        return flushed

    # ------------------------------------------------------------ teardown

    def close(self, reason):
        if self.sysstat is not None:
            self.sysstat.stop()
        if self.kmsg is not None:
            self.kmsg.close()
        if self.triggers is not None:
            self.triggers.close()
        if self.writer is not None:
            unseen = self.triggers.unseen_metrics() if self.triggers is not None else []
            for text in unseen:
                self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "warning",
                                             "message": "trigger %s never saw its metric on this system" % text})
            self.writer.submit("event", {"type": "event", "t": self.wall(), "event": "stop", "reason": reason})
            self.writer.submit("finish", reason, self.summary.get("samples"))
            self.writer.close("stopped")
            self.summary.update({"dropped": {"paused": self.writer.dropped_paused,
                                             "budget": self.writer.dropped_budget,
                                             "queue": self.writer.dropped_queue},
                                 "used": self.writer.budget.used, "reason": reason})
        if self.lock_fd is not None:
            from . import recorder_daemon
            recorder_daemon.unlock(self.lock_fd)
            self.lock_fd = None
