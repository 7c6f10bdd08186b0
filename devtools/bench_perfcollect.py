#!/usr/bin/env python3
"""Benchmark: `perfcollect run --interval 1` against `sar -A 1` + `pidstat 1` over the same window.

With a few hundred processes present (--procs, default 300 sleeping
children made for the run), perfcollect records for --seconds (default
60) while sysstat's sar (binary data file, as sa1 keeps it) and pidstat
(text) run side by side.  Each one's user+system CPU seconds come from
wait4() (children included: sar's sadc); bytes written are the sizes of
what each left on disk, scaled to an hour.  Prints:

    bench perfcollect: ours X s, reference Y s, ratio Z
    bench perfcollect bytes/hour: ours A, reference B, ratio C

Without sysstat the reference is "not installed" and the ratios "n/a"
(apt-get install -y sysstat).  Everything lives under --workdir (default
a temporary folder), deleted afterwards unless --keep.  Runs on any
Python 3.6+.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def start(argv, out_path):
    handle = open(out_path, "wb")
    env = dict(os.environ, LC_ALL="C", RESCUEKIT_NO_MANNERS="1")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
    handle.close()
    return process


def cpu_seconds(process):
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    return usage.ru_utime + usage.ru_stime, status


def size_of(*paths):
    total = 0
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                total += sum(os.path.getsize(os.path.join(folder, name)) for name in files)
        elif os.path.exists(path):
            total += os.path.getsize(path)
    return total


def human(count):
    value = float(count)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return ("%.0f%s" % (value, unit)) if unit == "B" else ("%.1f%s" % (value, unit))
        value /= 1024.0
    return str(count)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the run (default 60)")
    parser.add_argument("--procs", type=int, default=300, help="sleeping processes to create (default 300)")
    parser.add_argument("--workdir", default=None, help="folder for the outputs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    parser.add_argument("--python", default=sys.executable, help="interpreter for perfcollect")
    args = parser.parse_args(argv)
    if args.seconds < 2:
        parser.error("--seconds must be at least 2")
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-perfcollect-")
    os.makedirs(workdir, exist_ok=True)
    sleepers = []
    try:
        for _ in range(args.procs):
            sleepers.append(subprocess.Popen(["sleep", str(args.seconds + 120)]))
        ours_dir = os.path.join(workdir, "perfcollect")
        ours = start([args.python, os.path.join(TOP, "scripts", "perfcollect.py"), "run", "--interval", "1",
                      "--duration", "%ds" % args.seconds, "--out", ours_dir, "--max-size", "1G",
                      "--min-free", "1M"], os.path.join(workdir, "perfcollect.out"))
        reference = []
        missing = [tool for tool in ("sar", "pidstat") if not shutil.which(tool)]
        sa_file = os.path.join(workdir, "sa.data")
        pidstat_out = os.path.join(workdir, "pidstat.txt")
        if not missing:
            reference.append(start(["sar", "-A", "-o", sa_file, "1", str(args.seconds)], os.devnull))
            reference.append(start(["pidstat", "1", str(args.seconds)], pidstat_out))
        ours_cpu, status = cpu_seconds(ours)
        if status != 0:
            with open(os.path.join(workdir, "perfcollect.out")) as handle:
                sys.stderr.write(handle.read())
            sys.exit("bench perfcollect: perfcollect failed (status %d)" % status)
        ref_cpu = 0.0
        for process in reference:
            seconds, _ = cpu_seconds(process)
            ref_cpu += seconds
        per_hour = 3600.0 / args.seconds
        ours_bytes = size_of(ours_dir) * per_hour
        if missing:
            print("bench perfcollect: ours %.2f s, reference not installed (%s), ratio n/a"
                  % (ours_cpu, ", ".join(missing)))
            print("bench perfcollect bytes/hour: ours %s, reference not installed, ratio n/a" % human(ours_bytes))
        else:
            ref_bytes = size_of(sa_file, pidstat_out) * per_hour
            print("bench perfcollect: ours %.2f s, reference %.2f s, ratio %.2f"
                  % (ours_cpu, ref_cpu, ours_cpu / ref_cpu if ref_cpu else float("inf")))
            print("bench perfcollect bytes/hour: ours %s, reference %s, ratio %.2f"
                  % (human(ours_bytes), human(ref_bytes), ours_bytes / ref_bytes if ref_bytes else float("inf")))
    finally:
        for process in sleepers:
            try:
                process.send_signal(signal.SIGKILL)
                process.wait()
            except OSError:
                pass
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.keep:
            shutil.rmtree(os.path.join(workdir, "perfcollect"), ignore_errors=True)


if __name__ == "__main__":
    main()
