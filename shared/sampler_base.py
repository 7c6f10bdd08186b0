"""Counter arithmetic shared by the samplers (no imports of its own)."""


def counter_delta(old, new):
    """new - old for a monotonic counter; wraps of 32-bit counters handled.

    Returns None when the counter went backwards for another reason (a
    reset: hotplug, driver reload, VM migration); callers treat that as
    "no data for this interval".
    """
    if old is None or new is None:
        return None
    if new >= old:
        return new - old
    if old < 2 ** 32 and old - new > 2 ** 31:
        return new + 2 ** 32 - old
    if old < 2 ** 64 and old - new > 2 ** 63:
        return new + 2 ** 64 - old
    return None


def rate(old, new, seconds, scale=1.0):
    delta = counter_delta(old, new)
    if delta is None or not seconds or seconds <= 0:
        return None
    return delta * scale / seconds


def pct(part, whole):
    if part is None or not whole:
        return None
    return 100.0 * part / whole
