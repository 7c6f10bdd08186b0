"""Disk load: sequential and random I/O with O_DIRECT, one file descriptor per worker.

Modes (``--disk-mode``): ``seq-read``, ``seq-write``, ``rand-read``,
``rand-write``, ``rand-rw`` (``--read-pct``).  Every worker owns one file
(``w<N>.dat`` in the run directory on the target) or one region of a raw
device, opens it once with ``O_DIRECT`` and moves data through one
page-aligned buffer from an anonymous mmap (``O_DIRECT`` needs aligned
memory; ``os.pread`` returns a fresh, unaligned bytes object, so reads go
through ``os.preadv`` on 3.7+ and ``lseek`` + ``os.readv`` on 3.6, which is
safe because nobody else uses that descriptor).  Parallel workers are the
queue depth.  Read modes lay out their files with real writes first
(untimed); a freshly ``fallocate``d file would read back holes, not disk.

``--verify``: every block written carries its offset and a sequence number
in its first 16 bytes and its CRC-32 is remembered; reads of known blocks
are checked on the fly and write modes end with a read-back pass.
"""

import errno
import mmap
import os
import random
import struct
import time
import zlib

from . import load_common, timeparse

MODES = ("seq-read", "seq-write", "rand-read", "rand-write", "rand-rw")
ALIGN = 4096
MAX_ERRORS = 100
CHECK_EVERY = 0.05
_HEADER = struct.Struct("<QQ")


_PREADV = getattr(os, "preadv", None)     # Python 3.7+


