"""Memory load in worker processes, always under the memory guard.

Modes (``--mem-mode``):

* ``hold``      allocate the size (anonymous mmap) and touch every page, then
                hold it until the end; reports the touch rate.
* ``bandwidth`` copy one buffer into another (memcpy through mmap slice
                assignment); reports bytes copied per second.
* ``verify``    write patterns (0x00, 0xFF, 0x55, 0xAA, seeded random) and
                read them back; reports mismatching bytes and where
                (failing RAM).
* ``growth``    a runaway leak: grow at ``--rate`` (default 256 MiB/s) until
                the size or the guard, then hold.
* ``spikes``    allocate the size at full speed, hold 1 s, free, rest 1 s,
                again: the saw-tooth of a bursty batch job.

Guard: before every allocation step a worker checks that MemAvailable stays
above the floor (10 % of MemTotal by default) and, inside a memory-limited
cgroup, that the same share of the limit stays free; the parent checks it
again every quarter second and stops the run when anything crosses it.
"""

import mmap
import random
import time

from . import load_common, procfs

MODES = ("hold", "bandwidth", "verify", "growth", "spikes")
STEP = 64 * 1024 * 1024
CHUNK = 1024 * 1024
PAGE = procfs.page_size()
DEFAULT_GROWTH_RATE = 256 * 1024 * 1024


def guard_room(floor_pct):
    """Bytes we may still allocate before the guard, and a sentence when it is the cgroup."""
    state = load_common.memory_state(floor_pct=floor_pct)
    return state["headroom"], state


def guard_message(state):
    text = "MemAvailable %s, floor %s (%g%% of MemTotal %s)" % (
        load_common.timeparse.format_size(state["available"]),
        load_common.timeparse.format_size(state["floor"]), state["floor_pct"],
        load_common.timeparse.format_size(state["total"]))
    group = state.get("cgroup")
    if group:
        text += "; cgroup limit %s, used %s" % (load_common.timeparse.format_size(group["limit"]),
                                                load_common.timeparse.format_size(group["usage"]))
    return text


def _fill(buf, size, pattern):
    offset = 0
    plen = len(pattern)
    while offset + plen <= size:
        buf[offset:offset + plen] = pattern
        offset += plen
    if offset < size:
        buf[offset:size] = pattern[:size - offset]


