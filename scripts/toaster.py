#!/usr/bin/env python3
"""toaster - repeatable, measured, safe load on CPU, memory, disk and network.

USAGE: toaster WORKLOADS [options]        WORKLOADS: cpu,mem,disk,net (any mix)
       toaster net --server [--bind ADDR:PORT] [--allow HOST]
       toaster net --client HOST[:PORT] [--streams N] [--udp] [--reverse|--bidir]
       toaster net --delay-proxy LISTEN TARGET --delay 100ms [--jitter 50ms]
       toaster net --sockets N           bounded socket exhaustion, own listener
       toaster targets                   mounted file systems a disk test can use
       toaster cleanup [DIR...]          remove files of runs that were SIGKILLed
       toaster                           (on a terminal) the interactive menu

Every workload runs in worker processes (fork; each dies with toaster via
PR_SET_PDEATHSIG and volunteers to the OOM killer with oom_score_adj 1000)
for --duration (default 10s), or for a fixed amount of work (--ops,
--bytes), with --seed for every random choice and rate limits (--rate,
--iops, --load) to reproduce a level rather than a maximum.  One progress
line per second on stderr (terminal only); Ctrl-C, SIGTERM or SIGHUP stop
every worker within a second and the summary is still printed.

Guards (each overridable only with its own flag): MemAvailable never below
10 % of MemTotal, or of the cgroup limit (--mem-floor); at least max(5 %,
1 GiB) free on a disk target (--disk-floor); raw devices only with --device
and --yes-destroy-data; the network endpoint only talks to loopback and
the hosts named on the command line.  Test files live in one run directory
per target, removed at the end, on a signal, or by 'toaster cleanup'.

Overhead: this tool IS the load.  The parent process samples shared
counters four times a second and otherwise sleeps.
"""

import os
import shlex
import sys
import textwrap
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, interact, output, timeparse  # noqa: E402
from shared import load_common, load_cpu, load_disk, load_mem, load_net  # noqa: E402

TOOL = "toaster"
WORKLOADS = ("cpu", "mem", "disk", "net")
COMMANDS = ("cleanup", "targets")
DEFAULT_DURATION = 10.0

EXAMPLES = """\
  toaster cpu --duration 30s              every allowed CPU, verified mix
  toaster cpu --cpus 0-3 --load 50        half load on CPUs 0-3
  toaster mem --mem-mode hold --size 4G   hold 4 GiB, every page touched
  toaster mem --mem-mode verify --size 25% --duration 10m
  toaster disk --target /var --disk-mode rand-read --iodepth 8
  toaster disk --target /data --disk-mode seq-write --bytes 2G --verify
  toaster cpu,mem,disk --duration 10m --json > run.json
  toaster net                             loopback TCP self-test
  toaster net --server --bind 0.0.0.0:5202 --allow client.example
  toaster net --client server.example --streams 4 --bidir
  toaster net --client server.example --udp --rate 50M
  toaster net --delay-proxy :8080 db.example:5432 --delay 100ms --jitter 50ms
  toaster cleanup                         after a SIGKILLed run
"""


# ------------------------------------------------------------------ argument parsing

def _pct(text):
    try:
        value = float(text)
    except ValueError:
        raise cli.argparse.ArgumentTypeError("not a number: %r" % (text,))
    if not 0 <= value <= 100:
        raise cli.argparse.ArgumentTypeError("must be between 0 and 100: %r" % (text,))
    return value


def _amount(text):
    try:
        load_common.parse_amount(text, 100)
    except ValueError as error:
        raise cli.argparse.ArgumentTypeError(str(error))
    return text


def _cpus(text):
    try:
        return load_common.parse_cpu_list(text)
    except ValueError as error:
        raise cli.argparse.ArgumentTypeError(str(error))


