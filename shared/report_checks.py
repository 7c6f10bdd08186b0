"""The checks of ``report``: pattern rules as data, computed checks as code.

``RULES`` are log patterns (one literal anchor that every matching line
contains, for speed; a regex; a severity; a minimum count; the fix).  They
are matched in one pass over every log a bundle holds (shared.logs'
discovery plus the auth and audit logs) by ``scan_logs``.

Computed checks (``check_*`` functions) parse one datum each through the
``shared.bundle`` candidate table and return shared.findings Findings.  A
check whose datum is missing returns a "not evaluated (missing: ...)"
finding, never "ok".  Thresholds live in ``DEFAULT_THRESHOLDS`` and can be
overridden (``report --threshold fs_warn_pct=80``).
"""

import collections
import re

from . import findings as F
from . import logs as logs_mod
from . import timeparse

DEFAULT_THRESHOLDS = {
    "fs_warn_pct": 85.0, "fs_crit_pct": 95.0,
    "inode_warn_pct": 85.0, "inode_crit_pct": 95.0,
    "mem_avail_warn_pct": 10.0, "mem_avail_crit_pct": 5.0,
    "swap_warn_pct": 50.0, "swap_crit_pct": 90.0,
    "load_warn_per_cpu": 2.0, "load_crit_per_cpu": 4.0,
    "limit_warn_pct": 80.0, "limit_crit_pct": 95.0,
    "nic_error_warn_ratio": 0.001,
    "tcp_retrans_warn_pct": 2.0,
    "auth_burst_count": 20.0, "auth_burst_window_s": 600.0,
    "bundle_age_warn_days": 7.0,
    "dstate_warn": 1.0, "zombie_warn": 10.0,
}

# ------------------------------------------------------------------ rules
# id, severity, title, anchor (bytes literal every match contains), regex
# (on the line), minimum count to report, fix.  Counts below the minimum are
# kept in the log section but make no finding.
RULES = (
    ("fs.readonly", F.CRITICAL, "filesystem remounted read-only", b"read-only",
     r"[Rr]emounting filesystem read-only|[Rr]emounting read-only|forced to read-only|"
     r"Remounting filesystem read-only", 1,
     "find the first error before the remount (this section's evidence); unmount and run the "
     "filesystem's checker (fsck -f / xfs_repair) from rescue media; check the disk below it"),
    ("fs.errors", F.CRITICAL, "filesystem errors", b"-fs error",
     r"EXT[234]-fs error", 1,
     "run fsck -f on the device at the next maintenance window; check the disk for I/O errors"),
    ("fs.errors", F.CRITICAL, "filesystem errors", b"XFS (",
     r"XFS \([^)]+\): (?:Corruption|Internal error|metadata I/O error|Log I/O Error|"
     r"Filesystem has been shut down|Metadata corruption|xfs_do_force_shutdown)", 1,
     "unmount and run xfs_repair (xfs_repair -n first to see the damage); check the disk"),
    ("fs.errors", F.CRITICAL, "filesystem errors", b"BTRFS",
     r"BTRFS (?:error|critical)|BTRFS: error", 1,
     "run 'btrfs device stats' and 'btrfs scrub start'; restore from backup if scrub cannot repair"),
    ("fs.enospc", F.WARNING, "writes failed: no space left on device", b"No space left on device",
     r"No space left on device", 1,
     "free space on the filesystem named in the evidence (see the storage section)"),
    ("io.block", F.CRITICAL, "block device I/O errors", b"I/O error",
     r"I/O error, dev \S+|blk_update_request: (?:critical )?(?:medium |target |)I/O error|"
     r"Buffer I/O error on dev|end_request: I/O error", 1,
     "check the disk (smartctl -a, controller logs); replace failing media; check cabling and "
     "the storage path"),
    ("io.medium", F.CRITICAL, "disk medium errors", b"Medium Error",
     r"Sense Key : Medium Error|Medium Error \[current\]", 1,
     "the disk reports unreadable sectors: back it up and replace it"),
    ("io.scsi", F.WARNING, "SCSI errors and offlined devices", b"scsi",
     r"rejecting I/O to offline device|Device offlined|SCSI error: return code|"
     r"timing out command, waited|FAILED Result: hostbyte=DID_(?:NO_CONNECT|TIME_OUT|ERROR)", 1,
     "check the SAN/HBA path and the array; 'multipath -ll' shows which paths failed"),
    ("io.nvme", F.WARNING, "NVMe controller timeouts or resets", b"nvme",
     r"nvme\S*: I/O \d+ QID \d+ timeout|nvme\S*: controller is down|nvme\S*: Device not ready|"
     r"nvme\S*: Removing after probe failure|nvme\S*: resetting controller", 1,
     "update the drive firmware; check 'nvme smart-log'; try nvme_core.default_ps_max_latency_us=0"),
    ("nfs.not-responding", F.WARNING, "NFS server not responding", b"not responding",
     r"nfs: server \S+ not responding", 1,
     "check the NFS server and the network path; hard mounts hang processes until it returns"),
    ("nfs.stale", F.WARNING, "stale NFS file handles", b"tale",
     r"Stale (?:NFS )?file handle|ESTALE", 1,
     "the export changed under the client: remount the filesystem; check the server's exports"),
    ("systemd.restart-loop", F.WARNING, "services in restart loops", b"repeated too quickly",
     r"Start request repeated too quickly", 1,
     "read the unit's log (journalctl -u UNIT) for why it exits; fix it, then "
     "'systemctl reset-failed UNIT'"),
    ("systemd.dependency", F.WARNING, "units not started because a dependency failed",
     b"Dependency failed", r"Dependency failed for", 1,
     "fix the first failed unit in the chain (see the evidence order); the others follow"),
    ("systemd.device-timeout", F.CRITICAL, "device wait timed out during boot", b"timed out",
     r"Job dev-\S+\.device/start timed out|Timed out waiting for device", 1,
     "a device named in /etc/fstab or crypttab did not appear: fix the UUID/LABEL or add "
     "'nofail'; check the disk and multipath"),
    ("systemd.unit-failed-log", F.INFO, "units logged as failed", b"ailed",
     r"Failed to start .+\.|entered failed state|Failed with result '", 1,
     "journalctl -u UNIT for each; the services section lists units failed at collection time"),
    ("net.link-flap", F.WARNING, "network links going down", b"ink",
     r"NIC Link is Down|[Ll]ink is [Dd]own|: link down|carrier lost|Link down", 3,
     "check the cable, switch port and the NIC driver/firmware; 'ethtool IFACE' and the switch log"),
    ("net.conntrack-full", F.CRITICAL, "conntrack table full: packets dropped", b"table full",
     r"nf_conntrack: (?:nf_conntrack: )?table full, dropping packet", 1,
     "raise net.netfilter.nf_conntrack_max (and hashsize), or stop tracking traffic that needs no "
     "state (NOTRACK rules)"),
    ("net.bond", F.WARNING, "bond members going down", b"bond",
     r"bond\S*: (?:link status definitely down|now running without any active interface|"
     r"(?:slave|member)\b.*\bdown)", 1,
     "check the bond's member links (cat /proc/net/bonding/BOND) and the switch"),
    ("net.syn-flood", F.WARNING, "SYN flood / listen queue overflows", b"SYN flooding",
     r"Possible SYN flooding on port", 1,
     "raise the listen backlog (somaxconn, the application's backlog) or look for an attack"),
    ("security.selinux-denials", F.INFO, "SELinux denials", b"avc:",
     r"avc:\s+denied", 1,
     "review with 'ausearch -m avc -ts recent' and 'audit2why'; fix labels (restorecon) before "
     "writing policy"),
    ("security.apparmor-denials", F.INFO, "AppArmor denials", b"DENIED",
     r"apparmor=\"DENIED\"", 1,
     "review the profile named in the evidence (aa-logprof); complain mode to test"),
    ("auth.failures", F.INFO, "authentication failures", b"ail",
     r"Failed password for|authentication failure|FAILED LOGIN|Failed publickey for|"
     r"Invalid user \S+ from", 1,
     "check the sources of the failures; block brute force (fail2ban, firewall), rotate exposed "
     "credentials"),
    ("kernel.hung-nfs-io", F.WARNING, "processes blocked on I/O for more than 120 s", b"blocked for more",
     r"blocked for more than \d+ seconds", 1000000,
     "see the kernel events section"),
)

