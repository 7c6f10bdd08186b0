#!/usr/bin/env python3
"""bench_report - time 'report' on a generated sos-style .tar.xz against 'tar -xJf' of it.

    python3 devtools/bench_report.py [--size MB] [--workdir DIR] [--keep] [--repeat N]

Generates a sosreport-shaped archive of about --size MiB unpacked (default
1024): a few hundred small sos_commands / proc / etc files, rotated syslog
files and a journal export with realistic, varied lines (compression like
real logs) and a few planted problems near the end -- streamed straight
into 'xz -2 -T4' as sos report does, never stored unpacked.  Then, in the same run, times
'tar -xJf' of it into a temporary folder (the decompression floor) and
'report ARCHIVE -o report.html', and prints

    bench report: ours X s, reference Y s, ratio Z
    bench report: peak memory (ru_maxrss) N MiB, findings: ...

Runs on /usr/bin/python3 or any 3.6+; deletes what it made unless --keep.
"""

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1024 * 1024

PROGRAMS = (("kernel", "[%d.%06d] %s"), ("systemd[1]", "%s"), ("sshd[%d]", "%s"), ("CRON[%d]", "%s"),
            ("app[%d]", "%s"), ("postfix/smtpd[%d]", "%s"))
MESSAGES = (
    "audit: type=1130 audit(%d.%03d:%d): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=app-%d comm=\"systemd\" res=success'",
    "Started Session %d of User app.",
    "Accepted publickey for deploy from 192.0.2.%d port %d ssh2: RSA SHA256:%08x",
    "(root) CMD (/usr/lib/sa/sa1 1 1) run %d",
    "request %08x served in %d ms status=200 bytes=%d",
    "connect from unknown[192.0.2.%d] session %d",
    "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: %d",
    "Reached target Timers %d.",
)
PLANTED = (
    "kernel: [900001.000001] blk_update_request: I/O error, dev sdb, sector %d op 0x0:(READ)",
    "kernel: [900002.000002] EXT4-fs error (device sdb1): ext4_find_entry:1658: inode #2: comm app: reading directory",
    "kernel: [900003.000003] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:6512336kB",
    "systemd[1]: app.service: Start request repeated too quickly.",
)


class LogStream(object):
    """A file-like object producing exactly ``size`` bytes of syslog text.

    Lines come from a pool of a few thousand varied messages (so xz compresses
    them about as well as real logs), stamped in blocks of one second; a few
    planted problems sit in the last 4 MiB."""

    def __init__(self, size, seed, start, planted=True):
        self.left = size
        self.random = random.Random(seed)
        self.stamp = start
        self.buffer = b""
        self.planted = planted
        r = self.random
        self.pool = []
        for _ in range(4000):
            program, shape = r.choice(PROGRAMS)
            if "%d" in program:
                program = program % r.randint(100, 99999)
            message = r.choice(MESSAGES)
            message = message % tuple(r.randint(1, 5000) for _ in range(message.count("%")))
            body = shape % (r.randint(0, 999999), r.randint(0, 999999), message) if program == "kernel" else message
            self.pool.append((" host1 " + program + ": " + body + "\n").encode())

    def _block(self):
        r = self.random
        self.stamp += 1
        moment = time.gmtime(self.stamp)
        prefix = time.strftime("%b %d %H:%M:%S", moment).encode()
        if prefix[4:5] == b"0":
            prefix = prefix[:4] + b" " + prefix[5:]
        lines = [prefix + line for line in r.sample(self.pool, 40)]
        if self.planted and self.left < 4 * MIB and r.random() < 0.02:
            lines.append(prefix + b" host1 " + r.choice(PLANTED).replace("%d", str(r.randint(1, 99999))).encode()
                         + b"\n")
        return b"".join(lines)

    def read(self, count=-1):
        if count is None or count < 0:
            count = self.left
        count = min(count, self.left)
        parts = [self.buffer]
        have = len(self.buffer)
        while have < count:
            block = self._block()
            parts.append(block)
            have += len(block)
        data = b"".join(parts)
        out, self.buffer = data[:count], data[count:]
        self.left -= len(out)
        if self.left == 0 and out and not out.endswith(b"\n"):
            out = out[:-1] + b"\n"
        return out


def _member(tar, name, data=None, stream=None, size=None, mtime=1717920000):
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    if stream is not None:
        info.size = size
        tar.addfile(info, stream)
    else:
        data = data.encode() if isinstance(data, str) else data
        info.size = len(data)
        import io
        tar.addfile(info, io.BytesIO(data))


