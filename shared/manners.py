"""Manners on a sick box: read-only tools get out of the way.

They lower their CPU priority (nice 10) and I/O priority (idle class, or
best-effort lowest where idle is refused), and cap their own address space
so a pathological input cannot push a struggling server into the OOM
killer.  Every step is best effort: a container may forbid all of them.
"""

import ctypes
import os
import platform

try:
    import resource
except ImportError:  # pragma: no cover - not Linux
    resource = None

DEFAULT_MEMORY_CAP = 2 * 1024 ** 3

# ioprio_set syscall numbers per architecture (asm/unistd.h).
_IOPRIO_SET = {"x86_64": 251, "i386": 289, "i686": 289, "aarch64": 30, "ppc64le": 273, "ppc64": 273,
               "s390x": 282, "armv7l": 314, "riscv64": 30}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_SHIFT = 13
_IOPRIO_CLASS_BE = 2
_IOPRIO_CLASS_IDLE = 3

_applied = []
_original_as = []


def memory_cap():
    value = os.environ.get("RESCUEKIT_MEMORY_CAP")
    if value:
        try:
            from .timeparse import parse_size
            return parse_size(value)
        except ValueError:
            pass
    return DEFAULT_MEMORY_CAP


def lower_cpu_priority(step=10):
    try:
        os.nice(step)
        return True
    except (OSError, AttributeError):
        return False


def lower_io_priority():
    number = _IOPRIO_SET.get(platform.machine())
    if number is None:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    for klass, data in ((_IOPRIO_CLASS_IDLE, 0), (_IOPRIO_CLASS_BE, 7)):
        value = (klass << _IOPRIO_CLASS_SHIFT) | data
        try:
            if libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value) == 0:
                return True
        except (AttributeError, OSError):
            return False
    return False


def cap_memory(limit=None):
    """Cap the address space unless a lower limit is already set."""
    if resource is None:
        return False
    limit = limit or memory_cap()
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft <= limit:
            return True
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        _original_as.append((soft, hard))
        return True
    except (ValueError, OSError):
        return False


def be_polite():
    """Apply all of the above once per process; returns what took effect."""
    if _applied:
        return _applied[0]
    if os.environ.get("RESCUEKIT_NO_MANNERS"):
        result = {}
    else:
        result = {"cpu": lower_cpu_priority(), "io": lower_io_priority(), "memory": cap_memory()}
    _applied.append(result)
    return result


def memory_capped():
    return bool(_original_as)


def child_limits(memory=None):
    """The preexec_fn for a child: the limits we found (not our own cap), or,
    with ``memory``, an address-space cap of that many bytes -- for helpers such
    as grep that buffer a whole line and would take gigabytes on a hostile
    file; under the cap they fail and the caller falls back to its own scan."""
    if memory is None:
        return child_setup if memory_capped() else None

    def setup():
        if resource is None:
            return
        try:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        except (ValueError, OSError):
            pass
    return setup


def child_setup():
    """For subprocesses: give commands we run the limits we found, not our cap."""
    if _original_as and resource is not None:
        try:
            resource.setrlimit(resource.RLIMIT_AS, _original_as[0])
        except (ValueError, OSError):
            pass
