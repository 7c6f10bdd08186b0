"""Where each datum lives in a support bundle: one table of candidates.

A sosreport (3.x and 4.x), a supportconfig and a live or mounted root keep
the same facts in different places: ``df`` output is
``sos_commands/filesys/df_-al_-x_autofs`` in sos 4, ``df_-al`` in sos 3,
the root-level ``df`` symlink in both, a ``#==[ Command ]==# /bin/df -h``
section of supportconfig's ``basic-health-check.txt``, and ``df -al`` run
through the runner on a live box.  ``CANDIDATES`` lists, per datum, where
to look, in order; ``Bundle.get(datum)`` returns ``(text, origin)`` of the
first one present (cached), or None -- and a check whose datum is None says
"not evaluated (missing: ...)".

Candidates are tuples:

* ``("file", path)``: a root-relative file (mirrored /etc, /proc, /sys,
  var/log, the sos root symlinks such as ``uname`` or ``installed-rpms``,
  supportconfig sections of that path);
* ``("cmd", command)``: the captured output of exactly this command (sos
  ``sos_commands/<plugin>/<mangled>``, supportconfig ``# command``
  sections; run live on the live root);
* ``("prefix", command)``: a captured command whose words start with
  these (``ps aux`` matches ``ps auxwww`` in sos and ``ps axwwo ...`` is
  not matched), for bundles only;
* ``("glob", pattern)``: the first file matching a root-relative glob.

``bundle_info(source)`` reads what the bundle says about itself (tool and
version, collection date, plugins that timed out, commands not found or
failed, truncated logs) from sos ``sos_reports/manifest.json``,
``sos_logs/sos.log``, ``version.txt`` and supportconfig's
``supportconfig.txt`` / ``basic-environment.txt``.
"""

import json
import posixpath
import re

from . import sources, textio, timeparse

