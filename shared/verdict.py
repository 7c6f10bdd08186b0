"""The triage verdict: which resource binds this system, and the evidence.

Input: the samples a ``samplers.Sampler`` took over a window (one per
interval) and the sample over the whole window.  Output: a verdict --
``cpu``, ``memory``, ``io``, ``network``, ``several`` or ``none`` (not
resource-bound) -- and *items*, each carrying the rule that fired (its id
and its text), the numbers that decided it, and the processes, devices,
interfaces or cgroups responsible.

The rules are data (``RULES``): a resource, a level, and conditions on
metric names (``metrics.py``), all of which must hold.  ``bound`` rules
decide the verdict; ``warning`` and ``info`` rules are evidence shown
beside it.  A metric with ``*`` (``disk.*.util_pct``) is checked per
instance, all ``*`` of one rule meaning the same instance.  Values are the
mean over the window's samples unless a condition names another
aggregate (``max``, ``sum``).  Derived metrics the engine adds first:

* ``cpu.capacity`` -- CPUs this program may use: online CPUs, or the
  cgroup's CPU quota when smaller (a container is judged against its
  limit, not the host's);
* ``procs.runq_per_cpu`` -- runnable tasks (the sampler excluded) per
  CPU of capacity;
* ``page.refault_in_pct`` -- the share of pages read in that were
  evicted pages being read back (refaults x page size / pgpgin);
* ``memcg.<dir>.*`` -- every memory cgroup with a limit of its own
  (``usage_pct``, ``failcnt_ps``, ``refault_ps``, ``psi_some_pct``);
* ``netclass.<if>/<class>.*`` -- every leaf htb/hfsc class with a ceiling
  (``util_pct`` of the ceil, ``held_ps``, drops, backlog; ``derive_classes``).

One adjustment is not a rule on a single metric: when memory is bound and
at least half of what was read from disk were refaults (page cache
thrashing), the I/O load is a *symptom* of the memory shortage -- I/O
rules are downgraded to warnings with that reason, and the verdict names
memory.
"""

import re
import time

from . import metrics as metric_names
from . import sampler_cgroup, sampler_disks, sampler_procs

BOUND = "bound"
WARNING = "warning"
INFO = "info"

RESOURCES = ("cpu", "memory", "io", "network")
RESOURCE_TITLE = {"cpu": "CPU", "memory": "memory", "io": "I/O", "network": "network"}


def _rule(rule_id, resource, level, when, title, fix="", show=(), parts=()):
    """``parts``: names for the pieces of a ``/``-joined instance (``eth0/1:20`` -> dev, classid),
    usable in the title and the fix like the numbers, and kept in the item as ``parts``."""
    return {"id": rule_id, "resource": resource, "level": level, "when": tuple(when), "title": title,
            "fix": fix, "show": tuple(show), "parts": tuple(parts)}


# A link, a shaped rate or a shaping class is full at this share of its limit (one threshold for all).
NET_FULL_PCT = 80.0


