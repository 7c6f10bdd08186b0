#!/usr/bin/env python3
"""bench_oops - scan a generated multi-gigabyte kernel log: oops vs grep -c.

Generates a syslog-format log (kernel and userspace lines as a busy server
writes them, with real kernel reports from fixtures/oops/ sprinkled in),
then times in the same run:

  reference: grep -c -F -e MARKER ... FILE   (the report header markers)
  ours:      shared.kernelreport.scan_path(FILE)  (finds, parses and titles
             every report: prefilter with one bytes regex, then parse only
             the report regions)

and prints "bench oops: ours X s, reference Y s, ratio Z".  The generated
file is deleted afterwards.

  python3 devtools/bench_oops.py                  1 GiB (the nox -s bench size)
  python3 devtools/bench_oops.py --size 64M       a quick run
  python3 devtools/bench_oops.py --workdir /var/tmp --keep
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from shared import kernelreport, timeparse  # noqa: E402
from shared import kernelreport_kinds as kinds  # noqa: E402

NOISE = (
    "kernel: [%(mono)s] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "kernel: [%(mono)s] usb 1-1: new high-speed USB device number %(n)d using xhci_hcd",
    "kernel: [%(mono)s] audit: type=1400 audit(%(epoch)d.123:%(n)d): apparmor=\"ALLOWED\" operation=\"open\" "
    "profile=\"snap.lxd\" name=\"/proc/%(n)d/stat\" pid=%(n)d comm=\"lxd\"",
    "kernel: [%(mono)s] EXT4-fs (dm-%(d)d): mounted filesystem with ordered data mode. Opts: (null)",
    "kernel: [%(mono)s] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
    "kernel: [%(mono)s] nf_conntrack: table full, dropping packet",
    "kernel: [%(mono)s] [UFW BLOCK] IN=eth0 OUT= MAC=02:00:00:00:00:01 SRC=192.0.2.%(d)d DST=198.51.100.7 "
    "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=%(n)d DF PROTO=TCP SPT=%(n)d DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
    "systemd[1]: Started Session %(n)d of User admin.",
    "systemd[1]: session-%(n)d.scope: Succeeded.",
    "sshd[%(n)d]: Accepted publickey for admin from 192.0.2.%(d)d port %(n)d ssh2: ED25519 SHA256:abcdef",
    "sshd[%(n)d]: pam_unix(sshd:session): session opened for user admin(uid=1000) by (uid=0)",
    "CRON[%(n)d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "dockerd[%(n)d]: time=\"2024-06-09T06:06:20.123456789Z\" level=info msg=\"ignoring event\" "
    "module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
    "nginx[%(n)d]: 2024/06/09 06:06:20 [warn] %(n)d#%(n)d: *%(n)d an upstream response is buffered to a "
    "temporary file /var/cache/nginx/proxy_temp/%(d)d/00/00000%(d)d while reading upstream",
    "kubelet[%(n)d]: I0609 06:06:20.123456 %(n)d kubelet_pods.go:1082] \"Clean up pod workers for "
    "terminated pods\"",
)

REPORT_FIXTURES = ("soft-lockup-syslog-6.0.log", "vm-oom-global-6.1.log", "warning-then-bug-2.6.29.log",
                   "vm-hung-task-6.1.log", "gpf-kdump-loaded-6.16.log")


def fixture_reports():
    """Kernel report lines from the corpus, as message bodies."""
    bodies = []
    for name in REPORT_FIXTURES:
        path = os.path.join(ROOT, "fixtures", "oops", name)
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace").split("#---\n", 1)[-1]
        raw = text.splitlines()
        stamped = any(line.startswith("[") or " kernel: [" in line for line in raw)
        lines = []
        for line in raw:
            cut = line.find("] ")
            if not stamped:
                lines.append(line)          # a fixture without printk stamps: all kernel text
            elif line.startswith("[") and cut > 0:
                lines.append(line[cut + 2:])
            elif " kernel: [" in line:
                lines.append(line.split("] ", 1)[-1])
        bodies.append([l for l in lines if l.strip()])
    return bodies


def generate(path, size, seed=7):
    """Write about ``size`` bytes of syslog; returns the number of reports written."""
    rng = random.Random(seed)
    reports = fixture_reports()
    block_lines = []
    mono = 1000.0
    epoch = 1717913180
    written_reports = 0
    # One ~4 MiB block with a report every ~20k lines; the block is written
    # repeatedly with its stamps shifted, so generation is fast.
    block_size = 0
    while block_size < 4 * 1024 * 1024:
        mono += rng.random() * 0.5
        if rng.random() < 1.0 / 20000:
            for body in rng.choice(reports):
                template = "kernel: [%%(mono)s] %s" % body.replace("%", "%%")
                block_lines.append((template, mono))
                block_size += len(template) + 40
            written_reports += 1
            continue
        template = rng.choice(NOISE)
        block_lines.append((template, mono))
        block_size += len(template) + 40
    total = 0
    rounds = 0
    count = 0
    with open(path, "w") as out:
        while total < size:
            chunk = []
            offset = rounds * 3600.0
            for template, line_mono in block_lines:
                m = line_mono + offset
                stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(epoch + m))
                count += 1
                chunk.append("%s host001 %s\n" % (stamp, template % {
                    "mono": "%12.6f" % m, "n": count % 65536, "d": count % 250, "epoch": epoch + int(m)}))
            data = "".join(chunk)
            out.write(data)
            total += len(data)
            rounds += 1
    return written_reports * rounds


def run_grep(path):
    argv = ["grep", "-c", "-F"]
    for marker in kinds.MARKERS:
        argv += ["-e", marker]
    started = time.monotonic()
    result = subprocess.run(argv + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    return time.monotonic() - started, result.stdout.strip()


def run_ours(path):
    started = time.monotonic()
    reports, warnings = kernelreport.scan_path(path, utc=True)
    elapsed = time.monotonic() - started
    return elapsed, reports, warnings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="size of the generated log (binary units; default 1G)")
    parser.add_argument("--workdir", default=None, help="where to write the log (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    args = parser.parse_args(argv)
    size = timeparse.parse_size(args.size)
    if not shutil.which("grep"):
        sys.stderr.write("bench_oops: grep not available (install grep)\n")
        return 4
    workdir = tempfile.mkdtemp(prefix="bench-oops-", dir=args.workdir)
    path = os.path.join(workdir, "messages")
    try:
        started = time.monotonic()
        expected = generate(path, size)
        sys.stderr.write("bench_oops: generated %s in %.1f s (%d fixture copies planted)\n" % (
            timeparse.format_size(os.path.getsize(path)), time.monotonic() - started, expected))
        # warm the page cache for both, then time each once
        run_grep(path)
        grep_time, grep_count = run_grep(path)
        ours_time, reports, warnings = run_ours(path)
        groups = kernelreport.group_reports(reports)
        sys.stderr.write("bench_oops: grep counted %s marker lines; oops found %d reports in %d groups%s\n"
                         % (grep_count, sum(g.count for g in groups), len(groups),
                            "; " + "; ".join(warnings) if warnings else ""))
        ratio = ours_time / grep_time if grep_time > 0 else float("inf")
        sys.stdout.write("bench oops: ours %.2f s, reference %.2f s, ratio %.2f\n" % (ours_time, grep_time, ratio))
        return 0
    finally:
        if args.keep:
            sys.stderr.write("bench_oops: kept %s\n" % path)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
