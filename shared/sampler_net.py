"""Network (sar -n DEV / EDEV / TCP / ETCP, softnet, qdiscs) from /proc/net and /sys/class/net.

/proc/net/* describes the network namespace of the reader; a captured
tree holds the namespace it was captured from.  Link speed comes from
``/sys/class/net/<if>/speed`` (absent or -1 when unknown).  Virtual links
(veth, bridges, tun, bonds without a ``device`` link) report a nominal
speed, so their utilisation is marked ``nominal`` and triage judges them
by the rate configured on their shaping qdisc (``tc -s qdisc``), its
backlog, overlimits and drops instead.
"""

import re

from .sampler_base import counter_delta

DEV_FIELDS = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame", "rx_compressed",
              "rx_multicast", "tx_bytes", "tx_packets", "tx_errs", "tx_drop", "tx_fifo", "tx_colls",
              "tx_carrier", "tx_compressed")

SNMP_TCP = {"InSegs": "in_segs", "OutSegs": "out_segs", "RetransSegs": "retrans", "ActiveOpens": "active_opens",
            "PassiveOpens": "passive_opens", "AttemptFails": "attempt_fails", "EstabResets": "estab_resets",
            "InErrs": "in_errs", "CurrEstab": "estab"}
SNMP_UDP = {"InDatagrams": "in", "OutDatagrams": "out", "RcvbufErrors": "rcvbuf_errors", "NoPorts": "no_ports"}
NETSTAT_TCP = {"ListenOverflows": "listen_overflows", "ListenDrops": "listen_drops",
               "TCPTimeouts": "timeouts"}


def parse_net_dev(text):
    """/proc/net/dev -> {ifname: {field: int}}."""
    result = {}
    for line in (text or "").splitlines():
        if ":" not in line or "|" in line:
            continue
        name, _, rest = line.partition(":")
        name = name.strip()
        words = rest.split()
        if not name or len(words) < 16:
            continue
        try:
            result[name] = dict(zip(DEV_FIELDS, (int(w) for w in words[:16])))
        except ValueError:
            continue
    return result


def parse_pairs(text):
    """/proc/net/snmp or netstat: header/value line pairs -> {"Tcp": {"InSegs": n}}."""
    result = {}
    lines = (text or "").splitlines()
    for head, values in zip(lines[::2], lines[1::2]):
        names = head.split()
        numbers = values.split()
        if not names or not numbers or names[0] != numbers[0]:
            continue
        section = {}
        for key, value in zip(names[1:], numbers[1:]):
            try:
                section[key] = int(value)
            except ValueError:
                continue
        result[names[0].rstrip(":")] = section
    return result


def parse_softnet(text):
    """Sum of /proc/net/softnet_stat columns: processed, dropped, time_squeeze."""
    totals = {"processed": 0, "dropped": 0, "squeezed": 0}
    seen = False
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        try:
            totals["processed"] += int(words[0], 16)
            totals["dropped"] += int(words[1], 16)
            totals["squeezed"] += int(words[2], 16)
            seen = True
        except ValueError:
            continue
    return totals if seen else {}


def read_links(pfs, names):
    """Speed, duplex, state and virtual-ness of each interface (sysfs)."""
    links = {}
    for name in names:
        info = {}
        speed = pfs.read_int("sys/class/net/%s/speed" % name)
        if speed is not None and speed > 0:
            info["speed"] = speed
        duplex = pfs.read("sys/class/net/%s/duplex" % name)
        if duplex:
            info["duplex"] = duplex.strip()
        operstate = pfs.read("sys/class/net/%s/operstate" % name)
        if operstate:
            info["operstate"] = operstate.strip()
        if pfs.exists("sys/class/net/%s" % name):
            info["virtual"] = not pfs.exists("sys/class/net/%s/device" % name)
        links[name] = info
    return links


def read_all(pfs, links=None):
    """Raw network counters; ``links`` (a read_links result) is reused when it covers every interface."""
    snap = {"dev": parse_net_dev(pfs.read("proc/net/dev"))}
    snmp = parse_pairs(pfs.read("proc/net/snmp"))
    netstat = parse_pairs(pfs.read("proc/net/netstat"))
    tcp = {}
    for key, name in SNMP_TCP.items():
        if key in snmp.get("Tcp", {}):
            tcp[name] = snmp["Tcp"][key]
    for key, name in NETSTAT_TCP.items():
        if key in netstat.get("TcpExt", {}):
            tcp[name] = netstat["TcpExt"][key]
    udp = {}
    for key, name in SNMP_UDP.items():
        if key in snmp.get("Udp", {}):
            udp[name] = snmp["Udp"][key]
    snap["tcp"], snap["udp"] = tcp, udp
    snap["softnet"] = parse_softnet(pfs.read("proc/net/softnet_stat"))
    if links is None or set(links) != set(snap["dev"]):
        links = read_links(pfs, snap["dev"])
    snap["links"] = links
    return snap


