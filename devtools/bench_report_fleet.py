#!/usr/bin/env python3
"""bench_report_fleet - a fleet run with -j N against the same bundles one by one.

    python3 devtools/bench_report_fleet.py [--copies N] [--jobs J] [--workdir DIR] [--keep]

Makes N copies of the report fixtures (the real sos 4 archive, the sos 3
folder packed as .tar.xz, the supportconfig), then in the same run times

    ours:       report COPY... --out DIR -j J          (one fleet run)
    reference:  for each COPY: report COPY -o X.html   (what a shell loop does)

and prints

    bench report_fleet: ours X s, reference Y s, ratio Z
    bench report_fleet: cpu ours A s, reference B s (user+sys of the children)

Wall time is what -j buys (on a busy machine it is noisy: the CPU line
shows the fleet run costs no more work than the loop).  Runs on
/usr/bin/python3 or any 3.6+; deletes what it made unless --keep.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "fixtures", "report")
REPORT = os.path.join(ROOT, "scripts", "report.py")


def make_bundles(workdir, copies):
    sos3 = os.path.join(workdir, "sos3.tar.xz")
    with tarfile.open(sos3, "w:xz") as archive:
        archive.add(os.path.join(FIXTURES, "sos3-rhel7"), arcname="sosreport-db2-2024")
    sources = (os.path.join(FIXTURES, "sos4-debian12.tar.xz"), sos3,
               os.path.join(FIXTURES, "scc_sles15_240609_1200.txz"))
    folder = os.path.join(workdir, "bundles")
    os.makedirs(folder)
    made = []
    for index in range(copies):
        source = sources[index % len(sources)]
        suffix = ".txz" if source.endswith(".txz") else ".tar.xz"
        target = os.path.join(folder, "bundle-%04d%s" % (index, suffix))
        shutil.copyfile(source, target)
        made.append(target)
    return made


def timed(argv_list):
    """Run the commands one after another; (wall seconds, children's user+sys seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    for argv in argv_list:
        subprocess.check_call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="bench-report-fleet-", dir=args.workdir)
    try:
        bundles = make_bundles(workdir, args.copies)
        env_python = sys.executable
        fleet = [[env_python, REPORT] + bundles + ["--out", os.path.join(workdir, "fleet"), "-j", str(args.jobs)]]
        loop = [[env_python, REPORT, path, "-o", os.path.join(workdir, "one-%d.html" % i)]
                for i, path in enumerate(bundles)]
        ours, ours_cpu = timed(fleet)
        reference, reference_cpu = timed(loop)
        print("bench report_fleet: ours %.2f s, reference %.2f s, ratio %.2f" % (ours, reference, ours / reference))
        print("bench report_fleet: cpu ours %.2f s, reference %.2f s (user+sys of the children; %d bundles, -j %d)"
              % (ours_cpu, reference_cpu, len(bundles), args.jobs))
    finally:
        if args.keep:
            print("bench report_fleet: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