class _Holder(object):
    """Chunks of touched anonymous memory, allocated step by step under the guard."""

    def __init__(self, ctx, floor_pct, pattern):
        self.ctx = ctx
        self.floor_pct = floor_pct
        self.pattern = pattern
        self.chunks = []
        self.held = 0
        self.peak = 0
        self.guard = None

    def grow(self, amount):
        """Allocate and touch ``amount`` more bytes; False when the guard refused."""
        room, state = guard_room(self.floor_pct)
        if room < amount:
            self.guard = "memory guard: %s" % guard_message(state)
            return False
        chunk = mmap.mmap(-1, amount)
        _fill(chunk, amount, self.pattern)
        self.chunks.append(chunk)
        self.held += amount
        self.peak = max(self.peak, self.held)
        self.ctx.add(ops=amount // PAGE, nbytes=amount)
        self.ctx.set_aux(self.held)
        return True

    def release(self):
        for chunk in self.chunks:
            chunk.close()
        self.chunks = []
        self.held = 0
        self.ctx.set_aux(0)


def _pattern(seed):
    rng = random.Random(seed)
    return rng.getrandbits(8 * CHUNK).to_bytes(CHUNK, "little")


def worker(ctx):
    params = ctx.params
    mode = params["mode"]
    floor_pct = params.get("floor_pct", 10.0)
    size = params["size"]
    limiter = load_common.RateLimiter(params.get("rate"))
    if mode in ("hold", "growth", "spikes"):
        ctx.ready()      # allocating is the work itself
        return _hold_like(ctx, mode, size, floor_pct, limiter, params)
    if mode == "bandwidth":
        return _bandwidth(ctx, size, floor_pct, limiter, params)
    return _verify(ctx, size, floor_pct, params)


def _hold_like(ctx, mode, size, floor_pct, limiter, params):
    holder = _Holder(ctx, floor_pct, _pattern(params["seed"] + ctx.index))
    spikes = 0
    reached_after = None
    alloc_seconds = 0.0
    touched = 0
    step = STEP if mode != "growth" else min(STEP, params.get("step") or 16 * 1024 * 1024)
    try:
        while not ctx.stopping():
            while holder.held < size and not ctx.stopping():
                amount = min(step, size - holder.held)
                amount -= amount % PAGE
                if amount <= 0:
                    break
                if mode == "growth":
                    limiter.take(amount, ctx.stopping)
                    if ctx.stopping():
                        break
                begun = time.monotonic()
                grown = holder.grow(amount)
                alloc_seconds += time.monotonic() - begun
                if not grown:
                    break
                touched += amount
            if reached_after is None and (holder.held >= size or holder.guard):
                reached_after = _elapsed(ctx)
            if mode != "spikes":
                # hold until the end (growth that met the guard holds there too)
                while ctx.sleep(0.1):
                    pass
                break
            spikes += 1
            if not ctx.sleep(1.0):
                break
            holder.release()
            if holder.guard:
                break
            if not ctx.sleep(1.0):
                break
        peak = holder.peak
    finally:
        holder.release()
    result = {"mode": mode, "held_peak": peak, "target": size, "touched": touched, "guard": holder.guard,
              "alloc_seconds": round(alloc_seconds, 3),
              "touch_bytes_per_s": touched / alloc_seconds if alloc_seconds > 0 else 0.0,
              "seconds_to_target": round(reached_after, 3) if reached_after is not None else None}
    if mode == "spikes":
        result["spikes"] = spikes
    return result


def _elapsed(ctx):
    return time.monotonic() - ctx.started


def _bandwidth(ctx, size, floor_pct, limiter, params):
    half = max(CHUNK, (size // 2) - (size // 2) % PAGE)
    room, state = guard_room(floor_pct)
    if room < 2 * half:
        ctx.ready()
        return {"mode": "bandwidth", "guard": "memory guard: %s" % guard_message(state)}
    src = mmap.mmap(-1, half)
    dst = mmap.mmap(-1, half)
    try:
        _fill(src, half, _pattern(params["seed"] + ctx.index))
        _fill(dst, half, b"\0" * CHUNK)      # fault the pages in before the clock starts
        limiter.last = time.monotonic()
        ctx.ready()
        budget = params.get("bytes")
        rounds_limit = params.get("ops")
        piece = half if not limiter.rate else min(half, CHUNK)
        copied = 0
        rounds = 0
        while not ctx.stopping():
            if budget is not None and copied >= budget:
                break
            if rounds_limit is not None and rounds >= rounds_limit:
                break
            rounds += 1
            offset = 0
            while offset < half:
                if limiter.rate:
                    limiter.take(piece, ctx.stopping)
                    if ctx.stopping():
                        break
                end = min(half, offset + piece)
                if piece == half:
                    dst[0:half] = src
                else:
                    dst[offset:end] = src[offset:end]
                copied += end - offset
                ctx.add(nbytes=end - offset)
                offset = end
            ctx.add(ops=1)
        errors = 0
        if dst[:CHUNK] != src[:CHUNK]:
            errors = 1
    finally:
        src.close()
        dst.close()
    return {"mode": "bandwidth", "buffer": half, "copied": copied, "errors": errors}


_FIXED = (b"\x00", b"\xff", b"\x55", b"\xaa")


def _verify(ctx, size, floor_pct, params):
    size -= size % PAGE
    size = max(size, CHUNK)
    room, state = guard_room(floor_pct)
    if room < size:
        ctx.ready()
        return {"mode": "verify", "guard": "memory guard: %s" % guard_message(state)}
    buf = mmap.mmap(-1, size)
    _fill(buf, size, b"\0" * CHUNK)
    ctx.ready()
    mismatches = 0
    where = []
    passes = 0
    checked = 0
    budget = params.get("bytes")
    passes_limit = params.get("ops")
    try:
        while not ctx.stopping():
            if budget is not None and checked >= budget:
                break
            if passes_limit is not None and passes >= passes_limit:
                break
            index = passes % (len(_FIXED) + 1)
            if index < len(_FIXED):
                pattern = _FIXED[index] * CHUNK
            else:
                pattern = _pattern(params["seed"] * 1000 + ctx.index * 100 + passes)
            _fill(buf, size, pattern)
            offset = 0
            while offset < size:
                end = min(size, offset + CHUNK)
                got = buf[offset:end]
                want = pattern[:end - offset]
                if got != want:
                    for position, (have, expect) in enumerate(zip(got, want)):
                        if have != expect:
                            mismatches += 1
                            ctx.add(errors=1)
                            if len(where) < 10:
                                where.append({"offset": offset + position, "expected": expect, "found": have})
                offset = end
                if ctx.stopping():
                    break
            checked += offset
            ctx.add(ops=1 if offset == size else 0, nbytes=offset)
            if offset == size:
                passes += 1
    finally:
        buf.close()
    return {"mode": "verify", "buffer": size, "passes": passes, "checked": checked,
            "mismatches": mismatches, "errors": mismatches, "first_mismatches": where}


def plan(mode="hold", size=None, workers=1, rate=None, nbytes=None, duration=None, seed=1,
         floor_pct=10.0, step=None, ops=None):
    """(params list, info) for memory workers.  ``size`` is "2G", "25%" or None (mode default).

    Raises GuardError when the request alone would cross the guard.
    """
    if mode not in MODES:
        raise ValueError("unknown memory mode %r (choose from %s)" % (mode, ", ".join(MODES)))
    state = load_common.memory_state(floor_pct=floor_pct)
    available = state["available"]
    if size is None:
        default = {"hold": "25%", "bandwidth": "256M", "verify": "256M", "growth": None, "spikes": "25%"}[mode]
        total = state["headroom"] if default is None else load_common.parse_amount(default, available)
        if mode in ("hold", "spikes", "verify", "bandwidth"):
            total = min(total, state["headroom"])
    else:
        total = load_common.parse_amount(size, available)
    info = {"requested": total, "state": state}
    if mode != "growth" and total > state["headroom"]:
        raise GuardError("the memory guard refuses %s of %s" % (load_common.timeparse.format_size(total), mode),
                         "it would leave less than the floor: %s" % guard_message(state),
                         "ask for at most %s with --size, or lower the floor with --mem-floor PCT"
                         % load_common.timeparse.format_size(state["headroom"]))
    if mode == "growth":
        total = min(total, state["headroom"]) if size is None else total
        if rate is None:
            rate = DEFAULT_GROWTH_RATE
    if total < PAGE * workers:
        raise GuardError("nothing to allocate: %s for %d worker(s)" % (load_common.timeparse.format_size(total),
                                                                     workers),
                         "MemAvailable is at or below the floor: %s" % guard_message(state),
                         "free memory, or lower the floor with --mem-floor PCT")
    shares = load_common.split(total, workers)
    rates = [rate / float(workers) if rate else None] * workers
    budgets = load_common.split(nbytes, workers) if nbytes else [None] * workers
    rounds = load_common.split(ops, workers) if ops else [None] * workers
    params = [{"mode": mode, "size": shares[i], "rate": rates[i], "bytes": budgets[i], "seed": seed, "ops": rounds[i],
               "floor_pct": floor_pct, "duration": duration, "step": step} for i in range(workers)]
    info["total"] = total
    info["rate"] = rate
    return params, info


GuardError = load_common.GuardError
