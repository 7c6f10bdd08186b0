"""The metric names and units every rescuekit sampler speaks.

One vocabulary for ``procstat --json``, perfcollect's records and
triggers, report's charts and triage's rules.  A metric name is dotted:
``family[.instance].leaf`` -- ``load1``, ``cpu.user_pct``,
``cpu.3.user_pct`` (CPU 3), ``disk.sda.await_ms``, ``net.eth0.rx_kbps``,
``psi.io.some_avg10``.  The instance (a CPU number, a kernel device name, an
interface name) may itself contain dots (``net.eth0.100.rx_kbps`` for a
VLAN), so split names with ``split()``, never with ``str.split('.')``.

Unit suffixes say what a number is: ``_pct`` percent (0-100, of the
interval or of a total), ``_ps`` events per second, ``_kbps`` KiB per
second (kB/s as sysstat prints it, 1024 bytes), ``_kb`` KiB, ``_ms``
milliseconds, ``_mbps`` megabits per second (link speeds), no suffix a count
or gauge.  Rates are averages over the sample's interval; gauges are the
value at the end of it.

``METRICS`` is the table (name pattern, unit, description, source); the
man pages of procstat and perfcollect print it with ``describe_all()``.
Alternate spellings used in trigger expressions (``mem_available_pct``,
``disk:sda:await_ms``, ``psi_io_some_avg10``) resolve to the dotted name
with ``canonical()``.
"""

import re

