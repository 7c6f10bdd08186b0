"""CPU load: verified computational work in worker processes.

Methods (``--method``): ``sha256`` (16 KiB blocks through hashlib, i.e.
OpenSSL, like ``openssl speed sha256``), ``zlib`` (compress and decompress
64 KiB of half-compressible data), ``int`` (an integer hash mix in the
interpreter), ``float`` (a floating-point series) and ``mix`` (one of each
per operation).  Every result is compared with the one computed before the
timed part: a mismatch is counted as an error (a CPU or cache that computes
wrong under load).  ``load`` below 100 runs a duty cycle in 100 ms periods.
With ``--cpus`` each worker is pinned to one CPU of that set.
"""

import hashlib
import math
import os
import random
import time
import zlib

from . import load_common

METHODS = ("mix", "sha256", "zlib", "int", "float")
SHA_BLOCK = 16384
ZLIB_BLOCK = 65536
PERIOD = 0.1
BATCH_SECONDS = 0.002


def _sha_data(seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(256)) * (SHA_BLOCK // 256)


def _zlib_data(seed):
    rng = random.Random(seed + 1)
    words = [("%x" % rng.getrandbits(24)).encode("ascii") for _ in range(512)]
    out = bytearray()
    while len(out) < ZLIB_BLOCK:
        out += words[rng.randrange(len(words))] + b" "
        if rng.random() < 0.3:
            out += bytes(rng.getrandbits(8) for _ in range(8))
    return bytes(out[:ZLIB_BLOCK])


def op_sha256(data):
    return hashlib.sha256(data).digest()


def op_zlib(data):
    packed = zlib.compress(data, 6)
    return zlib.crc32(zlib.decompress(packed)), len(packed)


def op_int(seed):
    x = seed & 0xFFFFFFFF
    acc = 0
    for i in range(2000):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        acc = (acc ^ (x >> 7) ^ (i * 2654435761)) & 0xFFFFFFFFFFFF
        acc = (acc << 1 | acc >> 47) & 0xFFFFFFFFFFFF
    return acc


def op_float(seed):
    total = 0.0
    step = 1.0 + (seed % 97) / 1000.0
    value = 0.5
    for _ in range(1000):
        value = value * step
        if value > 1e6:
            value = value / 1e6
        total += math.sqrt(value) * math.sin(value) + math.log1p(value)
    return total


def _make_ops(method, seed):
    """[(name, callable, argument, bytes per call)] for the method."""
    sha = ("sha256", op_sha256, _sha_data(seed), SHA_BLOCK)
    zlb = ("zlib", op_zlib, _zlib_data(seed), ZLIB_BLOCK)
    integer = ("int", op_int, seed, 0)
    flt = ("float", op_float, seed, 0)
    table = {"sha256": [sha], "zlib": [zlb], "int": [integer], "float": [flt],
             "mix": [sha, zlb, integer, flt]}
    return table[method]


def worker(ctx):
    """One CPU worker: params method, seed, cpu, load, ops, duration."""
    params = ctx.params
    cpu = params.get("cpu")
    if cpu is not None:
        try:
            os.sched_setaffinity(0, [cpu])
        except (OSError, AttributeError):
            cpu = None
    ops_plan = _make_ops(params["method"], params["seed"])
    expected = [func(arg) for _, func, arg, _ in ops_plan]
    checks = [(func, arg, expected[index]) for index, (_, func, arg, _) in enumerate(ops_plan)]
    op_bytes = sum(p[3] for p in ops_plan)
    # Operations run in batches of about 2 ms, so the bookkeeping (clock,
    # stop flag, shared counters) costs nothing next to the work.
    begun = time.perf_counter()
    for func, arg, want in checks:
        func(arg)
    one = max(1e-7, time.perf_counter() - begun)
    batch = max(1, min(10000, int(BATCH_SECONDS / one)))
    limit = params.get("ops")
    load = params.get("load") or 100
    busy_share = PERIOD * load / 100.0
    ctx.ready()
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    done = 0
    errors = 0
    period_start = wall0
    while not ctx.stopping():
        count = batch if limit is None else min(batch, limit - done)
        if count <= 0:
            break
        bad = 0
        for _ in range(count):
            for func, arg, want in checks:
                if func(arg) != want:
                    bad += 1
        done += count
        if bad:
            errors += bad
        ctx.add(ops=count, nbytes=count * op_bytes, errors=bad)
        if load < 100:
            now = time.monotonic()
            if now - period_start >= busy_share:
                rest = PERIOD - (now - period_start)
                if rest > 0 and not ctx.sleep(rest):
                    break
                period_start = time.monotonic()
    nbytes = done * op_bytes
    wall = time.monotonic() - wall0
    cpu_time = time.process_time() - cpu0
    return {"ops": done, "bytes": nbytes, "errors": errors, "cpu": cpu, "elapsed": wall,
            "busy_pct": round(100.0 * cpu_time / wall, 1) if wall > 0 else None,
            "verified": True}


def plan(method="mix", workers=None, cpus=None, load=100, ops=None, duration=None, seed=1):
    """(params list, notes) for the CPU workers.

    cpus: the CPUs to use (default: our affinity); workers: default one per
    CPU, fewer when a cgroup quota allows less.
    """
    if method not in METHODS:
        raise ValueError("unknown CPU method %r (choose from %s)" % (method, ", ".join(METHODS)))
    notes = []
    allowed = load_common.allowed_cpus()
    if cpus:
        outside = sorted(set(cpus) - set(allowed))
        if outside:
            raise ValueError("CPU %s not in this process's affinity (%s)"
                             % (load_common.format_cpu_list(outside), load_common.format_cpu_list(allowed)))
        selected = list(cpus)
    else:
        selected = allowed
    if workers is None:
        workers = len(selected)
        quota = load_common.cpu_quota()
        if quota is not None and quota < workers:
            workers = max(1, int(math.ceil(quota)))
            notes.append("cgroup CPU quota is %.2f CPUs: %d worker(s)" % (quota, workers))
    if ops is not None:
        workers = max(1, min(workers, ops))
    shares = load_common.split(ops, workers)
    params = []
    for index in range(workers):
        # pinned only to CPUs the user chose; otherwise the scheduler places
        # the workers (pinning on a shared box would queue them behind others)
        params.append({"method": method, "seed": seed, "cpu": selected[index % len(selected)] if cpus else None,
                       "load": load, "ops": shares[index], "duration": duration})
    return params, selected, notes
