"""perfcollect snapshots: what a person would type in the minute a problem trips.

``capture(...)`` returns ``{file name: text}`` plus an index; the recorder
writes them into ``snapshots/<stamp>-<n>/`` inside the budget.  Files:

    index.json     trigger, time, per-file status ("ok" / "not available: why")
    ps.txt         every process: pid, ppid, user, state, %cpu, rss, threads, wchan, command
    dstate.txt     every task (thread) in D state with wchan and, as root, its kernel stack
    top.txt        the top processes by CPU, memory and I/O of the last interval
    meminfo.txt vmstat.txt slabinfo.txt (root) interrupts.txt softirqs.txt pressure.txt
    loadavg.txt buddyinfo.txt mounts.txt
    dmesg-tail.txt the last kernel messages
    sockets.txt    TCP sockets with the longest queues and the count per state

Everything is read through ``procfs`` and the shared runner; a process that
vanishes while it is read is skipped; a file that cannot be read is listed
as not available with the reason, never written empty.
"""

import collections

from . import sampler_procs, timeparse
from .procfs import page_size, parse_pid_stat

FILE_CAP = 4 * 1024 * 1024
DMESG_TAIL = 300
SOCKET_ROWS = 100

_PROC_FILES = (
    ("meminfo.txt", "proc/meminfo"), ("vmstat.txt", "proc/vmstat"), ("slabinfo.txt", "proc/slabinfo"),
    ("interrupts.txt", "proc/interrupts"), ("softirqs.txt", "proc/softirqs"),
    ("loadavg.txt", "proc/loadavg"), ("buddyinfo.txt", "proc/buddyinfo"),
    ("mounts.txt", "proc/self/mounts"),
)

_TCP_STATES = {"01": "ESTAB", "02": "SYN-SENT", "03": "SYN-RECV", "04": "FIN-WAIT-1", "05": "FIN-WAIT-2",
               "06": "TIME-WAIT", "07": "CLOSE", "08": "CLOSE-WAIT", "09": "LAST-ACK", "0A": "LISTEN",
               "0B": "CLOSING", "0C": "NEW-SYN-RECV"}


def _cap(text):
    if text is not None and len(text) > FILE_CAP:
        return text[:FILE_CAP] + "\n[cut at %d bytes]\n" % FILE_CAP
    return text


def _proc_file(pfs, relative):
    text = pfs.read(relative)
    if text is None:
        if relative in pfs.denied:
            return None, "not available: permission denied (run as root)"
        return None, "not available: /%s missing" % relative
    return text, "ok"


def _users(pfs):
    return sampler_procs.read_users(pfs)


def process_table(pfs, rows=None, users=None):
    """ps-like text of every process; ``rows`` (the last sample's) supply %CPU."""
    users = users if users is not None else _users(pfs)
    cpu = dict((r["pid"], r.get("cpu_pct")) for r in (rows or []))
    lines = ["%7s %7s %-10s %1s %6s %9s %4s %-22s %s" % ("PID", "PPID", "USER", "S", "%CPU", "RSS_KB", "THR",
                                                          "WCHAN", "COMMAND")]
    page_kb = max(1, _page_kb())
    count = 0
    for pid in pfs.pids():
        stat = pfs.pid_stat(pid)
        if stat is None:
            continue  # gone between the listing and the read
        status = pfs.pid_status(pid)
        uid = None
        if status.get("Uid"):
            try:
                uid = int(status["Uid"].split()[0])
            except (ValueError, IndexError):
                uid = None
        user = users.get(uid, str(uid) if uid is not None else "?")
        wchan = (pfs.read("proc/%d/wchan" % pid) or "").strip()
        if wchan in ("", "0"):
            wchan = "-"
        words = pfs.pid_cmdline(pid)
        command = " ".join(words) if words else "[%s]" % stat.get("comm", "?")
        value = cpu.get(pid)
        lines.append("%7d %7s %-10s %1s %6s %9s %4s %-22s %s" % (
            pid, stat.get("ppid", "?"), user[:10], stat.get("state", "?"),
            "-" if value is None else "%.1f" % value,
            (stat.get("rss") or 0) * page_kb, stat.get("num_threads", "?"), wchan[:22], command[:400]))
        count += 1
    return "\n".join(lines) + "\n", count