def _hostport(text):
    try:
        return load_net.parse_hostport(text)
    except ValueError as error:
        raise cli.argparse.ArgumentTypeError(str(error))


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0], EXAMPLES,
                             common=("root", "json", "utc", "debug", "version"))
    parser.add_argument("what", nargs="?", metavar="WORKLOADS",
                        help="cpu, mem, disk, net, or a comma list (cpu,mem,disk); or 'targets', 'cleanup'")
    parser.add_argument("dirs", nargs="*", metavar="DIR", help="for cleanup: directories to search as well")
    run = parser.add_argument_group("every workload")
    run.add_argument("--duration", type=cli.duration_type, metavar="TIME",
                     help="how long (90s, 10m, 1h; 0 = until Ctrl-C); default 10s, or as long as "
                          "--ops/--bytes take")
    run.add_argument("--ops", type=cli.positive_int, metavar="N",
                     help="fixed work: CPU operations, disk I/Os, memory copy rounds")
    run.add_argument("--bytes", type=cli.size_type, metavar="SIZE", dest="nbytes",
                     help="fixed work: bytes to read/write, copy, verify or send")
    run.add_argument("--seed", type=int, default=1, metavar="N", help="seed for every random choice (default 1)")
    run.add_argument("--workers", type=cli.positive_int, metavar="N",
                     help="worker processes per workload (cpu: one per CPU; mem: 1)")
    run.add_argument("--rate", type=cli.size_type, metavar="SIZE",
                     help="bytes per second in all (memory copy, growth, disk, network), e.g. 200M")
    cpu = parser.add_argument_group("cpu")
    cpu.add_argument("--cpus", type=_cpus, metavar="LIST", help="CPUs to load, e.g. 0-3,6 (default: all allowed)")
    cpu.add_argument("--method", choices=load_cpu.METHODS, default="mix",
                     help="sha256, zlib, int, float or mix (default)")
    cpu.add_argument("--load", type=_pct, metavar="PCT", help="duty cycle per CPU in percent (default 100)")
    mem = parser.add_argument_group("mem")
    mem.add_argument("--mem-mode", choices=load_mem.MODES, default="hold",
                     help="hold (default), bandwidth, verify, growth, spikes")
    mem.add_argument("--size", type=_amount, metavar="SIZE|PCT",
                     help="memory in all: 4G, or 25%% of MemAvailable (default depends on the mode)")
    mem.add_argument("--mem-floor", type=_pct, default=10.0, metavar="PCT",
                     help="guard: keep PCT %% of MemTotal (and of a cgroup limit) available (default 10)")
    disk = parser.add_argument_group("disk")
    disk.add_argument("--disk-mode", choices=load_disk.MODES, default="seq-read",
                      help="seq-read (default), seq-write, rand-read, rand-write, rand-rw")
    disk.add_argument("--target", action="append", metavar="DIR",
                      help="directory on the file system to test (repeatable; default: current directory)")
    disk.add_argument("--bs", type=cli.size_type, metavar="SIZE", help="block size (default 1M sequential, 4K random)")
    disk.add_argument("--file-size", type=cli.size_type, metavar="SIZE",
                      help="test file (or device region) per worker (default 256M)")
    disk.add_argument("--iodepth", type=cli.positive_int, metavar="N",
                      help="parallel workers per target, each with its own file (default 1)")
    disk.add_argument("--read-pct", type=_pct, default=50.0, metavar="PCT", help="reads in rand-rw (default 50)")
    disk.add_argument("--iops", type=cli.positive_int, metavar="N", help="limit I/O operations per second in all")
    disk.add_argument("--buffered", action="store_true", help="use the page cache (no O_DIRECT)")
    disk.add_argument("--verify", action="store_true", help="checksum written blocks and check them on reading")
    disk.add_argument("--disk-floor", type=_amount, metavar="SIZE|PCT",
                      help="guard: free space to keep (default max(5%%, 1G))")
    disk.add_argument("--device", metavar="DEV", help="test a raw block device (DESTROYS its data)")
    disk.add_argument("--yes-destroy-data", action="store_true",
                      help="required with --device: confirms the data on it may be destroyed")
    net = parser.add_argument_group("net")
    net.add_argument("--server", action="store_true", help="be the endpoint other toasters test against")
    net.add_argument("--bind", type=_hostport, metavar="ADDR:PORT",
                     help="server listen address (default 127.0.0.1:%d)" % load_net.DEFAULT_PORT)
    net.add_argument("--allow", action="append", default=[], metavar="HOST",
                     help="server/proxy: accept this client as well as loopback (repeatable)")
    net.add_argument("--client", metavar="HOST[:PORT]", help="test against the toaster server on HOST")
    net.add_argument("--streams", type=cli.positive_int, metavar="N", help="parallel streams (default 1)")
    net.add_argument("--udp", action="store_true", help="UDP at --rate (default 10M) instead of TCP")
    net.add_argument("--reverse", action="store_true", help="the server sends, we receive")
    net.add_argument("--bidir", action="store_true", help="send and receive at the same time")
    net.add_argument("--delay-proxy", nargs=2, metavar=("LISTEN", "TARGET"),
                     help="forward LISTEN (ADDR:PORT) to TARGET (HOST:PORT) adding --delay and --jitter")
    net.add_argument("--delay", type=cli.duration_type, default=0.1, metavar="TIME",
                     help="delay proxy: added latency (default 100ms)")
    net.add_argument("--jitter", type=cli.duration_type, default=0.0, metavar="TIME",
                     help="delay proxy: +- random variation (default 0)")
    net.add_argument("--sockets", type=cli.positive_int, metavar="N",
                     help="open up to N connections to our own loopback listener and hold them")
    return parser


# ------------------------------------------------------------------ helpers

def fmt_size(value):
    return timeparse.format_size(value) if value is not None else "-"


def fmt_us(value):
    if value is None:
        return "-"
    if value >= 1000000:
        return "%.2fs" % (value / 1e6)
    if value >= 1000:
        return "%.1fms" % (value / 1e3)
    return "%.0fus" % value


def command_line(argv):
    return " ".join([TOOL] + [shlex.quote(a) for a in argv])


def _usage(what, fix):
    return cli.ToolError(what, fix=fix, code=cli.EXIT_USAGE)


def parse_workloads(text):
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        raise _usage("unknown workload %r" % ",".join(unknown or [text]),
                     "choose from %s (comma-separated), or targets / cleanup" % ", ".join(WORKLOADS))
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def guard_error(error):
    return cli.ToolError(error.what, error.cause, error.fix, code=cli.EXIT_FINDINGS)


# ------------------------------------------------------------------ the run