# (pattern, unit, description, source).  <cpu>, <dev>, <if>, <res>, <kind>
# stand for an instance; everything else is literal.
METRICS = (
    # ---- load and scheduler
    ("load1", "tasks", "1-minute load average", "/proc/loadavg"),
    ("load5", "tasks", "5-minute load average", "/proc/loadavg"),
    ("load15", "tasks", "15-minute load average", "/proc/loadavg"),
    ("procs.running", "tasks", "runnable tasks (vmstat r), the sampler itself excluded", "/proc/stat procs_running"),
    ("procs.blocked", "tasks", "tasks blocked on I/O (vmstat b)", "/proc/stat procs_blocked"),
    ("procs.total", "tasks", "threads that exist", "/proc/loadavg"),
    ("procs.forks_ps", "1/s", "processes and threads created", "/proc/stat processes"),
    ("procs.dstate", "tasks", "processes in uninterruptible sleep (D) when sampled", "/proc/<pid>/stat"),
    ("procs.zombie", "tasks", "zombie processes when sampled", "/proc/<pid>/stat"),
    ("system.intr_ps", "1/s", "interrupts", "/proc/stat intr"),
    ("system.cswch_ps", "1/s", "context switches", "/proc/stat ctxt"),
    # ---- CPU, all CPUs together and per CPU (guest time is inside user/nice in
    #      /proc/stat; here user and nice exclude it, as mpstat does)
    ("cpu.count", "CPUs", "online CPUs", "/proc/stat"),
    ("cpu.user_pct", "%", "user time, guest excluded (mpstat %usr)", "/proc/stat"),
    ("cpu.nice_pct", "%", "user time at positive nice, guest_nice excluded", "/proc/stat"),
    ("cpu.system_pct", "%", "kernel time (mpstat %sys)", "/proc/stat"),
    ("cpu.iowait_pct", "%", "idle with I/O outstanding", "/proc/stat"),
    ("cpu.irq_pct", "%", "hard interrupt time", "/proc/stat"),
    ("cpu.softirq_pct", "%", "soft interrupt time", "/proc/stat"),
    ("cpu.steal_pct", "%", "time the hypervisor gave to someone else", "/proc/stat"),
    ("cpu.guest_pct", "%", "running a virtual CPU for a guest", "/proc/stat"),
    ("cpu.guest_nice_pct", "%", "running a niced guest", "/proc/stat"),
    ("cpu.idle_pct", "%", "idle", "/proc/stat"),
    ("cpu.busy_pct", "%", "100 - idle - iowait - steal", "/proc/stat"),
    ("cpu.<cpu>.<field>_pct", "%", "the same fields for one CPU (mpstat -P ALL)", "/proc/stat cpuN"),
    # ---- memory (KiB gauges from /proc/meminfo)
    ("mem.total_kb", "KiB", "MemTotal", "/proc/meminfo"),
    ("mem.free_kb", "KiB", "MemFree (unused; not what is available)", "/proc/meminfo"),
    ("mem.available_kb", "KiB", "MemAvailable: what can be had without swapping", "/proc/meminfo"),
    ("mem.available_pct", "%", "MemAvailable of MemTotal", "/proc/meminfo"),
    ("mem.buffers_kb", "KiB", "Buffers", "/proc/meminfo"),
    ("mem.cached_kb", "KiB", "page cache: Cached + SReclaimable (free's buff/cache minus Buffers)",
     "/proc/meminfo"),
    ("mem.dirty_kb", "KiB", "Dirty", "/proc/meminfo"),
    ("mem.writeback_kb", "KiB", "Writeback", "/proc/meminfo"),
    ("mem.anon_kb", "KiB", "AnonPages", "/proc/meminfo"),
    ("mem.shmem_kb", "KiB", "Shmem (tmpfs, shared memory)", "/proc/meminfo"),
    ("mem.slab_kb", "KiB", "Slab", "/proc/meminfo"),
    ("mem.slab_unreclaim_kb", "KiB", "SUnreclaim", "/proc/meminfo"),
    ("mem.commit_pct", "%", "Committed_AS of CommitLimit", "/proc/meminfo"),
    ("mem.oom_kills", "kills", "OOM kills during the interval", "/proc/vmstat oom_kill"),
    ("swap.total_kb", "KiB", "SwapTotal", "/proc/meminfo"),
    ("swap.used_kb", "KiB", "SwapTotal - SwapFree", "/proc/meminfo"),
    ("swap.used_pct", "%", "swap used of swap total", "/proc/meminfo"),
    ("swap.in_kbps", "KiB/s", "swapped in (vmstat si)", "/proc/vmstat pswpin"),
    ("swap.out_kbps", "KiB/s", "swapped out (vmstat so)", "/proc/vmstat pswpout"),
    # ---- paging and reclaim (sar -B)
    ("page.in_kbps", "KiB/s", "paged in from block devices (vmstat bi)", "/proc/vmstat pgpgin"),
    ("page.out_kbps", "KiB/s", "paged out to block devices (vmstat bo)", "/proc/vmstat pgpgout"),
    ("page.fault_ps", "1/s", "page faults, minor and major", "/proc/vmstat pgfault"),
    ("page.majfault_ps", "1/s", "major faults (needed I/O)", "/proc/vmstat pgmajfault"),
    ("page.scan_ps", "pages/s", "pages scanned for reclaim, all reclaimers", "/proc/vmstat pgscan_*"),
    ("page.scan_kswapd_ps", "pages/s", "pages scanned by kswapd (background reclaim)", "/proc/vmstat"),
    ("page.scan_direct_ps", "pages/s", "pages scanned by tasks reclaiming themselves, cgroup limit "
     "reclaim included (stalls)", "/proc/vmstat"),
    ("page.steal_ps", "pages/s", "pages reclaimed", "/proc/vmstat pgsteal_*"),
    ("page.vmeff_pct", "%", "pages reclaimed of pages scanned (sar -B %vmeff)", "/proc/vmstat"),
    ("page.refault_ps", "pages/s", "evicted pages needed again (thrashing)",
     "/proc/vmstat workingset_refault*"),
    # ---- pressure stall information (kernel 4.20+, when enabled)
    ("psi.<res>.some_avg10", "%", "share of time some task stalled on <res> (cpu, memory, io, irq), "
     "kernel's 10 s average; also _avg60, _avg300", "/proc/pressure/<res>"),
    ("psi.<res>.full_avg10", "%", "share of time all non-idle tasks stalled; also _avg60, _avg300",
     "/proc/pressure/<res>"),
    ("psi.<res>.some_pct", "%", "share of the sampling interval some task stalled (from total)",
     "/proc/pressure/<res>"),
    ("psi.<res>.full_pct", "%", "share of the sampling interval all tasks stalled (from total)",
     "/proc/pressure/<res>"),
    # ---- disks (iostat -x), <dev> is the kernel name: sda, nvme0n1, dm-0, md0
    ("disk.<dev>.r_ps", "1/s", "reads completed", "/proc/diskstats"),
    ("disk.<dev>.w_ps", "1/s", "writes completed", "/proc/diskstats"),
    ("disk.<dev>.d_ps", "1/s", "discards completed", "/proc/diskstats"),
    ("disk.<dev>.rkb_ps", "KiB/s", "read", "/proc/diskstats"),
    ("disk.<dev>.wkb_ps", "KiB/s", "written", "/proc/diskstats"),
    ("disk.<dev>.rrqm_ps", "1/s", "read requests merged", "/proc/diskstats"),
    ("disk.<dev>.wrqm_ps", "1/s", "write requests merged", "/proc/diskstats"),
    ("disk.<dev>.r_await_ms", "ms", "average read time, queue included", "/proc/diskstats"),
    ("disk.<dev>.w_await_ms", "ms", "average write time, queue included", "/proc/diskstats"),
    ("disk.<dev>.await_ms", "ms", "average time of reads and writes together", "/proc/diskstats"),
    ("disk.<dev>.areq_kb", "KiB", "average request size", "/proc/diskstats"),
    ("disk.<dev>.aqu_sz", "requests", "average queue length (aqu-sz)", "/proc/diskstats"),
    ("disk.<dev>.util_pct", "%", "time with I/O in flight (%util; a device serving requests in "
     "parallel can be far from saturated at 100)", "/proc/diskstats"),
    ("disk.<dev>.inflight", "requests", "requests in flight when sampled", "/proc/diskstats"),
    # ---- network (sar -n DEV / EDEV), <if> is the interface name
    ("net.<if>.rx_kbps", "KiB/s", "received", "/proc/net/dev"),
    ("net.<if>.tx_kbps", "KiB/s", "transmitted", "/proc/net/dev"),
    ("net.<if>.rx_pps", "packets/s", "packets received", "/proc/net/dev"),
    ("net.<if>.tx_pps", "packets/s", "packets transmitted", "/proc/net/dev"),
    ("net.<if>.rx_errs_ps", "1/s", "receive errors", "/proc/net/dev"),
    ("net.<if>.tx_errs_ps", "1/s", "transmit errors", "/proc/net/dev"),
    ("net.<if>.rx_drop_ps", "1/s", "received packets dropped", "/proc/net/dev"),
    ("net.<if>.tx_drop_ps", "1/s", "packets dropped before transmission", "/proc/net/dev"),
    ("net.<if>.rx_fifo_ps", "1/s", "receive FIFO overruns", "/proc/net/dev"),
    ("net.<if>.tx_fifo_ps", "1/s", "transmit FIFO errors", "/proc/net/dev"),
    ("net.<if>.coll_ps", "1/s", "collisions", "/proc/net/dev"),
    ("net.<if>.speed_mbps", "Mbit/s", "link speed as the driver reports it (virtual links report "
     "a nominal value)", "/sys/class/net/<if>/speed"),
    ("net.<if>.util_pct", "%", "busier direction of the link against its speed (sar %ifutil)",
     "/proc/net/dev + speed"),
    ("net.<if>.qdisc_rate_kbit", "kbit/s", "rate configured on the interface's shaping qdisc (tbf, "
     "htb, cake, ...)", "tc -s qdisc"),
    ("net.<if>.qdisc_util_pct", "%", "transmitted against the configured qdisc rate", "tc -s qdisc"),
    ("net.<if>.qdisc_drops_ps", "1/s", "packets the qdisc dropped", "tc -s qdisc"),
    ("net.<if>.qdisc_overlimits_ps", "1/s", "times the qdisc held packets back over its rate",
     "tc -s qdisc"),
    ("net.<if>.qdisc_backlog_kb", "KiB", "bytes queued in the qdisc when sampled", "tc -s qdisc"),
    ("net.<if>.class_<class>_rate_kbit", "kbit/s", "rate guaranteed to a shaping class (htb rate; "
     "<class> is the class id with _ for :, 1_10 for 1:10)", "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_ceil_kbit", "kbit/s", "most the class may send, borrowing included (htb ceil)",
     "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_kbit_ps", "kbit/s", "sent through the class", "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_util_pct", "%", "sent against the class's ceiling (its rate without one)",
     "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_drops_ps", "1/s", "packets the class dropped", "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_overlimits_ps", "1/s", "times the class held packets back over its rate",
     "tc -s class show dev <if>"),
    ("net.<if>.class_<class>_backlog_kb", "KiB", "bytes queued in the class when sampled",
     "tc -s class show dev <if>"),
    # ---- TCP and UDP
    ("tcp.in_segs_ps", "1/s", "segments received", "/proc/net/snmp"),
    ("tcp.out_segs_ps", "1/s", "segments sent", "/proc/net/snmp"),
    ("tcp.retrans_ps", "1/s", "segments retransmitted", "/proc/net/snmp"),
    ("tcp.retrans_pct", "%", "retransmitted of segments sent", "/proc/net/snmp"),
    ("tcp.active_opens_ps", "1/s", "connections opened (connect)", "/proc/net/snmp"),
    ("tcp.passive_opens_ps", "1/s", "connections accepted", "/proc/net/snmp"),
    ("tcp.attempt_fails_ps", "1/s", "connection attempts failed", "/proc/net/snmp"),
    ("tcp.estab_resets_ps", "1/s", "established connections reset", "/proc/net/snmp"),
    ("tcp.in_errs_ps", "1/s", "bad segments received", "/proc/net/snmp"),
    ("tcp.estab", "connections", "connections established", "/proc/net/snmp CurrEstab"),
    ("tcp.listen_overflows_ps", "1/s", "accept queue overflows (the application is not accepting "
     "fast enough)", "/proc/net/netstat"),
    ("tcp.listen_drops_ps", "1/s", "SYNs dropped at listening sockets", "/proc/net/netstat"),
    ("tcp.timeouts_ps", "1/s", "retransmission timeouts", "/proc/net/netstat"),
    ("udp.in_ps", "1/s", "datagrams received", "/proc/net/snmp"),
    ("udp.out_ps", "1/s", "datagrams sent", "/proc/net/snmp"),
    ("udp.rcvbuf_errors_ps", "1/s", "datagrams dropped: receive buffer full", "/proc/net/snmp"),
    ("udp.no_ports_ps", "1/s", "datagrams to a port nobody listens on", "/proc/net/snmp"),
    ("softnet.processed_ps", "packets/s", "packets handled by the receive softirq", "/proc/net/softnet_stat"),
    ("softnet.dropped_ps", "packets/s", "packets dropped: backlog queue full (netdev_max_backlog)",
     "/proc/net/softnet_stat"),
    ("softnet.squeezed_ps", "1/s", "receive softirq ran out of budget with work left "
     "(netdev_budget)", "/proc/net/softnet_stat"),
    # ---- the cgroup this program runs in (a container's limits)
    ("cgroup.cpu.quota_cpus", "CPUs", "CPU quota (cfs_quota/period or cpu.max); absent when unlimited",
     "cgroup cpu controller"),
    ("cgroup.cpu.usage_pct", "%", "CPU used by the cgroup of its quota (or of all CPUs)",
     "cpuacct.usage / cpu.stat"),
    ("cgroup.cpu.throttled_pct", "%", "scheduling periods in which the cgroup was throttled",
     "cpu.stat"),
    ("cgroup.memory.limit_kb", "KiB", "memory limit; absent when unlimited",
     "memory.limit_in_bytes / memory.max"),
    ("cgroup.memory.usage_kb", "KiB", "memory charged to the cgroup, page cache included",
     "memory.usage_in_bytes / memory.current"),
    ("cgroup.memory.usage_pct", "%", "usage of the limit", "cgroup memory controller"),
    ("memcg.<cgroup>.usage_pct", "%", "(triage) a memory cgroup with a limit of its own: usage of "
     "its limit; also limit_kb, usage_kb, failcnt_ps, refault_ps, majfault_ps, psi_some_pct (v2)",
     "memory cgroup files"),
    ("cgroup.memory.failcnt_ps", "1/s", "times the limit was hit (v1 failcnt, v2 events max)",
     "memory.failcnt / memory.events"),
)