# when: (metric, operator, threshold[, aggregate]); title: str.format over the numbers
# (metric names with '.' and '*' replaced by '_').
RULES = (
    # ------------------------------------------------------------------ CPU
    _rule("cpu.saturated", "cpu", BOUND,
          [("cpu.busy_pct", ">=", 85.0), ("procs.runq_per_cpu", ">=", 1.0)],
          "CPUs saturated: {cpu_busy_pct:.0f}% busy with {procs_running:.1f} runnable tasks for "
          "{cpu_capacity:g} CPU(s)",
          "find what burns CPU (the processes below); add CPUs or spread the work",
          show=("cpu.user_pct", "cpu.system_pct", "procs.running", "cpu.capacity")),
    _rule("cpu.waiting", "cpu", BOUND,
          [("psi.cpu.some_pct", ">=", 25.0), ("procs.runq_per_cpu", ">=", 1.0)],
          "tasks waited for a CPU {psi_cpu_some_pct:.0f}% of the time (CPU pressure) with "
          "{procs_running:.1f} runnable for {cpu_capacity:g} CPU(s)",
          "the CPUs are oversubscribed; see the processes below",
          show=("cpu.busy_pct", "procs.running", "cpu.capacity")),
    _rule("cpu.runqueue", "cpu", WARNING,
          [("procs.runq_per_cpu", ">=", 2.0)],
          "run queue {procs_running:.1f} is over twice the CPU capacity ({cpu_capacity:g})",
          show=("procs.running", "cpu.capacity")),
    _rule("cpu.steal", "cpu", BOUND,
          [("cpu.steal_pct", ">=", 10.0)],
          "the hypervisor took {cpu_steal_pct:.0f}% of CPU time (steal)",
          "the host is overcommitted: ask its owner, or move the VM"),
    _rule("cpu.quota", "cpu", BOUND,
          [("cgroup.cpu.throttled_pct", ">=", 20.0)],
          "the cgroup's CPU quota throttled it in {cgroup_cpu_throttled_pct:.0f}% of periods",
          "raise the container's CPU limit or reduce its load",
          show=("cgroup.cpu.quota_cpus",)),
    _rule("cpu.kernel", "cpu", INFO,
          [("cpu.system_pct", ">=", 30.0)],
          "kernel time is high: {cpu_system_pct:.0f}% system",
          "look at syscall-heavy processes (nvcswch/s, cswch/s) and softirq/irq load"),
    _rule("cpu.interrupts", "cpu", WARNING,
          [("cpu.irq_softirq_pct", ">=", 20.0)],
          "interrupt handling takes {cpu_irq_softirq_pct:.0f}% of CPU time",
          "check interrupt distribution (irqbalance, RPS) and network packet rates"),
    # ------------------------------------------------------------------ memory
    _rule("memory.pressure", "memory", BOUND,
          [("psi.memory.some_pct", ">=", 10.0)],
          "tasks stalled on memory {psi_memory_some_pct:.0f}% of the time (memory pressure)",
          "find what holds memory (processes, cgroups below); add memory or lower limits' pressure",
          show=("psi.memory.full_pct", "mem.available_pct")),
    _rule("memory.swapping", "memory", BOUND,
          [("swap.in_kbps", ">=", 256.0)],
          "swapping in {swap_in_kbps:.0f} KiB/s: the working set does not fit in memory",
          "add memory or stop what grew; see the processes below",
          show=("swap.out_kbps", "swap.used_pct")),
    _rule("memory.swapout", "memory", WARNING,
          [("swap.out_kbps", ">=", 1024.0)],
          "swapping out {swap_out_kbps:.0f} KiB/s"),
    _rule("memory.reclaim", "memory", BOUND,
          [("page.scan_direct_ps", ">=", 5000.0), ("page.vmeff_pct", "<", 30.0)],
          "tasks reclaim memory themselves ({page_scan_direct_ps:.0f} pages/s scanned) and find "
          "little ({page_vmeff_pct:.0f}% reclaimed)",
          "memory is short: see the processes and cgroups below"),
    _rule("memory.thrashing", "memory", BOUND,
          [("page.refault_ps", ">=", 2000.0), ("page.refault_in_pct", ">=", 50.0)],
          "page cache thrashing: {page_refault_ps:.0f} evicted pages/s read back "
          "({page_refault_in_pct:.0f}% of all reads)",
          "the file working set does not fit (in memory or in a cgroup's limit); see the cgroups below"),
    _rule("memory.low", "memory", BOUND,
          [("mem.available_pct", "<=", 5.0, "min")],
          "only {mem_available_pct:.1f}% of memory is available",
          "find what holds memory (largest RSS below, slab, tmpfs)"),
    _rule("memory.low_warning", "memory", WARNING,
          [("mem.available_pct", "<=", 10.0, "min")],
          "memory available fell to {mem_available_pct:.1f}%"),
    _rule("memory.oom", "memory", BOUND,
          [("mem.oom_kills", ">=", 1, "sum")],
          "the OOM killer killed {mem_oom_kills:g} process(es) during the sample",
          "see the kernel log (oops) for the victims"),
    _rule("memory.cgroup_limit", "memory", BOUND,
          [("memcg.*.usage_pct", ">=", 90.0, "last"), ("memcg.*.failcnt_ps", ">=", 10.0)],
          "cgroup {instance} hits its memory limit: {memcg_usage_pct:.0f}% of {memcg_limit_kb:.0f} KiB "
          "used, limit hit {memcg_failcnt_ps:.0f} times/s",
          "raise the cgroup's memory limit or reduce what runs in it",
          show=("memcg.*.limit_kb", "memcg.*.refault_ps")),
    _rule("memory.cgroup_full", "memory", WARNING,
          [("memcg.*.usage_pct", ">=", 95.0, "last")],
          "cgroup {instance} is at {memcg_usage_pct:.0f}% of its {memcg_limit_kb:.0f} KiB memory limit",
          "it reclaims its own page cache from here on; watch its limit hits and refaults"),
    _rule("memory.cgroup_pressure", "memory", BOUND,
          [("memcg.*.psi_some_pct", ">=", 10.0)],
          "cgroup {instance} stalled on memory {memcg_psi_some_pct:.0f}% of the time",
          "raise the cgroup's memory limit or reduce what runs in it",
          show=("memcg.*.usage_pct",)),
    _rule("memory.container_limit", "memory", BOUND,
          [("cgroup.memory.usage_pct", ">=", 90.0, "last"), ("cgroup.memory.failcnt_ps", ">=", 10.0)],
          "this container is at {cgroup_memory_usage_pct:.0f}% of its memory limit and hits it "
          "{cgroup_memory_failcnt_ps:.0f} times/s",
          "raise the container's memory limit", show=("cgroup.memory.limit_kb",)),
    # ------------------------------------------------------------------ I/O
    _rule("io.pressure", "io", BOUND,
          [("psi.io.some_pct", ">=", 30.0)],
          "tasks stalled on I/O {psi_io_some_pct:.0f}% of the time (I/O pressure)",
          "see the devices and processes below; faster storage or less I/O",
          show=("psi.io.full_pct", "procs.blocked")),
    _rule("io.wait", "io", BOUND,
          [("cpu.iowait_pct", ">=", 20.0), ("procs.blocked", ">=", 1.0)],
          "CPUs idle waiting for I/O {cpu_iowait_pct:.0f}% with {procs_blocked:.1f} task(s) blocked",
          "see the devices and processes below"),
    _rule("io.device_saturated", "io", BOUND,
          [("disk.*.util_pct", ">=", 90.0), ("disk.*.await_ms", ">=", 20.0)],
          "{instance} is saturated: {disk_util_pct:.0f}% busy, requests take {disk_await_ms:.1f} ms",
          "the device is the bottleneck: spread the load or use faster storage",
          show=("disk.*.aqu_sz", "disk.*.r_ps", "disk.*.w_ps")),
    _rule("io.device_busy", "io", WARNING,
          [("disk.*.util_pct", ">=", 80.0)],
          "{instance} is {disk_util_pct:.0f}% busy (await {disk_await_ms:.1f} ms)",
          "%util near 100 saturates a single spindle; SSD/NVMe serve requests in parallel",
          show=("disk.*.await_ms", "disk.*.aqu_sz")),
    _rule("io.slow_device", "io", WARNING,
          [("disk.*.await_ms", ">=", 100.0), ("disk.*.iops", ">=", 1.0)],
          "{instance} answers slowly: {disk_await_ms:.0f} ms per request",
          "check the device's health (smartctl, dmesg) and its queue"),
    _rule("io.dstate", "io", WARNING,
          [("procs.dstate", ">=", 1.0)],
          "{procs_dstate:.1f} task(s) in uninterruptible sleep on average",
          "see the D-state tasks and what they wait in below"),
    # ------------------------------------------------------------------ network
    _rule("network.shaped", "network", BOUND,
          [("net.*.qdisc_util_pct", ">=", NET_FULL_PCT), ("net.*.qdisc_held_ps", ">", 0.0)],
          "{instance} sends at {net_qdisc_util_pct:.0f}% of its configured rate "
          "({net_qdisc_rate_kbit:.0f} kbit/s); the qdisc holds back or drops packets "
          "({net_qdisc_held_ps:.0f}/s)",
          "the shaped rate is the limit: raise it (tc) or send less",
          show=("net.*.qdisc_rate_kbit", "net.*.qdisc_drops_ps", "net.*.qdisc_overlimits_ps",
                "net.*.qdisc_backlog_kb")),
    _rule("network.link_saturated", "network", BOUND,
          [("net.*.util_pct", ">=", NET_FULL_PCT)],
          "{instance} runs at {net_util_pct:.0f}% of its {net_speed_mbps:g} Mbit/s link",
          "the link is full: more bandwidth, bonding, or less traffic",
          show=("net.*.rx_kbps", "net.*.tx_kbps", "net.*.speed_mbps")),
    # one leaf class of an htb/hfsc shaper at its ceil while the link has room (one tenant,
    # one service throttled); when the link itself is full, judge() folds it into that item
    _rule("network.class_saturated", "network", BOUND,
          [("netclass.*.util_pct", ">=", NET_FULL_PCT), ("netclass.*.held_ps", ">", 0.0)],
          "by shaping: class {classid} on {dev} at {netclass_util_pct:.0f}% of its "
          "{netclass_ceil_mbit:g} Mbit ceil, {netclass_drops_ps:.1f} drops/s, "
          "{netclass_overlimits_ps:.0f} overlimits/s",
          "the class's ceil is the limit, not the link: raise it (tc class change dev {dev} "
          "classid {classid} ... ceil RATE) or check which traffic is classified into it "
          "(tc -s filter show dev {dev})",
          show=("netclass.*.ceil_kbit", "netclass.*.kbit_ps", "netclass.*.drops_ps",
                "netclass.*.overlimits_ps", "netclass.*.backlog_kb"),
          parts=("dev", "classid")),
    _rule("network.drops", "network", WARNING,
          [("net.*.drop_ps", ">=", 100.0)],
          "{instance} drops {net_drop_ps:.0f} packets/s",
          "receive drops: ring buffers (ethtool -g), backlog; transmit drops: the qdisc"),
    _rule("network.errors", "network", WARNING,
          [("net.*.errs_ps", ">=", 10.0)],
          "{instance} has {net_errs_ps:.0f} errors/s",
          "check cabling, duplex and the NIC (ethtool -S)"),
    _rule("network.retransmits", "network", BOUND,
          [("tcp.retrans_pct", ">=", 10.0), ("tcp.out_segs_ps", ">=", 100.0)],
          "TCP retransmits {tcp_retrans_pct:.1f}% of segments",
          "packet loss on the path (drops above, a full qdisc, a lossy link)"),
    _rule("network.retransmits_warning", "network", WARNING,
          [("tcp.retrans_pct", ">=", 2.0), ("tcp.out_segs_ps", ">=", 100.0)],
          "TCP retransmits {tcp_retrans_pct:.1f}% of segments"),
    _rule("network.softnet", "network", WARNING,
          [("softnet.dropped_ps", ">", 0.0)],
          "the receive backlog overflowed: {softnet_dropped_ps:.0f} packets/s dropped",
          "raise net.core.netdev_max_backlog, spread receive work (RPS/RSS)"),
    _rule("network.listen_overflows", "network", WARNING,
          [("tcp.listen_overflows_ps", ">", 0.0)],
          "listen queues overflowed {tcp_listen_overflows_ps:.1f} times/s: an application is not "
          "accepting connections fast enough", "find the server (ss -lnt: Recv-Q at Send-Q)"),
)