class Run(object):
    """Plan, start, watch, stop and summarize one run of one or more workloads."""

    def __init__(self, args, workloads, argv):
        self.args = args
        self.workloads = workloads
        self.argv = argv
        self.warnings = []
        self.groups = []
        self.targets = []
        self.net_session = None
        self.net_server = None
        self.mem_info = None
        self.cpu_info = None
        self.record = None
        self.pool = None
        self.progress = output.Progress(TOOL)
        self.last = {}
        self.last_time = None
        self.last_progress = 0.0
        self.guard_checks = {"memory": "mem" in workloads, "disk": []}
        self.started_wall = None
        self.finishers = []
        duration = args.duration
        if duration is None:
            duration = None if (args.ops or args.nbytes) else DEFAULT_DURATION
        elif duration == 0:
            duration = None
        self.duration = duration

    # -- planning
    def bounded(self, name):
        """Does --ops/--bytes end this workload?  (The others stop when those are done.)"""
        args = self.args
        if name == "cpu":
            return bool(args.ops)
        if name == "mem":
            return args.mem_mode in ("bandwidth", "verify") and bool(args.ops or args.nbytes)
        if name == "disk":
            return bool(args.ops or args.nbytes)
        return bool(args.nbytes)

    def plan(self):
        args = self.args
        if self.duration is None and (args.ops or args.nbytes) and args.duration is None:
            self.finishers = [n for n in self.workloads if self.bounded(n)]
            if not self.finishers:
                raise _usage("--ops/--bytes do not end %s" % ",".join(self.workloads),
                             "give --duration (--ops: cpu, disk, mem bandwidth/verify; --bytes: disk, "
                             "mem bandwidth/verify, net)")
        if "cpu" in self.workloads:
            try:
                params, cpus, notes = load_cpu.plan(args.method, args.workers, args.cpus, args.load or 100,
                                                    args.ops, self.duration, args.seed)
            except ValueError as error:
                raise _usage(str(error), "see 'toaster --help'")
            self.warnings.extend(notes)
            self.cpu_info = {"method": args.method, "cpus": cpus, "load": args.load or 100}
            self.groups.append(load_common.Group("cpu", load_cpu.worker, params))
        if "mem" in self.workloads:
            try:
                params, info = load_mem.plan(args.mem_mode, args.size, args.workers or 1, args.rate,
                                             args.nbytes, self.duration, args.seed, args.mem_floor,
                                             ops=args.ops)
            except load_common.GuardError as error:
                raise guard_error(error)
            except ValueError as error:
                raise _usage(str(error), "see 'toaster --help'")
            self.mem_info = info
            self.groups.append(load_common.Group("mem", load_mem.worker, params))
        if "disk" in self.workloads:
            self._plan_disk()
        if "net" in self.workloads:
            self._plan_net()

    def _plan_disk(self):
        args = self.args
        workers = args.iodepth or args.workers or 1
        if args.device:
            if not args.yes_destroy_data:
                raise _usage("--device %s would destroy the data on it" % args.device,
                             "add --yes-destroy-data if that is what you want")
            if not load_common.is_block_device(args.device):
                raise _usage("%s is not a block device" % args.device, "give a device such as /dev/sdX")
            try:
                load_disk.check_device(args.device)
            except load_common.GuardError as error:
                raise guard_error(error)
            targets = [load_disk.Target(args.device, device=True)]
        else:
            if args.yes_destroy_data:
                raise _usage("--yes-destroy-data without --device", "it only confirms a raw device test")
            mount_list = load_common.mounts()
            targets = []
            for path in args.target or ["."]:
                try:
                    targets.append(load_disk.resolve_target(path, mount_list))
                except load_common.GuardError as error:
                    raise cli.ToolError(error.what, error.cause, error.fix,
                                        code=cli.EXIT_USAGE if load_common.is_block_device(path)
                                        else cli.EXIT_FINDINGS)
        for target in targets:
            try:
                params = load_disk.plan(target, args.disk_mode, args.bs, args.file_size, workers, args.read_pct,
                                        not args.buffered, args.verify, args.rate, args.iops, args.ops,
                                        args.nbytes, self.duration, args.seed, args.disk_floor, args.mem_floor)
            except load_common.GuardError as error:
                raise guard_error(error)
            except ValueError as error:
                raise _usage(str(error), "see 'toaster --help'")
            except OSError as error:
                raise cli.ToolError("cannot use %s" % target.path, error.strerror or str(error),
                                    "check the path and permissions")
            group = load_common.Group("disk", load_disk.worker, params)
            group.target = target
            self.groups.append(group)
            self.targets.append(target)
            if target.ram_backed:
                self.guard_checks["memory"] = True
            if not target.device:
                self.guard_checks["disk"].append(target)

    def _plan_net(self):
        args = self.args
        if args.reverse and args.bidir:
            raise _usage("--reverse and --bidir together", "choose one")
        if args.client:
            host, port = load_net.parse_hostport(args.client, default_host=None)
            if host is None:
                raise _usage("--client needs a host", "give --client HOST[:PORT]")
        else:
            host, port = "127.0.0.1", None
        self.net_target = (host, port)

    def _open_net(self):
        args = self.args
        host, port = self.net_target
        if port is None:
            try:
                self.net_server, port = load_net.start_loopback_server()
            except load_net.NetError as error:
                raise cli.ToolError(error.what, error.cause, error.fix)
            self.net_target = (host, port)
        session = load_net.ClientSession(host, port, args.streams or 1, "udp" if args.udp else "tcp",
                                         args.reverse, args.bidir, self.duration,
                                         args.nbytes // (args.streams or 1) if args.nbytes else None,
                                         args.rate, args.bs, args.seed)
        try:
            groups = session.open()
        except load_net.NetError as error:
            raise cli.ToolError(error.what, error.cause, error.fix)
        for group in groups:
            group.net = True
        self.net_session = session
        self.groups.extend(groups)

    # -- running
    def execute(self):
        self.plan()
        names = ",".join(self.workloads)
        if self.targets and any(not t.device for t in self.targets):
            self.record = load_common.RunRecord(names)
            if self.record.path is None:
                self.warnings.append("no writable state directory for the run record (set %s); "
                                     "'toaster cleanup' will need the target directories" % load_common.STATE_ENV)
        code = cli.EXIT_OK
        signals = load_common.StopSignals(self._on_signal)
        with signals:
            try:
                for group in self.groups:
                    target = getattr(group, "target", None)
                    if target is not None and not target.device:
                        try:
                            load_disk.attach_files(target, group.params_list, self.record)
                        except OSError as error:
                            raise cli.ToolError("cannot create test files in %s" % target.path,
                                                error.strerror or str(error),
                                                "choose a writable --target")
                if "net" in self.workloads:
                    self._open_net()
                self.pool = load_common.Pool(self.groups, tick=self._tick)
                if signals.received:
                    self.pool.request_stop(signals.received)
                self.started_wall = time.time()
                self.pool.start()
                if self.net_session is not None:
                    self.net_session.release_sockets()
                self.pool.wait_ready()
                elapsed = self.pool.run()
            except BaseException:
                if self.pool is not None:
                    self.pool.terminate()
                self._stop_net_server()
                self._release()
                raise
            finally:
                self.progress.done()
        net_summary = None
        if self.net_session is not None:
            net_groups = [g for g in self.groups if getattr(g, "net", False)]
            net_summary = self.net_session.finish(net_groups, elapsed)
        self._stop_net_server()
        problems = self._release()
        self.warnings.extend(problems)
        result = self.summarize(elapsed, net_summary, signals.received)
        if signals.received:
            code = cli.EXIT_INTERRUPTED
        elif result["stopped"].startswith(("memory guard", "disk guard")) or result["worker_failures"]:
            code = cli.EXIT_PARTIAL
        elif result["errors"]:
            code = cli.EXIT_FINDINGS
        return result, code

    def _stop_net_server(self):
        if self.net_server is not None:
            self.net_server.join(3)
            if self.net_server.is_alive():
                self.net_server.kill() if hasattr(self.net_server, "kill") else os.kill(self.net_server.pid, 9)
                self.net_server.join(1)
            self.net_server = None

    def _release(self):
        if self.record is not None:
            problems = self.record.release()
            self.record = None
            return problems
        return []

    def _on_signal(self, reason):
        if self.pool is not None:
            self.pool.request_stop(reason)

    def _tick(self, pool, preparing=False):
        now = time.monotonic()
        self._check_guards(pool)
        if self.finishers and not preparing and pool.stop_reason is None:
            done = all(len(g.results) == len(g.params_list) for g in self.groups
                       if self._workload_of(g) in self.finishers)
            if done and any(len(g.results) < len(g.params_list) for g in self.groups):
                pool.request_stop("work done")
        if now - self.last_progress >= 1.0 and self.progress.enabled:
            self.last_progress = now
            self.progress.update(self._progress_line(pool, now, preparing))

    def _check_guards(self, pool):
        if self.guard_checks["memory"]:
            state = load_common.memory_state(floor_pct=self.args.mem_floor)
            if state["margin"] < 0:
                pool.request_stop("memory guard: %s" % load_mem.guard_message(state))
        for target in self.guard_checks["disk"]:
            try:
                _, avail, _ = load_common.fs_space(target.path)
            except OSError:
                continue
            if avail < target.floor:
                pool.request_stop("disk guard: %s has %s free, below the floor of %s"
                                  % (target.mount.mountpoint if target.mount else target.path,
                                     fmt_size(avail), fmt_size(target.floor)))

    def _progress_line(self, pool, now, preparing):
        if preparing:
            return "preparing (laying out test files, connecting)..."
        parts = []
        interval = (now - self.last_time) if self.last_time else None
        for index, group in enumerate(self.groups):
            counters = pool.group_counters(group)
            previous = self.last.get(index)
            self.last[index] = counters
            if previous is None or not interval:
                continue
            ops = (counters[0] - previous[0]) / interval
            rate = (counters[1] - previous[1]) / interval
            if group.name == "cpu":
                parts.append("cpu %s ops/s" % load_common.format_count(ops))
            elif group.name == "mem":
                parts.append("mem %s held %s" % (fmt_size(counters[3]), load_common.format_rate(rate)))
            elif group.name == "disk":
                parts.append("disk %s %s IOPS" % (load_common.format_rate(rate), load_common.format_count(ops)))
            else:
                parts.append("net %s %s" % (group.name, load_common.format_bits(rate)))
        self.last_time = now
        elapsed = now - (pool.started or now)
        clock = timeparse.format_duration(elapsed)
        if self.duration:
            clock += "/" + timeparse.format_duration(self.duration)
        return "%s  %s" % (" | ".join(parts) or "starting", clock)

    # -- summary
    def summarize(self, elapsed, net_summary, signal_reason):
        pool = self.pool
        stopped = pool.stop_reason or ("duration" if self.duration else "work done")
        result = {"command": command_line(self.argv), "workloads": list(self.workloads), "seed": self.args.seed,
                  "started": timeparse.iso_utc(self.started_wall), "started_epoch": self.started_wall,
                  "elapsed": round(elapsed, 3), "duration": self.duration, "stopped": stopped,
                  "errors": 0, "worker_failures": []}
        for group in self.groups:
            for index in sorted(group.results):
                item = group.results[index]
                if item.get("error"):
                    result["worker_failures"].append("%s worker %d: %s" % (group.name, index, item["error"]))
        if "cpu" in self.workloads:
            result["cpu"] = self._sum_cpu()
            result["errors"] += result["cpu"]["errors"]
        if "mem" in self.workloads:
            result["mem"] = self._sum_mem()
            result["errors"] += result["mem"]["errors"]
        if "disk" in self.workloads:
            result["disk"] = [self._sum_disk(g) for g in self.groups if g.name == "disk"]
            result["errors"] += sum(d["errors"] for d in result["disk"])
        if net_summary is not None:
            host, port = self.net_target
            net_summary.update({"host": host, "port": port, "loopback_self_test": not self.args.client,
                                "proto": "udp" if self.args.udp else "tcp"})
            self.warnings.extend(net_summary.pop("warnings", []))
            result["net"] = net_summary
        return result

    @staticmethod
    def _workload_of(group):
        return "net" if getattr(group, "net", False) else group.name

    def _group(self, name):
        return [g for g in self.groups if g.name == name]

    def _sum_cpu(self):
        group = self._group("cpu")[0]
        workers = []
        for index in sorted(group.results):
            item = group.results[index]
            elapsed = item.get("elapsed") or 0
            workers.append({"index": index, "cpu": item.get("cpu"), "ops": item.get("ops", 0),
                            "ops_per_s": item.get("ops", 0) / elapsed if elapsed else 0.0,
                            "busy_pct": item.get("busy_pct"), "errors": item.get("errors", 0),
                            "error": item.get("error")})
        busy = [w["busy_pct"] for w in workers if w["busy_pct"] is not None]
        data = dict(self.cpu_info)
        data.update({"workers": workers, "ops": sum(w["ops"] for w in workers),
                     "ops_per_s": sum(w["ops_per_s"] for w in workers),
                     "busy_pct_min": min(busy) if busy else None,
                     "busy_pct_mean": round(sum(busy) / len(busy), 1) if busy else None,
                     "errors": sum(w["errors"] for w in workers), "verified": True})
        if self.cpu_info["method"] == "sha256":
            data["bytes_per_s"] = data["ops_per_s"] * load_cpu.SHA_BLOCK
        return data

    def _sum_mem(self):
        group = self._group("mem")[0]
        workers = []
        guards = []
        for index in sorted(group.results):
            item = dict(group.results[index])
            elapsed = item.get("elapsed") or 0
            if "touch_bytes_per_s" in item:
                item["bytes_per_s"] = item["touch_bytes_per_s"]
            else:
                moved = item.get("copied", item.get("checked", 0)) or 0
                item["bytes_per_s"] = moved / elapsed if elapsed else 0.0
            if item.get("guard"):
                guards.append(item["guard"])
            workers.append(item)
        state = self.mem_info["state"]
        reached = [w.get("seconds_to_target") for w in workers]
        data = {"mode": self.args.mem_mode, "requested": self.mem_info["total"], "workers": workers,
                "seconds_to_target": max(reached) if reached and None not in reached else None,
                "held_peak": sum(w.get("held_peak", 0) or 0 for w in workers),
                "bytes_per_s": sum(w["bytes_per_s"] for w in workers),
                "errors": sum(w.get("errors", 0) or 0 for w in workers),
                "mismatches": sum(w.get("mismatches", 0) or 0 for w in workers),
                "guard": {"floor": state["floor"], "floor_pct": state["floor_pct"], "mem_total": state["total"],
                          "mem_available_at_start": state["available"], "cgroup": state["cgroup"],
                          "hit": guards[0] if guards else None},
                "rate_limit": self.mem_info.get("rate")}
        if self.args.mem_mode == "spikes":
            data["spikes"] = sum(w.get("spikes", 0) for w in workers)
        if self.args.mem_mode == "verify":
            data["passes"] = sum(w.get("passes", 0) for w in workers)
        return data

    def _sum_disk(self, group):
        target = group.target
        lat_r, lat_w = load_common.Latency(), load_common.Latency()
        workers = []
        first_error = None
        layout = 0.0
        for index in sorted(group.results):
            item = group.results[index]
            lat_r.merge(item.get("latency_read"))
            lat_w.merge(item.get("latency_write"))
            elapsed = item.get("elapsed") or 0
            layout = max(layout, item.get("layout_seconds") or 0)
            workers.append({"index": index, "ops": item.get("ops", 0), "bytes": item.get("bytes", 0),
                            "iops": item.get("ops", 0) / elapsed if elapsed else 0.0,
                            "bytes_per_s": item.get("bytes", 0) / elapsed if elapsed else 0.0,
                            "errors": item.get("errors", 0) or (1 if item.get("error") else 0),
                            "error": item.get("error")})
            first_error = first_error or item.get("first_error") or item.get("error")
        params = group.params_list[0]
        data = target.to_dict()
        data.update({"mode": params["mode"], "bs": params["bs"], "file_size": params["region"],
                     "workers": len(group.params_list), "verify": bool(params["verify"]),
                     "layout_seconds": layout, "per_worker": workers,
                     "ops": sum(w["ops"] for w in workers), "bytes": sum(w["bytes"] for w in workers),
                     "iops": sum(w["iops"] for w in workers), "bytes_per_s": sum(w["bytes_per_s"] for w in workers),
                     "reads": sum((group.results[i].get("reads") or 0) for i in group.results),
                     "writes": sum((group.results[i].get("writes") or 0) for i in group.results),
                     "latency_read_us": lat_r.summary_us(), "latency_write_us": lat_w.summary_us(),
                     "errors": sum(w["errors"] for w in workers), "first_error": first_error,
                     "verify_errors": sum((group.results[i].get("verify_errors") or 0) for i in group.results)})
        if params.get("rate") or params.get("iops"):
            data["limits"] = {"rate": self.args.rate, "iops": self.args.iops}
        return data