CANDIDATES = {
    "hostname": (("file", "etc/hostname"), ("cmd", "hostname"), ("file", "hostname"),
                 ("file", "proc/sys/kernel/hostname"), ("cmd", "hostnamectl status")),
    "uname": (("cmd", "uname -a"), ("file", "uname"), ("file", "sos_commands/kernel/uname_-a"),
              ("prefix", "uname -a")),
    "os-release": (("file", "etc/os-release"), ("file", "usr/lib/os-release"),
                   ("file", "etc/SuSE-release"), ("file", "etc/redhat-release"),
                   ("file", "etc/debian_version")),
    "cmdline": (("file", "proc/cmdline"), ("cmd", "cat /proc/cmdline")),
    "uptime": (("cmd", "uptime"), ("file", "uptime"), ("file", "sos_commands/host/uptime"),
               ("file", "proc/uptime")),
    "proc-uptime": (("file", "proc/uptime"),),
    "date": (("cmd", "date"), ("file", "date"), ("file", "sos_commands/date/date"),
             ("cmd", "timedatectl"), ("cmd", "date --utc")),
    "meminfo": (("file", "proc/meminfo"),),
    "free": (("cmd", "free"), ("file", "free"), ("cmd", "free -k"), ("cmd", "free -m"),
             ("prefix", "free")),
    "cpuinfo": (("file", "proc/cpuinfo"),),
    "lscpu": (("cmd", "lscpu"), ("file", "sos_commands/processor/lscpu"), ("prefix", "lscpu")),
    "loadavg": (("file", "proc/loadavg"),),
    "stat": (("file", "proc/stat"),),
    "df": (("cmd", "df -al -x autofs"), ("cmd", "df -al"), ("file", "df"), ("cmd", "df -hT"),
           ("cmd", "df -h"), ("cmd", "df -k"), ("cmd", "df"), ("prefix", "df -al"), ("prefix", "df -h")),
    "df-inodes": (("cmd", "df -ali -x autofs"), ("cmd", "df -ali"), ("cmd", "df -i"),
                  ("prefix", "df -ali"), ("prefix", "df -i")),
    "mounts": (("file", "proc/mounts"), ("cmd", "mount -l"), ("cmd", "mount"), ("file", "etc/mtab")),
    "fstab": (("file", "etc/fstab"),),
    "lsblk": (("cmd", "lsblk"), ("cmd", "lsblk -f -a -l"), ("prefix", "lsblk")),
    "mdstat": (("file", "proc/mdstat"), ("cmd", "cat /proc/mdstat")),
    "multipath": (("cmd", "multipath -ll"), ("cmd", "multipath -v4 -ll"), ("prefix", "multipath -ll"),
                  ("prefix", "multipath -l")),
    "lvs": (("prefix", "lvs -a"), ("cmd", "lvs"), ("prefix", "lvs")),
    "vgs": (("prefix", "vgs -v"), ("cmd", "vgs"), ("prefix", "vgs")),
    "pvs": (("prefix", "pvs -a"), ("cmd", "pvs"), ("prefix", "pvs")),
    "ps": (("cmd", "ps auxwww"), ("file", "ps"), ("cmd", "ps auxwwwm"), ("cmd", "ps aux"),
           ("cmd", "ps axwwo user,pid,ppid,%cpu,%mem,vsz,rss,tty,stat,start,time,cmd"),
           ("prefix", "ps aux"), ("prefix", "ps -ef"), ("prefix", "ps axwwo")),
    "failed-units": (("cmd", "systemctl list-units --failed"), ("cmd", "systemctl --failed"),
                     ("prefix", "systemctl list-units --failed"), ("prefix", "systemctl --failed")),
    "units": (("cmd", "systemctl list-units --all"), ("cmd", "systemctl --no-pager --all list-units"),
              ("prefix", "systemctl list-units"), ("prefix", "systemctl --no-pager --all list-units")),
    "unit-files": (("cmd", "systemctl list-unit-files"), ("prefix", "systemctl list-unit-files"),
                   ("prefix", "systemctl --no-pager list-unit-files")),
    "ip-addr": (("cmd", "ip -d address"), ("cmd", "ip address"), ("cmd", "ip addr"), ("file", "ip_addr"),
                ("cmd", "ip -o addr"), ("prefix", "ip -d address"), ("prefix", "ip addr"),
                ("prefix", "ip address")),
    "ip-link": (("cmd", "ip -s -d link"), ("cmd", "ip -s link"), ("prefix", "ip -s -d link"),
                ("prefix", "ip -s link"), ("prefix", "ip link")),
    "ip-route": (("cmd", "ip route show table all"), ("cmd", "ip -4 route"), ("cmd", "ip route"),
                 ("file", "route"), ("cmd", "ip r"), ("cmd", "route -n"), ("prefix", "ip route"),
                 ("prefix", "ip -4 route"), ("prefix", "route -n")),
    "resolv": (("file", "etc/resolv.conf"),),
    "netdev": (("file", "proc/net/dev"),),
    "softnet": (("file", "proc/net/softnet_stat"),),
    "snmp": (("file", "proc/net/snmp"),),
    "netstat-ext": (("file", "proc/net/netstat"),),
    "netstat-s": (("cmd", "netstat -s"), ("prefix", "netstat -s"), ("cmd", "nstat -az"),
                  ("prefix", "nstat")),
    "conntrack-count": (("file", "proc/sys/net/netfilter/nf_conntrack_count"),),
    "conntrack-max": (("file", "proc/sys/net/netfilter/nf_conntrack_max"),
                      ("file", "proc/sys/net/nf_conntrack_max")),
    "timedatectl": (("cmd", "timedatectl"), ("cmd", "timedatectl status"),
                    ("cmd", "timedatectl --no-pager status"), ("prefix", "timedatectl")),
    "chrony": (("cmd", "chronyc -n tracking"), ("cmd", "chronyc tracking"), ("prefix", "chronyc tracking"),
               ("prefix", "chronyc -n tracking")),
    "ntpq": (("cmd", "ntpq -p"), ("cmd", "ntpq -pn"), ("prefix", "ntpq -p"), ("prefix", "ntpq -pn")),
    "sestatus": (("cmd", "sestatus"), ("cmd", "sestatus -v"), ("file", "sestatus"), ("cmd", "sestatus -b"),
                 ("prefix", "sestatus")),
    "selinux-config": (("file", "etc/selinux/config"),),
    "apparmor": (("cmd", "apparmor_status"), ("cmd", "aa-status"), ("prefix", "apparmor_status"),
                 ("prefix", "aa-status")),
    "tainted": (("file", "proc/sys/kernel/tainted"),),
    "file-nr": (("file", "proc/sys/fs/file-nr"),),
    "pid-max": (("file", "proc/sys/kernel/pid_max"),),
    "threads-max": (("file", "proc/sys/kernel/threads-max"),),
    "rpm": (("file", "installed-rpms"), ("cmd", "rpm -qa"), ("prefix", "rpm -qa"), ("prefix", "rpm -q -a"),
            ("prefix", "rpm --nodigest -qa")),
    "dpkg": (("file", "installed-debs"), ("cmd", "dpkg -l"), ("prefix", "dpkg -l"),
             ("prefix", "dpkg-query -W")),
    "lsmod": (("cmd", "lsmod"), ("file", "lsmod"), ("file", "proc/modules")),
    "dmidecode": (("cmd", "dmidecode"), ("file", "dmidecode"), ("prefix", "dmidecode")),
    "virt-what": (("cmd", "systemd-detect-virt"), ("cmd", "virt-what"), ("prefix", "systemd-detect-virt"),
                  ("prefix", "virt-what")),
    "hostnamectl": (("cmd", "hostnamectl status"), ("cmd", "hostnamectl"), ("prefix", "hostnamectl")),
    "sysctl": (("cmd", "sysctl -a"), ("prefix", "sysctl -a")),
    "lastlog": (("cmd", "last"), ("file", "last"), ("prefix", "last")),
}