_COMPILED = None


def compiled_rules():
    """[(rule, compiled regex)] and one combined bytes regex with its anchors."""
    global _COMPILED
    if _COMPILED is None:
        rules = [(rule, re.compile(rule[4])) for rule in RULES]
        anchors = sorted(set(rule[3] for rule in RULES))
        combined = re.compile(("|".join("(?:%s)" % rule[4] for rule in RULES)).encode("utf-8"), re.M)
        _COMPILED = (rules, combined, anchors)
    return _COMPILED


# Lines kept from big archive members read in one pass (sources.TarTree
# digests, searched by grep -F on another core: textio.GrepScanner): the
# lines the rules can match, the kernel-report markers of the oops engine
# plus the lines of a report that follow its header (trace frames, register
# and OOM dumps), and the boot/shutdown markers of the bootlog engine.  Every
# literal must be selective: a literal in one line of ten ("kernel",
# "systemd", "Link") sends a tenth of a gigabyte through Python.
KEEP_RULE_LITERALS = (
    b"read-only", b"-fs error", b"XFS (", b"BTRFS", b"No space left on device", b"I/O error",
    b"Medium Error", b"offline device", b"Device offlined", b"SCSI error", b"timing out command",
    b"FAILED Result", b" QID ", b"controller is down", b"Device not ready",
    b"Removing after probe failure", b"resetting controller", b"not responding", b"Stale", b"ESTALE",
    b"repeated too quickly", b"Dependency failed", b"timed out", b"Timed out waiting",
    b"Failed to start", b"entered failed state", b"Failed with result", b"ink is Down", b"ink is down",
    b"link down", b"Link down", b"carrier lost", b"table full", b"bond", b"SYN flooding", b"avc:",
    b"DENIED", b"Failed password for", b"authentication failure", b"FAILED LOGIN",
    b"Failed publickey for", b"Invalid user", b"blocked for more",
)
KEEP_REPORT_LITERALS = (
    b"Call Trace", b"RIP: ", b"Code: ", b"Modules linked in", b"Hardware name", b"Tainted:",
    b"---[ end", b"Mem-Info", b"Killed process", b"<TASK>", b"</TASK>", b"[ pid ]", b"Workqueue:",
    b"PC is at", b"LR is at", b"Kernel Offset", b"Rebooting in", b"Sense Key", b"Add. Sense",
    b"Buffer I/O",
    # trace frames ("func+0x1a/0x30"): a hung task's title names its function from them
    b"+0x",
)
# Short literals make grep -F slow (its skip distance is the shortest
# pattern): the oops engine's short markers are kept through longer ones
# that its reports' header lines hold.
_KEEP_LONGER = {
    b"BUG": (b"BUG: ", b"BUG at"), b"NMI": (b"NMI watchdog", b"NMI backtrace", b"NMI received", b"Uhhuh. NMI"),
    b"[#": (b"divide error", b"double fault", b"stack segment", b"invalid opcode"),
    b"kill": (b"Killed process", b"oom-kill", b"oom_kill", b"invoked oom"),
    b"** ": (b"messages dropped", b"** Boot"),
}
# bootlog's window literals that are too common to keep (replaced by specific ones).
_BOOT_BROAD = (b"Reached target", b"Failed", b"Switch", b"Stopping")
KEEP_BOOT_LITERALS = (
    b"Reached target Reboot", b"Reached target System", b"Reached target Power", b"Reached target Halt",
    b"Reached target Shutdown", b"Reached target Final", b"Reached target Late Shutdown",
    b"Reached target Kexec", b"Reached target Emergency", b"Reached target Rescue",
    b"Reached target Multi-User", b"Reached target Graphical", b"Reached target Switch Root",
    b"Failed to", b"Switching", b"Stopping User Manager", b"Stopping Session", b"-- Reboot --",
    b"-- Boot ", b"Linux version", b'rsyslog.com"] start',
)
_KEEP = None


def keep_literals():
    """The literals of keep_regex(): the rules', the oops engine's, bootlog's."""
    global _KEEP
    if _KEEP is None:
        found = set(KEEP_RULE_LITERALS) | set(KEEP_REPORT_LITERALS) | set(KEEP_BOOT_LITERALS)
        try:
            from . import kernelreport_kinds as kinds
            for marker in kinds.MARKERS + kinds.PREFILTER_EXTRA:
                marker = marker.encode("utf-8")
                found.update(_KEEP_LONGER.get(marker, (marker,)))
        except Exception:   # the oops engine missing: its lines are simply not kept
            pass
        try:
            from . import boot_markers
            for anchor in boot_markers.JOURNAL_ANCHORS + boot_markers.WINDOW_ANCHORS:
                if anchor not in _BOOT_BROAD:
                    found.update(_KEEP_LONGER.get(anchor, (anchor,)))
        except Exception:
            pass
        # a literal holding another one adds nothing (and slows grep down)
        _KEEP = tuple(sorted(a for a in found if not any(b != a and b in a for b in found)))
    return _KEEP


def keep_regex():
    """Bytes regex and anchors for sources.TarTree(keep_regex=..., anchors=...)."""
    anchors = keep_literals()
    return re.compile(b"|".join(re.escape(a) for a in anchors)), list(anchors)


class Hit(object):
    __slots__ = ("rule", "line", "stamp")

    def __init__(self, rule, line, stamp):
        self.rule = rule
        self.line = line
        self.stamp = stamp


class LogScan(object):
    """What one pass over the logs found: hits per rule, tails, counts."""

    def __init__(self):
        self.hits = collections.OrderedDict()   # rule id -> [Hit]
        self.counts = collections.Counter()
        self.tails = collections.OrderedDict()  # log path -> deque of Lines
        self.logs = []                           # (name, kind, paths)
        self.lines = 0
        self.first_stamp = None
        self.last_stamp = None
        self.package_events = []

    def add(self, rule, line, stamp):
        key = rule[0]
        self.counts[key] += 1
        bucket = self.hits.setdefault(key, [])
        if len(bucket) < 200:
            bucket.append(Hit(rule, line, stamp))
        else:
            bucket[-1] = Hit(rule, line, stamp)  # keep the newest as the last one


def scan_logs(source, extra=(), tail_lines=25, utc=False, progress=None):
    """One pass over every text log of a source with every rule.

    Plain files are searched in big chunks (textio.MatchScanner with the
    rules' anchors: near grep speed, bounded memory, absurd lines cut);
    only matching lines are parsed.  Tails come from the end of the newest
    file of each log."""
    rules, combined, anchors = compiled_rules()
    by_anchor = collections.defaultdict(list)
    for rule, regex in rules:
        by_anchor[rule[3].decode("utf-8")].append((rule, regex))
    anchor_items = list(by_anchor.items())
    result = LogScan()

    def classify(line, parser):
        text = line.text
        for anchor, items in anchor_items:
            if anchor in text:
                for rule, regex in items:
                    if regex.search(text):
                        record = parser.parse(line)
                        result.add(rule, line, record.stamp)
                        return

    inputs = list(logs_mod.discover(source, journal=False))
    for folder, base in extra:
        paths = source.log_files(base, folder)
        if paths:
            inputs.append(logs_mod.LogInput("%s/%s*" % (folder, base), "syslog", paths, None))
    virtual = getattr(source, "virtual", {})
    for log in inputs:
        result.logs.append((log.name, log.kind, list(log.paths)))
        if log.command:        # a captured journal text (supportconfig): small, line by line
            tail = collections.deque(maxlen=tail_lines)
            for record in logs_mod.records(source, log, utc=utc):
                if isinstance(record, str):
                    continue
                result.lines += 1
                tail.append(record.line)
                classify(record.line, logs_mod.LineParser(utc=utc))
            if tail:
                result.tails[log.name] = tail
            continue
        for index, path in enumerate(log.paths):
            parser = logs_mod.LineParser(mtime=source.mtime(path), utc=utc)
            newest = index == len(log.paths) - 1
            small = sources_clean(path) in virtual or (hasattr(source.tree, "digest") and
                                                        source.tree.digest(path) is not None)
            if small:
                tail = collections.deque(maxlen=tail_lines)
                for line in source.lines(path):
                    result.lines += 1
                    tail.append(line)
                    classify(line, parser)
                if newest and tail:
                    result.tails[log.name] = tail
                continue
            total = _scan_file(source, path, combined, anchors, classify, parser)
            if total is None:
                continue
            result.lines += total
            if progress is not None:
                progress("scanned %s (%d lines)" % (path, total))
            if newest:
                tail = _tail(source, path, total, tail_lines)
                if tail:
                    result.tails[log.name] = tail
    return result


