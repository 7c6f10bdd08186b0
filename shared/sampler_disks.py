"""Block devices (iostat -x) from /proc/diskstats, names from /sys/block.

iostat -x arithmetic over an interval of ``dt`` seconds, per device::

    r/s = d(reads)/dt            rkB/s = d(sectors read)/2/dt
    r_await = d(ms reading)/d(reads)          (likewise w_, d_)
    await   = d(ms reading + writing)/d(reads + writes)
    aqu-sz  = d(weighted ms)/1000/dt          %util = d(ms doing I/O)/10/dt

Every whole device is reported -- sd*, nvme*n*, vd*, xvd*, hd*, mmcblk*,
dm-*, md*, loop*, zram*, rbd*, nbd* -- partitions only when asked.  A
device that has never done I/O is left out (as iostat does).  dm devices
get their dm name (``vg0-root`` for LVM) and the devices under them from
sysfs, md devices their members.
"""

import re

ROW_LABELS = ("dev", "name", "kind", "slaves", "partition", "backing", "rotational")

_PARTITION = re.compile(r"^(?:(?:[shv]d|xvd)[a-z]+\d+|(?:nvme\d+n\d+|mmcblk\d+|nbd\d+|loop\d+|md\d+)p\d+)$")

_KINDS = (
    ("dm-", "dm"), ("md", "md"), ("nvme", "nvme"), ("loop", "loop"), ("zram", "zram"),
    ("mmcblk", "mmc"), ("xvd", "xen"), ("vd", "virtio"), ("sd", "scsi"), ("hd", "ide"),
    ("rbd", "rbd"), ("nbd", "nbd"), ("sr", "cdrom"), ("drbd", "drbd"),
)


def kind_of(dev):
    for prefix, kind in _KINDS:
        if dev.startswith(prefix):
            return kind
    return "other"


def parse_diskstats(text):
    """{dev: [counters...]} (11, 15 or 17 numbers after the name, kernel-dependent)."""
    result = {}
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 7:
            continue
        name = words[2]
        values = []
        for word in words[3:]:
            try:
                values.append(int(word))
            except ValueError:
                values = None
                break
        if not values:
            continue
        if len(values) == 4:
            # 2.6 partition lines: reads, sectors read, writes, sectors written
            values = [values[0], 0, values[1], 0, values[2], 0, values[3], 0, 0, 0, 0]
        result[name] = values
    return result


def read_diskstats(pfs):
    text = pfs.read("proc/diskstats")
    if text is None:
        pfs.warn("no /proc/diskstats (disk statistics unavailable)")
    return parse_diskstats(text)


def zero(disks):
    return dict((dev, [0] * len(values)) for dev, values in disks.items())


def is_partition(dev, names=None):
    if names and dev in names:
        return names[dev].get("partition", False)
    return bool(_PARTITION.match(dev))


def device_names(pfs):
    """dev -> {"name", "kind", "slaves", "partition"} from sys/block (empty without sysfs)."""
    result = {}
    for dev in pfs.listdir("sys/block"):
        entry = {"name": dev, "kind": kind_of(dev), "slaves": pfs.listdir("sys/block/%s/slaves" % dev),
                 "partition": False}
        if dev.startswith("dm-"):
            name = pfs.read("sys/block/%s/dm/name" % dev)
            if name and name.strip():
                entry["name"] = name.strip()
            uuid = pfs.read("sys/block/%s/dm/uuid" % dev) or ""
            if uuid.startswith("LVM-"):
                entry["kind"] = "lvm"
            elif uuid.startswith("CRYPT-"):
                entry["kind"] = "crypt"
            elif uuid.startswith("mpath-"):
                entry["kind"] = "multipath"
        if dev.startswith("loop"):
            backing = pfs.read("sys/block/%s/loop/backing_file" % dev)
            if backing and backing.strip():
                entry["backing"] = backing.strip()
        rotational = pfs.read_int("sys/block/%s/queue/rotational" % dev)
        if rotational is not None:
            entry["rotational"] = bool(rotational)
        result[dev] = entry
        for part in pfs.listdir("sys/block/%s" % dev):
            if part.startswith(dev) and pfs.exists("sys/block/%s/%s/partition" % (dev, part)):
                result[part] = {"name": part, "kind": entry["kind"], "slaves": [], "partition": True}
    return result


def compute(prev, cur, seconds, names=None, partitions=False):
    """Rows of iostat -x values per device, sorted by device name."""
    rows = []
    names = names or {}
    for dev in sorted(cur):
        new = cur[dev]
        if names and dev not in names and not partitions:
            # sysfs knows the whole devices; anything else here is a partition
            continue
        if not partitions and is_partition(dev, names):
            continue
        if not any(new[:11]):
            continue  # never used since boot
        old = prev.get(dev)
        if old is None or len(old) != len(new):
            old = [0] * len(new)
        info = names.get(dev, {})
        row = {"dev": dev, "name": info.get("name", dev), "kind": info.get("kind", kind_of(dev)),
               "slaves": info.get("slaves", []), "partition": is_partition(dev, names)}
        deltas = []
        for a, b in zip(old, new):
            delta = b - a
            if delta < 0:
                # wrapped 32-bit counter, or the device was re-created
                delta = b + 2 ** 32 - a if (a < 2 ** 32 and a - b > 2 ** 31) else 0
            deltas.append(delta)
        deltas += [0] * (17 - len(deltas))
        (rd, rd_m, rd_sec, rd_ms, wr, wr_m, wr_sec, wr_ms, _inflight, io_ms, weighted_ms,
         dc, _dc_m, dc_sec, dc_ms, _fl, _fl_ms) = deltas[:17]
        row["inflight"] = new[8] if len(new) > 8 else None
        if not seconds:
            rows.append(row)
            continue
        row["r_ps"] = rd / seconds
        row["w_ps"] = wr / seconds
        row["d_ps"] = dc / seconds
        row["rkb_ps"] = rd_sec / 2.0 / seconds
        row["wkb_ps"] = wr_sec / 2.0 / seconds
        row["rrqm_ps"] = rd_m / seconds
        row["wrqm_ps"] = wr_m / seconds
        row["r_await_ms"] = float(rd_ms) / rd if rd else 0.0
        row["w_await_ms"] = float(wr_ms) / wr if wr else 0.0
        ios = rd + wr + dc
        row["await_ms"] = float(rd_ms + wr_ms + dc_ms) / ios if ios else 0.0
        row["areq_kb"] = (rd_sec + wr_sec + dc_sec) / 2.0 / ios if ios else 0.0
        row["aqu_sz"] = weighted_ms / 1000.0 / seconds
        row["util_pct"] = min(100.0, io_ms / 10.0 / seconds)
        rows.append(row)
    return rows


def busy(rows):
    """Rows with any I/O in the interval."""
    return [r for r in rows if (r.get("r_ps") or 0) + (r.get("w_ps") or 0) + (r.get("d_ps") or 0) > 0
            or (r.get("util_pct") or 0) > 0]