# Logs scanned line by line (root-relative folder, base name) in addition
# to shared.logs.discover: the auth log and the audit log.
EXTRA_LOGS = (("var/log", "secure"), ("var/log", "auth.log"), ("var/log/audit", "audit.log"),
              ("var/log", "cron"), ("var/log", "daemon.log"))

# Package-change logs for the timeline.
PACKAGE_LOGS = (("var/log", "dpkg.log"), ("var/log", "yum.log"), ("var/log", "dnf.rpm.log"),
                ("var/log", "zypp/history"), ("var/log/apt", "history.log"))

# sar data: text outputs (sos 'sar' plugin copies /var/log/sa/sar*, sos 4
# also runs 'sar -A -f saNN'; supportconfig's sar.txt holds sections).
SAR_GLOBS = ("sos_commands/sar/*", "var/log/sa/sar*", "var/log/sysstat/sar*", "sar.txt",
             "sar/*")


class Bundle(object):
    """A Source plus the candidate table; caches what it found."""

    def __init__(self, source, candidates=None):
        self.source = source
        self.candidates = candidates or CANDIDATES
        self._cache = {}
        self.tried = {}   # datum -> [candidate descriptions], for "missing" messages

    def get(self, datum):
        """(text, origin) of the first candidate present, or None."""
        if datum in self._cache:
            return self._cache[datum]
        found = None
        tried = []
        for candidate in self.candidates.get(datum, ()):
            tried.append(describe(candidate))
            found = self._try(candidate)
            if found is not None and found[0] is not None and found[0].strip():
                break
            found = None
        self._cache[datum] = found
        self.tried[datum] = tried
        return found

    def text(self, datum):
        found = self.get(datum)
        return found[0] if found else None

    def origin(self, datum):
        found = self.get(datum)
        return found[1] if found else None

    def lines(self, datum):
        """[(lineno, text)] of a datum (1-based line numbers in its origin)."""
        found = self.get(datum)
        if not found:
            return []
        first = _first_line(found[1])
        return [(first + index, text) for index, text in enumerate(found[0].splitlines())]

    def missing(self, datum):
        """A short description of what was looked for, for not-evaluated findings."""
        names = [describe(c) for c in self.candidates.get(datum, ())][:3]
        return "%s (%s)" % (datum, ", ".join(names)) if names else datum

    def _try(self, candidate):
        kind, value = candidate
        src = self.source
        if kind == "file":
            if not src.exists(value) or src.isdir(value):
                return None
            if src.live and value.startswith(("proc/", "sys/")):
                text = _read_live(value)
            else:
                text = src.read_text(value)
            if text is None:
                return None
            virtual = getattr(src, "virtual", {}).get(sources.clean_path(value))
            if virtual is not None:
                # a supportconfig section: point at the .txt file and the body's first line
                return text, "%s:%d" % (virtual[0], virtual[1])
            return text, src.origin(value)
        if kind == "cmd":
            return src.command_output(value)
        if kind == "prefix":
            return command_prefix(src, value)
        if kind == "glob":
            for path in src.glob(value):
                if not src.isdir(path):
                    text = src.read_text(path)
                    if text is not None:
                        return text, src.origin(path)
        return None


def describe(candidate):
    kind, value = candidate
    if kind == "file":
        return "/" + value if not value.startswith(("sos_", "installed")) and "/" in value else value
    if kind in ("cmd", "prefix"):
        return "'%s'" % value
    return value


def _first_line(origin):
    # supportconfig origins are "file.txt:LINE" (the first line of the body).
    match = re.search(r":(\d+)$", origin or "")
    return int(match.group(1)) if match else 1


def origin_path(origin):
    """The file part of an origin ("basic-health-check.txt:42" -> the file)."""
    match = re.match(r"^(.*):(\d+)$", origin or "")
    return match.group(1) if match else origin