def _read_into(fd, buf, offset):
    if _PREADV is not None:
        return _PREADV(fd, [buf], offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.readv(fd, [buf])


def _open(path, direct, create):
    flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
    if create:
        flags |= os.O_CREAT
    if direct:
        flags |= os.O_DIRECT
    return os.open(path, flags, 0o600)


def _stamp(buf, offset, sequence):
    buf[0:_HEADER.size] = _HEADER.pack(offset, sequence)
    return zlib.crc32(buf)


def worker(ctx):
    p = ctx.params
    bs = p["bs"]
    region = p["region"]
    base = p.get("base", 0)
    blocks = max(1, region // bs)
    mode = p["mode"]
    rng = random.Random((p["seed"] << 16) + ctx.index)
    verify = p.get("verify")
    sums = {}
    result = {"mode": mode, "path": p["path"], "direct": p["direct"], "bs": bs, "region": region}
    fd = _open(p["path"], p["direct"], create=not p.get("device"))
    buf = mmap.mmap(-1, bs)
    try:
        buf[:] = rng.getrandbits(8 * bs).to_bytes(bs, "little")
        # -- layout (untimed): real data for every block a read may touch
        started = time.monotonic()
        if p.get("layout"):
            # Laid out through the page cache like fio does, then flushed and
            # dropped from it: the timed reads (O_DIRECT) find the data on
            # the device, in the same state fio's would be.
            layout_fd = _open(p["path"], False, create=False)
            try:
                sequence = 0
                for block in range(blocks):
                    if ctx.stopping():
                        break
                    offset = base + block * bs
                    if verify:
                        sums[offset] = _stamp(buf, offset, sequence)
                        sequence += 1
                    os.pwrite(layout_fd, buf, offset)
                os.fsync(layout_fd)
                try:
                    os.posix_fadvise(layout_fd, base, blocks * bs, os.POSIX_FADV_DONTNEED)
                except (OSError, AttributeError):
                    pass
            finally:
                os.close(layout_fd)
        elif p.get("preallocate") and not p.get("device"):
            try:
                os.posix_fallocate(fd, 0, region)
            except (OSError, AttributeError):
                pass
        result["layout_seconds"] = round(time.monotonic() - started, 3)
        ctx.ready()
        result.update(_timed(ctx, fd, buf, p, rng, blocks, base, sums))
        if verify and mode in ("seq-write", "rand-write", "rand-rw") and sums:
            result["verify_errors"], result["verified_blocks"] = _read_back(fd, buf, sums)
            result["errors"] = result.get("errors", 0) + result["verify_errors"]
    finally:
        buf.close()
        os.close(fd)
    return result


def _timed(ctx, fd, buf, p, rng, blocks, base, sums):
    bs = p["bs"]
    mode = p["mode"]
    verify = p.get("verify")
    read_pct = 100 if mode.endswith("read") else (0 if mode.endswith("write") else p.get("read_pct", 50))
    sequential = mode.startswith("seq")
    iops = load_common.RateLimiter(p.get("iops"))
    rate = load_common.RateLimiter(p.get("rate"))
    ops_budget = p.get("ops")
    bytes_budget = p.get("bytes")
    lat_read = load_common.Latency()
    lat_write = load_common.Latency()
    done = reads = writes = errors = verify_errors = 0
    nbytes = 0
    block = 0
    sequence = 1 << 32
    first_error = None
    clock = time.perf_counter
    stopping = ctx.stopping
    add = ctx.add
    read_add = lat_read.add
    write_add = lat_write.add
    pwrite = os.pwrite
    preadv = _PREADV
    bufs = [buf]
    limited = bool(iops.rate or rate.rate)
    mixed = 0 < read_pct < 100
    # The deadline on the perf_counter clock; the stop flag and the shared
    # counters are looked at every CHECK_EVERY seconds, not per I/O.
    now = clock()
    end = now + (ctx.deadline - time.monotonic()) if ctx.deadline is not None else None
    next_check = now
    flushed_ops = flushed_bytes = 0
    while True:
        now = clock()
        if now >= next_check:
            add(ops=done - flushed_ops, nbytes=nbytes - flushed_bytes)
            flushed_ops, flushed_bytes = done, nbytes
            if stopping():
                break
            next_check = now + CHECK_EVERY
        if end is not None and now >= end:
            break
        if ops_budget is not None and done >= ops_budget:
            break
        if bytes_budget is not None and nbytes >= bytes_budget:
            break
        if limited:
            if iops.rate:
                iops.take(1, stopping)
            if rate.rate:
                rate.take(bs, stopping)
        if sequential:
            offset = base + block * bs
            block += 1
            if block >= blocks:
                block = 0
        else:
            offset = base + rng.randrange(blocks) * bs
        is_read = read_pct >= 100 or (mixed and rng.random() * 100 < read_pct)
        try:
            if is_read:
                if preadv is not None:
                    t0 = clock()
                    count = preadv(fd, bufs, offset)
                else:
                    t0 = clock()
                    os.lseek(fd, offset, os.SEEK_SET)
                    count = os.readv(fd, bufs)
                read_add((clock() - t0) * 1e9)
                reads += 1
                if verify and offset in sums and zlib.crc32(buf) != sums[offset]:
                    verify_errors += 1
                    errors += 1
                    add(errors=1)
            else:
                if verify:
                    sums[offset] = _stamp(buf, offset, sequence)
                    sequence += 1
                t0 = clock()
                count = pwrite(fd, buf, offset)
                write_add((clock() - t0) * 1e9)
                writes += 1
        except OSError as error:
            errors += 1
            add(errors=1)
            if first_error is None:
                first_error = "%s at offset %d: %s" % ("read" if is_read else "write", offset,
                                                        error.strerror or error)
            if error.errno in (errno.ENOSPC, errno.EROFS, errno.EBADF) or errors >= MAX_ERRORS:
                break
            continue
        if count != bs:
            errors += 1
            add(errors=1)
            if first_error is None:
                first_error = "short %s at offset %d: %d of %d bytes" % ("read" if is_read else "write",
                                                                          offset, count, bs)
        done += 1
        nbytes += count
    add(ops=done - flushed_ops, nbytes=nbytes - flushed_bytes)
    return {"ops": done, "bytes": nbytes, "reads": reads, "writes": writes, "errors": errors,
            "verify_errors": verify_errors, "first_error": first_error,
            "latency_read": lat_read.to_dict(), "latency_write": lat_write.to_dict()}


def _read_back(fd, buf, sums):
    bad = 0
    for offset in sorted(sums):
        try:
            _read_into(fd, buf, offset)
        except OSError:
            bad += 1
            continue
        if zlib.crc32(buf) != sums[offset]:
            bad += 1
    return bad, len(sums)


# ------------------------------------------------------------------ planning (parent side)

class Target(object):
    """Where one disk test runs: a directory on a mount, or a raw device."""

    def __init__(self, path, mount=None, device=False):
        self.path = path
        self.mount = mount
        self.device = device
        self.run_dir = None
        self.direct = True
        self.notes = []
        self.size = None
        self.floor = None
        self.total = None

    @property
    def ram_backed(self):
        return bool(self.mount and self.mount.ram_backed)

    def describe(self):
        if self.device:
            return "%s (raw device, %s)" % (self.path, timeparse.format_size(self.size))
        return self.mount.describe() if self.mount else self.path

    def to_dict(self):
        data = {"path": self.path, "device": self.device, "direct": self.direct,
                "ram_backed": self.ram_backed, "notes": list(self.notes)}
        if self.mount is not None:
            data["mount"] = self.mount.to_dict()
            data["ram_reason"] = self.mount.ram_reason
        if self.floor is not None:
            data["free_floor"] = self.floor
        return data


def check_device(path, mount_list=None, proc_root="/"):
    """Refuse a device that is mounted, has mounted partitions or is held (LVM, RAID, dm)."""
    st = os.stat(path)
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    mount_list = mount_list if mount_list is not None else load_common.mounts()
    sysdir = os.path.join(proc_root, "sys/dev/block/%d:%d" % (major, minor))
    related = {(major, minor)}
    try:
        for name in os.listdir(sysdir):
            dev_file = os.path.join(sysdir, name, "dev")
            if os.path.exists(dev_file):
                with open(dev_file) as handle:
                    a, b = handle.read().strip().split(":")
                related.add((int(a), int(b)))
    except OSError:
        pass
    for mount in mount_list:
        if (mount.major, mount.minor) in related:
            raise load_common.GuardError("%s is mounted on %s" % (path, mount.mountpoint),
                                         "a raw write test would destroy that file system",
                                         "unmount it first, or test the file system with --target %s"
                                         % mount.mountpoint)
    try:
        holders = os.listdir(os.path.join(sysdir, "holders"))
    except OSError:
        holders = []
    if holders:
        raise load_common.GuardError("%s is in use by %s" % (path, ", ".join(sorted(holders))),
                                     "it is part of an LVM, RAID, multipath or dm-crypt stack",
                                     "test the device on top of the stack, not a member")
    try:
        with open("/proc/swaps") as handle:
            swaps = [line.split()[0] for line in handle.read().splitlines()[1:] if line.split()]
    except OSError:
        swaps = []
    for swap in swaps:
        try:
            if os.stat(swap).st_rdev == st.st_rdev:
                raise load_common.GuardError("%s is active swap" % path, "writing it would corrupt memory",
                                             "swapoff it first")
        except OSError:
            continue


def device_size(path):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def probe_direct(folder):
    """True if O_DIRECT aligned I/O works in ``folder``; else the reason (string)."""
    path = os.path.join(folder, ".direct-probe")
    buf = mmap.mmap(-1, ALIGN)
    try:
        fd = _open(path, True, create=True)
    except OSError as error:
        buf.close()
        return "O_DIRECT refused (%s)" % (error.strerror or error)
    try:
        os.pwrite(fd, buf, 0)
        _read_into(fd, buf, 0)
        return True
    except OSError as error:
        return "O_DIRECT I/O failed (%s)" % (error.strerror or error)
    finally:
        os.close(fd)
        buf.close()
        try:
            os.unlink(path)
        except OSError:
            pass


def resolve_target(path, mount_list=None):
    """A Target for a directory; raises GuardError for block devices and missing paths."""
    if load_common.is_block_device(path):
        raise load_common.GuardError("%s is a block device" % path,
                                     "a raw device test overwrites its data",
                                     "to test it anyway give --device %s --yes-destroy-data; "
                                     "to test a file system give its mount point" % path)
    if not os.path.isdir(path):
        raise load_common.GuardError("disk target %s is not a directory" % path,
                                     "the test files need a directory on the file system to test",
                                     "give an existing directory with --target")
    mount_list = mount_list if mount_list is not None else load_common.mounts()
    return Target(os.path.abspath(path), load_common.mount_for(path, mount_list))


def plan(target, mode="seq-read", bs=None, file_size=None, workers=1, read_pct=50, direct=True,
         verify=False, rate=None, iops=None, ops=None, nbytes=None, duration=None, seed=1,
         floor_override=None, mem_floor_pct=10.0):
    """Check the guards for ``target`` and return the worker params (files not created yet)."""
    if mode not in MODES:
        raise ValueError("unknown disk mode %r (choose from %s)" % (mode, ", ".join(MODES)))
    bs = bs or (1024 * 1024 if mode.startswith("seq") else 4096)
    if bs % 512:
        raise ValueError("block size %d is not a multiple of 512 (O_DIRECT needs aligned sizes)" % bs)
    if target.device:
        target.size = device_size(target.path)
        region = target.size // workers
        if file_size:
            region = min(region, file_size)
        region -= region % bs
        if region < bs:
            raise load_common.GuardError("%s is too small for %d worker(s) of %s blocks"
                                         % (target.path, workers, timeparse.format_size(bs)),
                                         "each worker needs at least one block", "use fewer workers")
    else:
        region = file_size or 256 * 1024 * 1024
        region -= region % bs
        if region < bs:
            raise ValueError("file size %d is smaller than the block size %d" % (file_size, bs))
        total, avail, _ = load_common.fs_space(target.path)
        need = region * workers
        target.total = total
        target.floor = load_common.disk_floor(total, floor_override)
        if avail - need < target.floor:
            raise load_common.GuardError(
                "the disk guard refuses %s of test files on %s" % (timeparse.format_size(need),
                                                                    target.mount.mountpoint
                                                                    if target.mount else target.path),
                "%s free of %s; at least %s must stay free" % (
                    timeparse.format_size(avail), timeparse.format_size(total),
                    timeparse.format_size(target.floor)),
                ("use a smaller --file-size (at most %s in all) or fewer workers, another --target, or "
                 "set the floor with --disk-floor SIZE|PCT" % timeparse.format_size(avail - target.floor))
                if avail > target.floor else
                "choose another --target (see 'toaster targets'), free space, or set the floor with "
                "--disk-floor SIZE|PCT")
        if target.ram_backed:
            state = load_common.memory_state(floor_pct=mem_floor_pct)
            if need > state["headroom"]:
                raise load_common.GuardError(
                    "the memory guard refuses %s of files on RAM-backed %s" % (
                        timeparse.format_size(need), target.mount.mountpoint),
                    "%s keeps them in memory, MemAvailable %s with a floor of %s" % (
                        target.mount.fstype, timeparse.format_size(state["available"]),
                        timeparse.format_size(state["floor"])),
                    "use a smaller --file-size or a disk-backed --target")
            target.notes.append("RAM-backed target (%s): this measures memory, not a disk"
                                % target.mount.ram_reason)
    layout = mode in ("seq-read", "rand-read", "rand-rw")
    shares_ops = load_common.split(ops, workers) if ops is not None else [None] * workers
    shares_bytes = load_common.split(nbytes, workers) if nbytes is not None else [None] * workers
    params = []
    for index in range(workers):
        params.append({
            "mode": mode, "bs": bs, "region": region, "read_pct": read_pct, "direct": direct,
            "verify": verify, "seed": seed, "duration": duration, "layout": layout,
            "preallocate": not layout, "device": target.device,
            "base": index * region if target.device else 0,
            "path": target.path if target.device else None,
            "rate": rate / float(workers) if rate else None,
            "iops": iops / float(workers) if iops else None,
            "ops": shares_ops[index], "bytes": shares_bytes[index]})
    return params


def attach_files(target, params, record):
    """Create the run directory on the target, probe O_DIRECT, fill in the file paths."""
    if target.device:
        return
    target.run_dir = record.make_dir(target.path)
    if any(p["direct"] for p in params):
        outcome = probe_direct(target.run_dir)
        if outcome is not True:
            target.direct = False
            target.notes.append("%s: fell back to buffered I/O (numbers include the page cache)" % outcome)
            for p in params:
                p["direct"] = False
    else:
        target.direct = False
        target.notes.append("buffered I/O (--buffered): numbers include the page cache")
    for index, p in enumerate(params):
        p["path"] = os.path.join(target.run_dir, "w%d.dat" % index)