# Per-process rows (procstat -p, perfcollect's top processes, triage's culprits).
PROCESS_FIELDS = (
    ("pid", "", "process id"),
    ("ppid", "", "parent process id"),
    ("user", "", "owner (numeric when the name is unknown)"),
    ("comm", "", "command name (/proc/<pid>/comm)"),
    ("cmdline", "", "command line, shortened"),
    ("state", "", "R running, S sleeping, D uninterruptible (usually I/O), Z zombie, T stopped"),
    ("cpu_pct", "%", "CPU used, of one CPU (pidstat %CPU; 200 = two CPUs busy)"),
    ("usr_pct", "%", "user time"),
    ("sys_pct", "%", "kernel time"),
    ("rss_kb", "KiB", "resident memory"),
    ("vsz_kb", "KiB", "virtual size"),
    ("mem_pct", "%", "RSS of MemTotal"),
    ("minflt_ps", "1/s", "minor faults"),
    ("majflt_ps", "1/s", "major faults (needed I/O)"),
    ("read_kbps", "KiB/s", "read from storage (/proc/<pid>/io read_bytes; root or own processes)"),
    ("write_kbps", "KiB/s", "written to storage (write_bytes)"),
    ("iodelay_ms_ps", "ms/s", "time waiting for block I/O (delay accounting, when the kernel keeps it)"),
    ("cswch_ps", "1/s", "voluntary context switches (waits)"),
    ("nvcswch_ps", "1/s", "involuntary context switches (preempted)"),
    ("threads", "", "threads"),
    ("wchan", "", "kernel function a sleeping task waits in"),
    ("stack", "", "head of /proc/<pid>/stack (root only), for D-state tasks"),
)