def _read_live(path):
    try:
        with open("/" + path, "rb") as handle:
            return textio.decode(handle.read(4 * 1024 * 1024))
    except OSError:
        return None


def command_prefix(src, command):
    """Captured output of a command whose words start with ``command``'s words."""
    wanted = sources.command_words(command)
    if not wanted:
        return None
    if src.kind == "sos":
        index = src._command_index() if hasattr(src, "_command_index") else {}
        stem = sources.sos_mangle(command)
        names = sorted(name for name in index if name == stem or name.startswith(stem + "_"))
        for name in names:
            text = src.read_text(index[name])
            if text is not None and text.strip():
                return text, index[name]
        return None
    if src.kind == "supportconfig":
        for words, txt, first, body in getattr(src, "commands", ()):
            if words[:len(wanted)] == wanted:
                text = "\n".join(body) + "\n"
                if text.strip() and not text.startswith("ERROR: Command not found"):
                    return text, "%s:%d" % (txt, first)
    return None


# ------------------------------------------------------------ about the bundle

def bundle_info(source):
    """What the bundle says about itself: tool, version, collection time, problems."""
    info = {"kind": source.kind, "label": source.label, "tool": None, "version": None,
            "collected": None, "collected_origin": None, "cmdline": None,
            "timeouts": [], "not_found": [], "failed": [], "truncated": [], "plugins": [],
            "policy": None}
    if source.kind == "sos":
        _sos_info(source, info)
    elif source.kind == "supportconfig":
        _supportconfig_info(source, info)
    elif source.kind == "live":
        info["tool"] = "live system"
    else:
        info["tool"] = "mounted root"
    return info


def _sos_info(source, info):
    info["tool"] = "sos"
    text = source.read_text("sos_reports/manifest.json", warn=False) if \
        source.exists("sos_reports/manifest.json") else None
    manifest = None
    if text:
        try:
            manifest = json.loads(text)
        except ValueError:
            source.warn("sos_reports/manifest.json: not valid JSON (truncated?); bundle facts read "
                        "from sos_logs instead")
    if isinstance(manifest, dict):
        info["version"] = manifest.get("version")
        info["cmdline"] = manifest.get("cmdline")
        info["policy"] = manifest.get("policy")
        start = manifest.get("start_time") or manifest.get("end_time")
        stamp = _parse_manifest_time(start)
        if stamp is not None:
            info["collected"] = stamp
            info["collected_origin"] = "sos_reports/manifest.json"
        components = manifest.get("components") or {}
        report = components.get("report") if isinstance(components, dict) else None
        plugins = (report or {}).get("plugins") if isinstance(report, dict) else None
        if isinstance(plugins, dict):
            for name, plugin in sorted(plugins.items()):
                if not isinstance(plugin, dict):
                    continue
                info["plugins"].append(name)
                if plugin.get("timeout_hit"):
                    info["timeouts"].append(name)
                for command in plugin.get("commands") or ():
                    if not isinstance(command, dict):
                        continue
                    rc = command.get("return_code")
                    exe = command.get("exec") or command.get("command") or "?"
                    if rc == 127:
                        info["not_found"].append(exe)
                    elif command.get("truncated"):
                        info["truncated"].append(command.get("filepath") or exe)
                for item in plugin.get("files") or plugin.get("files_copied") or ():
                    if isinstance(item, dict) and item.get("truncated"):
                        info["truncated"].append(item.get("specification") or item.get("files_copied"))
    version = source.read_text("version.txt", warn=False) if source.exists("version.txt") else None
    if version and not info["version"]:
        match = re.search(r"sos(?:report)?:\s*([\w.\-]+)", version)
        if match:
            info["version"] = match.group(1)
    log = "sos_logs/sos.log"
    if source.exists(log):
        for line in source.lines(log):
            text = line.text
            match = re.search(r"[Pp]lugin (\S+) timed out", text) or \
                re.search(r"\[plugin:(\S+)\] (?:command|collection) .* timed out", text)
            if match and match.group(1) not in info["timeouts"]:
                info["timeouts"].append(match.group(1))
            match = re.search(r"command '([^']+)' not found", text)
            if match and match.group(1) not in info["not_found"]:
                info["not_found"].append(match.group(1))
            if info["collected"] is None:
                match = re.match(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})", text)
                if match:
                    stamp = timeparse.parse_iso(match.group(1).replace(" ", "T"), assume_utc=False)
                    if stamp is not None:
                        info["collected"] = stamp
                        info["collected_origin"] = "%s:%d" % (line.origin, line.lineno)
    if info["collected"] is None:
        for path in ("sos_commands/date/date", "date", "sos_reports/manifest.json", "version.txt"):
            stamp = source.mtime(path) if source.exists(path) else None
            if stamp:
                info["collected"] = stamp
                info["collected_origin"] = "%s (file time)" % path
                break