def zero(net):
    result = {"dev": dict((name, dict((k, 0) for k in fields)) for name, fields in net.get("dev", {}).items()),
              "tcp": dict((k, 0) for k in net.get("tcp", {})), "udp": dict((k, 0) for k in net.get("udp", {})),
              "softnet": dict((k, 0) for k in net.get("softnet", {})), "links": net.get("links", {})}
    result["tcp"].pop("estab", None)
    return result


def _r(old, new, key, seconds, scale=1.0):
    if old is None or key not in old or key not in new or not seconds:
        return None
    delta = counter_delta(old[key], new[key])
    return None if delta is None else delta * scale / seconds


def compute(prev, cur, seconds, sample, pfs=None):
    """Fill sample["interfaces"] and the net./tcp./udp./softnet. metrics."""
    metrics = sample["metrics"]
    rows = []
    for name in sorted(cur.get("dev", {})):
        new = cur["dev"][name]
        old = prev.get("dev", {}).get(name)
        link = cur.get("links", {}).get(name, {})
        row = {"if": name, "speed_mbps": link.get("speed"), "virtual": link.get("virtual"),
               "operstate": link.get("operstate")}
        if old is None:
            row["new"] = True
        for key, out, scale in (("rx_bytes", "rx_kbps", 1 / 1024.0), ("tx_bytes", "tx_kbps", 1 / 1024.0),
                                ("rx_packets", "rx_pps", 1.0), ("tx_packets", "tx_pps", 1.0),
                                ("rx_errs", "rx_errs_ps", 1.0), ("tx_errs", "tx_errs_ps", 1.0),
                                ("rx_drop", "rx_drop_ps", 1.0), ("tx_drop", "tx_drop_ps", 1.0),
                                ("rx_fifo", "rx_fifo_ps", 1.0), ("tx_fifo", "tx_fifo_ps", 1.0),
                                ("tx_colls", "coll_ps", 1.0)):
            row[out] = _r(old, new, key, seconds, scale)
        if row["speed_mbps"] and row["rx_kbps"] is not None and row["tx_kbps"] is not None:
            kbits = max(row["rx_kbps"], row["tx_kbps"]) * 8 * 1.024
            if link.get("duplex") == "half":
                kbits = (row["rx_kbps"] + row["tx_kbps"]) * 8 * 1.024
            row["util_pct"] = min(100.0, kbits / (row["speed_mbps"] * 10.0))
            row["util_nominal"] = bool(link.get("virtual"))
        rows.append(row)
        for key, value in row.items():
            if key == "util_pct" and row.get("util_nominal"):
                continue  # a virtual link's speed is nominal: no metric, the row keeps it
            if key.endswith(("_kbps", "_pps", "_ps", "_pct", "_mbps")) and value is not None:
                metrics["net.%s.%s" % (name, key)] = value
    sample["interfaces"] = rows
    tcp, ptcp = cur.get("tcp", {}), prev.get("tcp")
    for key in ("in_segs", "out_segs", "retrans", "active_opens", "passive_opens", "attempt_fails",
                "estab_resets", "in_errs", "listen_overflows", "listen_drops", "timeouts"):
        value = _r(ptcp, tcp, key, seconds)
        if value is not None:
            metrics["tcp.%s_ps" % key] = value
    if "estab" in tcp:
        metrics["tcp.estab"] = tcp["estab"]
    if ptcp is not None and "out_segs" in tcp and "retrans" in tcp:
        out = counter_delta(ptcp.get("out_segs"), tcp["out_segs"])
        retrans = counter_delta(ptcp.get("retrans"), tcp["retrans"])
        if out and retrans is not None:
            metrics["tcp.retrans_pct"] = min(100.0, 100.0 * retrans / out)
    udp, pudp = cur.get("udp", {}), prev.get("udp")
    for key in ("in", "out", "rcvbuf_errors", "no_ports"):
        value = _r(pudp, udp, key, seconds)
        if value is not None:
            metrics["udp.%s_ps" % key] = value
    soft, psoft = cur.get("softnet", {}), prev.get("softnet")
    for key in ("processed", "dropped", "squeezed"):
        value = _r(psoft, soft, key, seconds)
        if value is not None:
            metrics["softnet.%s_ps" % key] = value


# ---------------------------------------------------------------- tc qdiscs