def sources_clean(path):
    from .sources import clean_path
    return clean_path(path)


def _scan_file(source, path, regex, anchors, classify, parser):
    from . import textio
    from .sources import Line
    origin = source.origin(path)
    try:
        stream = source.open(path)
    except textio.Unreadable as error:
        source.warn("%s: %s" % (origin, error))
        return None
    try:
        head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
        if textio.looks_binary(head):
            source.warn("%s: binary data, not a text log (skipped)" % (origin,))
            return None
        # selective literals (every rule match holds one); grep -F finds them in big files
        size = source.size(path) or 0
        scanner = textio.scanner_for(stream, regex, anchors=KEEP_RULE_LITERALS, big=size >= GREP_MIN_BYTES)
        for lineno, text in scanner:
            classify(Line(text, origin, lineno), parser)
        if scanner.problem:
            source.warn("%s: %s" % (origin, scanner.problem))
        if getattr(scanner, "cut_lines", 0):
            source.warn("%s: %d over-long line(s) cut at %d KiB (damaged or binary content in a text log)"
                        % (origin, scanner.cut_lines, textio.MAX_LINE // 1024))
        return scanner.lines
    finally:
        stream.close()


TAIL_BYTES = 64 * 1024
GREP_MIN_BYTES = 16 * 1024 * 1024   # below this the in-process MatchScanner is as fast


def _tail(source, path, total, count):
    """The last ``count`` lines of an uncompressed file, numbered, without reading it all."""
    from . import textio
    from .sources import Line
    if path.endswith((".gz", ".xz", ".bz2", ".zst", ".lzma")) or not total:
        return None
    size = source.size(path)
    try:
        stream = source.open(path)
    except textio.Unreadable:
        return None
    try:
        start = max(0, (size or 0) - TAIL_BYTES)
        if start:
            try:
                stream.seek(start)
            except (OSError, ValueError, AttributeError):
                return None
        data = stream.read(TAIL_BYTES + 1)
    except (EOFError, OSError, ValueError):
        return None
    finally:
        stream.close()
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    if start and len(pieces) > 1:
        pieces = pieces[1:]
    pieces = pieces[-count:]
    first = total - len(pieces) + 1
    origin = source.origin(path)
    return [Line(textio.decode(raw[:2000].rstrip(b"\r")), origin, first + offset)
            for offset, raw in enumerate(pieces)]


def rule_findings(scan, thresholds):
    """Findings from the rule hits (one per rule id)."""
    out = []
    for key, hits in scan.hits.items():
        rule = hits[0].rule
        count = scan.counts[key]
        if count < rule[5]:
            continue
        severity = rule[1]
        title = rule[2]
        detail = "%d matching line(s)" % count
        stamps = [h.stamp for h in hits if h.stamp is not None]
        if stamps:
            detail += ", first %s, last %s" % (timeparse.iso_utc(min(stamps)), timeparse.iso_utc(max(stamps)))
        if key == "auth.failures":
            burst = _burst(stamps, thresholds["auth_burst_window_s"])
            if burst[0] >= thresholds["auth_burst_count"]:
                severity = F.WARNING
                title = "authentication-failure burst: %d in %d minutes" % (
                    burst[0], int(thresholds["auth_burst_window_s"] // 60))
                detail += "; the burst started %s" % timeparse.iso_utc(burst[1])
        if key in ("security.selinux-denials", "security.apparmor-denials") and count >= 50:
            severity = F.WARNING
        evidence = [F.Evidence.from_line(h.line) for h in _spread(hits, 5)]
        if count > 1 and not title.startswith("authentication-failure burst"):
            title = "%s (%d)" % (title, count)
        out.append(F.Finding("log." + key, severity, title,
                             detail, evidence, rule[6]))
    return out


def _spread(hits, count):
    """First few and the last one: the start of a problem and where it stands."""
    if len(hits) <= count:
        return hits
    return hits[:count - 1] + hits[-1:]


def _burst(stamps, window):
    """(largest count within ``window`` seconds, start of that window)."""
    stamps = sorted(stamps)
    best = (0, None)
    start = 0
    for end in range(len(stamps)):
        while stamps[end] - stamps[start] > window:
            start += 1
        if end - start + 1 > best[0]:
            best = (end - start + 1, stamps[start])
    return best


# ------------------------------------------------------------------ helpers

def _ev(bundle, datum, lineno=None, excerpt=None):
    origin = bundle.origin(datum)
    from .bundle import origin_path
    path = origin_path(origin)
    if lineno is not None and path != origin:
        lineno = lineno  # already absolute
    return F.Evidence(path, lineno, excerpt)


def _missing(bundle, check, title, *datums):
    return F.Finding.not_evaluated(check, title, [bundle.missing(d) for d in datums])


def parse_size_kib(text):
    """'1.5G' / '1024' (KiB) / '12M' -> KiB, or None."""
    match = re.match(r"^([\d.,]+)([KMGTPE]?)i?B?$", text.strip(), re.I)
    if not match:
        return None
    try:
        value = float(match.group(1).replace(",", "."))
    except ValueError:
        return None
    power = "KMGTPE".find(match.group(2).upper()) if match.group(2) else 0
    return value * (1024 ** power)


def parse_df(lines):
    """[(lineno, filesystem, size_kib, used_pct, mountpoint, fstype)] from df output."""
    rows = []
    header = None
    pending = None
    for lineno, text in lines:
        if not text.strip():
            continue
        words = text.split()
        if header is None:
            if words and words[0] in ("Filesystem", "Dateisystem", "Sys.", "Sistema") or \
                    any(w.endswith("%") and not w[:-1].isdigit() for w in words):
                header = words
                continue
            if not any(w.endswith("%") for w in words):
                continue
            header = []
        if pending is not None:
            words = [pending] + words
            pending = None
        if len(words) == 1:
            pending = words[0]   # long device names wrap onto two lines
            continue
        pct_index = None
        for index, word in enumerate(words):
            if re.match(r"^\d+%$", word) or word == "-":
                if index >= 3:
                    pct_index = index
                    break
        if pct_index is None:
            continue
        if words[pct_index] == "-":
            continue
        used = float(words[pct_index][:-1])
        mount = " ".join(words[pct_index + 1:]) or "?"
        fstype = words[1] if pct_index == 5 else None
        size = parse_size_kib(words[pct_index - 3])
        rows.append((lineno, words[0], size, used, mount, fstype))
    return rows


_PSEUDO_FS = ("tmpfs", "devtmpfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "squashfs",
              "iso9660", "udf", "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore",
              "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "rpc_pipefs",
              "efivarfs", "nsfs", "ramfs", "shm", "none", "udev", "sunrpc")


def _pseudo(filesystem, mount, fstype=None):
    if fstype and fstype in _PSEUDO_FS:
        return True
    if filesystem in _PSEUDO_FS or filesystem.startswith(("/dev/loop", "overlay", "shm")):
        return True
    return mount.startswith(("/proc", "/sys", "/dev", "/run/user", "/snap/")) and mount not in ("/dev/shm",)


# ------------------------------------------------------------------ computed checks

def check_df(bundle, thresholds, datum="df", kind="space"):
    key = "fs.space" if kind == "space" else "fs.inodes"
    title = "filesystem space" if kind == "space" else "filesystem inodes"
    text = bundle.text(datum)
    if text is None:
        return [_missing(bundle, key, title, datum)]
    rows = parse_df(bundle.lines(datum))
    if not rows:
        return [F.Finding.not_evaluated(key, title, ["%s (no filesystem rows in %s)" % (datum, bundle.origin(datum))])]
    warn = thresholds["fs_warn_pct" if kind == "space" else "inode_warn_pct"]
    crit = thresholds["fs_crit_pct" if kind == "space" else "inode_crit_pct"]
    out = []
    seen = set()
    from .bundle import origin_path
    for lineno, filesystem, size, used, mount, fstype in rows:
        if _pseudo(filesystem, mount, fstype) or mount in seen or (size is not None and size == 0):
            continue
        seen.add(mount)
        if used >= warn:
            severity = F.CRITICAL if used >= crit else F.WARNING
            excerpt = [t for n, t in bundle.lines(datum) if n == lineno]
            out.append(F.Finding(
                key, severity, "%s %d%% %s: %s" % (mount, used, "full" if kind == "space" else "of inodes used",
                                                     filesystem),
                "threshold %d%% warning / %d%% critical" % (warn, crit),
                [F.Evidence(origin_path(bundle.origin(datum)), lineno, excerpt[0] if excerpt else None)],
                "find what grew: 'du -xsh %s/* | sort -h' (or 'find %s -xdev -type f -size +100M'); "
                "delete rotated logs, old kernels, core dumps; extend the volume" % (
                    mount.rstrip("/"), mount) if kind == "space" else
                "find directories with many small files: 'find %s -xdev -type d -size +1M'; "
                "remove stale session/cache files" % mount))
    if not out:
        out.append(F.Finding(key, F.OK, "%s below %d%% on all %d filesystems" % (title, warn, len(seen))))
    return out


def check_mounts_ro(bundle):
    text = bundle.text("mounts")
    if text is None:
        return [_missing(bundle, "fs.readonly-mounts", "read-only mounts", "mounts")]
    out = []
    from .bundle import origin_path
    for lineno, line in bundle.lines("mounts"):
        words = line.split()
        if len(words) < 4:
            continue
        # /proc/mounts: dev mnt type opts ... ; 'mount' output: dev on mnt type t (opts)
        if len(words) >= 6 and words[1] == "on" and words[3] == "type":
            mount, fstype, options = words[2], words[4], words[5].strip("()")
        else:
            mount, fstype, options = words[1], words[2], words[3]
        if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "jfs", "reiserfs", "f2fs"):
            continue
        if "ro" in options.split(",") and not mount.startswith(("/snap", "/media", "/run/media")):
            out.append(F.Finding("fs.readonly-mounts", F.CRITICAL if mount in ("/", "/var", "/home", "/tmp")
                                 else F.WARNING, "%s (%s) is mounted read-only" % (mount, fstype),
                                 "a writable filesystem mounted read-only is usually the kernel's "
                                 "reaction to an error",
                                 [F.Evidence(origin_path(bundle.origin("mounts")), lineno, line)],
                                 "look for the filesystem error before it (log findings); fsck it; "
                                 "remount rw only after the check"))
    return out


def check_mdstat(bundle):
    text = bundle.text("mdstat")
    if text is None:
        return []      # no md is the common case: say nothing, not "ok"
    out = []
    from .bundle import origin_path
    current = None
    for lineno, line in bundle.lines("mdstat"):
        match = re.match(r"^(md\S+)\s*:\s*(\S+)", line)
        if match:
            current = (match.group(1), lineno, line)
            if "inactive" in line:
                out.append(F.Finding("md.degraded", F.CRITICAL, "%s is inactive" % match.group(1), "",
                                     [F.Evidence(origin_path(bundle.origin("mdstat")), lineno, line)],
                                     "mdadm --detail /dev/%s; assemble it once the members are back"
                                     % match.group(1)))
            continue
        status = re.search(r"\[(\d+)/(\d+)\]\s*\[([U_]+)\]", line)
        if status and current and int(status.group(2)) < int(status.group(1)):
            out.append(F.Finding("md.degraded", F.CRITICAL, "%s is degraded: %s of %s devices [%s]" % (
                current[0], status.group(2), status.group(1), status.group(3)), "",
                [F.Evidence(origin_path(bundle.origin("mdstat")), current[1], current[2]),
                 F.Evidence(origin_path(bundle.origin("mdstat")), lineno, line)],
                "mdadm --detail /dev/%s shows the failed member; replace it and "
                "'mdadm --add' the new one" % current[0]))
    return out


# multipath -ll topology: a map line, then path lines under the path groups:
#   mpatha (3600140551c...) dm-2 LIO-ORG,disk01       (or: 3600...a1 dm-2 VENDOR,PRODUCT)
#   | `- 3:0:0:1 sdd 8:48 failed faulty running        (dm state, checker state, device state)
# -v4 adds "Jun 09 06:03:40 | ..." debug lines, which are skipped.
_MP_MAP = re.compile(r"^(?:create: |reload: )?(?P<name>\S+)(?: \((?P<wwid>[^)]+)\))? (?P<dm>dm-\d+) (?P<rest>.*)$")
_MP_PATH = re.compile(r"^[ |`+\\-]*- (?P<hcil>\d+:\d+:\d+:\d+) +(?P<dev>\S+) +(?P<majmin>\d+:\d+) +"
                      r"(?P<dm>\S+) +(?P<checker>i/o pending|\S+) +(?P<state>\S+)")
_MP_BAD_DM = ("failed",)
_MP_BAD_CHECKER = ("faulty", "shaky")
_MP_BAD_STATE = ("offline", "transport-offline", "blocked", "quiesce")


def parse_multipath(lines):
    """[(map name, wwid, dm, lineno, [(lineno, line, dev, dm state, checker, device state)])]."""
    maps = []
    for lineno, line in lines:
        if " | " in line[:24]:
            continue          # -v4 debug output
        path = _MP_PATH.match(line)
        if path and maps:
            maps[-1][4].append((lineno, line, path.group("dev"), path.group("dm"), path.group("checker"),
                                path.group("state")))
            continue
        head = _MP_MAP.match(line)
        if head and not line.startswith((" ", "|", "`", "size=")):
            maps.append((head.group("name"), head.group("wwid") or head.group("name"), head.group("dm"),
                         lineno, []))
    return maps


def _mp_failed(path):
    _, _, _, dm, checker, state = path
    return dm in _MP_BAD_DM or checker in _MP_BAD_CHECKER or state in _MP_BAD_STATE


def check_multipath(bundle):
    text = bundle.text("multipath")
    if text is None or "command not found" in text or not text.strip():
        return []
    from .bundle import origin_path
    origin = origin_path(bundle.origin("multipath"))
    maps = [m for m in parse_multipath(bundle.lines("multipath")) if m[4]]
    if not maps:
        return []
    out = []
    for name, wwid, dm, lineno, paths in maps:
        bad = [p for p in paths if _mp_failed(p)]
        if not bad:
            continue
        left = len(paths) - len(bad)
        severity = F.CRITICAL if left == 0 else F.WARNING
        out.append(F.Finding(
            "multipath.failed", severity, "multipath %s: %d of %d path(s) failed%s (%s)" % (
                name, len(bad), len(paths), ", NO path left" if left == 0 else "",
                " ".join(p[2] for p in bad[:6])),
            ("%s (%s): I/O to it %s" % (dm, wwid, "queues or fails (every path is down)" if left == 0 else
                                       "runs on its last path: one more failure and it is down" if left == 1
                                       else "runs on %d of %d path(s)" % (left, len(paths)))),
            [F.Evidence(origin, lineno, "%s (%s) %s" % (name, wwid, dm))] +
            [F.Evidence(origin, p[0], p[1].strip()) for p in bad[:5]],
            "check the SAN fabric, HBA and array ports of those paths ('multipathd show paths', the "
            "array's port status, 'dmesg' for the SCSI errors); reinstate with 'multipathd reinstate path DEV'"))
    if not out:
        total = sum(len(m[4]) for m in maps)
        out.append(F.Finding("multipath.failed", F.OK, "multipath: %d map(s), all %d path(s) active" % (len(maps), total),
                             evidence=[F.Evidence(origin, maps[0][3], maps[0][0])]))
    return out


def meminfo(bundle):
    values = {}
    for lineno, line in bundle.lines("meminfo"):
        match = re.match(r"^(\S+):\s+(\d+)(?:\s+kB)?", line)
        if match:
            values[match.group(1)] = (int(match.group(2)), lineno, line)
    return values


def check_memory(bundle, thresholds):
    if bundle.text("meminfo") is None:
        return [_missing(bundle, "mem.available", "available memory", "meminfo")]
    info = meminfo(bundle)
    from .bundle import origin_path
    origin = origin_path(bundle.origin("meminfo"))
    out = []
    total = info.get("MemTotal", (0,))[0]
    available = info.get("MemAvailable")
    if total and available:
        pct = 100.0 * available[0] / total
        if pct < thresholds["mem_avail_warn_pct"]:
            out.append(F.Finding("mem.available", F.CRITICAL if pct < thresholds["mem_avail_crit_pct"]
                                 else F.WARNING, "low available memory: %.1f%% (%s of %s)" % (
                                     pct, timeparse.format_size(available[0] * 1024),
                                     timeparse.format_size(total * 1024)), "",
                                 [F.Evidence(origin, available[1], available[2])],
                                 "find the consumers (processes section, slab in /proc/slabinfo); "
                                 "add memory or limit the service (cgroup MemoryMax)"))
        else:
            out.append(F.Finding("mem.available", F.OK, "available memory %.0f%% of %s" % (
                pct, timeparse.format_size(total * 1024))))
    elif total:
        out.append(F.Finding.not_evaluated("mem.available", "available memory",
                                           ["MemAvailable in %s (kernel older than 3.14?)" % origin]))
    swap_total = info.get("SwapTotal", (0,))[0]
    swap_free = info.get("SwapFree", (0,))[0]
    if swap_total:
        used_pct = 100.0 * (swap_total - swap_free) / swap_total
        if used_pct >= thresholds["swap_warn_pct"]:
            out.append(F.Finding("mem.swap", F.CRITICAL if used_pct >= thresholds["swap_crit_pct"]
                                 else F.WARNING, "swap %.0f%% used (%s)" % (
                                     used_pct, timeparse.format_size((swap_total - swap_free) * 1024)), "",
                                 [F.Evidence(origin, info["SwapFree"][1], info["SwapFree"][2])],
                                 "memory pressure: check the sar memory chart and the top consumers"))
    huge_total = info.get("HugePages_Total", (0,))[0]
    huge_free = info.get("HugePages_Free", (0,))[0]
    huge_size = info.get("Hugepagesize", (2048,))[0]
    if huge_total and huge_free == huge_total and "HugePages_Rsvd" in info and info["HugePages_Rsvd"][0] == 0:
        size = huge_total * huge_size * 1024
        severity = F.WARNING if total and huge_total * huge_size > 0.1 * total else F.INFO
        out.append(F.Finding("mem.hugepages-unused", severity,
                             "%d huge pages (%s) reserved but none in use" % (huge_total, timeparse.format_size(size)),
                             "memory set aside for huge pages is unavailable to everything else",
                             [F.Evidence(origin, info["HugePages_Total"][1], info["HugePages_Total"][2]),
                              F.Evidence(origin, info["HugePages_Free"][1], info["HugePages_Free"][2])],
                             "lower vm.nr_hugepages if the application that wanted them is gone or "
                             "misconfigured (it should map them at start)"))
    return out


def cpu_count(bundle):
    text = bundle.text("cpuinfo")
    if text:
        count = len(re.findall(r"^processor\s*:", text, re.M))
        if count:
            return count
    text = bundle.text("lscpu")
    if text:
        match = re.search(r"^CPU\(s\):\s+(\d+)", text, re.M)
        if match:
            return int(match.group(1))
    return None


def check_load(bundle, thresholds):
    text = bundle.text("loadavg")
    origin = bundle.origin("loadavg")
    load = None
    if text:
        words = text.split()
        try:
            load = [float(w) for w in words[:3]]
        except ValueError:
            load = None
    if load is None:
        text = bundle.text("uptime")
        match = re.search(r"load averages?:\s*(\d+[.,]\d+),?\s+(\d+[.,]\d+),?\s+(\d+[.,]\d+)", text or "")
        if match:
            load = [float(g.replace(",", ".")) for g in match.groups()]
            origin = bundle.origin("uptime")
    cpus = cpu_count(bundle)
    if load is None or not cpus:
        missing = []
        if load is None:
            missing.append(bundle.missing("loadavg"))
        if not cpus:
            missing.append(bundle.missing("cpuinfo"))
        return [F.Finding.not_evaluated("load.per-cpu", "load per CPU", missing)]
    from .bundle import origin_path
    per = max(load[0], load[1]) / cpus
    if per >= thresholds["load_warn_per_cpu"]:
        return [F.Finding("load.per-cpu", F.CRITICAL if per >= thresholds["load_crit_per_cpu"] else F.WARNING,
                          "load %.2f / %.2f / %.2f on %d CPU(s): %.1f per CPU" % (load[0], load[1], load[2],
                                                                                 cpus, per),
                          "load counts runnable and D-state (I/O-blocked) tasks",
                          [F.Evidence(origin_path(origin), None, " ".join("%.2f" % v for v in load))],
                          "see the processes section: many D-state tasks point at storage, many "
                          "runnable ones at CPU saturation")]
    return [F.Finding("load.per-cpu", F.OK, "load %.2f on %d CPU(s)" % (load[0], cpus))]


def parse_ps(bundle):
    """[(lineno, dict)] with user, pid, cpu, mem, rss, stat, command from 'ps aux'-style output."""
    rows = []
    header = None
    for lineno, line in bundle.lines("ps"):
        words = line.split()
        if not words:
            continue
        if header is None:
            if "PID" in words and ("STAT" in words or "S" in words):
                header = words
            continue
        if len(words) < len(header):
            continue
        cut = len(header) - 1
        values = dict(zip(header[:cut], words[:cut]))
        values["COMMAND"] = " ".join(words[cut:])
        rows.append((lineno, values))
    return rows


def check_processes(bundle, thresholds):
    if bundle.text("ps") is None:
        return [_missing(bundle, "proc.dstate", "D-state and zombie processes", "ps")]
    rows = parse_ps(bundle)
    if not rows:
        return [F.Finding.not_evaluated("proc.dstate", "D-state and zombie processes",
                                        ["a 'ps aux' table in %s" % bundle.origin("ps")])]
    from .bundle import origin_path
    origin = origin_path(bundle.origin("ps"))
    out = []
    stat_key = "STAT" if "STAT" in rows[0][1] else "S"
    dstate = [(n, r) for n, r in rows if r.get(stat_key, "").startswith("D")]
    zombies = [(n, r) for n, r in rows if r.get(stat_key, "").startswith("Z")]
    if len(dstate) >= thresholds["dstate_warn"]:
        out.append(F.Finding("proc.dstate", F.WARNING, "%d process(es) in D state (uninterruptible I/O wait)"
                             % len(dstate), "",
                             [F.Evidence(origin, n, "%s %s %s" % (r.get("PID"), r.get(stat_key), r["COMMAND"][:120]))
                              for n, r in dstate[:5]],
                             "they wait on storage or NFS: check the I/O and NFS findings; "
                             "'cat /proc/PID/stack' shows where"))
    if len(zombies) >= thresholds["zombie_warn"]:
        out.append(F.Finding("proc.zombie", F.WARNING, "%d zombie process(es)" % len(zombies), "",
                             [F.Evidence(origin, n, "%s %s" % (r.get("PID"), r["COMMAND"][:120])) for n, r in zombies[:5]],
                             "their parent does not reap them: restart the parent (PPID in 'ps -ef')"))
    if not out:
        out.append(F.Finding("proc.dstate", F.OK, "no D-state or zombie pile-up among %d processes" % len(rows)))
    return out


def top_consumers(bundle, count=8):
    rows = parse_ps(bundle)

    def num(value):
        try:
            return float(value.replace(",", "."))
        except (ValueError, AttributeError):
            return 0.0
    cpu = sorted(rows, key=lambda item: -num(item[1].get("%CPU", "0")))[:count]
    mem = sorted(rows, key=lambda item: -num(item[1].get("RSS", "0")))[:count]
    return cpu, mem


def check_limits(bundle, thresholds):
    out = []
    from .bundle import origin_path
    text = bundle.text("file-nr")
    if text:
        words = text.split()
        try:
            used, _, maximum = int(words[0]), int(words[1]), int(words[2])
        except (ValueError, IndexError):
            used = maximum = None
        if used is not None and maximum:
            pct = 100.0 * used / maximum
            if pct >= thresholds["limit_warn_pct"]:
                out.append(F.Finding("limits.files", F.CRITICAL if pct >= thresholds["limit_crit_pct"] else F.WARNING,
                                     "open files %d of fs.file-max %d (%.0f%%)" % (used, maximum, pct), "",
                                     [F.Evidence(origin_path(bundle.origin("file-nr")), 1, text.strip())],
                                     "find the process holding them (lsof | awk '{print $2}' | sort | uniq -c); "
                                     "raise fs.file-max"))
    pid_max = bundle.text("pid-max")
    rows = parse_ps(bundle) if bundle.text("ps") is not None else []
    if pid_max and rows:
        try:
            limit = int(pid_max.split()[0])
        except (ValueError, IndexError):
            limit = 0
        threads = len(rows)
        nlwp = bundle.text("loadavg")
        if nlwp:
            match = re.search(r"\s\d+/(\d+)\s", nlwp)
            if match:
                threads = int(match.group(1))
        if limit:
            pct = 100.0 * threads / limit
            if pct >= thresholds["limit_warn_pct"]:
                out.append(F.Finding("limits.pids", F.CRITICAL if pct >= thresholds["limit_crit_pct"] else F.WARNING,
                                     "%d tasks of kernel.pid_max %d (%.0f%%)" % (threads, limit, pct), "",
                                     [F.Evidence(origin_path(bundle.origin("pid-max")), 1, pid_max.strip())],
                                     "find the process forking (ps -eLf | awk '{print $2}' | uniq -c | sort -n); "
                                     "raise kernel.pid_max"))
    return out


def check_failed_units(bundle):
    text = bundle.text("failed-units")
    if text is None:
        return [_missing(bundle, "systemd.failed", "failed systemd units", "failed-units")]
    from .bundle import origin_path
    origin = origin_path(bundle.origin("failed-units"))
    if "has not been booted with systemd" in text or "Failed to connect to bus" in text:
        return [F.Finding.not_evaluated("systemd.failed", "failed systemd units",
                                        ["a running systemd (%s says: %s)" % (origin, text.strip().splitlines()[0][:80])])]
    failed = []
    for lineno, line in bundle.lines("failed-units"):
        match = re.match(r"^[\s\u25cf*]*(\S+\.(?:service|socket|mount|target|timer|path|device|scope|swap|automount))"
                         r"\s+\S+\s+(failed)\b", line)
        if match:
            failed.append((lineno, match.group(1), line.strip()))
    if failed:
        return [F.Finding("systemd.failed", F.WARNING if len(failed) < 5 else F.CRITICAL,
                          "%d failed unit(s): %s" % (len(failed), ", ".join(u for _, u, _ in failed[:6])), "",
                          [F.Evidence(origin, n, l) for n, _, l in failed[:6]],
                          "systemctl status UNIT and journalctl -u UNIT -b for each; fix, then "
                          "systemctl reset-failed")]
    if re.search(r"^\s*0 loaded units listed", text, re.M) or "0 units listed" in text or not text.strip():
        return [F.Finding("systemd.failed", F.OK, "no failed units")]
    return [F.Finding("systemd.failed", F.OK, "no failed units listed")]


def parse_netdev(bundle):
    rows = []
    for lineno, line in bundle.lines("netdev"):
        if ":" not in line or "|" in line:
            continue
        name, _, rest = line.partition(":")
        numbers = rest.split()
        if len(numbers) < 16:
            continue
        try:
            values = [int(v) for v in numbers[:16]]
        except ValueError:
            continue
        rows.append((lineno, name.strip(), values, line))
    return rows


def check_network(bundle, thresholds):
    out = []
    from .bundle import origin_path
    # NIC errors and drops
    if bundle.text("netdev") is not None:
        origin = origin_path(bundle.origin("netdev"))
        for lineno, name, v, line in parse_netdev(bundle):
            if name == "lo":
                continue
            rx_packets, rx_errs, rx_drop = v[1], v[2], v[3]
            tx_packets, tx_errs, tx_drop = v[9], v[10], v[11]
            packets = rx_packets + tx_packets
            bad = rx_errs + tx_errs + rx_drop + tx_drop
            if packets and bad and float(bad) / packets >= thresholds["nic_error_warn_ratio"]:
                out.append(F.Finding("net.nic-errors", F.WARNING,
                                     "%s: %d errors, %d drops of %d packets" % (
                                         name, rx_errs + tx_errs, rx_drop + tx_drop, packets),
                                     "rx errs %d drop %d, tx errs %d drop %d" % (rx_errs, rx_drop, tx_errs, tx_drop),
                                     [F.Evidence(origin, lineno, line.strip())],
                                     "errors: cable, transceiver, duplex (ethtool -S %s); drops: ring "
                                     "size (ethtool -g) or a too slow consumer" % name))
    else:
        out.append(_missing(bundle, "net.nic-errors", "NIC errors and drops", "netdev"))
    # softnet
    text = bundle.text("softnet")
    if text:
        dropped = squeezed = 0
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3:
                try:
                    dropped += int(words[1], 16)
                    squeezed += int(words[2], 16)
                except ValueError:
                    pass
        if dropped:
            out.append(F.Finding("net.softnet", F.WARNING, "%d packets dropped in the softnet backlog" % dropped,
                                 "time_squeeze %d" % squeezed,
                                 [F.Evidence(origin_path(bundle.origin("softnet")), None, "column 2 (dropped) summed")],
                                 "raise net.core.netdev_max_backlog; spread interrupts (irqbalance, RPS)"))
    # TCP retransmits and listen overflows (proc/net/snmp + proc/net/netstat, or netstat -s)
    out.extend(_check_tcp(bundle, thresholds))
    # conntrack usage
    count, maximum = bundle.text("conntrack-count"), bundle.text("conntrack-max")
    if count and maximum:
        try:
            used, limit = int(count.split()[0]), int(maximum.split()[0])
        except (ValueError, IndexError):
            used = limit = 0
        if limit and 100.0 * used / limit >= thresholds["limit_warn_pct"]:
            out.append(F.Finding("net.conntrack", F.CRITICAL if 100.0 * used / limit >= thresholds["limit_crit_pct"]
                                 else F.WARNING, "conntrack table %d of %d entries" % (used, limit), "",
                                 [F.Evidence(origin_path(bundle.origin("conntrack-count")), 1, count.strip())],
                                 "raise net.netfilter.nf_conntrack_max; NOTRACK traffic that needs no state"))
    # bonds
    for path in bundle.source.glob("proc/net/bonding/*"):
        current = None
        for line in bundle.source.lines(path):
            match = re.match(r"^Slave Interface:\s*(\S+)", line.text)
            if match:
                current = match.group(1)
            if current and re.match(r"^MII Status:\s*down", line.text):
                out.append(F.Finding("net.bond", F.WARNING, "%s: member %s is down" % (path.rsplit("/", 1)[-1], current),
                                     "", [F.Evidence.from_line(line)],
                                     "check the member's link (ethtool %s) and the switch port" % current))
                current = None
    # default route and nameserver
    route = bundle.text("ip-route")
    if route is None:
        out.append(_missing(bundle, "net.default-route", "default route", "ip-route"))
    elif not re.search(r"^(?:default\b|0\.0\.0\.0\s+\S+\s+0\.0\.0\.0)", route, re.M):
        out.append(F.Finding("net.default-route", F.WARNING, "no default route",
                             "nothing outside the local subnets is reachable",
                             [F.Evidence(origin_path(bundle.origin("ip-route")), None, None)],
                             "add the gateway in the network configuration (nmcli / netplan / ifcfg / wicked)"))
    resolv = bundle.text("resolv")
    if resolv is None:
        out.append(_missing(bundle, "net.nameserver", "DNS nameserver", "resolv"))
    elif not re.search(r"^\s*nameserver\s+\S+", resolv, re.M):
        out.append(F.Finding("net.nameserver", F.WARNING, "no nameserver in /etc/resolv.conf", "",
                             [F.Evidence(origin_path(bundle.origin("resolv")), None, None)],
                             "configure DNS (systemd-resolved, NetworkManager or resolv.conf)"))
    return out


def _snmp_values(text):
    values = {}
    lines = text.splitlines()
    for first, second in zip(lines, lines[1:]):
        a, b = first.split(), second.split()
        if a and b and a[0] == b[0] and a[0].endswith(":") and len(a) == len(b):
            for key, value in zip(a[1:], b[1:]):
                try:
                    values["%s%s" % (a[0], key)] = int(value)
                except ValueError:
                    pass
    return values


def _check_tcp(bundle, thresholds):
    out = []
    from .bundle import origin_path
    snmp = bundle.text("snmp")
    netstat = bundle.text("netstat-ext")
    out_segs = retrans = overflows = None
    origin = None
    if snmp:
        values = _snmp_values(snmp)
        out_segs, retrans = values.get("Tcp:OutSegs"), values.get("Tcp:RetransSegs")
        origin = origin_path(bundle.origin("snmp"))
    if netstat:
        values = _snmp_values(netstat)
        overflows = values.get("TcpExt:ListenOverflows")
    if out_segs is None:
        text = bundle.text("netstat-s")
        if text:
            origin = origin_path(bundle.origin("netstat-s"))
            match = re.search(r"(\d+) segments sent out", text)
            match2 = re.search(r"(\d+) segments retransmit", text)
            if match and match2:
                out_segs, retrans = int(match.group(1)), int(match2.group(1))
            match3 = re.search(r"(\d+) times the listen queue of a socket overflowed", text)
            if match3:
                overflows = int(match3.group(1))
    if out_segs:
        pct = 100.0 * (retrans or 0) / out_segs
        if pct >= thresholds["tcp_retrans_warn_pct"] and out_segs > 10000:
            out.append(F.Finding("net.tcp-retrans", F.WARNING, "TCP retransmits %.1f%% of segments sent" % pct,
                                 "%d of %d since boot" % (retrans, out_segs), [F.Evidence(origin, None, None)],
                                 "packet loss on the path: check NIC errors, switch ports, MTU mismatches; "
                                 "'ss -ti' shows per-connection retransmits"))
    if overflows:
        out.append(F.Finding("net.listen-overflow", F.WARNING, "listen queue overflowed %d times" % overflows,
                             "connections were dropped before the application accepted them",
                             [F.Evidence(origin or "proc/net/netstat", None, None)],
                             "the application accepts too slowly or its backlog is small: raise "
                             "net.core.somaxconn and the application's backlog"))
    return out


def check_time_sync(bundle):
    from .bundle import origin_path
    text = bundle.text("timedatectl")
    if text and "synchronized" in text:
        match = re.search(r"(?:System clock synchronized|NTP synchronized):\s*(\w+)", text)
        if match and match.group(1) == "no":
            return [F.Finding("time.sync", F.WARNING, "clock not synchronised", "",
                              [F.Evidence(origin_path(bundle.origin("timedatectl")), None, match.group(0))],
                              "start chronyd / systemd-timesyncd and check that a time source is reachable; "
                              "log times across hosts cannot be compared until then")]
        if match:
            return [F.Finding("time.sync", F.OK, "clock synchronised")]
    text = bundle.text("chrony")
    if text:
        match = re.search(r"Leap status\s*:\s*(.+)", text)
        if match and "Not synchronised" in match.group(1):
            return [F.Finding("time.sync", F.WARNING, "clock not synchronised (chrony)", "",
                              [F.Evidence(origin_path(bundle.origin("chrony")), None, match.group(0))],
                              "chronyc sources -v: check that a source is reachable")]
        if match:
            return [F.Finding("time.sync", F.OK, "clock synchronised (chrony)")]
    text = bundle.text("ntpq")
    if text:
        if re.search(r"^\*", text, re.M):
            return [F.Finding("time.sync", F.OK, "clock synchronised (ntpd)")]
        return [F.Finding("time.sync", F.WARNING, "ntpd has no selected peer", "",
                          [F.Evidence(origin_path(bundle.origin("ntpq")), None, None)],
                          "check the configured servers are reachable (ntpq -p)")]
    return [F.Finding.not_evaluated("time.sync", "clock synchronisation",
                                    [bundle.missing("timedatectl"), bundle.missing("chrony")])]


def check_security(bundle):
    from .bundle import origin_path
    out = []
    text = bundle.text("sestatus")
    if text:
        match = re.search(r"(?:Current mode|SELinux status):\s*(\w+)", text)
        mode = re.search(r"Current mode:\s*(\w+)", text)
        state = mode.group(1) if mode else (match.group(1) if match else "unknown")
        out.append(F.Finding("security.selinux", F.INFO, "SELinux %s" % state, "",
                             [F.Evidence(origin_path(bundle.origin("sestatus")), None, None)],
                             "permissive or disabled SELinux hides denials that would block in "
                             "production" if state in ("permissive", "disabled") else ""))
    text = bundle.text("apparmor")
    if text:
        match = re.search(r"(\d+) profiles are in enforce mode", text)
        out.append(F.Finding("security.apparmor", F.INFO, "AppArmor: %s" % (
            "%s profiles enforcing" % match.group(1) if match else text.strip().splitlines()[0][:80]), ""))
    return out


def check_taint(bundle):
    text = bundle.text("tainted")
    if text is None:
        return [_missing(bundle, "kernel.taint", "kernel taint", "tainted")]
    from .bundle import origin_path
    try:
        value = int(text.split()[0])
    except (ValueError, IndexError):
        return [F.Finding.not_evaluated("kernel.taint", "kernel taint", ["a number in /proc/sys/kernel/tainted"])]
    if not value:
        return [F.Finding("kernel.taint", F.OK, "kernel not tainted")]
    flags = decode_taint(value)
    severe = set(letter for letter, _, _ in flags) & set("DMBLWA")
    return [F.Finding("kernel.taint", F.WARNING if severe else F.INFO,
                      "kernel tainted (%d): %s" % (value, " ".join(letter for letter, _, _ in flags)),
                      "; ".join("%s = %s" % (letter, meaning) for letter, _, meaning in flags),
                      [F.Evidence(origin_path(bundle.origin("tainted")), 1, text.strip())],
                      "D/W/L: a kernel problem happened since boot (see kernel events); P/O/E: "
                      "proprietary or out-of-tree modules (reproduce without them before reporting upstream)")]


# bit, letter, meaning (Documentation/admin-guide/tainted-kernels.rst)
TAINT_FLAGS = (
    (0, "P", "proprietary module loaded"), (1, "F", "module force-loaded"),
    (2, "S", "kernel running on out-of-spec hardware"), (3, "R", "module force-unloaded"),
    (4, "M", "machine check exception occurred"), (5, "B", "bad page referenced or unexpected page flags"),
    (6, "U", "taint requested by userspace"), (7, "D", "kernel died recently (OOPS or BUG)"),
    (8, "A", "ACPI table overridden"), (9, "W", "kernel issued a warning"),
    (10, "C", "staging driver loaded"), (11, "I", "workaround for a platform firmware bug"),
    (12, "O", "out-of-tree module loaded"), (13, "E", "unsigned module loaded"),
    (14, "L", "soft lockup occurred"), (15, "K", "kernel live-patched"),
    (16, "X", "auxiliary taint (distribution-defined)"), (17, "T", "built with the struct randomization plugin"),
    (18, "N", "in-kernel test run"), (19, "J", "userspace used a mutating debug operation in fwctl"),
)


def decode_taint(value):
    return [(letter, bit, meaning) for bit, letter, meaning in TAINT_FLAGS if value & (1 << bit)]


def check_vulnerabilities(bundle):
    paths = bundle.source.glob("sys/devices/system/cpu/vulnerabilities/*")
    if not paths:
        return []
    bad = []
    for path in paths:
        text = bundle.source.read_text(path, warn=False) or ""
        if text.startswith("Vulnerable"):
            bad.append(F.Evidence(path, 1, text.strip()[:200]))
    if bad:
        return [F.Finding("cpu.vulnerabilities", F.WARNING,
                          "CPU reported vulnerable: %s" % ", ".join(e.origin.rsplit("/", 1)[-1] for e in bad), "",
                          bad[:6], "update the kernel and the CPU microcode; check that no mitigation is "
                                   "disabled on the command line (mitigations=off, nospectre_v2...)")]
    return [F.Finding("cpu.vulnerabilities", F.OK, "no CPU vulnerability reported as Vulnerable")]


def _version_key(text):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-_+~]", text) if p != ""]


def installed_kernels(bundle):
    """[(version, origin)] of kernels installed, from packages or /boot."""
    found = []
    text = bundle.text("rpm")
    if text:
        for line in text.splitlines():
            match = re.match(r"^kernel(?:-core|-default|-uek)?-(\d[\w.\-]+?)(?:\.(x86_64|aarch64|ppc64le|s390x))?(?:\s|$)",
                             line.strip())
            if match:
                version = match.group(1)
                if match.group(2):
                    version += "." + match.group(2)
                found.append((version, bundle.origin("rpm")))
                continue
            # supportconfig rpm.txt: NAME  DISTRIBUTION  VERSION-RELEASE columns
            match = re.match(r"^kernel(?:-default|-core)?\s+.*\s(\d[\w.+~]*-[\w.+~]+)$", line.strip())
            if match:
                found.append((match.group(1), bundle.origin("rpm")))
    text = bundle.text("dpkg")
    if text:
        for line in text.splitlines():
            match = re.match(r"^(?:ii|hi|iU)\s+linux-image-(\d\S+)\s", line)
            if match:
                found.append((match.group(1), bundle.origin("dpkg")))
    if not found:
        for path in bundle.source.glob("boot/vmlinuz-*"):
            found.append((path.split("vmlinuz-", 1)[1], path))
    return found


def running_kernel(bundle):
    text = bundle.text("uname")
    if text:
        words = text.split()
        if len(words) >= 3 and words[0] == "Linux":
            return words[2]
    return None


def same_kernel(running, package):
    """uname -r and a package version naming the same kernel (flavour and arch aside):
    '5.14.21-150500.55.39-default' ~ '5.14.21-150500.55.39.1', '3.10.0-1160.el7.x86_64' ~ itself."""
    if running.startswith(package) or package.startswith(running):
        return True
    base = package.rsplit(".", 1)[0] if "." in package else package
    return running.startswith(base + "-") or running == base


def package_installed(bundle, name):
    """True / False from the package lists, None when there are none."""
    texts = [t for t in (bundle.text("rpm"), bundle.text("dpkg")) if t]
    if not texts:
        return None
    pattern = re.compile(r"^(?:ii\s+)?%s(?:[-_:\s]\d|[\s:])" % re.escape(name), re.M)
    return any(pattern.search(t) for t in texts)


def check_kernel_version(bundle):
    running = running_kernel(bundle)
    kernels = installed_kernels(bundle)
    if not running or not kernels:
        missing = []
        if not running:
            missing.append(bundle.missing("uname"))
        if not kernels:
            missing.append("installed kernel packages (rpm -qa / dpkg -l / /boot)")
        return [F.Finding.not_evaluated("kernel.outdated", "running kernel vs newest installed", missing)]
    newest = max(kernels, key=lambda item: _version_key(item[0]))
    if not same_kernel(running, newest[0]) and _version_key(newest[0]) > _version_key(running):
        return [F.Finding("kernel.outdated", F.WARNING,
                          "running kernel %s is older than the newest installed %s" % (running, newest[0]),
                          "fixes in the newer kernel are not in effect until a reboot",
                          [F.Evidence(bundle.origin("uname"), None, running), F.Evidence(newest[1], None, newest[0])],
                          "reboot into the new kernel in a maintenance window (check the default boot "
                          "entry first)")]
    return [F.Finding("kernel.outdated", F.OK, "running the newest installed kernel (%s)" % running)]


# Offline end-of-life table: (distribution id, major version) -> end of
# standard/maintenance support (vendor life-cycle pages).
EOL = {
    ("rhel", "6"): "2020-11-30", ("rhel", "7"): "2024-06-30", ("rhel", "8"): "2029-05-31",
    ("rhel", "9"): "2032-05-31", ("centos", "6"): "2020-11-30", ("centos", "7"): "2024-06-30",
    ("centos", "8"): "2021-12-31", ("ol", "6"): "2021-03-01", ("ol", "7"): "2024-12-31",
    ("debian", "8"): "2020-06-30", ("debian", "9"): "2022-06-30", ("debian", "10"): "2024-06-30",
    ("debian", "11"): "2026-08-31", ("debian", "12"): "2028-06-30",
    ("ubuntu", "14.04"): "2019-04-30", ("ubuntu", "16.04"): "2021-04-30", ("ubuntu", "18.04"): "2023-05-31",
    ("ubuntu", "20.04"): "2025-05-31", ("ubuntu", "22.04"): "2027-06-01", ("ubuntu", "24.04"): "2029-06-01",
    ("sles", "11"): "2019-03-31", ("sles", "12"): "2024-10-31", ("sles", "15"): "2031-07-31",
    ("fedora", "38"): "2024-05-21", ("fedora", "39"): "2024-11-26", ("fedora", "40"): "2025-05-13",
}


def check_eol(distro, now):
    if distro is None or not distro.id:
        return [F.Finding.not_evaluated("os.eol", "operating system support status", ["/etc/os-release"])]
    version = distro.version_id or ""
    key = (distro.id, version if distro.id == "ubuntu" else version.split(".")[0])
    date = EOL.get(key)
    if date is None:
        return [F.Finding("os.eol", F.INFO, "%s: not in the offline end-of-life table" % distro.describe())]
    end = timeparse.parse_iso(date, assume_utc=True)
    if now is not None and end is not None and now > end:
        return [F.Finding("os.eol", F.WARNING, "%s reached end of standard support on %s" % (distro.describe(), date),
                          "no more security updates without extended support",
                          [F.Evidence(distro.origin or "etc/os-release", None, distro.pretty)],
                          "plan the upgrade; check for an extended-support subscription meanwhile")]
    return [F.Finding("os.eol", F.OK, "%s supported until %s" % (distro.describe(), date))]