def _page_kb():
    return page_size() // 1024


def dstate_tasks(pfs):
    """Every task (thread) in D state: text with wchan and kernel stack (root)."""
    blocks = []
    denied = False
    for pid in pfs.pids():
        for tid_name in pfs.listdir("proc/%d/task" % pid):
            if not tid_name.isdigit():
                continue
            base = "proc/%d/task/%s" % (pid, tid_name)
            text = pfs.read(base + "/stat")
            if not text:
                continue
            stat = parse_pid_stat(text)
            if not stat or stat.get("state") != "D":
                continue
            wchan = (pfs.read(base + "/wchan") or "").strip() or "-"
            stack = pfs.read(base + "/stack")
            if stack is None and (base + "/stack") in pfs.denied:
                denied = True
            block = ["pid %d tid %s (%s) wchan %s" % (pid, tid_name, stat.get("comm"), wchan)]
            if stack:
                block.extend("    " + line for line in stack.splitlines())
            elif stack is None:
                block.append("    (kernel stack not readable%s)" % (": run as root" if denied else ""))
            blocks.append("\n".join(block))
    header = "%d task(s) in D state (uninterruptible sleep)\n" % len(blocks)
    if denied:
        header += "kernel stacks need root (/proc/<pid>/stack)\n"
    return header + ("\n" if blocks else "") + "\n\n".join(blocks) + ("\n" if blocks else ""), len(blocks)


def top_text(rows, count=15):
    out = []
    for key, label in (("cpu", "by CPU"), ("mem", "by resident memory"), ("io", "by disk I/O")):
        chosen = sampler_procs.top(rows or [], key, count)
        out.append("top processes %s:" % label)
        out.append("%7s %-10s %1s %7s %10s %9s %9s  %s" % ("PID", "USER", "S", "%CPU", "RSS_KB", "RD_KB/s",
                                                         "WR_KB/s", "COMMAND"))
        for r in chosen:
            out.append("%7d %-10s %1s %7s %10s %9s %9s  %s" % (
                r["pid"], (r.get("user") or "?")[:10], r.get("state", "?"), _f(r.get("cpu_pct")),
                r.get("rss_kb", "-"), _f(r.get("read_kbps")), _f(r.get("write_kbps")),
                (r.get("cmdline") or r.get("comm") or "?")[:200]))
        if not chosen:
            out.append("  (none active)")
        out.append("")
    return "\n".join(out)


def _f(value):
    return "-" if value is None else "%.1f" % value


def dmesg_tail(run, kmsg_lines=None, count=DMESG_TAIL):
    """The last kernel messages: dmesg through the runner, else /dev/kmsg, else what we recorded."""
    if run is not None:
        result = run(["dmesg"], timeout=20, cap=32 * 1024 * 1024)
        if result.ok and result.stdout.strip():
            return "\n".join(result.stdout.splitlines()[-count:]) + "\n", "ok"
        why = "dmesg %s" % result.status
    else:
        why = "no runner"
    try:
        from . import kernelreport
        lines = kernelreport.read_kmsg()
    except ImportError:
        lines = None
    if lines:
        return "\n".join(lines[-count:]) + "\n", "ok"
    if kmsg_lines:
        return "\n".join(list(kmsg_lines)[-count:]) + "\n", "ok (messages recorded since the start)"
    return None, "not available: %s and /dev/kmsg unreadable (run as root, or sysctl " \
                 "kernel.dmesg_restrict=0)" % why