_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b}


def rule_text(rule):
    """The rule in words: 'cpu.busy_pct >= 85 and procs.runq_per_cpu >= 1 (means over the window)'."""
    parts = []
    for condition in rule["when"]:
        metric, op, threshold = condition[:3]
        agg = condition[3] if len(condition) > 3 else "mean"
        parts.append("%s%s %s %g" % ("" if agg == "mean" else agg + " ", metric, op, threshold))
    return " and ".join(parts)


# ---------------------------------------------------------------- aggregation

def derive(metric_map, sample=None):
    """Add the derived metrics to one sample's metrics (in place) and return it; with the
    ``sample`` itself, also the leaf shaping classes' ``netclass.*`` (derive_classes)."""
    m = metric_map
    capacity = m.get("cpu.count")
    quota = m.get("cgroup.cpu.quota_cpus")
    if quota and (capacity is None or quota < capacity):
        capacity = quota
    if capacity:
        m["cpu.capacity"] = capacity
        if "procs.running" in m:
            m["procs.runq_per_cpu"] = m["procs.running"] / float(capacity)
    if "cpu.irq_pct" in m or "cpu.softirq_pct" in m:
        m["cpu.irq_softirq_pct"] = (m.get("cpu.irq_pct") or 0.0) + (m.get("cpu.softirq_pct") or 0.0)
    if m.get("page.in_kbps") and m.get("page.refault_ps") is not None:
        m["page.refault_in_pct"] = min(100.0, 100.0 * m["page.refault_ps"] * 4.0 / m["page.in_kbps"])
    for key in list(m):
        family, instance, leaf = metric_names.split(key)
        if instance is None:
            continue
        if family == "disk" and leaf == "r_ps":
            m["disk.%s.iops" % instance] = m[key] + (m.get("disk.%s.w_ps" % instance) or 0.0)
        elif family == "net" and leaf == "rx_drop_ps":
            m["net.%s.drop_ps" % instance] = m[key] + (m.get("net.%s.tx_drop_ps" % instance) or 0.0)
        elif family == "net" and leaf == "rx_errs_ps":
            m["net.%s.errs_ps" % instance] = m[key] + (m.get("net.%s.tx_errs_ps" % instance) or 0.0)
        elif family == "net" and leaf in ("qdisc_overlimits_ps", "qdisc_drops_ps"):
            held = (m.get("net.%s.qdisc_overlimits_ps" % instance) or 0.0) + \
                (m.get("net.%s.qdisc_drops_ps" % instance) or 0.0)
            if m.get("net.%s.qdisc_backlog_kb" % instance):
                held += 1.0
            m["net.%s.qdisc_held_ps" % instance] = held
    if sample is not None and sample.get("classes"):
        derive_classes(m, sample["classes"])
    return m