def generate(path, size_mib, workdir):
    """Stream a sos-style tar through 'xz -2 -T4' into ``path``: what sos report
    runs (sos/policies: get_cmd_for_compress_method, --threads defaults to 4),
    so the archive is in blocks as real ones are."""
    total = size_mib * MIB
    top = "sosreport-host1-bench-2024-06-09-abcdef"
    xz = subprocess.Popen(["xz", "-2", "-T4", "-c"], stdin=subprocess.PIPE, stdout=open(path, "wb"))
    rng = random.Random(7)
    with tarfile.open(fileobj=xz.stdin, mode="w|") as tar:
        small = 0
        for plugin in ("kernel", "filesys", "process", "networking", "memory", "systemd", "block", "host"):
            for index in range(40):
                text = "".join("%s line %d value %d\n" % (plugin, i, rng.randint(0, 10 ** 6)) for i in range(200))
                _member(tar, "%s/sos_commands/%s/cmd_%d" % (top, plugin, index), text)
                small += len(text)
        _member(tar, top + "/sos_commands/host/hostname", "host1\n")
        _member(tar, top + "/sos_commands/kernel/uname_-a",
                "Linux host1 5.14.0-362.el9.x86_64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n")
        _member(tar, top + "/sos_commands/filesys/df_-al_-x_autofs",
                "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/vda1 1000000 970000 30000 97% /\n")
        _member(tar, top + "/etc/os-release", 'ID="rhel"\nVERSION_ID="9.3"\nPRETTY_NAME="RHEL 9.3"\n')
        _member(tar, top + "/proc/meminfo", "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n")
        rest = max(total - small, 16 * MIB)
        logs = (("var/log/messages-20240602", 0.22), ("var/log/messages", 0.45),
                ("sos_commands/logs/journalctl_--no-pager", 0.28), ("var/log/secure", 0.05))
        start = 1717200000
        for seed, (name, share) in enumerate(logs):
            size = int(rest * share)
            _member(tar, "%s/%s" % (top, name), stream=LogStream(size, seed, start), size=size)
            start += 86400
    xz.stdin.close()
    if xz.wait() != 0:
        raise SystemExit("bench report: xz failed")


def timed(argv, cwd=None):
    """(wall seconds, ru_maxrss KiB, returncode, CPU seconds) of one child.

    CPU is user+sys of the child and the grandchildren it waited for (xz under
    tar, grep under report): wall time is noisy on a shared box."""
    started = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.time() - started
    returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, usage.ru_maxrss, returncode, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="unpacked size in MiB (default 1024)")
    parser.add_argument("--workdir", default=None, help="where to generate (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated archive")
    parser.add_argument("--repeat", type=int, default=3, help="tar/report pairs to run (median shown; default 3)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-report-", dir=args.workdir)
    try:
        archive = os.path.join(base, "sosreport-bench.tar.xz")
        started = time.time()
        generate(archive, args.size, base)
        sys.stderr.write("bench report: generated %d MiB unpacked -> %.1f MiB xz in %.1f s\n"
                         % (args.size, os.path.getsize(archive) / float(MIB), time.time() - started))
        out = os.path.join(base, "report.html")
        target = os.path.join(base, "extracted")
        runs = []
        for _ in range(max(1, args.repeat)):
            os.mkdir(target)
            ref, ref_rss, ref_rc, ref_cpu = timed(["tar", "-xJf", archive, "-C", target])
            shutil.rmtree(target)
            ours, rss, rc, cpu = timed([sys.executable, os.path.join(ROOT, "scripts", "report.py"), archive,
                                        "-o", out])
            if rc != 0 or ref_rc != 0:
                sys.stderr.write("bench report: a run failed (report rc %s, tar rc %s)\n" % (rc, ref_rc))
            runs.append((ours / ref if ref else 0.0, ours, ref, cpu, ref_cpu, rss, ref_rss))
            sys.stderr.write("bench report: run %d: ours %.2f s (cpu %.2f), tar -xJf %.2f s (cpu %.2f), "
                             "ratio %.2f\n" % (len(runs), ours, cpu, ref, ref_cpu, runs[-1][0]))
        runs.sort()
        ratio, ours, ref, cpu, ref_cpu, rss, ref_rss = runs[len(runs) // 2]     # the median run
        print("bench report: ours %.2f s, reference %.2f s, ratio %.2f" % (ours, ref, ratio))
        print("bench report: cpu (user+sys incl. children) ours %.2f s, reference %.2f s, ratio %.2f"
              % (cpu, ref_cpu, cpu / ref_cpu if ref_cpu else 0.0))
        print("bench report: peak memory (ru_maxrss) %.0f MiB (tar: %.0f MiB), %d MiB unpacked, %d run(s)"
              % (max(r[5] for r in runs) / 1024.0, ref_rss / 1024.0, args.size, len(runs)))
        if args.keep:
            sys.stderr.write("bench report: kept %s\n" % archive)
            return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
