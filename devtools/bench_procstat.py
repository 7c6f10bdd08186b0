#!/usr/bin/env python3
"""Benchmark: CPU time of `procstat -A 1 N` against sysstat's pidstat + iostat -x + mpstat -P ALL.

All four run side by side over the same N seconds (default 60), so they
see the same machine; each one's user+system CPU time comes from wait4().
As on a real server, --procs (default 300) idle processes exist during the
run (the per-process files are the bulk of both sides' work).  With
--repeat R the pair runs R times; each run goes to stderr and the result
line carries the medians and the range of the ratio:

    bench procstat: ours X s, reference Y s, ratio Z

where the reference is the sum of `pidstat 1 N`, `iostat -x 1 N` and
`mpstat -P ALL 1 N`.  Without sysstat the reference is "not installed"
and the ratio "n/a" (install it with `apt-get install sysstat`).  There
are no input files to generate; --workdir holds the captured outputs
while the run lasts and is deleted afterwards (unless given).
Runs on any Python 3.6+.
"""

import argparse
import os
import shutil
import sys
import tempfile

from benchlib import cpu_seconds, cpu_summary, median, say_run, start, start_sleepers, stop_sleepers

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the run (default 60)")
    parser.add_argument("--procs", type=int, default=300, help="idle processes present (default 300)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the pair (default 1)")
    parser.add_argument("--workdir", default=None, help="folder for the outputs (default: a temp dir)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for procstat")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sleepers = []
    runs = []
    try:
        sleepers = start_sleepers(args.procs, args.repeat * (args.seconds + 30) + 60)
        for number in range(args.repeat):
            result = one_run(args)
            if result is None:
                return 1
            runs.append(result)
            if args.repeat > 1:
                say_run(number + 1, *result)
    finally:
        stop_sleepers(sleepers)
    if runs[0][1] is None:
        print("bench procstat: ours %.3f s, reference not installed (%s), ratio n/a"
              % (median([r[0] for r in runs]), ", ".join(MISSING)))
    else:
        ours_cpu, ref_cpu, ratio, spread = cpu_summary(runs)
        print("bench procstat: ours %.3f s, reference %.3f s, ratio %.2f%s" % (ours_cpu, ref_cpu, ratio, spread))
    sys.stdout.flush()
    sys.stderr.write("(%d one-second samples per run, %d idle processes; procstat -A vs pidstat 1 + "
                     "iostat -x 1 + mpstat -P ALL 1)\n" % (args.seconds, args.procs))
    return 0


MISSING = []


def one_run(args):
    """(ours, reference or None) CPU seconds of one side-by-side run; None on failure."""
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-procstat-")
    os.makedirs(workdir, exist_ok=True)
    count = str(args.seconds)
    try:
        ours = start([args.python, os.path.join(TOP, "scripts", "procstat.py"), "-A", "1", count],
                     os.path.join(workdir, "procstat.out"))
        reference = []
        missing = MISSING[:] = [tool for tool in ("pidstat", "iostat", "mpstat") if not shutil.which(tool)]
        if not missing:
            reference = [start(["pidstat", "1", count], os.path.join(workdir, "pidstat.out")),
                         start(["iostat", "-x", "1", count], os.path.join(workdir, "iostat.out")),
                         start(["mpstat", "-P", "ALL", "1", count], os.path.join(workdir, "mpstat.out"))]
        ours_cpu, status = cpu_seconds(ours)
        ref_cpu = sum(cpu_seconds(p)[0] for p in reference) if reference else None
        if status != 0:
            with open(os.path.join(workdir, "procstat.out"), "rb") as handle:
                tail = handle.read()[-400:].decode("utf-8", "replace")
            sys.stderr.write("bench procstat: procstat failed (status %d): %s\n" % (status, tail))
            return None
        return ours_cpu, ref_cpu
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