def leaf_classes(rows):
    """The leaf classes among ``tc -s class`` rows: those tc marks ``leaf`` or that no class
    names as its parent."""
    parents = set((r.get("dev"), r.get("parent")) for r in rows if r.get("parent"))
    return [r for r in rows if r.get("leaf") or (r.get("dev"), r.get("classid")) not in parents]


def class_instance(row):
    """``eth0/1:20``: interface names cannot hold '/' (dev_valid_name), class ids do not."""
    return "%s/%s" % (row.get("dev"), row.get("classid"))


def derive_classes(m, rows):
    """``netclass.<if>/<class>.*`` for every leaf class with a ceiling (htb always; hfsc with an
    ``ul`` curve) and a rate this interval: util_pct (of the ceil), ceil_kbit, ceil_mbit,
    rate_kbit, kbit_ps, drops_ps, overlimits_ps, backlog_kb and held_ps (overlimits + drops,
    +1 when a backlog is queued, as for the qdisc)."""
    for row in leaf_classes(rows):
        if not row.get("dev") or not row.get("ceil_kbit") or row.get("util_pct") is None:
            continue
        prefix = "netclass.%s." % class_instance(row)
        values = {"util_pct": row["util_pct"], "ceil_kbit": row["ceil_kbit"],
                  "ceil_mbit": row["ceil_kbit"] / 1000.0, "kbit_ps": row.get("kbit_ps") or 0.0,
                  "drops_ps": row.get("drops_ps") or 0.0, "overlimits_ps": row.get("overlimits_ps") or 0.0,
                  "backlog_kb": row.get("backlog_kb") or 0.0}
        if row.get("rate_kbit"):
            values["rate_kbit"] = row["rate_kbit"]
        values["held_ps"] = values["drops_ps"] + values["overlimits_ps"] + (1.0 if values["backlog_kb"] else 0.0)
        for key, value in values.items():
            m[prefix + key] = float(value)
    return m


