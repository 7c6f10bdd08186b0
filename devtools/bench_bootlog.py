#!/usr/bin/env python3
"""Benchmark bootlog against grep on one large generated syslog file.

Generates a syslog file of --size (default 1G) in --workdir (default: a temp
dir, deleted afterwards): ordinary daemon and kernel traffic with a boot
every ~100 MiB (kernel banner, command line, the first second of kernel
time, rsyslog start/stop, a clean or unclean end).  Then, in the same run,
times

  ours:      python3 scripts/bootlog.py FILE --json --no-journal
  reference: grep -E -c '<the same first-pass marker set>' FILE   (LC_ALL=C)

and prints "bench bootlog: ours X s, reference Y s, ratio Z" (both at the same
CPU and I/O priority: RESCUEKIT_NO_MANNERS=1 for bootlog).  The marker set
is shared.boot_markers.grep_pattern(), the ERE twin of the regex bootlog's
first pass uses; bootlog's time also includes its second pass (reading the
first and last stretch of every boot) and the judging.  On a file this big
bootlog's first pass is itself ``grep -n -b -F`` with ``wc -l`` beside it
(through the shared runner), so "cpu ours" counts those children too.

Usage: devtools/bench_bootlog.py [--size 1G] [--workdir DIR] [--repeat N] [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from shared import boot_markers, runner, timeparse  # noqa: E402

BODY = (
    "{stamp} web01 sshd[{pid}]: Accepted publickey for deploy from 192.0.2.{n} port {port} ssh2: RSA "
    "SHA256:Zm9vYmFyYmF6cXV4\n"
    "{stamp} web01 CRON[{pid}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)\n"
    "{stamp} web01 kernel: [{mono:12.6f}] IPv4: martian source 192.0.2.{n} from 198.51.100.7, on dev eth0\n"
    "{stamp} web01 systemd[1]: Started Session {n} of user deploy.\n"
    "{stamp} web01 postfix/smtpd[{pid}]: connect from unknown[192.0.2.{n}]\n"
    "{stamp} web01 dhclient[{pid}]: DHCPACK of 192.0.2.{n} from 192.0.2.1 (xid=0x5d3c2a1b)\n"
    "{stamp} web01 nginx[{pid}]: 2024/06/09 06:06:20 [error] {pid}#0: *{port} upstream timed out (110: "
    "Connection timed out) while reading response header from upstream\n"
    "{stamp} web01 systemd-logind[611]: New session {n} of user deploy.\n"
    "{stamp} web01 kernel: [{mono:12.6f}] audit: type=1400 audit(1717913180.123:{port}): apparmor=\"ALLOWED\" "
    "operation=\"open\" profile=\"/usr/sbin/nginx\" name=\"/etc/ssl/openssl.cnf\" pid={pid}\n"
    "{stamp} web01 rsyslogd: action 'action-8-builtin:omfwd' resumed (module 'builtin:omfwd') [v8.2102.0 "
    "try https://www.rsyslog.com/e/2359 ]\n"
)

BOOT = (
    "{stamp} web01 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2102.0\" x-pid=\"{pid}\" "
    "x-info=\"https://www.rsyslog.com\"] start\n"
    "{stamp} web01 kernel: [    0.000000] Linux version 5.10.0-28-amd64 (debian-kernel@lists.debian.org) "
    "(gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian "
    "5.10.209-2 (2024-01-31)\n"
    "{stamp} web01 kernel: [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-amd64 "
    "root=UUID=6a1f3c2e-0b7d-4e55-9b1e-2f0c9d8e7a61 ro quiet\n"
    "{stamp} web01 kernel: [    0.000000] Kernel command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-amd64 "
    "root=UUID=6a1f3c2e-0b7d-4e55-9b1e-2f0c9d8e7a61 ro quiet\n"
    "{stamp} web01 kernel: [    0.412730] Memory: 2000820K/2096632K available\n"
    "{stamp} web01 systemd[1]: Startup finished in 2.121s (kernel) + 5.004s (userspace) = 7.125s.\n"
)

CLEAN_END = (
    "{stamp} web01 systemd-logind[611]: System is rebooting.\n"
    "{stamp} web01 systemd[1]: Stopping System Logging Service...\n"
    "{stamp} web01 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2102.0\" x-pid=\"{pid}\" "
    "x-info=\"https://www.rsyslog.com\"] exiting on signal 15.\n"
)


def generate(path, size, boot_every=100 << 20):
    """Write ``size`` bytes of syslog with a boot every ``boot_every`` bytes; returns boots written."""
    start = time.mktime((2024, 6, 1, 0, 0, 0, 0, 0, -1))
    # One second of traffic per block; a few variants so lines are not all identical.
    variants = ["".join(BODY.format(stamp="@STAMP@", pid=1000 + v * 37 + n, n=(v * 20 + n) % 250,
                                    port=30000 + v * 20 + n, mono=100.0 + v * 7.31 + n / 100.0)
                        for n in range(20)) for v in range(16)]
    second = 0
    written = 0
    boots = 0
    next_boot = 0
    with open(path, "w") as handle:
        while written < size:
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(start + second))
            if written >= next_boot:
                if boots and boots % 3:
                    block = CLEAN_END.format(stamp=stamp, pid=400 + boots)
                    handle.write(block)
                    written += len(block)
                second += 120
                stamp = time.strftime("%b %e %H:%M:%S", time.localtime(start + second))
                block = BOOT.format(stamp=stamp, pid=401 + boots)
                boots += 1
                next_boot += boot_every
            else:
                block = variants[second % 16].replace("@STAMP@", stamp)
            handle.write(block)
            written += len(block)
            second += 1
    return boots


def timed(argv, env=None):
    """(wall seconds, result, CPU seconds of the child and its children)."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="size of the generated log (default 1G; e.g. 200M)")
    parser.add_argument("--workdir", help="where to generate the input (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args(argv)
    size = timeparse.parse_size(args.size)
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-bootlog-")
    made_dir = not args.workdir
    path = os.path.join(workdir, "syslog")
    grep = runner.which("grep")
    if not grep:
        sys.stderr.write("bench_bootlog: grep not found (install grep)\n")
        return 4
    try:
        boots = generate(path, size)
        # Same priority for both: bootlog otherwise lowers its own (nice 10, idle I/O),
        # which is right on a sick server and unfair in a race.
        env = dict(os.environ, LC_ALL="C", LANG="C", RESCUEKIT_NO_MANNERS="1")
        ours = reference = None
        ours_cpu = reference_cpu = None
        for _ in range(max(1, args.repeat)):
            elapsed, result = timed([grep, "-E", "-c", boot_markers.grep_pattern(), path], env)
            if result.returncode not in (0, 1):
                sys.stderr.write("bench_bootlog: grep failed: %s\n" % result.stderr.decode()[:200])
                return 1
            reference = elapsed if reference is None else min(reference, elapsed)
            reference_cpu = result.cpu if reference_cpu is None else min(reference_cpu, result.cpu)
            elapsed, result = timed([sys.executable, os.path.join(ROOT, "scripts", "bootlog.py"), path,
                                     "--json", "--no-journal"], env)
            if result.returncode not in (0, 1, 3):
                sys.stderr.write("bench_bootlog: bootlog failed (%d): %s\n"
                                 % (result.returncode, result.stderr.decode()[:300]))
                return 1
            ours = elapsed if ours is None else min(ours, elapsed)
            ours_cpu = result.cpu if ours_cpu is None else min(ours_cpu, result.cpu)
        import json
        found = len(json.loads(result.stdout.decode())["result"]["boots"])
        if found != boots:
            sys.stderr.write("bench_bootlog: bootlog found %d boots, the file has %d\n" % (found, boots))
            return 1
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        sys.stdout.write("bench bootlog: ours %.2f s, reference %.2f s, ratio %.2f (%s, %d boots, grep -E -c; "
                         "cpu ours %.2f s, grep %.2f s; load %.1f)\n"
                         % (ours, reference, ours / reference if reference else float("inf"),
                            timeparse.format_size(os.path.getsize(path)), boots, ours_cpu, reference_cpu, load))
        return 0
    finally:
        if not args.keep:
            if made_dir:
                shutil.rmtree(workdir, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
