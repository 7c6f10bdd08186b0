"""perfcollect's disk budget: a hard cap on bytes, and a floor of free space.

``Budget`` keeps a running total of what the recording directory holds
(measured once at start, then updated with every byte written or file
deleted) and answers before each write whether it fits:

* never more than ``max_size`` bytes in the directory: the oldest closed
  segment is deleted to make room (then the oldest snapshot); a write that
  cannot fit even then is refused, never made;
* no writes while the filesystem's free space is under the floor
  (default the larger of 5 % of its size and 1 GiB): the recorder pauses
  with a warning and resumes when space is back.

statvfs is injectable so tests can play a filling disk without one.
"""

import os
import shutil

from . import perf_format

GIB = 1024 ** 3
DEFAULT_FLOOR_PCT = 5.0
DEFAULT_FLOOR_BYTES = GIB
MIN_MAX_SIZE = 64 * 1024


def parse_floor(text):
    """'5%' -> ('pct', 5.0); '2G' -> ('bytes', n); 'default' -> None.  Raises ValueError."""
    from .timeparse import parse_size
    value = str(text).strip()
    if value.lower() in ("", "default"):
        return None
    if value.endswith("%"):
        number = float(value[:-1])
        if not 0 <= number < 100:
            raise ValueError("a free-space floor in percent is 0-99: %r" % (text,))
        return ("pct", number)
    return ("bytes", parse_size(value))


def floor_bytes(floor, fs_size):
    """The floor in bytes for a filesystem of ``fs_size`` bytes."""
    if floor is None:
        return max(int(fs_size * DEFAULT_FLOOR_PCT / 100.0), DEFAULT_FLOOR_BYTES)
    kind, value = floor
    if kind == "pct":
        return int(fs_size * value / 100.0)
    return int(value)


def describe_floor(floor):
    if floor is None:
        return "max(5%, 1G)"
    kind, value = floor
    if kind == "pct":
        return "%g%%" % value
    from .timeparse import format_size
    return format_size(value)


def free_space(directory, floor=None, statvfs=os.statvfs):
    """(bytes free for unprivileged writers, floor in bytes) of the filesystem, or (None, None)."""
    try:
        st = statvfs(directory)
    except OSError:
        return None, None
    return st.f_bavail * st.f_frsize, floor_bytes(floor, st.f_blocks * st.f_frsize)


def segment_size_for(max_size):
    """Segments of about a tenth of the budget (16 KiB .. 64 MiB): rotation well before the cap."""
    return int(min(64 * 1024 * 1024, max(16 * 1024, max_size // 10)))


class Budget(object):
    """Bytes used by a recording directory against its cap and the free-space floor."""

    def __init__(self, directory, max_size, floor=None, statvfs=os.statvfs, reserve=None):
        self.directory = directory
        self.max_size = int(max_size)
        self.floor = floor
        self.statvfs = statvfs
        # room kept for the manifest rewrites and segment trailers
        self.reserve = reserve if reserve is not None else min(64 * 1024, self.max_size // 16)
        self.exclude = ()   # folders with a budget of their own (sysstat's share)
        self.used = perf_format.directory_size(directory)
        self.deleted_segments = []
        self.deleted_snapshots = []
        self.free = None
        self.floor_value = None
        self.external = {}   # files written by others (sysstat): name -> size

    # ------------------------------------------------------------ the floor

    def free_space(self):
        """(free bytes for us, floor bytes) of the directory's filesystem, or (None, None)."""
        free, floor = free_space(self.directory, self.floor, self.statvfs)
        if free is not None:
            self.free, self.floor_value = free, floor
        return free, floor

    def under_floor(self, extra=0):
        free, floor = self.free_space()
        if free is None:
            return False
        return free - extra < floor

    # ------------------------------------------------------------ the cap

    def rescan(self):
        used = perf_format.directory_size(self.directory)
        for name in self.exclude:
            used -= perf_format.directory_size(os.path.join(self.directory, name))
        self.used = max(0, used)
        return self.used

    def add(self, count):
        self.used += count

    def remove(self, count):
        self.used = max(0, self.used - count)

    def fits(self, count):
        return self.used + count + self.reserve <= self.max_size

    def make_room(self, count, current_segment=None):
        """Delete oldest segments (then snapshots) until ``count`` more bytes fit.

        Returns True when it fits.  The segment being written is never deleted.
        """
        while not self.fits(count):
            if not self._delete_oldest_segment(current_segment):
                if not self._delete_oldest_snapshot():
                    return False
        return True

    def _delete_oldest_segment(self, current_segment):
        for _, path in perf_format.list_segments(self.directory):
            if current_segment and os.path.abspath(path) == os.path.abspath(current_segment):
                return False  # only the open segment is left
            try:
                size = os.lstat(path).st_size
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError:
                return False
            self.remove(size)
            self.deleted_segments.append(os.path.basename(path))
            return True
        return False

    def _delete_oldest_snapshot(self):
        folder = os.path.join(self.directory, perf_format.SNAPSHOTS)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return False
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.isdir(path):
                continue
            size = perf_format.directory_size(path)
            shutil.rmtree(path, ignore_errors=True)
            if os.path.exists(path):
                return False
            self.remove(size)
            self.deleted_snapshots.append(name)
            return True
        return False

    def state(self):
        return {"max_size": self.max_size, "used": self.used, "free": self.free,
                "floor": self.floor_value, "floor_setting": describe_floor(self.floor)}