_RATE_UNITS = {"bit": 1e-3, "kbit": 1.0, "mbit": 1e3, "gbit": 1e6, "tbit": 1e9,
               "bps": 8e-3, "kbps": 8.0, "mbps": 8e3, "gbps": 8e6, "tbps": 8e9}
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
_QDISC = re.compile(r"^qdisc (?P<kind>\S+) (?P<handle>\S+) (?:dev (?P<dev>\S+) )?(?P<rest>.*)$")
_SENT = re.compile(r"Sent (\d+) bytes (\d+) pkts? \(dropped (\d+), overlimits (\d+) requeues (\d+)\)")
_BACKLOG = re.compile(r"backlog (\d+(?:\.\d+)?)([KMG]?b) (\d+)p")


def parse_rate(text):
    """'10Mbit' -> 10000.0 kbit/s; '1500Kbps' (bytes) -> 12000.0; None if not a rate."""
    match = re.match(r"^(\d+(?:\.\d+)?)([a-zA-Z]+)$", text)
    if not match:
        return None
    factor = _RATE_UNITS.get(match.group(2).lower())
    return float(match.group(1)) * factor if factor is not None else None


def _statistics_line(current, line):
    """The ``Sent ... (dropped ...)`` and ``backlog`` lines of tc -s qdisc/class."""
    sent = _SENT.search(line)
    if sent:
        current.update(zip(("bytes", "packets", "drops", "overlimits", "requeues"),
                           (int(v) for v in sent.groups())))
    backlog = _BACKLOG.search(line)
    if backlog:
        current["backlog_bytes"] = int(float(backlog.group(1)) * _SIZE_UNITS.get(backlog.group(2).lower(), 1))
        current["backlog_packets"] = int(backlog.group(3))


def parse_qdiscs(text):
    """``tc -s qdisc show`` text -> [{"dev", "kind", "handle", "root", "rate_kbit", counters}]."""
    result = []
    current = None
    for line in (text or "").splitlines():
        match = _QDISC.match(line.strip()) if line.startswith("qdisc ") else None
        if match:
            current = {"kind": match.group("kind"), "handle": match.group("handle"),
                       "dev": match.group("dev"), "root": " root " in " %s " % match.group("rest")}
            words = match.group("rest").split()
            for key in ("rate", "bandwidth"):
                if key in words:
                    at = words.index(key)
                    if at + 1 < len(words):
                        value = parse_rate(words[at + 1])
                        if value:
                            current["rate_kbit"] = value
            result.append(current)
            continue
        if current is None:
            continue
        _statistics_line(current, line)
    return result


def read_qdiscs(runner):
    """qdisc statistics through ``tc`` (None when tc is missing or fails)."""
    result = runner(["tc", "-s", "qdisc", "show"], timeout=5)
    if not result.ok:
        return None
    return parse_qdiscs(result.stdout)


# Classful qdiscs whose classes carry rates worth showing (``tc -s class show dev X``
# lists nothing without a device, so it runs once per interface that has one).
CLASSFUL = ("htb", "hfsc", "cbq")
_CLASS = re.compile(r"^class (?P<kind>\S+) (?P<classid>\S+) (?P<rest>.*)$")


def parse_classes(text, dev=None):
    """``tc -s class show dev X`` text -> [{"dev", "kind", "classid", "parent", "root",
    "leaf", "rate_kbit", "ceil_kbit", counters, "lended", "borrowed"}].

    htb prints ``rate``/``ceil``; hfsc its service curves (``sc``/``ls``/
    ``ul`` ... ``m2 <rate>``: the upper limit's m2 is taken as the ceiling,
    the real-time or link-sharing m2 as the rate).
    """
    result = []
    current = None
    for line in (text or "").splitlines():
        match = _CLASS.match(line.strip()) if line.startswith("class ") else None
        if match:
            words = match.group("rest").split()
            current = {"dev": dev, "kind": match.group("kind"), "classid": match.group("classid"),
                       "root": "root" in words, "parent": None, "leaf": None}
            for key in ("parent", "leaf"):
                if key in words and words.index(key) + 1 < len(words):
                    current[key] = words[words.index(key) + 1].rstrip(":") or None
            for key, name in (("rate", "rate_kbit"), ("ceil", "ceil_kbit")):
                if key in words and words.index(key) + 1 < len(words):
                    value = parse_rate(words[words.index(key) + 1])
                    if value:
                        current[name] = value
            curves = {}
            for at, word in enumerate(words[:-1]):
                if word in ("sc", "rt", "ls", "ul"):
                    for follow in range(at + 1, min(at + 7, len(words) - 1)):
                        if words[follow] == "m2":
                            value = parse_rate(words[follow + 1])
                            if value:
                                curves[word] = value
                            break
            if curves:
                current.setdefault("rate_kbit", curves.get("rt") or curves.get("sc") or curves.get("ls"))
                if "ul" in curves:
                    current.setdefault("ceil_kbit", curves["ul"])
            result.append(current)
            continue
        if current is None:
            continue
        _statistics_line(current, line)
        words = line.split()
        for key, name in (("lended:", "lended"), ("borrowed:", "borrowed")):
            if key in words and words.index(key) + 1 < len(words):
                try:
                    current[name] = int(words[words.index(key) + 1])
                except ValueError:
                    pass
    return result