def _parse_ss(text):
    rows = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) < 5:
            continue
        try:
            recv_q, send_q = int(words[1]), int(words[2])
        except ValueError:
            continue
        rows.append((recv_q + send_q, words[0], line))
    return rows


def _proc_net_tcp(pfs):
    rows = []
    for name in ("proc/net/tcp", "proc/net/tcp6"):
        for line in pfs.lines(name)[1:]:
            words = line.split()
            if len(words) < 10:
                continue
            try:
                tx_q, rx_q = (int(v, 16) for v in words[4].split(":"))
            except ValueError:
                continue
            state = _TCP_STATES.get(words[3], words[3])
            text = "%-11s %8d %8d %-45s %-45s uid=%s" % (state, rx_q, tx_q, words[1], words[2], words[7])
            rows.append((rx_q + tx_q, state, text))
    return rows


def sockets(pfs, run):
    """TCP sockets with the longest queues, plus the count per state."""
    rows = None
    origin = None
    if run is not None:
        result = run(["ss", "-tanpi"], timeout=15, cap=64 * 1024 * 1024)
        if result.ok:
            # -i adds a second line per socket; keep the socket lines only
            lines = [line for line in result.stdout.splitlines() if line and not line.startswith(("\t", " "))]
            rows = _parse_ss("\n".join(lines))
            origin = "ss -tanp"
    if rows is None:
        rows = _proc_net_tcp(pfs)
        origin = "/proc/net/tcp, /proc/net/tcp6 (ss not available)"
        if not rows and not pfs.exists("proc/net/tcp"):
            return None, "not available: ss missing and /proc/net/tcp unreadable"
    states = collections.Counter(row[1] for row in rows)
    rows.sort(key=lambda row: -row[0])
    out = ["from %s: %d TCP sockets" % (origin, len(rows)),
           "per state: " + ", ".join("%s %d" % item for item in sorted(states.items())), "",
           "the %d with the longest queues (Recv-Q + Send-Q):" % min(SOCKET_ROWS, len(rows))]
    out.extend(row[2] for row in rows[:SOCKET_ROWS])
    return "\n".join(out) + "\n", "ok"


def capture(pfs, run, rows=None, kmsg_lines=None, when=None, trigger=None, detail=None, utc=False):
    """(files {name: text}, index dict) for one trigger trip."""
    files = collections.OrderedDict()
    status = collections.OrderedDict()

    def put(name, text, state):
        status[name] = state
        if text is not None:
            files[name] = _cap(text)

    try:
        users = _users(pfs)
        text, count = process_table(pfs, rows, users)
        put("ps.txt", text, "ok (%d processes)" % count)
    except Exception as error:  # a snapshot must never take the recorder down
        put("ps.txt", None, "not available: %s" % error)
    try:
        text, count = dstate_tasks(pfs)
        put("dstate.txt", text, "ok (%d tasks)" % count)
    except Exception as error:
        put("dstate.txt", None, "not available: %s" % error)
    if rows:
        put("top.txt", top_text(rows), "ok")
    for name, relative in _PROC_FILES:
        text, state = _proc_file(pfs, relative)
        put(name, text, state)
    pressure = []
    for res in ("cpu", "memory", "io", "irq"):
        text = pfs.read("proc/pressure/" + res)
        if text:
            pressure.append("%s:\n%s" % (res, text.rstrip("\n")))
    put("pressure.txt", "\n".join(pressure) + "\n" if pressure else None,
        "ok" if pressure else "not available: no /proc/pressure (kernel before 4.20 or psi=0)")
    text, state = dmesg_tail(run, kmsg_lines)
    put("dmesg-tail.txt", text, state)
    try:
        text, state = sockets(pfs, run)
    except Exception as error:
        text, state = None, "not available: %s" % error
    put("sockets.txt", text, state)
    index = {"time": when, "time_text": timeparse.format_time(when, utc) if when else None,
             "trigger": trigger, "detail": detail, "files": status}
    return files, index