# ------------------------------------------------------------------ text output

def render(result, utc=False):
    lines = []
    started = result.get("started_epoch")
    head = "toaster %s: started %s, ran %s" % (",".join(result["workloads"]), timeparse.format_time(started, utc),
                                                timeparse.format_duration(result["elapsed"]))
    stopped = "stopped: %s" % result["stopped"]
    if len(head) + 2 + len(stopped) <= 80:
        lines.append("%s, %s" % (head, stopped))
    else:
        lines.append(head)
        lines.extend(textwrap.wrap(stopped, 78, initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False))
    lines.extend(textwrap.wrap(result["command"], 78, initial_indent="command: ", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False))
    if "cpu" in result:
        cpu = result["cpu"]
        lines.append("")
        pinned = any(w["cpu"] is not None for w in cpu["workers"])
        lines.append("cpu   %s, %d worker(s) on CPUs %s%s, load %g%%" % (
            cpu["method"], len(cpu["workers"]), load_common.format_cpu_list(cpu["cpus"]),
            " (pinned)" if pinned else "", cpu["load"]))
        extra = ""
        if "bytes_per_s" in cpu:
            extra = " (%s)" % load_common.format_rate(cpu["bytes_per_s"])
        lines.append("      %s ops/s in all%s, %s ops, %d error(s), every result verified" % (
            load_common.format_count(cpu["ops_per_s"]), extra, load_common.format_count(cpu["ops"]), cpu["errors"]))
        lines.append("      per worker: %s" % "  ".join(
            "%s %s/s busy %s%%" % ("cpu%d" % w["cpu"] if w["cpu"] is not None else "#%d" % w["index"],
                                   load_common.format_count(w["ops_per_s"]),
                                      w["busy_pct"] if w["busy_pct"] is not None else "-")
            for w in cpu["workers"][:6]) + (" ..." if len(cpu["workers"]) > 6 else ""))
    if "mem" in result:
        mem = result["mem"]
        lines.append("")
        guard = mem["guard"]
        lines.append("mem   %s %s, %d worker(s)" % (mem["mode"], fmt_size(mem["requested"]), len(mem["workers"])))
        text = "      guard: keep %g%% of MemTotal %s (%s)" % (guard["floor_pct"], fmt_size(guard["mem_total"]),
                                                           fmt_size(guard["floor"]))
        if guard["cgroup"]:
            text += " and of the cgroup limit %s (%s)" % (
                fmt_size(guard["cgroup"]["limit"]), fmt_size(guard["cgroup"]["limit"] * guard["floor_pct"] / 100.0))
        lines.extend(textwrap.wrap(text.strip() + " available", 78, initial_indent="      ",
                                   subsequent_indent="        "))
        if mem["mode"] == "bandwidth":
            lines.append("      copy %s, %d error(s)" % (load_common.format_rate(mem["bytes_per_s"]), mem["errors"]))
        elif mem["mode"] == "verify":
            lines.append("      %d pass(es) verified at %s, %d mismatching byte(s)" % (
                mem.get("passes", 0), load_common.format_rate(mem["bytes_per_s"]), mem["mismatches"]))
            for worker in mem["workers"]:
                for miss in worker.get("first_mismatches", [])[:3]:
                    lines.append("      mismatch at buffer offset %#x: wrote %#04x, read %#04x" % (
                        miss["offset"], miss["expected"], miss["found"]))
        else:
            text = "      held %s at peak, pages touched at %s" % (fmt_size(mem["held_peak"]),
                                                                  load_common.format_rate(mem["bytes_per_s"]))
            if mem.get("seconds_to_target") is not None:
                text += ", size reached after %s" % timeparse.format_duration(mem["seconds_to_target"])
            elif mem["mode"] != "spikes":
                text += ", size NOT reached in time"
            if mem["mode"] == "spikes":
                text += ", %d spike(s)" % mem.get("spikes", 0)
            lines.append(text)
        if guard["hit"]:
            lines.extend(textwrap.wrap("guard reached: %s" % guard["hit"], 78, initial_indent="      ",
                                       subsequent_indent="        "))
    for disk in result.get("disk", []):
        lines.append("")
        where = disk["path"]
        if disk.get("mount"):
            mount = disk["mount"]
            source = "/dev/mapper/%s" % mount["dm_name"] if mount.get("dm_name") else mount["source"]
            where = "%s (%s on %s)" % (mount["mountpoint"], mount["fstype"], source)
        lines.append("disk  %s" % where)
        lines.append("      %s, %s blocks, %d worker(s), %s per worker, %s%s" % (
            disk["mode"], fmt_size(disk["bs"]), disk["workers"], fmt_size(disk["file_size"]),
            "O_DIRECT" if disk["direct"] else "buffered", ", verify" if disk["verify"] else ""))
        if disk.get("ram_backed"):
            lines.append("      RAM-BACKED: %s; this measures memory, not a disk" % disk.get("ram_reason"))
        lines.append("      %s, %s IOPS, %s moved, %d error(s)" % (
            load_common.format_rate(disk["bytes_per_s"]), load_common.format_count(disk["iops"]),
            fmt_size(disk["bytes"]), disk["errors"]))
        for label, key in (("read ", "latency_read_us"), ("write", "latency_write_us")):
            lat = disk.get(key)
            if lat:
                lines.append("      %s latency p50 %s  p99 %s  max %s  (%s I/Os)" % (
                    label, fmt_us(lat["p50"]), fmt_us(lat["p99"]), fmt_us(lat["max"]),
                    load_common.format_count(lat["samples"])))
        if disk["verify"]:
            lines.append("      verify: %d bad block(s)" % disk["verify_errors"])
        if disk.get("first_error"):
            lines.append("      first error: %s" % disk["first_error"])
        for note in disk.get("notes", []):
            if "RAM-backed" not in note:
                lines.append("      note: %s" % note)
    if "net" in result:
        net = result["net"]
        lines.append("")
        label = "loopback self-test" if net["loopback_self_test"] else "server %s" % net["host"]
        lines.append("net   %s, %s port %s, %d stream(s)" % (label, net["proto"], net["port"],
                                                            len(set(s["stream"] for s in net["streams"]))))
        for direction in ("up", "down"):
            total = net["totals"].get(direction)
            if not total:
                continue
            name = "send" if direction == "up" else "receive"
            text = "      %-7s %s (%s), %s received" % (name, load_common.format_bits(total["bytes_per_s"]),
                                                       load_common.format_rate(total["bytes_per_s"]),
                                                       fmt_size(total["received"]))
            if total.get("retrans") is not None:
                text += ", %d retransmit(s)" % total["retrans"]
            lines.append(text)
            if total.get("udp"):
                udp = total["udp"]
                lines.append("              loss %s%% (%d of %d datagrams), jitter %.3f ms" % (
                    udp.get("loss_pct", 0), udp["lost"], udp["expected"], udp["jitter_ms"]))
        if len(net["streams"]) > 1:
            for stream in net["streams"][:16]:
                lines.append("        stream %d %-4s %s%s" % (
                    stream["stream"], stream["direction"], load_common.format_bits(stream["bytes_per_s"]),
                    (" rtt %dus" % stream["rtt_us"]) if stream.get("rtt_us") is not None else ""))
        if net.get("retrans_system") is not None:
            lines.append("      system-wide TCP retransmits during the run: %d (/proc/net/snmp)"
                         % net["retrans_system"])
    for failure in result["worker_failures"]:
        lines.append("")
        lines.append("worker failed: %s" % failure)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ other commands

