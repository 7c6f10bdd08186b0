"""perfcollect's one-time inventory: what the box is, taken at each start.

os-release, kernel and its command line, an lscpu equivalent from
/proc/cpuinfo and sysfs (sockets, cores, threads, NUMA, caches, frequency
governor, vulnerabilities, hypervisor), memory, block devices with their
dm / LVM names, mounts with usage, network interfaces, LVM as ``lvs`` and
``pvs`` see it, ``ip -o addr``, sysctls that matter for performance, loaded
modules, package history hints (the last installs and upgrades), and which
performance tools exist.  Everything is read through ``procfs`` and the
shared runner; a missing command or file is recorded as
``{"status": "not available", ...}`` with the reason -- never as an empty value.
"""

import os
import platform
import socket
import time

from . import distro, sampler_disks, sampler_fs, sources

SYSCTL_DIRS = ("vm",)
SYSCTL_NAMES = (
    "kernel/hung_task_timeout_secs", "kernel/hung_task_panic", "kernel/panic", "kernel/panic_on_oops",
    "kernel/softlockup_panic", "kernel/watchdog_thresh", "kernel/nmi_watchdog", "kernel/numa_balancing",
    "kernel/pid_max", "kernel/threads-max", "kernel/sched_autogroup_enabled", "kernel/tainted",
    "kernel/printk", "kernel/dmesg_restrict", "kernel/perf_event_paranoid",
    "net/core/somaxconn", "net/core/netdev_max_backlog", "net/core/netdev_budget", "net/core/rmem_max",
    "net/core/wmem_max", "net/ipv4/tcp_rmem", "net/ipv4/tcp_wmem", "net/ipv4/tcp_mem",
    "net/ipv4/tcp_max_syn_backlog", "net/ipv4/tcp_syncookies", "net/ipv4/ip_local_port_range",
    "net/ipv4/tcp_congestion_control", "net/ipv4/tcp_tw_reuse", "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_count", "fs/file-max", "fs/file-nr", "fs/aio-max-nr", "fs/aio-nr",
    "fs/inotify/max_user_watches",
)
PACKAGE_LOGS = (
    ("dpkg", "var/log/dpkg.log", (" install ", " upgrade ", " remove ")),
    ("apt", "var/log/apt/history.log", ("Start-Date", "Commandline")),
    ("dnf", "var/log/dnf.rpm.log", ("Installed", "Upgraded", "Erased", "Upgrade", "Install")),
    ("yum", "var/log/yum.log", ("Installed", "Updated", "Erased")),
    ("zypper", "var/log/zypp/history", ("|install|", "|remove|")),
)
TOOLS = ("sar", "sadc", "pidstat", "iostat", "mpstat", "vmstat", "perf", "bpftrace", "ss", "ip", "lvs",
         "tc", "dmesg", "journalctl", "numactl", "ethtool", "crash", "kdumpctl")
COMMANDS = (
    ("lvs", ["lvs", "--noheadings", "--units", "b", "-o", "vg_name,lv_name,lv_size,lv_attr,devices"]),
    ("pvs", ["pvs", "--noheadings", "--units", "b", "-o", "pv_name,vg_name,pv_size,pv_free"]),
    ("ip_addr", ["ip", "-o", "addr", "show"]),
    ("ip_route", ["ip", "route", "show"]),
)


def _not_available(why):
    return {"status": "not available", "reason": why}