_UNIT_SUFFIXES = (
    ("_pct", "%"), ("_kbps", "KiB/s"), ("_mbps", "Mbit/s"), ("_kbit", "kbit/s"), ("_pps", "packets/s"),
    ("_ps", "1/s"), ("_kb", "KiB"), ("_ms", "ms"),
)

_PLACEHOLDER = re.compile(r"<[a-z]+>")


def _pattern_regex(pattern):
    parts = []
    for piece in re.split(r"(<[a-z]+>)", pattern):
        if not piece:
            continue
        if _PLACEHOLDER.match(piece):
            parts.append(r"(.+)" if piece != "<field>" else r"([a-z_]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


_COMPILED = []


def _table():
    if not _COMPILED:
        for row in METRICS:
            _COMPILED.append((_pattern_regex(row[0]), row))
    return _COMPILED


def lookup(name):
    """The METRICS row describing ``name`` (an instance name), or None."""
    name = canonical(name)
    for regex, row in _table():
        if regex.match(name):
            return row
    if name.startswith("psi."):
        # _avg60/_avg300 variants are documented with _avg10.
        base = re.sub(r"_avg(60|300)$", "_avg10", name)
        if base != name:
            return lookup(base)
    return None


def unit(name):
    """Unit of a metric name: from the table, else from its suffix; '' if unknown."""
    row = lookup(name)
    if row:
        return row[1]
    for suffix, text in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return text
    return ""


def known(name):
    return lookup(name) is not None


_FAMILIES_WITH_INSTANCE = ("cpu", "disk", "net", "psi")


def split(name):
    """('disk', 'sda', 'await_ms') / ('load1', None, None) / ('cpu', None, 'user_pct').

    family is the first dotted word, leaf the last, instance what lies
    between (which may contain dots).
    """
    name = canonical(name)
    if "." not in name:
        return (name, None, None)
    family, rest = name.split(".", 1)
    if "." not in rest:
        return (family, None, rest)
    instance, leaf = rest.rsplit(".", 1)
    return (family, instance, leaf)


def join(family, instance, leaf):
    return ".".join(part for part in (family, instance, leaf) if part not in (None, ""))


_SIMPLE_FAMILIES = ("cpu", "mem", "swap", "page", "procs", "system", "tcp", "udp", "softnet")
_INSTANCE_FAMILIES = ("disk", "net")
_PSI = re.compile(r"^psi[._:](cpu|memory|io|irq)[._:](some|full)_(avg10|avg60|avg300|pct)$")
_CGROUP = re.compile(r"^cgroup[._:](cpu|memory)[._:](.+)$")


def canonical(name):
    """Accept the spellings people type in triggers; return the dotted name.

    ``mem_available_pct`` -> ``mem.available_pct``; ``disk:sda:await_ms``
    -> ``disk.sda.await_ms``; ``psi_io_some_avg10`` -> ``psi.io.some_avg10``;
    ``iowait_pct`` -> ``cpu.iowait_pct``; ``dstate`` -> ``procs.dstate``.
    Dotted names come back unchanged.
    """
    text = str(name).strip()
    if not text:
        return text
    if ":" in text and text.split(":", 1)[0] in _INSTANCE_FAMILIES:
        family, rest = text.split(":", 1)
        instance, _, leaf = rest.rpartition(":")
        return join(family, instance, leaf)
    match = _PSI.match(text)
    if match:
        return "psi.%s.%s_%s" % match.groups()
    match = _CGROUP.match(text)
    if match and "." not in match.group(2):
        return "cgroup.%s.%s" % match.groups()
    if "." in text:
        return text
    aliases = {"dstate": "procs.dstate", "zombies": "procs.zombie", "runq": "procs.running",
               "blocked": "procs.blocked", "iowait_pct": "cpu.iowait_pct", "steal_pct": "cpu.steal_pct"}
    if text in aliases:
        return aliases[text]
    family, sep, leaf = text.partition("_")
    if sep and family in _SIMPLE_FAMILIES and leaf:
        return family + "." + leaf
    if text.endswith("_pct") and ("cpu." + text) in _simple_names():
        return "cpu." + text
    return text


def _simple_names():
    return set(row[0] for row in METRICS if "<" not in row[0])


def describe_all(width=78):
    """The table as text lines (name, unit, description), for man pages and --help."""
    lines = []
    for name, unit_text, description, source in METRICS:
        lines.append("%-28s %-9s %s [%s]" % (name, unit_text, description, source))
    return "\n".join(lines) + "\n"


def format_value(name, value):
    """A metric value as sysstat would print it (2 decimals for rates, ints for KiB)."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if name.endswith("_kb") or name.endswith("_kbit"):
        return "%.0f" % value
    return "%.2f" % value