def do_targets(args):
    rows = []
    data = []
    for mount in load_common.disk_targets(args.root or "/"):
        total = avail = None
        if not args.root:    # a captured tree has no live file systems to ask
            try:
                total, avail, _ = load_common.fs_space(mount.mountpoint)
            except OSError:
                pass
        floor = load_common.disk_floor(total, args.disk_floor) if total else None
        usable = max(0, avail - floor) if avail is not None and floor is not None else None
        source = "/dev/mapper/%s" % mount.dm_name if mount.dm_name else mount.source
        item = mount.to_dict()
        item.update({"size": total, "free": avail, "floor": floor, "usable": usable})
        data.append(item)
        rows.append([mount.mountpoint, mount.fstype, source, fmt_size(total), fmt_size(avail), fmt_size(usable),
                     "RAM" if mount.ram_backed else ""])
    if args.json:
        output.emit_json(TOOL, {"targets": data}, source=args.root or "/")
        return cli.EXIT_OK
    output.write(output.table(rows, ["MOUNT", "FSTYPE", "SOURCE", "SIZE", "FREE", "USABLE", "NOTE"],
                              align="lllrrrl", flexible=0))
    output.write("USABLE: free space above the disk guard's floor of max(5%, 1G)\n"
                 "RAM: RAM-backed, a disk test there measures memory\n")
    return cli.EXIT_OK


