"""One way to hold a lock file: flock, non-blocking, released by the kernel on death.

flock locks vanish when the holding process dies, even under SIGKILL, so a
stale file never blocks the next run; tools keep the file and judge
liveness by the lock, not by the file's existence.
"""

import errno
import fcntl
import os

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


def try_lock(path, create=True, mode=0o644):
    """An fd holding an exclusive lock on ``path``, or None when another process holds it.

    Other failures (cannot create or open the file) raise OSError; with
    ``create=False`` a missing file is also None.
    """
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in _BUSY:
            return None
        raise
    return fd


def release(fd):
    """Drop a lock taken with try_lock (closing the fd would do it; this says so)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
    try:
        os.close(fd)
    except OSError:
        pass


def is_held(path):
    """True when some process holds a lock on ``path`` (a missing file is not held)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
