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

With --repeat R the pair runs R times (each run on stderr); the result
lines carry the medians and the range of the ratio over the runs.

Without sysstat the reference is "not installed" and the ratios "n/a"
(apt-get install -y sysstat).  Everything lives under --workdir (default
a temporary folder), deleted afterwards unless --keep.  Runs on any
Python 3.6+.
"""

import argparse
import os
import shutil
import sys
import tempfile

from benchlib import cpu_seconds, cpu_summary, median, say_run, start, start_sleepers, stop_sleepers

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


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
    parser.add_argument("--repeat", type=int, default=1, help="runs of the pair (default 1)")
    args = parser.parse_args(argv)
    if args.seconds < 2:
        parser.error("--seconds must be at least 2")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sleepers = []
    runs = []
    try:
        sleepers = start_sleepers(args.procs, args.repeat * (args.seconds + 30) + 120)
        for number in range(args.repeat):
            runs.append(one_run(args))
            if args.repeat > 1:
                say_run(number + 1, runs[-1][0], runs[-1][1], digits=2)
    finally:
        stop_sleepers(sleepers)
    ours_bytes = median([r[2] for r in runs])
    if runs[0][1] is None:
        print("bench perfcollect: ours %.2f s, reference not installed (%s), ratio n/a"
              % (median([r[0] for r in runs]), ", ".join(MISSING)))
        print("bench perfcollect bytes/hour: ours %s, reference not installed, ratio n/a" % human(ours_bytes))
        return
    ref_bytes = median([r[3] for r in runs])
    ours_cpu, ref_cpu, ratio, spread = cpu_summary([(r[0], r[1]) for r in runs])
    print("bench perfcollect: ours %.2f s, reference %.2f s, ratio %.2f%s" % (ours_cpu, ref_cpu, ratio, spread))
    print("bench perfcollect bytes/hour: ours %s, reference %s, ratio %.2f"
          % (human(ours_bytes), human(ref_bytes), ours_bytes / ref_bytes if ref_bytes else float("inf")))


MISSING = []


def one_run(args):
    """(ours CPU s, reference CPU s or None, ours bytes/hour, reference bytes/hour or None)."""
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-perfcollect-")
    os.makedirs(workdir, exist_ok=True)
    try:
        ours_dir = os.path.join(workdir, "perfcollect")
        ours = start([args.python, os.path.join(TOP, "scripts", "perfcollect.py"), "run", "--interval", "1",
                      "--duration", "%ds" % args.seconds, "--out", ours_dir, "--max-size", "1G",
                      "--min-free", "1M"], os.path.join(workdir, "perfcollect.out"))
        reference = []
        missing = MISSING[:] = [tool for tool in ("sar", "pidstat") if not shutil.which(tool)]
        sa_file = os.path.join(workdir, "sa.data")
        pidstat_out = os.path.join(workdir, "pidstat.txt")
        for stale in (sa_file, pidstat_out):      # sar -o appends: a fresh file per run
            if os.path.exists(stale):
                os.remove(stale)
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
            return ours_cpu, None, ours_bytes, None
        return ours_cpu, ref_cpu, ours_bytes, size_of(sa_file, pidstat_out) * per_hour
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.keep:
            shutil.rmtree(os.path.join(workdir, "perfcollect"), ignore_errors=True)


if __name__ == "__main__":
    main()