def aggregate(metric_maps):
    """{name: {"mean", "max", "min", "sum", "last", "n"}} over per-interval metric maps."""
    stats = {}
    for mapping in metric_maps:
        for name, value in mapping.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            entry = stats.get(name)
            if entry is None:
                stats[name] = {"mean": float(value), "max": value, "min": value, "sum": value,
                               "last": value, "n": 1}
                continue
            entry["n"] += 1
            entry["sum"] += value
            entry["mean"] = entry["sum"] / float(entry["n"])
            entry["max"] = max(entry["max"], value)
            entry["min"] = min(entry["min"], value)
            entry["last"] = value
    return stats


# ---------------------------------------------------------------- evaluation

def _instances(stats, pattern):
    regex = re.compile("^" + re.escape(pattern).replace(r"\*", "(.+)") + "$")
    found = []
    for name in stats:
        match = regex.match(name)
        if match:
            found.append(match.group(1))
    return found


def _key(name):
    return name.replace(".*.", ".").replace(".", "_")


def evaluate_rule(rule, stats):
    """Items (dicts) for every instance where all the rule's conditions hold."""
    patterned = [c[0] for c in rule["when"] if "*" in c[0]]
    if patterned:
        candidates = _instances(stats, patterned[0])
    else:
        candidates = [None]
    items = []
    for instance in candidates:
        numbers = {}
        ok = True
        score = None
        for condition in rule["when"]:
            metric, op, threshold = condition[:3]
            agg = condition[3] if len(condition) > 3 else "mean"
            name = metric.replace("*", instance) if instance is not None else metric
            entry = stats.get(name)
            if entry is None:
                ok = False
                break
            value = entry[agg]
            numbers[name] = value
            if not _OPS[op](value, threshold):
                ok = False
                break
            if op in (">=", ">"):
                ratio = (value / float(threshold)) if threshold else 2.0
            else:
                ratio = (float(threshold) / value) if value else 10.0
            score = ratio if score is None else min(score, ratio)
        if not ok:
            continue
        for metric in rule["show"]:
            name = metric.replace("*", instance) if instance is not None else metric
            if name in stats:
                numbers[name] = stats[name]["mean"]
        values = {}
        for name, value in numbers.items():
            generic = name.replace("." + instance + ".", ".") if instance is not None else name
            values[_key(generic)] = value
        for extra in ("procs.running", "cpu.capacity", "net.*.qdisc_rate_kbit", "net.*.speed_mbps",
                      "disk.*.await_ms", "memcg.*.limit_kb", "netclass.*.ceil_mbit"):
            name = extra.replace("*", instance) if instance is not None else extra
            if name in stats and _key(extra) not in values:
                values[_key(extra)] = stats[name]["mean"]
        values["instance"] = instance
        parts = {}
        if rule.get("parts") and instance is not None:
            pieces = instance.split("/", len(rule["parts"]) - 1)
            parts = dict(zip(rule["parts"], pieces))
            values.update(parts)
        try:
            title = rule["title"].format(**values)
        except (KeyError, ValueError, IndexError):
            title = "%s: %s" % (rule["id"], rule_text(rule))
        try:
            fix = rule["fix"].format(**values) if parts else rule["fix"]
        except (KeyError, ValueError, IndexError):
            fix = rule["fix"]
        item = {"rule": rule["id"], "resource": rule["resource"], "level": rule["level"],
                "instance": instance, "title": title, "rule_text": rule_text(rule),
                "numbers": dict((k, _round(v)) for k, v in numbers.items()),
                "fix": fix, "score": round(score or 1.0, 3)}
        if parts:
            item["parts"] = parts
        items.append(item)
    return items