def _parse_manifest_time(text):
    if not text:
        return None
    text = str(text).strip()
    # sos writes "2024-06-09 06:06:20.123456" (local time, no zone).
    stamp = timeparse.parse_iso(text.replace(" ", "T", 1), assume_utc=False)
    return stamp


def _supportconfig_info(source, info):
    info["tool"] = "supportconfig"
    for name in ("supportconfig.txt", "basic-environment.txt"):
        if not source.tree.exists(name):
            continue
        try:
            stream = source.tree.open(name)
        except textio.Unreadable:
            continue
        try:
            for lineno, text in textio.LineReader(stream):
                match = re.search(r"Script Version:\s*(\S+)", text)
                if match and not info["version"]:
                    info["version"] = match.group(1)
                match = re.search(r"Script Date:\s*(.+)$", text)
                if "Timed Out" in text:
                    info["timeouts"].append(text.strip()[:120])
                if text.startswith("ERROR: Command not found"):
                    info["not_found"].append("%s:%d" % (name, lineno))
                if lineno > 20000:
                    break
        finally:
            stream.close()
    for words, txt, first, body in getattr(source, "commands", ()):
        if body and body[0].startswith("ERROR: Command not found"):
            label = " ".join(words)
            if label not in info["not_found"]:
                info["not_found"].append(label)
        if any("did not complete within the timeout" in line for line in body[-5:]):
            info["timeouts"].append(" ".join(words))
        if words[:1] == ["date"] and body and info["collected"] is None:
            stamp = parse_date_output(body[0])
            if stamp is not None:
                info["collected"] = stamp
                info["collected_origin"] = "%s:%d" % (txt, first)
    info["not_found"] = [n for n in info["not_found"] if not re.match(r".*\.txt:\d+$", n)]
    for path, entry in getattr(source, "virtual", {}).items():
        note = entry[3]
        if note and "last" in note.lower():
            info["truncated"].append("/%s (%s)" % (path, note))
    if info["collected"] is None:
        stamp = source.tree.mtime("basic-environment.txt") if source.tree.exists("basic-environment.txt") \
            else None
        if stamp:
            info["collected"] = stamp
            info["collected_origin"] = "basic-environment.txt (file time)"


_DATE_OUTPUT = re.compile(r"^(?:[A-Za-z]{3}\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
                          r"(?P<time>\d{2}:\d{2}:\d{2})\s+(?:(?P<zone>[A-Z]{2,5}|[+-]\d{4})\s+)?(?P<year>\d{4})")
_DATE_OUTPUT2 = re.compile(r"^(?:[A-Za-z]{3}\s+)?(?P<day>\d{1,2})\s+(?P<mon>[A-Za-z]{3})\s+(?P<year>\d{4})\s+"
                           r"(?P<time>\d{2}:\d{2}:\d{2})(?:\s+(?:AM|PM))?\s*(?P<zone>[A-Z]{2,5}|[+-]\d{4})?")
_MONTHS = dict((m, i) for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1))


def parse_date_output(text):
    """Epoch of a `date` output line ('Sun Jun  9 06:06:20 UTC 2024'), or None."""
    text = (text or "").strip()
    match = _DATE_OUTPUT.match(text) or _DATE_OUTPUT2.match(text)
    if not match:
        return None
    month = _MONTHS.get(match.group("mon").lower())
    if not month:
        return None
    zone = match.group("zone")
    iso = "%s-%02d-%02dT%s" % (match.group("year"), month, int(match.group("day")), match.group("time"))
    offset = timeparse.zone_offset(zone) if zone else None
    if offset is not None:
        sign = "+" if offset >= 0 else "-"
        offset = abs(int(offset))
        iso += "%s%02d:%02d" % (sign, offset // 3600, (offset % 3600) // 60)
        return timeparse.parse_iso(iso)
    return timeparse.parse_iso(iso, assume_utc=False)


def wanted_member(path):
    """For TarTree(keep=...): the members the report reads (logs and sar text)."""
    name = posixpath.basename(path)
    if path.startswith("var/log/"):
        return not name.endswith((".bin",)) and "journal/" not in path
    if path.startswith(("sos_commands/logs/", "sos_commands/kernel/dmesg", "sos_commands/sar/")):
        return True
    return name in ("messages.txt", "sar.txt", "boot.txt")
