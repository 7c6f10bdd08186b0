#!/usr/bin/env python3
"""Benchmark: CPU time of `procstat -A 1 N` against sysstat's pidstat + iostat -x + mpstat -P ALL.

All four run side by side over the same N seconds (default 60), so they
see the same machine; each one's user+system CPU time comes from wait4().
Prints one line:

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
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def start(argv, out_path):
    handle = open(out_path, "wb")
    env = dict(os.environ, LC_ALL="C", RESCUEKIT_NO_MANNERS="1")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
    handle.close()
    return process


def cpu_seconds(process):
    """Wait for the process; its user + system CPU seconds."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    return usage.ru_utime + usage.ru_stime, status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the run (default 60)")
    parser.add_argument("--workdir", default=None, help="folder for the outputs (default: a temp dir)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for procstat")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-procstat-")
    os.makedirs(workdir, exist_ok=True)
    count = str(args.seconds)
    try:
        ours = start([args.python, os.path.join(TOP, "scripts", "procstat.py"), "-A", "1", count],
                     os.path.join(workdir, "procstat.out"))
        reference = []
        missing = [tool for tool in ("pidstat", "iostat", "mpstat") if not shutil.which(tool)]
        if not missing:
            reference = [start(["pidstat", "1", count], os.path.join(workdir, "pidstat.out")),
                         start(["iostat", "-x", "1", count], os.path.join(workdir, "iostat.out")),
                         start(["mpstat", "-P", "ALL", "1", count], os.path.join(workdir, "mpstat.out"))]
        began = time.time()
        ours_cpu, status = cpu_seconds(ours)
        if status != 0:
            with open(os.path.join(workdir, "procstat.out"), "rb") as handle:
                tail = handle.read()[-400:].decode("utf-8", "replace")
            sys.stderr.write("bench procstat: procstat failed (status %d): %s\n" % (status, tail))
            return 1
        ref_cpu = sum(cpu_seconds(p)[0] for p in reference) if reference else None
        elapsed = time.time() - began
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if ref_cpu is None:
        print("bench procstat: ours %.3f s, reference not installed (%s), ratio n/a"
              % (ours_cpu, ", ".join(missing)))
    else:
        ratio = ours_cpu / ref_cpu if ref_cpu > 0 else float("inf")
        print("bench procstat: ours %.3f s, reference %.3f s, ratio %.2f" % (ours_cpu, ref_cpu, ratio))
    sys.stdout.flush()
    sys.stderr.write("(%d one-second samples, %.0f s wall; procstat -A vs pidstat 1 + iostat -x 1 + "
                     "mpstat -P ALL 1)\n" % (args.seconds, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