def _round(value):
    """Round floats to 2 places, through dicts and lists."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return dict((k, _round(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def judge(stats, rules=RULES):
    """Apply the rules; returns {"verdict", "bound", "primary", "items", "scores"}."""
    items = []
    for rule in rules:
        items.extend(evaluate_rule(rule, stats))
    _fold_classes_into_links(items)
    scores = {}
    for item in items:
        if item["level"] == BOUND:
            scores[item["resource"]] = max(scores.get(item["resource"], 0.0), item["score"])
    # I/O caused by page-cache thrashing is a symptom of memory shortage.
    refault_share = stats.get("page.refault_in_pct", {}).get("mean", 0.0)
    if "memory" in scores and "io" in scores and refault_share >= 50.0:
        for item in items:
            if item["resource"] == "io" and item["level"] == BOUND:
                item["level"] = WARNING
                item["note"] = ("a symptom of memory shortage: %.0f%% of the pages read were "
                                "evicted pages read back" % refault_share)
        del scores["io"]
    bound = sorted(scores, key=lambda r: (-scores[r], RESOURCES.index(r)))
    if not bound:
        verdict = "none"
    elif len(bound) == 1:
        verdict = bound[0]
    else:
        verdict = "several"
    order = {BOUND: 0, WARNING: 1, INFO: 2}
    items.sort(key=lambda i: (order[i["level"]], RESOURCES.index(i["resource"]), -i["score"]))
    return {"verdict": verdict, "bound": bound, "primary": bound[0] if bound else None, "items": items,
            "scores": dict((k, round(v, 3)) for k, v in scores.items())}


# Rules saying a whole link is full, and rules saying one class on it is.
LINK_RULES = ("network.shaped", "network.link_saturated")
CLASS_RULES = ("network.class_saturated",)


def _fold_classes_into_links(items):
    """A class at its ceil on a link that is full itself is not a second finding: the link
    is the bottleneck.  The class item goes, and the link item lists it in ``classes_at_ceil``."""
    links = {}
    for item in items:
        if item["rule"] in LINK_RULES and item["level"] == BOUND:
            links.setdefault(item["instance"], item)
    for item in [i for i in items if i["rule"] in CLASS_RULES]:
        link = links.get((item.get("parts") or {}).get("dev"))
        if link is None:
            continue
        items.remove(item)
        numbers = dict((name.rsplit(".", 1)[-1], value) for name, value in item["numbers"].items())
        link.setdefault("classes_at_ceil", []).append(
            {"class": item["parts"].get("classid"), "util_pct": numbers.get("util_pct"),
             "ceil_kbit": numbers.get("ceil_kbit"), "drops_ps": numbers.get("drops_ps"),
             "backlog_kb": numbers.get("backlog_kb")})


def cpu_kind(stats):
    """'user' or 'kernel' for a CPU-bound verdict (which side burns the time); None if unknown."""
    if "cpu.user_pct" not in stats and "cpu.system_pct" not in stats:
        return None
    user = stats.get("cpu.user_pct", {}).get("mean", 0.0) + stats.get("cpu.nice_pct", {}).get("mean", 0.0)
    kernel = stats.get("cpu.system_pct", {}).get("mean", 0.0) + \
        stats.get("cpu.irq_softirq_pct", {}).get("mean", 0.0)
    return "kernel" if kernel > user else "user"


def headline(result, stats):
    """One line: 'CPU-bound (user)', 'several: memory, I/O', 'not resource-bound'."""
    verdict = result["verdict"]
    if verdict == "none":
        return "not resource-bound"
    names = []
    for resource in result["bound"]:
        text = RESOURCE_TITLE[resource] + "-bound"
        if resource == "cpu":
            steal = any(i["rule"] == "cpu.steal" and i["level"] == BOUND for i in result["items"])
            quota = any(i["rule"] == "cpu.quota" and i["level"] == BOUND for i in result["items"])
            kind = "steal" if steal and not quota else "quota" if quota else cpu_kind(stats)
            if kind:
                text += " (%s)" % kind
        names.append(text)
    if verdict == "several":
        return "several: " + ", ".join(names)
    return names[0]


# ---------------------------------------------------------------- watching a system

SNAPSHOT_NOTE = ("judged from one snapshot (no live sampling): pressure uses the kernel's 60 s "
                 "averages, the run queue the 1-minute load average; rates since boot are not judged")


def _memcg_label(directory):
    for marker in ("/memory/", "/unified/", "/cgroup/"):
        at = directory.find(marker)
        if at >= 0:
            return directory[at + len(marker):] or "/"
    return directory


def observe(sampler, duration, interval=1.0, sleep=None, progress=None, scan_cgroups=True):
    """Sample ``sampler`` for ``duration`` seconds, one sample per ``interval``.

    Returns {"samples": [metric maps], "window": sample over the whole
    window, "dstate": {pid: row}, "memcg": [rows], "seconds": float}.
    """
    sleep = sleep or time.sleep
    pfs = sampler.procfs
    first = sampler.snapshot()
    memtotal = (first.get("meminfo") or {}).get("MemTotal")
    host_bytes = memtotal * 1024 if memtotal else None
    memcg_first = sampler_cgroup.scan_memory(pfs, host_bytes) if scan_cgroups else {}
    prev = first
    samples = []
    dstate = {}
    steps = max(1, int(round(duration / float(interval))))
    start = first["mono"]
    for step in range(steps):
        delay = start + (step + 1) * interval - sampler.clock()
        if delay > 0:
            sleep(delay)
        cur = sampler.snapshot()
        sample = sampler.compute(prev, cur)
        derive(sample["metrics"], sample)
        samples.append(sample["metrics"])
        for row in sample.get("processes", []):
            if row["state"] == "D":
                seen = dstate.get(row["pid"])
                if seen is None:
                    seen = dict((k, row.get(k)) for k in ("pid", "comm", "cmdline", "wchan", "stack", "user"))
                    seen["samples"] = 0
                    dstate[row["pid"]] = seen
                seen["samples"] += 1
                if row.get("wchan"):
                    seen["wchan"] = row["wchan"]
                if row.get("stack"):
                    seen["stack"] = row["stack"]
        prev = cur  # the first snapshot is kept for the window; the ones between are dropped
        if progress:
            progress(step + 1, steps, sample)
    window = sampler.compute(first, prev)
    derive(window["metrics"], window)
    memcg_rows = []
    if scan_cgroups:
        memcg_last = sampler_cgroup.scan_memory(pfs, host_bytes)
        seconds = window.get("interval")
        memcg_rows = sampler_cgroup.compute_scan(memcg_first, memcg_last, seconds, host_bytes)
        for row in memcg_rows:
            row["cgroup"] = _memcg_label(row["dir"])
    return {"samples": samples, "window": window, "dstate": dstate, "memcg": memcg_rows,
            "seconds": window.get("interval"), "snapshot": False}


def observe_snapshot(sampler):
    """One snapshot (a captured tree under --root): gauges and kernel averages only."""
    cur = sampler.snapshot()
    window = sampler.compute(sampler.boot_snapshot(cur), cur)
    metrics = window["metrics"]
    judged = {}
    for name, value in metrics.items():
        family, _, leaf = metric_names.split(name)
        if family == "psi" and leaf and leaf.endswith("_avg60"):
            judged[name] = value
            judged[name.replace("_avg60", "_pct")] = value
        elif name in ("load1", "load5", "load15", "procs.blocked", "procs.dstate", "procs.zombie",
                      "cpu.count", "procs.total") or family in ("mem", "swap") and not name.endswith("_ps"):
            judged[name] = value
        elif family == "cgroup" and not name.endswith("_ps") and "usage_pct" not in name or \
                name == "cgroup.memory.usage_pct":
            judged[name] = value
    if "load1" in judged:
        judged["procs.running"] = judged["load1"]
    derive(judged)
    dstate = {}
    for row in window.get("processes", []):
        if row["state"] == "D":
            dstate[row["pid"]] = dict((k, row.get(k)) for k in ("pid", "comm", "cmdline", "wchan", "stack",
                                                                  "user"))
            dstate[row["pid"]]["samples"] = 1
    memtotal = metrics.get("mem.total_kb")
    memcg = sampler_cgroup.scan_memory(sampler.procfs, memtotal * 1024 if memtotal else None)
    rows = sampler_cgroup.compute_scan({}, memcg, None, memtotal * 1024 if memtotal else None)
    for row in rows:
        row["cgroup"] = _memcg_label(row["dir"])
    return {"samples": [judged], "window": window, "dstate": dstate, "memcg": rows, "seconds": None,
            "snapshot": True}


def _proc_brief(row, keys):
    out = {"pid": row["pid"], "comm": row["comm"], "user": row.get("user"), "state": row.get("state")}
    for key in keys:
        value = row.get(key)
        out[key] = round(value, 2) if isinstance(value, float) else value
    if row.get("cmdline"):
        out["cmdline"] = row["cmdline"]
    return out


def assess(observation, procfs=None, top_count=5):
    """The verdict with its evidence from an ``observe`` result."""
    stats = aggregate(observation["samples"])
    for row in observation.get("memcg", []):
        label = row["cgroup"]
        for key in ("usage_pct", "limit_kb", "usage_kb", "failcnt_ps", "refault_ps", "majfault_ps",
                    "psi_some_pct"):
            if row.get(key) is not None:
                value = row[key]
                stats["memcg.%s.%s" % (label, key)] = {"mean": float(value), "max": value, "min": value,
                                                       "sum": value, "last": value, "n": 1}
    result = judge(stats)
    window = observation["window"]
    rows = [r for r in window.get("processes", []) if not r.get("self")]
    if procfs is not None:
        wanted = sampler_procs.top(rows, "cpu", top_count) + sampler_procs.top(rows, "mem", top_count) + \
            sampler_procs.top(rows, "io", top_count) + sampler_procs.top(rows, "majflt", top_count)
        sampler_procs.fill_cmdline(procfs, wanted)
    top = {
        "cpu": [_proc_brief(r, ("cpu_pct", "usr_pct", "sys_pct", "threads"))
                for r in sampler_procs.top(rows, "cpu", top_count)],
        "memory": [_proc_brief(r, ("rss_kb", "mem_pct", "majflt_ps", "minflt_ps"))
                   for r in sampler_procs.top(rows, "mem", top_count)],
        "majflt": [_proc_brief(r, ("majflt_ps", "rss_kb"))
                   for r in sampler_procs.top(rows, "majflt", top_count)],
        "io": [_proc_brief(r, ("read_kbps", "write_kbps", "iodelay_ms_ps"))
               for r in sampler_procs.top(rows, "io", top_count)],
    }
    disks = sorted(sampler_disks.busy(window.get("disks", [])), key=lambda d: -(d.get("util_pct") or 0))
    top["disks"] = [dict((k, _round(v)) for k, v in d.items() if k != "partition") for d in disks[:top_count]]
    ifaces = [i for i in window.get("interfaces", []) if (i.get("rx_kbps") or 0) + (i.get("tx_kbps") or 0) > 0]
    ifaces.sort(key=lambda i: -max(i.get("rx_kbps") or 0, i.get("tx_kbps") or 0))
    top["interfaces"] = [dict((k, _round(v)) for k, v in i.items()) for i in ifaces[:top_count]]
    top["qdiscs"] = [dict((k, _round(v)) for k, v in q.items()) for q in window.get("qdiscs", [])
                     if q.get("rate_kbit") or (q.get("drops_ps") or 0) > 0]
    classes = [c for c in window.get("classes") or []
               if (c.get("kbit_ps") or 0) > 0 or (c.get("drops_ps") or 0) > 0]
    leaves = set(class_instance(c) for c in leaf_classes(window.get("classes") or []))
    classes.sort(key=lambda c: (class_instance(c) not in leaves, -(c.get("util_pct") or 0)))
    top["classes"] = [dict(_round(dict((k, v) for k, v in c.items() if v is not None)),
                           leaf=class_instance(c) in leaves) for c in classes[:top_count * 2]]
    memcg = sorted(observation.get("memcg", []), key=lambda r: -(r.get("usage_pct") or 0))
    for row in memcg:
        if procfs is not None and (row.get("usage_pct") or 0) >= 80:
            pids = sampler_cgroup.cgroup_pids(procfs, row["dir"])[:top_count]
            by_pid = dict((r["pid"], r) for r in rows)
            row["processes"] = [_proc_brief(by_pid[p], ("rss_kb", "majflt_ps", "cpu_pct", "read_kbps"))
                                for p in pids if p in by_pid]
    top["memcg"] = [dict((k, _round(v)) for k, v in r.items()) for r in memcg[:top_count]
                    if (r.get("usage_pct") or 0) >= 50 or (r.get("failcnt_ps") or 0) > 0]
    for item in result["items"]:
        item["responsible"] = _responsible(item, top, observation)
    result["headline"] = headline(result, stats)
    result["top"] = top
    result["dstate"] = sorted(observation.get("dstate", {}).values(), key=lambda r: (-r["samples"], r["pid"]))
    result["metrics"] = dict((name, _round(entry["mean"])) for name, entry in sorted(stats.items())
                             if not name.startswith("cpu.") or name.count(".") == 1)
    result["seconds"] = _round(observation.get("seconds"))
    result["samples"] = len(observation["samples"])
    result["snapshot"] = observation.get("snapshot", False)
    result["cgroup"] = _round(window.get("cgroup"))
    result["psi"] = window.get("psi")
    return result


def _responsible(item, top, observation):
    """What to blame for an item; "measure" names the field that ranked the processes."""
    resource = item["resource"]
    instance = item.get("instance")
    if resource == "cpu":
        return {"processes": top["cpu"][:3], "measure": "cpu_pct"}
    if resource == "memory":
        if instance is not None and item["rule"].startswith("memory.cgroup"):
            for row in top.get("memcg", []):
                if row.get("cgroup") == instance:
                    return {"cgroup": instance, "processes": row.get("processes", [])[:3], "measure": "rss_kb"}
            return {"cgroup": instance}
        if item["rule"] == "memory.thrashing" and top["io"]:
            # the page cache is thrashed by whoever reads the most
            return {"processes": top["io"][:3], "measure": "read_kbps"}
        faulting = [p for p in top["majflt"] if (p.get("majflt_ps") or 0) >= 1.0]
        if faulting:
            return {"processes": faulting[:3], "measure": "majflt_ps", "largest": top["memory"][:3]}
        return {"processes": top["memory"][:3], "measure": "rss_kb"}
    if resource == "io":
        out = {"processes": top["io"][:3], "measure": "io_kbps",
               "devices": [d["dev"] for d in top["disks"][:3]]}
        if instance is not None:
            out["devices"] = [instance]
        dstate = sorted(observation.get("dstate", {}).values(), key=lambda r: -r["samples"])
        if dstate:
            out["dstate"] = [{"pid": r["pid"], "comm": r["comm"], "wchan": r.get("wchan")} for r in dstate[:3]]
        return out
    if resource == "network":
        if item.get("parts", {}).get("classid"):
            return _class_evidence(item["parts"], observation)
        if instance is not None:
            return {"interfaces": [instance]}
        return {"interfaces": [i["if"] for i in top["interfaces"][:3]]}
    return {}


def _class_evidence(parts, observation):
    """The class, its parent and how full the parent is (from the window's class rows)."""
    dev, classid = parts.get("dev"), parts.get("classid")
    rows = dict((c.get("classid"), c) for c in (observation.get("window") or {}).get("classes") or []
                if c.get("dev") == dev)
    out = {"interfaces": [dev], "class": classid}
    row = rows.get(classid) or {}
    for key in ("kind", "rate_kbit", "ceil_kbit"):
        if row.get(key) is not None:
            out[key] = _round(row[key])
    parent = rows.get(row.get("parent"))
    if row.get("parent"):
        out["parent"] = {"class": row["parent"]}
        if parent:
            for key in ("util_pct", "ceil_kbit", "kbit_ps"):
                if parent.get(key) is not None:
                    out["parent"][key] = _round(parent[key])
    out["next"] = "tc -s filter show dev %s" % dev
    return out
