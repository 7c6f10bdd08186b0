"""wtmp: boot, shutdown and runlevel records read straight from the binary file.

``last`` may be missing in a rescue shell or on the box reading a bundle,
so the utmp records are parsed here.  Layout: glibc ``struct utmp`` as on
x86_64 (and i386, aarch64, ppc64le, s390x -- the 32-bit ``ut_tv`` keeps it
384 bytes everywhere), little-endian, with big-endian tried when the
little-endian reading makes no sense::

    offset size field
         0    2 ut_type   (short; 2 bytes of padding follow)
         4    4 ut_pid
         8   32 ut_line   ("~" for boot/shutdown/runlevel records)
        40    4 ut_id     ("~~")
        44   32 ut_user   ("reboot", "shutdown", "runlevel")
        76  256 ut_host   (the kernel release for boot/shutdown records)
       332    4 ut_exit   (two shorts)
       336    4 ut_session
       340    8 ut_tv     (int32 seconds, int32 microseconds)
       348   16 ut_addr_v6
       364   20 reserved

Types: 1 RUN_LVL, 2 BOOT_TIME, 7 USER_PROCESS, 8 DEAD_PROCESS.  A boot
record is BOOT_TIME with user "reboot"; a shutdown record is RUN_LVL with
user "shutdown"; a runlevel change is RUN_LVL with user "runlevel" and
``ut_pid`` = new level + 256 * previous level (as SysV init writes it).
"""

import collections
import struct

RECORD_SIZE = 384
_FORMAT = "hh i 32s 4s 32s 256s hh i ii 16s 20s"
LITTLE = struct.Struct("<" + _FORMAT)
BIG = struct.Struct(">" + _FORMAT)

RUN_LVL = 1
BOOT_TIME = 2
NEW_TIME = 3
OLD_TIME = 4
INIT_PROCESS = 5
LOGIN_PROCESS = 6
USER_PROCESS = 7
DEAD_PROCESS = 8

WtmpEntry = collections.namedtuple("WtmpEntry", "kind stamp kernel runlevel previous index user line")
WtmpEntry.__doc__ = """One interesting wtmp record.

kind: "boot", "shutdown", "runlevel"; stamp: epoch seconds (float);
kernel: ut_host of boot/shutdown records (the kernel release) or None;
runlevel/previous: characters for runlevel records; index: 1-based record
number in the file (the "line" of the evidence); user/line: raw fields."""

# 2000-01-01 .. 2100-01-01: anything else means the file is not what it claims.
_PLAUSIBLE = (946684800, 4102444800)


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _plausible(fields):
    kind = fields[0]
    seconds = fields[10]
    if kind < 0 or kind > 9:
        return False
    if kind == 0:
        return True
    return _PLAUSIBLE[0] <= seconds <= _PLAUSIBLE[1]


def pick_layout(data):
    """LITTLE or BIG for a wtmp sample (whole records), or None when neither fits."""
    best = None
    best_score = -1
    for layout in (LITTLE, BIG):
        score = 0
        for offset in range(0, min(len(data), RECORD_SIZE * 32) - RECORD_SIZE + 1, RECORD_SIZE):
            fields = layout.unpack_from(data, offset)
            if _plausible(fields):
                score += 1
            else:
                score -= 4
        if score > best_score:
            best, best_score = layout, score
    return best if best_score > 0 else None


def parse(stream, warn=None, origin="wtmp"):
    """Yield WtmpEntry for boot, shutdown and runlevel records of a binary stream.

    ``warn(message)`` receives one line for a file that is not wtmp or ends
    in a partial record.
    """
    head = stream.read(RECORD_SIZE * 32)
    if not head:
        return
    layout = pick_layout(head)
    if layout is None:
        if warn:
            warn("%s: not a wtmp file (no plausible 384-byte utmp records; is it from another "
                 "architecture or a wtmpdb database?)" % (origin,))
        return
    index = 0
    buffer = head
    bad = 0
    while True:
        usable = len(buffer) - len(buffer) % RECORD_SIZE
        for offset in range(0, usable, RECORD_SIZE):
            index += 1
            fields = layout.unpack_from(buffer, offset)
            if not _plausible(fields):
                bad += 1
                continue
            entry = _entry(fields, index)
            if entry is not None:
                yield entry
        buffer = buffer[usable:]
        more = stream.read(RECORD_SIZE * 1024)
        if not more:
            break
        buffer += more
    if buffer and warn:
        warn("%s: ends in a partial record (%d stray bytes; the records before it were read)"
             % (origin, len(buffer)))
    if bad and warn:
        warn("%s: %d record(s) with impossible type or time were skipped (damaged file?)" % (origin, bad))


def _entry(fields, index):
    kind, _, pid, line, _, user, host = fields[:7]
    seconds, micro = fields[10], fields[11]
    user = _text(user)
    line = _text(line)
    stamp = seconds + micro / 1e6
    if kind == BOOT_TIME:
        return WtmpEntry("boot", stamp, _text(host) or None, None, None, index, user, line)
    if kind == RUN_LVL:
        if user == "shutdown":
            return WtmpEntry("shutdown", stamp, _text(host) or None, None, None, index, user, line)
        if user == "runlevel":
            level = chr(pid % 256) if 0 < pid % 256 < 128 else None
            previous = chr(pid // 256) if 0 < pid // 256 < 128 else None
            return WtmpEntry("runlevel", stamp, _text(host) or None, level, previous, index, user, line)
    return None


def pack(kind, stamp, user="", line="~", host="", pid=0, ident="~~", layout=LITTLE):
    """One raw utmp record (bytes); the tests write wtmp files with it.

    kind: a ut_type number (BOOT_TIME, RUN_LVL, USER_PROCESS, ...).
    """
    seconds = int(stamp)
    micro = int(round((stamp - seconds) * 1e6))
    return layout.pack(kind, 0, pid, line.encode(), ident.encode(), user.encode(), host.encode(),
                       0, 0, 0, seconds, micro, b"", b"")


def boot_record(stamp, kernel):
    return pack(BOOT_TIME, stamp, user="reboot", host=kernel)


def shutdown_record(stamp, kernel):
    return pack(RUN_LVL, stamp, user="shutdown", host=kernel)


def runlevel_record(stamp, level, previous="N", kernel=""):
    return pack(RUN_LVL, stamp, user="runlevel", host=kernel, pid=ord(level) + 256 * ord(previous))


def login_record(stamp, user, tty="pts/0", host="192.0.2.10", pid=1000):
    return pack(USER_PROCESS, stamp, user=user, line=tty, host=host, pid=pid, ident=tty[-2:])