def do_cleanup(args):
    result = load_common.cleanup(args.dirs or ())
    if args.json:
        output.emit_json(TOOL, result, warnings=result["problems"])
    else:
        for path in result["removed"]:
            output.write("removed %s\n" % path)
        for path in result["live"]:
            output.write("left alone (its run is still alive): %s\n" % path)
        if not result["removed"] and not result["live"]:
            output.write("nothing to clean up\n")
        for problem in result["problems"]:
            cli.warn(TOOL, problem)
    return cli.EXIT_PARTIAL if result["problems"] else cli.EXIT_OK


def do_server(args):
    bind = args.bind or ("127.0.0.1", load_net.DEFAULT_PORT)
    quiet = args.json
    log = (lambda message: None) if quiet else (lambda message: cli.warn(TOOL, message))
    try:
        server = load_net.Server(bind, args.allow, log=log)
    except load_net.NetError as error:
        raise cli.ToolError(error.what, error.cause, error.fix)
    log("listening on %s port %d (TCP and UDP); allowed peers: loopback%s; Ctrl-C stops" % (
        bind[0], server.port, "".join(", " + h for h in args.allow)))
    deadline = time.monotonic() + args.duration if args.duration else None
    signals = load_common.StopSignals(lambda reason: server.request_stop(reason))
    with signals:
        try:
            sessions = server.serve(deadline=deadline)
        finally:
            server.close()
    result = {"bind": "%s:%d" % (bind[0], server.port), "allowed": list(args.allow), "sessions": sessions,
              "refused": server.refused, "stopped": signals.received or "duration"}
    if args.json:
        output.emit_json(TOOL, result)
    else:
        output.write("served %d test(s), refused %d connection(s) from hosts not allowed\n"
                     % (len(sessions), server.refused))
    return cli.EXIT_INTERRUPTED if signals.received else cli.EXIT_OK