def shaped_devices(qdiscs):
    """Interfaces whose root qdisc is classful (CLASSFUL), in order."""
    return [q["dev"] for q in (qdiscs or []) if q.get("root") and q.get("dev") and q.get("kind") in CLASSFUL]


def read_classes(runner, qdiscs):
    """Class statistics of every interface with a classful root qdisc (None: no such
    interface, or tc failed).  A root qdisc without a rate of its own (htb) gets
    ``rate_kbit`` from its root classes: the sum of their ceilings, the most the
    shaper lets through (``rate_from`` says so)."""
    devices = shaped_devices(qdiscs)
    if not devices:
        return None
    classes = []
    for dev in devices:
        result = runner(["tc", "-s", "class", "show", "dev", dev], timeout=5)
        if result.ok:
            classes.extend(parse_classes(result.stdout, dev))
    for q in qdiscs:
        if q.get("root") and q.get("dev") in devices and not q.get("rate_kbit"):
            tops = [c for c in classes if c["dev"] == q["dev"] and c.get("root")]
            ceilings = [c.get("ceil_kbit") or c.get("rate_kbit") for c in tops]
            if ceilings and all(ceilings):
                q["rate_kbit"] = float(sum(ceilings))
                q["rate_from"] = "classes"
    return classes


def compute_classes(prev, cur, seconds):
    """Rates per class; util_pct against the ceiling (htb's most), else the rate."""
    if not cur:
        return []
    index = dict(((c.get("dev"), c.get("classid")), c) for c in (prev or []))
    rows = []
    for c in cur:
        old = index.get((c.get("dev"), c.get("classid")))
        row = {"dev": c.get("dev"), "kind": c.get("kind"), "classid": c.get("classid"),
               "parent": c.get("parent"), "root": c.get("root"), "leaf": c.get("leaf"),
               "rate_kbit": c.get("rate_kbit"), "ceil_kbit": c.get("ceil_kbit"),
               "backlog_packets": c.get("backlog_packets")}
        if c.get("backlog_bytes") is not None:
            row["backlog_kb"] = c["backlog_bytes"] / 1024.0
        row["kbit_ps"] = _r(old, c, "bytes", seconds, 8 / 1000.0)
        row["drops_ps"] = _r(old, c, "drops", seconds)
        row["overlimits_ps"] = _r(old, c, "overlimits", seconds)
        row["borrowed_ps"] = _r(old, c, "borrowed", seconds)
        limit = row["ceil_kbit"] or row["rate_kbit"]
        if limit and row["kbit_ps"] is not None:
            row["util_pct"] = min(100.0, 100.0 * row["kbit_ps"] / limit)
        rows.append(row)
    return rows


def class_metric_prefix(row):
    """``net.<if>.class_<major>_<minor>_`` for a class row (``1:10`` -> ``1_10``)."""
    return "net.%s.class_%s_" % (row["dev"], str(row["classid"]).replace(":", "_"))


def zero_qdiscs(qdiscs):
    if qdiscs is None:
        return None
    zeroed = []
    for row in qdiscs:
        copy = dict(row)
        for key in ("bytes", "packets", "drops", "overlimits", "requeues", "lended", "borrowed"):
            if key in copy:
                copy[key] = 0
        zeroed.append(copy)
    return zeroed


def compute_qdiscs(prev, cur, seconds):
    """Rates per qdisc; util_pct against the configured rate when there is one."""
    if cur is None:
        return []
    index = dict(((q.get("dev"), q.get("handle")), q) for q in (prev or []))
    rows = []
    for q in cur:
        old = index.get((q.get("dev"), q.get("handle")))
        row = {"dev": q.get("dev"), "kind": q.get("kind"), "handle": q.get("handle"), "root": q.get("root"),
               "rate_kbit": q.get("rate_kbit"), "backlog_packets": q.get("backlog_packets")}
        if q.get("backlog_bytes") is not None:
            row["backlog_kb"] = q["backlog_bytes"] / 1024.0
        if q.get("rate_from"):
            row["rate_from"] = q["rate_from"]
        row["kbit_ps"] = _r(old, q, "bytes", seconds, 8 / 1000.0)
        row["drops_ps"] = _r(old, q, "drops", seconds)
        row["overlimits_ps"] = _r(old, q, "overlimits", seconds)
        if row["rate_kbit"] and row["kbit_ps"] is not None:
            row["util_pct"] = min(100.0, 100.0 * row["kbit_ps"] / row["rate_kbit"])
        rows.append(row)
    return rows