def cpu_info(pfs):
    """An lscpu equivalent from /proc/cpuinfo and /sys/devices/system/cpu."""
    text = pfs.read("proc/cpuinfo")
    if text is None:
        return _not_available("/proc/cpuinfo unreadable")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    first = {}
    physical = set()
    cores = set()
    for block in blocks:
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if not first:
            first = fields
        physical.add(fields.get("physical id", "0"))
        cores.add((fields.get("physical id", "0"), fields.get("core id", fields.get("processor"))))
    flags = (first.get("flags") or first.get("Features") or "").split()
    result = {
        "logical_cpus": len(blocks),
        "model": first.get("model name") or first.get("Processor") or first.get("cpu") or first.get("uarch"),
        "vendor": first.get("vendor_id") or first.get("CPU implementer"),
        "sockets": len(physical) or None,
        "cores": len(cores) or None,
        "mhz": first.get("cpu MHz"),
        "bogomips": first.get("bogomips") or first.get("BogoMIPS"),
        "hypervisor": "hypervisor" in flags,
        "virtualization": "vmx" if "vmx" in flags else ("svm" if "svm" in flags else None),
        "flags_count": len(flags),
    }
    if result["cores"]:
        result["threads_per_core"] = max(1, len(blocks) // result["cores"])
    base = "sys/devices/system/cpu"
    for name in ("online", "offline", "possible"):
        value = pfs.read("%s/%s" % (base, name))
        if value is not None:
            result[name] = value.strip()
    hv = pfs.read("sys/hypervisor/type")
    if hv:
        result["hypervisor_type"] = hv.strip()
    governor = pfs.read("%s/cpu0/cpufreq/scaling_governor" % base)
    result["governor"] = governor.strip() if governor else None
    caches = []
    for index in pfs.listdir("%s/cpu0/cache" % base):
        if not index.startswith("index"):
            continue
        folder = "%s/cpu0/cache/%s" % (base, index)
        caches.append(dict((key, (pfs.read("%s/%s" % (folder, key)) or "").strip() or None)
                           for key in ("level", "type", "size", "shared_cpu_list")))
    result["caches"] = caches
    nodes = {}
    for node in pfs.listdir("sys/devices/system/node"):
        if node.startswith("node") and node[4:].isdigit():
            cpulist = pfs.read("sys/devices/system/node/%s/cpulist" % node)
            nodes[node] = cpulist.strip() if cpulist else None
    result["numa_nodes"] = nodes
    vulns = {}
    for name in pfs.listdir("%s/vulnerabilities" % base):
        value = pfs.read("%s/vulnerabilities/%s" % (base, name))
        if value is not None:
            vulns[name] = value.strip()
    result["vulnerabilities"] = vulns
    return result


def memory_info(pfs):
    meminfo = pfs.meminfo_kib()
    if not meminfo:
        return _not_available("/proc/meminfo unreadable")
    keys = ("MemTotal", "SwapTotal", "HugePages_Total", "HugePages_Free", "Hugepagesize", "Hugetlb",
            "CommitLimit", "DirectMap4k", "DirectMap2M", "DirectMap1G")
    result = dict(("%s_kb" % key if key[0].isupper() and not key.startswith("HugePages_") else key,
                   meminfo[key]) for key in keys if key in meminfo)
    thp = pfs.read("sys/kernel/mm/transparent_hugepage/enabled")
    if thp:
        result["transparent_hugepage"] = thp.strip()
    swaps = pfs.lines("proc/swaps")[1:]
    result["swaps"] = [line.split()[0] for line in swaps if line.split()]
    return result


def block_devices(pfs):
    names = sampler_disks.device_names(pfs)
    if not names:
        return _not_available("/sys/block unreadable")
    devices = []
    for dev in sorted(names):
        info = dict(names[dev])
        info["dev"] = dev
        folder = "sys/block/%s" % dev if not info.get("partition") else None
        if folder:
            sectors = pfs.read_int(folder + "/size")
            info["size_bytes"] = sectors * 512 if sectors is not None else None
            for key, path in (("model", "/device/model"), ("vendor", "/device/vendor"),
                              ("scheduler", "/queue/scheduler"), ("nr_requests", "/queue/nr_requests"),
                              ("read_ahead_kb", "/queue/read_ahead_kb"), ("serial", "/device/serial")):
                value = pfs.read(folder + path)
                if value is not None and value.strip():
                    info[key] = value.strip()
            info["holders"] = pfs.listdir(folder + "/holders")
        devices.append(info)
    return devices


def mounts(pfs):
    text = pfs.read("proc/self/mounts") or pfs.read("proc/mounts")
    if text is None:
        return _not_available("/proc/mounts unreadable")
    rows = []
    for mount in sampler_fs.parse_mounts(text):
        if mount["fstype"] in sampler_fs.PSEUDO:
            continue
        row = dict(mount)
        if pfs.root == "/":
            row["usage"] = sampler_fs.usage(mount["mountpoint"])
        rows.append(row)
    return rows


def interfaces(pfs):
    result = []
    for name in pfs.listdir("sys/class/net"):
        folder = "sys/class/net/%s" % name
        info = {"if": name}
        for key in ("address", "mtu", "operstate", "speed", "duplex", "type", "tx_queue_len"):
            value = pfs.read("%s/%s" % (folder, key))
            if value is not None and value.strip():
                info[key] = value.strip()
        driver = pfs.readlink(folder + "/device/driver")
        info["driver"] = os.path.basename(driver) if driver else None
        info["virtual"] = not pfs.exists(folder + "/device")
        bond = pfs.read(folder + "/bonding/slaves")
        if bond is not None:
            info["bond_slaves"] = bond.split()
        result.append(info)
    return result or _not_available("/sys/class/net unreadable")


def sysctls(pfs):
    result = {}
    for folder in SYSCTL_DIRS:
        for name in pfs.listdir("proc/sys/" + folder):
            value = pfs.read("proc/sys/%s/%s" % (folder, name))
            if value is not None:
                result["%s.%s" % (folder, name)] = " ".join(value.split())
    for name in SYSCTL_NAMES:
        value = pfs.read("proc/sys/" + name)
        if value is not None:
            result[name.replace("/", ".")] = " ".join(value.split())
    return result


def modules(pfs):
    rows = []
    for line in pfs.lines("proc/modules"):
        words = line.split()
        if len(words) >= 3:
            row = {"name": words[0], "size": int(words[1]) if words[1].isdigit() else None,
                   "used": int(words[2]) if words[2].isdigit() else None}
            if len(words) > 6 and words[6].startswith("("):
                row["taint"] = words[6].strip("()")
            rows.append(row)
    if not rows and not pfs.exists("proc/modules"):
        return _not_available("/proc/modules missing (a kernel without module support)")
    return rows


def package_history(source, tail=40):
    """The last installs/upgrades from the package managers' own logs."""
    found = {}
    for name, path, keys in PACKAGE_LOGS:
        if not source.exists(path):
            continue
        lines = []
        for line in source.lines(path):
            if any(key in line.text for key in keys):
                lines.append(line.text[:300])
                if len(lines) > tail * 4:
                    lines = lines[-tail:]
        found[name] = {"path": "/" + path, "last": lines[-tail:]}
    return found or _not_available("no package manager log found (dpkg, apt, dnf, yum, zypper)")


def tools(which):
    return dict((name, which(name) or "not available") for name in TOOLS)


def collect(pfs, run, which, source=None, now=None):
    """The inventory document (a JSON-ready dict)."""
    source = source or sources.open_source(None)
    uname = platform.uname()
    boot_id = pfs.read("proc/sys/kernel/random/boot_id")
    doc = {
        "collected": now if now is not None else time.time(),
        "host": socket.gethostname(),
        "boot_id": boot_id.strip() if boot_id else None,
        "os": distro.detect(source).to_dict(),
        "kernel": {"release": uname.release, "version": uname.version, "machine": uname.machine,
                   "cmdline": (pfs.read("proc/cmdline") or "").strip() or None,
                   "tainted": pfs.read_int("proc/sys/kernel/tainted")},
        "python": platform.python_version(),
    }
    parts = (("cpu", cpu_info, pfs), ("memory", memory_info, pfs), ("block_devices", block_devices, pfs),
             ("mounts", mounts, pfs), ("interfaces", interfaces, pfs), ("sysctl", sysctls, pfs),
             ("modules", modules, pfs), ("packages", package_history, source))
    for key, function, argument in parts:
        try:
            doc[key] = function(argument)
        except Exception as error:  # one broken part must not lose the others
            doc[key] = _not_available("%s: %s" % (type(error).__name__, error))
    commands = {}
    has_dm = any(name.startswith("dm-") for name in pfs.listdir("sys/block"))
    for key, argv in COMMANDS:
        if argv[0] in ("lvs", "pvs") and not has_dm:
            commands[key] = {"command": " ".join(argv), "status": "not available",
                             "reason": "no device-mapper devices in /sys/block (no LVM in use)"}
            continue
        result = run(argv, timeout=20)
        if result.status == "ok":
            commands[key] = {"command": " ".join(argv), "status": "ok", "output": result.stdout[:256 * 1024]}
        else:
            commands[key] = {"command": " ".join(argv), "status": result.status
                             if result.status != "failed" else "failed (rc %s)" % result.rc,
                             "reason": (result.stderr or "").strip()[:300] or None}
    doc["commands"] = commands
    doc["tools"] = tools(which)
    return doc