def do_proxy(args):
    try:
        listen = load_net.parse_hostport(args.delay_proxy[0])
        target = load_net.parse_hostport(args.delay_proxy[1], default_port=None)
    except ValueError as error:
        raise _usage(str(error), "give --delay-proxy LISTEN_ADDR:PORT TARGET_HOST:PORT")
    if target[1] is None:
        raise _usage("the proxy target needs a port", "give TARGET as HOST:PORT")
    log = (lambda message: None) if args.json else (lambda message: cli.warn(TOOL, message))
    try:
        proxy = load_net.DelayProxy(listen, target, args.delay, args.jitter, args.allow, args.seed, log)
    except load_net.NetError as error:
        raise cli.ToolError(error.what, error.cause, error.fix)
    log("forwarding %s:%d -> %s:%d with %.0f ms +- %.0f ms delay; Ctrl-C stops" % (
        listen[0], proxy.port, target[0], target[1], args.delay * 1000, args.jitter * 1000))
    deadline = time.monotonic() + args.duration if args.duration else None
    signals = load_common.StopSignals(lambda reason: setattr(proxy, "stop", True))
    with signals:
        proxy.serve(deadline)
    result = proxy.summary()
    result.update({"listen": "%s:%d" % (listen[0], proxy.port), "target": "%s:%d" % target,
                   "delay_ms": args.delay * 1000, "jitter_ms": args.jitter * 1000,
                   "stopped": signals.received or "duration"})
    if args.json:
        output.emit_json(TOOL, result)
    else:
        output.write("delay proxy %s -> %s: %d connection(s), %s up, %s down, delay mean %s ms max %s ms, "
                     "%d refused\n" % (result["listen"], result["target"], result["connections"],
                                       fmt_size(result["bytes_up"]), fmt_size(result["bytes_down"]),
                                       result["delay_mean_ms"] if result["delay_mean_ms"] is not None else "-",
                                       result["delay_max_ms"], result["refused"]))
    return cli.EXIT_INTERRUPTED if signals.received else cli.EXIT_OK


def do_sockets(args):
    hold = args.duration if args.duration is not None else DEFAULT_DURATION
    state = {"stop": None}
    progress = output.Progress(TOOL)
    last = [0.0]

    def show(count):
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            progress.update("%d connections open" % count)

    signals = load_common.StopSignals(lambda reason: state.update(stop=reason))
    with signals:
        result = load_net.socket_exhaustion(args.sockets, hold, lambda: state["stop"] is not None, show)
    progress.done()
    result["stopped"] = signals.received or "duration"
    if args.json:
        output.emit_json(TOOL, result)
    else:
        output.write("sockets: opened %d of %d loopback connections in %s (%s/s), held %s%s\n" % (
            result["opened"], result["requested"], timeparse.format_duration(result["open_seconds"]),
            load_common.format_count(result["per_second"]), timeparse.format_duration(hold),
            "; stopped early: %s" % result["error"] if result["error"] else ""))
        if result["port_range"]:
            output.write("         ephemeral ports %d-%d, our descriptor limit %s\n" % (
                result["port_range"][0], result["port_range"][1], result["fd_limit"]))
    if signals.received:
        return cli.EXIT_INTERRUPTED
    return cli.EXIT_FINDINGS if result["error"] else cli.EXIT_OK


# ------------------------------------------------------------------ interactive menu

MENU = (
    ("cpu", "CPU", "verified hash/compress/integer/float work on every allowed CPU"),
    ("mem", "Memory", "hold, bandwidth, verify (failing RAM), growth or spikes"),
    ("disk", "Disk", "sequential or random I/O on a mounted file system"),
    ("net", "Network", "loopback TCP self-test (no server needed)"),
    ("cleanup", "Cleanup", "remove files left by runs that were killed"),
)


