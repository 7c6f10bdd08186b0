"""What the CPU-cost benchmarks (bench_procstat, bench_perfcollect) share.

Imported as ``benchlib`` by scripts run as ``python3 devtools/bench_X.py``
(their folder is first on sys.path).  Runs on any Python 3.6+.
"""

import os
import signal
import subprocess
import sys


def start(argv, out_path):
    """Start ``argv`` with its output in ``out_path``, LC_ALL=C, our tools' manners off."""
    handle = open(out_path, "wb")
    env = dict(os.environ, LC_ALL="C", RESCUEKIT_NO_MANNERS="1")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
    handle.close()
    return process


def cpu_seconds(process):
    """Wait for the process; (its user + system CPU seconds, children included, wait status)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    return usage.ru_utime + usage.ru_stime, status


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def start_sleepers(count, seconds):
    """``count`` idle processes (a server's worth of pids for the samplers to walk)."""
    return [subprocess.Popen(["sleep", str(seconds)]) for _ in range(count)]


def stop_sleepers(sleepers):
    for process in sleepers:
        try:
            process.send_signal(signal.SIGKILL)
            process.wait()
        except OSError:
            pass


def say_run(number, ours, ref, digits=3):
    """One line per run on stderr when a benchmark repeats."""
    form = "%%.%df" % digits
    sys.stderr.write("run %d: ours %s s, reference %s s, ratio %s\n" % (
        number, form % ours, form % ref if ref is not None else "n/a",
        "%.2f" % (ours / ref) if ref else "n/a"))


def cpu_summary(runs):
    """(median ours, median reference, median ratio, " (range a-b over n runs)" or "")
    of ``runs`` = [(ours CPU s, reference CPU s), ...] with a reference for every run."""
    ratios = [ours / ref if ref else float("inf") for ours, ref in runs]
    spread = " (range %.2f-%.2f over %d runs)" % (min(ratios), max(ratios), len(runs)) if len(runs) > 1 else ""
    return median([r[0] for r in runs]), median([r[1] for r in runs]), median(ratios), spread