def parse_selection(text, count):
    """'1,3', '1-3', '2 4' -> sorted unique numbers in 1..count.  Raises ValueError."""
    chosen = set()
    for part in text.replace(" ", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, _, high = part.partition("-")
            low, high = int(low), int(high)
            if low > high:
                raise ValueError("range %s runs backwards" % part)
            chosen.update(range(low, high + 1))
        else:
            chosen.add(int(part))
    if not chosen:
        raise ValueError("nothing chosen")
    bad = sorted(n for n in chosen if not 1 <= n <= count)
    if bad:
        raise ValueError("no item %s" % ", ".join(str(n) for n in bad))
    return sorted(chosen)


class MenuQuit(Exception):
    pass


def _ask(prompt, default, check, tty):
    """Ask until ``check(answer)`` accepts; the default on an empty answer; q quits."""
    for _ in range(10):
        answer = interact.ask("%s [%s]: " % (prompt, default) if default is not None else "%s: " % prompt,
                              tty_path=tty)
        if answer is None or answer.lower() in ("q", "quit", "exit"):
            raise MenuQuit()
        if not answer and default is not None:
            answer = default
        try:
            return check(answer)
        except (ValueError, cli.argparse.ArgumentTypeError) as error:
            _say("  not understood: %s (q quits)\n" % error, tty)
    raise MenuQuit()


def _say(text, tty):
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _choice(options):
    def check(answer):
        if answer not in options:
            raise ValueError("choose one of %s" % ", ".join(options))
        return answer
    return check


def menu(tty="/dev/tty"):
    """Ask what to run; returns the argv of the equivalent command line, or None."""
    lines = ["toaster: load generator (q quits at any question)", ""]
    for number, (_, title, text) in enumerate(MENU, 1):
        lines.append("  %d) %-8s %s" % (number, title, text))
    _say("\n".join(lines) + "\n\n", tty)
    try:
        picked = _ask("Choose (numbers and ranges, e.g. 1,3 or 1-3)", None,
                      lambda a: parse_selection(a, len(MENU)), tty)
        names = [MENU[n - 1][0] for n in picked]
        if "cleanup" in names:
            if len(names) > 1:
                _say("  cleanup runs alone; doing only the cleanup\n", tty)
            argv = ["cleanup"]
        else:
            argv = [",".join(names)]
            duration = _ask("Duration (e.g. 30s, 5m)", "30s",
                            lambda a: (timeparse.parse_duration(a), a)[1], tty)
            argv += ["--duration", duration]
            if "cpu" in names:
                load = _ask("CPU load in percent (1-100)", "100", lambda a: "%g" % _menu_pct(a), tty)
                if load != "100":
                    argv += ["--load", load]
            if "mem" in names:
                mode = _ask("Memory mode (%s)" % ", ".join(load_mem.MODES), "bandwidth",
                            _choice(load_mem.MODES), tty)
                argv += ["--mem-mode", mode]
                size = _ask("Memory size (e.g. 1G or 25%; empty = the mode's default)", "default",
                            lambda a: a if a == "default" else _amount(a), tty)
                if size != "default":
                    argv += ["--size", size]
            if "disk" in names:
                mounts = load_common.disk_targets()
                listing = []
                for number, mount in enumerate(mounts, 1):
                    try:
                        _, avail, _ = load_common.fs_space(mount.mountpoint)
                    except OSError:
                        avail = None
                    listing.append("  %d) %s, %s free" % (number, mount.describe(), fmt_size(avail)))
                _say("Disk targets:\n" + "\n".join(listing) + "\n", tty)

                def pick_target(answer):
                    if answer.isdigit():
                        index = int(answer)
                        if not 1 <= index <= len(mounts):
                            raise ValueError("no target %d" % index)
                        return mounts[index - 1].mountpoint
                    if not os.path.isdir(answer):
                        raise ValueError("%s is not a directory" % answer)
                    return answer
                target = _ask("Target (number or a directory)", "1" if mounts else None, pick_target, tty)
                mode = _ask("Disk mode (%s)" % ", ".join(load_disk.MODES), "seq-read",
                            _choice(load_disk.MODES), tty)
                size = _ask("File size per worker", "256M", lambda a: (timeparse.parse_size(a), a)[1], tty)
                argv += ["--target", target, "--disk-mode", mode, "--file-size", size]
        _say("\nEquivalent command line (to rerun unattended):\n  %s\n" % command_line(argv), tty)
        go = _ask("Run it now? (y/n)", "y", _choice(("y", "n", "yes", "no")), tty)
        if go.startswith("n"):
            return None
        return argv
    except MenuQuit:
        _say("nothing run\n", tty)
        return None


def _menu_pct(text):
    value = float(text)
    if not 1 <= value <= 100:
        raise ValueError("between 1 and 100")
    return value


def want_menu(argv):
    if argv:
        return False
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------ entry

def run(args):
    if not args.what:
        raise _usage("no workload given", "name one: toaster cpu|mem|disk|net|targets|cleanup (on a terminal, "
                                          "toaster alone opens the menu)")
    if args.what == "targets":
        return do_targets(args)
    if args.root:
        raise _usage("--root only applies to 'toaster targets'", "toaster loads this live system")
    if args.what == "cleanup":
        return do_cleanup(args)
    if args.dirs:
        raise _usage("unexpected arguments: %s" % " ".join(args.dirs), "see 'toaster --help'")
    workloads = parse_workloads(args.what)
    net_special = args.server or args.delay_proxy or args.sockets
    if net_special:
        if workloads != ["net"]:
            raise _usage("--server, --delay-proxy and --sockets run alone", "use 'toaster net --server' etc.")
        if sum(1 for x in (args.server, args.delay_proxy, args.sockets, args.client) if x) > 1:
            raise _usage("--server, --client, --delay-proxy and --sockets exclude each other", "choose one")
        if args.server:
            return do_server(args)
        if args.delay_proxy:
            return do_proxy(args)
        return do_sockets(args)
    argv = getattr(args, "_argv", None) or []
    the_run = Run(args, workloads, argv)
    result, code = the_run.execute()
    warnings = the_run.warnings
    if args.json:
        output.emit_json(TOOL, result, warnings=warnings)
    else:
        output.write(render(result, args.utc))
        for warning in warnings:
            cli.warn(TOOL, warning)
    return code


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
        if want_menu(argv):
            try:
                chosen = menu()
            except cli.ToolError as error:
                cli.warn(TOOL, error.line(TOOL)[len(TOOL) + 2:])
                return error.code
            except KeyboardInterrupt:
                return cli.EXIT_INTERRUPTED
            if chosen is None:
                return cli.EXIT_OK
            argv = chosen
    argv = list(argv)
    parser = build_parser()

    def body(args):
        args._argv = argv
        return run(args)
    return cli.run_main(TOOL, parser, body, argv, polite=False)


if __name__ == "__main__":
    sys.exit(main())
