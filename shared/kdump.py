"""kdump readiness: gather the facts of a root and judge them.

``gather(source, runner)`` reads everything that decides whether the next
kernel crash leaves a vmcore -- distribution, architecture, bootloader and
the next boot's ``crashkernel=``, the running command line, memory really
reserved, crash kernel loaded, kdump service, its initrd, dump target and
free space against an estimate, SysRq, panic sysctls, existing dumps --
from any shared.sources Source (the live system, a mounted root, an
extracted sosreport).  ``judge(facts)`` turns them into shared.findings
with the exact fix for each problem and a READY / NOT READY verdict.

Nothing here changes anything; the plan/apply engine is kdump_plan and
kdump_apply.  Facts that a source cannot show (a mounted root has no
/proc) are None and their checks are "not evaluated", never "ok".
"""

import os
import re

from . import distro as distro_mod
from . import findings as F
from . import kdump_boot, kdump_sizing
from .kdump_sizing import MIB, format_size

# ------------------------------------------------------------ per family

FAMILIES = {
    "debian": {
        "packages": ["kdump-tools", "kexec-tools"],
        "tools": ["usr/sbin/kdump-config", "sbin/kdump-config"],
        "service": "kdump-tools.service",
        "config": "etc/default/kdump-tools",
        "owner": ("etc/default/grub.d/kdump-tools.cfg", "GRUB_CMDLINE_LINUX_DEFAULT", True),
    },
    "ubuntu": {
        "packages": ["linux-crashdump"],
        "tools": ["usr/sbin/kdump-config", "sbin/kdump-config"],
        "service": "kdump-tools.service",
        "config": "etc/default/kdump-tools",
        "owner": ("etc/default/grub.d/kdump-tools.cfg", "GRUB_CMDLINE_LINUX_DEFAULT", True),
    },
    "rhel": {
        "packages": ["kexec-tools"],
        "tools": ["usr/bin/kdumpctl", "usr/sbin/kdumpctl", "bin/kdumpctl", "sbin/kdumpctl"],
        "service": "kdump.service",
        "config": "etc/kdump.conf",
        "owner": ("etc/default/grub", "GRUB_CMDLINE_LINUX", False),
    },
    "suse": {
        "packages": ["kdump"],
        "tools": ["usr/sbin/kdumptool", "sbin/kdumptool"],
        "service": "kdump.service",
        "config": "etc/sysconfig/kdump",
        "owner": ("etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT", False),
    },
    "arch": {
        "packages": ["kexec-tools"],
        "tools": ["usr/bin/kexec", "usr/sbin/kexec"],
        "service": "kdumpsetup-load.service",
        "config": "etc/systemd/system/kdumpsetup-load.service",
        "owner": ("etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT", False),
    },
}

PANIC_SYSCTLS = (
    "kernel.panic_on_oops", "kernel.softlockup_panic", "kernel.hardlockup_panic",
    "kernel.hung_task_panic", "kernel.unknown_nmi_panic", "kernel.panic_on_unrecovered_nmi",
    "vm.panic_on_oom", "kernel.panic",
)

# --panic-profile forensic: every hang and NMI becomes a panic, so a dump.
FORENSIC_PROFILE = (
    ("kernel.panic_on_oops", "1"), ("kernel.softlockup_panic", "1"), ("kernel.hardlockup_panic", "1"),
    ("kernel.hung_task_panic", "1"), ("kernel.unknown_nmi_panic", "1"),
    ("kernel.panic_on_unrecovered_nmi", "1"), ("vm.panic_on_oom", "1"), ("kernel.panic", "10"),
)

SYSRQ_DUMP_BIT = 8   # SYSRQ_ENABLE_DUMP: 'c' (crash) and the debug dumps

SYSCTL_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d")

ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "ppc64el": "ppc64le", "i686": "i386", "i586": "i386"}
ELF_MACHINES = {62: "x86_64", 183: "aarch64", 21: "ppc64le", 22: "s390x", 3: "i386", 243: "riscv64"}
EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-e3b3c5a4e8b5"


# ------------------------------------------------------------ small readers

def read_int(source, *paths):
    for path in paths:
        text = source.read_text(path, warn=False)
        if text is None:
            continue
        try:
            return int(text.strip().split()[0]), path
        except (ValueError, IndexError):
            continue
    return None, None


def shell_vars(text):
    """KEY=value files (/etc/default/kdump-tools, /etc/sysconfig/kdump) -> dict."""
    env = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", stripped)
        if match:
            env[match.group(1)] = kdump_boot.shell_value(match.group(2), env)
    return env


_SECRET_KEY = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL", re.I)


def masked(env):
    """A config dict with password-like values replaced (it goes into JSON output)."""
    return dict((k, "***" if _SECRET_KEY.search(k) and v else v) for k, v in env.items())


def dpkg_installed(source, package):
    """True/False from var/lib/dpkg/status, None when there is no dpkg database."""
    text = source.read_text("var/lib/dpkg/status", warn=False)
    if text is None:
        return None
    for stanza in text.split("\n\n"):
        if re.search(r"^Package: %s$" % re.escape(package), stanza, re.M):
            return bool(re.search(r"^Status: .* installed$", stanza, re.M))
    return False


def detect_arch(source):
    """Machine architecture of the root (uname -m form), or None."""
    if source.live:
        return os.uname().machine
    found = source.command_output("uname -a", "uname -m")
    if found:
        for word in found[0].split():
            if word in ELF_MACHINES.values() or word in ARCH_ALIASES:
                return ARCH_ALIASES.get(word, word)
    version = source.read_text("proc/version", warn=False) or ""
    for word in re.findall(r"[A-Za-z0-9_]+", version):
        if word in ("x86_64", "aarch64", "ppc64le", "s390x"):
            return word
    for path in ("usr/bin/env", "bin/sh", "usr/bin/sh"):
        try:
            stream = source.open(path)
        except Exception:  # noqa: BLE001 - any unreadable file just means "try the next"
            continue
        try:
            head = stream.read(20)
        finally:
            stream.close()
        if head[:4] == b"\x7fELF" and len(head) >= 20:
            little = head[5:6] == b"\x01"
            machine = int.from_bytes(head[18:20], "little" if little else "big")
            if machine in ELF_MACHINES:
                return ELF_MACHINES[machine]
    status = source.read_text("var/lib/dpkg/status", warn=False) or ""
    match = re.search(r"^Architecture: (amd64|arm64|ppc64el|s390x|riscv64|i386)$", status, re.M)
    if match:
        return ARCH_ALIASES.get(match.group(1), match.group(1))
    names = " ".join(source.listdir("boot") + source.listdir("usr/lib") + source.listdir("lib64") +
                     source.listdir("usr/lib64"))
    for needle, arch in (("x86_64", "x86_64"), ("x86-64", "x86_64"), ("amd64", "x86_64"),
                         ("aarch64", "aarch64"), ("arm64", "aarch64"), ("ppc64le", "ppc64le"),
                         ("s390x", "s390x")):
        if needle in names:
            return arch
    return None


def running_kernel(source):
    if source.live:
        return os.uname().release
    text = source.read_text("proc/version", warn=False)
    if text:
        match = re.match(r"Linux version (\S+)", text)
        if match:
            return match.group(1)
    found = source.command_output("uname -r", "uname -a")
    if found:
        words = found[0].split()
        if len(words) >= 3 and words[0] == "Linux":
            return words[2]
        if words:
            return words[0]
    return None


def persistent_sysctls(source):
    """Effective sysctl.d settings: name -> (value, origin, lineno), systemd-sysctl order."""
    chosen = {}
    for folder in reversed(SYSCTL_DIRS):        # /etc overrides a same-named /usr/lib file
        for name in source.listdir(folder):
            if name.endswith(".conf"):
                chosen[name] = folder + "/" + name
    ordered = [chosen[name] for name in sorted(chosen)]
    if source.exists("etc/sysctl.conf"):
        ordered.append("etc/sysctl.conf")
    result = {}
    for path in ordered:
        text = source.read_text(path)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            key, sep, value = stripped.partition("=")
            if not sep:
                continue
            key = key.strip().lstrip("-").replace("/", ".")
            result[key] = (value.strip(), path, lineno)
    return result


def runtime_sysctl(source, name):
    value, _ = read_int(source, "proc/sys/" + name.replace(".", "/"))
    return value


# ------------------------------------------------------------ facts

class Facts(object):
    """Everything gathered about one root; values None when not visible."""

    def __init__(self):
        self.warnings = []

    def to_dict(self):
        data = {}
        for key, value in self.__dict__.items():
            if key in ("source", "boot", "distro", "warnings"):
                continue
            data[key] = value
        data["distro"] = self.distro.to_dict()
        data["bootloader"] = self.boot.to_dict()
        return data


def gather(source, runner=None):
    """Facts of a source; ``runner`` runs the few live commands (systemctl, dmesg)."""
    facts = Facts()
    facts.source = source
    facts.live = source.live
    facts.source_kind = source.kind
    facts.distro = distro_mod.detect(source)
    facts.family = facts.distro.family
    profile = FAMILIES.get(facts.family, {})
    facts.arch = detect_arch(source)
    facts.running_kernel = running_kernel(source)

    meminfo = source.read_text("proc/meminfo", warn=False)
    mem = {}
    for line in (meminfo or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            try:
                mem[key.strip()] = int(value.split()[0]) * 1024
            except (ValueError, IndexError):
                continue
    facts.meminfo = mem or None
    facts.crash_size, facts.crash_size_origin = read_int(
        source, "sys/kernel/kexec_crash_size", "sys/kernel/kexec/crash_size")
    facts.ram = (mem["MemTotal"] + (facts.crash_size or 0)) if "MemTotal" in mem else None

    cmdline = source.read_text("proc/cmdline", warn=False)
    facts.running_cmdline = " ".join(cmdline.split()) if cmdline is not None else None
    facts.running_crashkernel = kdump_sizing.values_in_cmdline(facts.running_cmdline) \
        if facts.running_cmdline is not None else None

    facts.boot = kdump_boot.detect_bootloader(source, facts.distro)
    facts.next_crashkernel = facts.boot.next_boot_crashkernel()

    facts.iomem_crash = _iomem_crash(source)
    facts.boot_messages = _boot_messages(source)
    loaded, _ = read_int(source, "sys/kernel/kexec_crash_loaded", "sys/kernel/kexec/crash_loaded")
    facts.crash_loaded = None if loaded is None else bool(loaded)
    # /sys/kernel exists but has no kexec files: the kernel was built without crash dump support.
    facts.kexec_support = None
    if source.isdir("sys/kernel") and source.listdir("sys/kernel"):
        facts.kexec_support = facts.crash_size is not None or loaded is not None
    facts.secure_boot = _secure_boot(source)
    lockdown = source.read_text("sys/kernel/security/lockdown", warn=False)
    match = re.search(r"\[(\w+)\]", lockdown or "")
    facts.lockdown = match.group(1) if match else None

    # Tools and service.
    facts.packages = list(profile.get("packages", []))
    facts.tools_found = [p for p in profile.get("tools", []) if source.exists(p)]
    installed = None
    if facts.family in ("debian", "ubuntu"):
        states = [dpkg_installed(source, "kdump-tools")]
        installed = states[0]
    if installed is None:
        installed = bool(facts.tools_found) if profile else None
    facts.tools_installed = installed
    facts.kexec_found = [p for p in ("usr/sbin/kexec", "sbin/kexec", "usr/bin/kexec") if source.exists(p)]
    facts.has_reset_crashkernel = False
    for path in facts.tools_found:
        text = source.read_text(path, warn=False) or ""
        if "reset-crashkernel" in text or "reset_crashkernel" in text:
            facts.has_reset_crashkernel = True
    facts.service = profile.get("service")
    facts.service_enabled, facts.service_enabled_origin = _service_enabled(source, facts.service, runner)
    facts.service_active = _service_active(source, facts.service, runner)

    # Configuration, target, initrd.
    facts.config_path = profile.get("config")
    facts.config = {}
    facts.target = _dump_target(source, facts)
    facts.initrd_expected, facts.initrd_present = _kdump_initrd(source, facts)

    facts.dump_estimate = _estimate(facts)
    facts.free_space, facts.free_space_origin = _free_space(source, facts.target)

    # SysRq and panic sysctls.
    persistent = persistent_sysctls(source)
    facts.sysrq_runtime = runtime_sysctl(source, "kernel.sysrq")
    entry = persistent.get("kernel.sysrq")
    facts.sysrq_persistent = entry[0] if entry else None
    facts.sysrq_origin = "%s:%d" % (entry[1], entry[2]) if entry else None
    facts.panic = {}
    for name in PANIC_SYSCTLS:
        entry = persistent.get(name)
        facts.panic[name] = {"runtime": runtime_sysctl(source, name),
                             "persistent": entry[0] if entry else None,
                             "origin": "%s:%d" % (entry[1], entry[2]) if entry else None}
    facts.dumps = find_dumps(source, facts.target)
    facts.warnings = list(source.warnings)
    return facts


def _iomem_crash(source):
    text = source.read_text("proc/iomem", warn=False)
    if text is None:
        return None
    total = 0
    seen = False
    for line in text.splitlines():
        if "Crash kernel" not in line:
            continue
        span = line.split(":", 1)[0].strip()
        start, _, end = span.partition("-")
        try:
            low, high = int(start, 16), int(end, 16)
        except ValueError:
            continue
        seen = True
        if high > low:
            total += high - low + 1
    if seen and total == 0:
        return None      # read without privileges: addresses shown as zero
    return total


_BOOT_MESSAGE = re.compile(r"crashkernel|crash kernel|Reserving \d+MB of memory at", re.I)


def _boot_messages(source):
    """Kernel messages about the crashkernel reservation: [(text, origin)]."""
    found = []
    candidates = []
    if source.live:
        output = source.command_output("dmesg")
        if output:
            candidates.append(output)
    else:
        output = source.command_output("dmesg")
        if output:
            candidates.append(output)
        for path in ("var/log/dmesg", "var/log/boot.msg"):
            text = source.read_text(path, warn=False)
            if text is not None:
                candidates.append((text, path))
    for text, origin in candidates:
        for lineno, line in enumerate(text.splitlines(), 1):
            if _BOOT_MESSAGE.search(line) and "Command line" not in line and "Kernel command line" not in line:
                found.append({"text": line.strip(), "origin": origin, "line": lineno})
        if found:
            break
    return found


def _secure_boot(source):
    folder = "sys/firmware/efi/efivars"
    if not source.isdir(folder):
        return None if not source.exists("sys/firmware") else False
    try:
        stream = source.open(folder + "/SecureBoot-" + EFI_GLOBAL)
        data = stream.read(8)
        stream.close()
    except Exception:  # noqa: BLE001 - absent variable means "not known"
        return None
    return len(data) >= 5 and data[4:5] == b"\x01"


def _service_enabled(source, service, runner):
    if not service:
        return None, None
    if source.live and runner is not None:
        result = runner(["systemctl", "is-enabled", service])
        if result.available and result.stdout.strip():
            state = result.stdout.strip().splitlines()[0]
            return state in ("enabled", "enabled-runtime", "static", "alias", "indirect"), "systemctl is-enabled"
    for folder in ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"):
        links = source.glob(folder + "/*.wants/" + service)
        if links:
            return True, links[0]
    listing = source.command_output("systemctl list-unit-files")
    if listing:
        for line in listing[0].splitlines():
            words = line.split()
            if words and words[0] == service and len(words) > 1:
                return words[1] == "enabled", listing[1]
    if not source.exists("etc/systemd/system") and not source.live:
        return None, None
    return False, "etc/systemd/system"


def _service_active(source, service, runner):
    if not service:
        return None
    if source.live and runner is not None:
        result = runner(["systemctl", "is-active", service])
        if result.available and result.stdout.strip():
            return result.stdout.strip().splitlines()[0] == "active"
        return None
    listing = source.command_output("systemctl list-units --all", "systemctl list-units")
    if listing:
        for line in listing[0].splitlines():
            words = line.replace("\u25cf", " ").split()
            if words and words[0] == service and len(words) >= 3:
                return words[2] == "active"
        return False
    return None


def _dump_target(source, facts):
    """Where a dump goes: {'kind', 'path', 'detail', 'collector', 'dump_level', 'origin'}."""
    target = {"kind": "local", "path": "/var/crash", "detail": None, "collector": None,
              "dump_level": None, "origin": None}
    family = facts.family
    if family in ("debian", "ubuntu"):
        text = source.read_text("etc/default/kdump-tools")
        if text is not None:
            env = shell_vars(text)
            facts.config = masked(env)
            target["origin"] = "etc/default/kdump-tools"
            target["path"] = env.get("KDUMP_COREDIR") or "/var/crash"
            args = env.get("MAKEDUMP_ARGS") or "-c -d 31"
            target["collector"] = "makedumpfile " + args
            level = re.search(r"-d\s*(\d+)", args)
            target["dump_level"] = int(level.group(1)) if level else None
            for key, kind in (("SSH", "ssh"), ("NFS", "nfs"), ("FTP", "ftp")):
                if env.get(key):
                    target["kind"] = kind
                    target["detail"] = env[key]
    elif family == "rhel":
        text = source.read_text("etc/kdump.conf")
        if text is not None:
            target["origin"] = "etc/kdump.conf"
            conf = {}
            for line in text.splitlines():
                stripped = line.split("#", 1)[0].strip()
                if not stripped:
                    continue
                key, _, value = stripped.partition(" ")
                conf[key] = value.strip()
            facts.config = conf
            target["path"] = conf.get("path", "/var/crash")
            target["collector"] = conf.get("core_collector", "makedumpfile -l --message-level 7 -d 31")
            level = re.search(r"-d\s*(\d+)", target["collector"])
            target["dump_level"] = int(level.group(1)) if level else (None if "makedumpfile" in
                                                                       target["collector"] else 0)
            for key in ("nfs", "ssh", "raw", "virtiofs"):
                if key in conf:
                    target["kind"] = key
                    target["detail"] = conf[key]
            for key in ("ext2", "ext3", "ext4", "xfs", "btrfs", "minix"):
                if key in conf:
                    target["kind"] = "device"
                    target["detail"] = "%s %s" % (key, conf[key])
    elif family == "suse":
        text = source.read_text("etc/sysconfig/kdump")
        if text is not None:
            env = shell_vars(text)
            facts.config = masked(env)
            target["origin"] = "etc/sysconfig/kdump"
            savedir = env.get("KDUMP_SAVEDIR") or "/var/crash"
            match = re.match(r"^(\w+)://(.*)$", savedir)
            if match and match.group(1) != "file":
                target["kind"] = match.group(1)
                target["detail"] = savedir
            else:
                target["path"] = "/" + (match.group(2) if match else savedir).lstrip("/")
            level = env.get("KDUMP_DUMPLEVEL") or "31"
            target["dump_level"] = int(level) if level.isdigit() else None
            target["collector"] = "makedumpfile -d %s (%s)" % (level, env.get("KDUMP_DUMPFORMAT") or "compressed")
    return target


def _kdump_initrd(source, facts):
    kver = facts.running_kernel or (facts.boot.default_entry.version if facts.boot.default_entry else None)
    if facts.family in ("debian", "ubuntu"):
        candidates = ["var/lib/kdump/initrd.img-%s" % kver] if kver else []
        candidates.append("var/lib/kdump/initrd.img")
    elif facts.family == "rhel":
        candidates = ["boot/initramfs-%skdump.img" % kver, "var/lib/kdump/initramfs-%skdump.img" % kver] \
            if kver else []
    elif facts.family == "suse":
        candidates = ["boot/initrd-%s-kdump" % kver] if kver else []
    elif facts.family == "arch":
        candidates = ["boot/initramfs-linux-fallback.img", "boot/initramfs-linux.img"]
    else:
        candidates = []
    if not candidates:
        return None, None
    for path in candidates:
        if source.exists(path):
            return path, True
    return candidates[0], False


def _estimate(facts):
    """Bytes a dump is expected to take with the configured filtering, or None."""
    mem = facts.meminfo
    if not mem or "MemTotal" not in mem:
        return None
    level = facts.target.get("dump_level")
    if level is None or level < 31:
        # Without user/cache/free filtering the dump approaches RAM size.
        return mem["MemTotal"]
    kernel = mem["MemTotal"] - sum(mem.get(k, 0) for k in ("MemFree", "Buffers", "Cached", "AnonPages"))
    return max(kernel, 64 * MIB)


def _free_space(source, target):
    if target.get("kind") != "local":
        return None, None
    path = target.get("path") or "/var/crash"
    base = "/" if source.live else os.path.abspath(source.label)
    if source.live or (source.kind == "root" and os.path.isdir(base)):
        host = os.path.join(base, path.lstrip("/"))
        while True:
            try:
                stat = os.statvfs(host)
                return stat.f_bavail * stat.f_frsize, "statvfs " + host
            except OSError:
                parent = os.path.dirname(host)
                if parent == host or (not source.live and not parent.startswith(base)):
                    return None, None
                host = parent
    found = source.command_output("df -al -x autofs", "df -al", "df -h", "df")
    if not found:
        return None, None
    best = None
    for line in found[0].splitlines()[1:]:
        words = line.split()
        if len(words) < 6 or not words[3].isdigit():
            continue
        mount = words[5]
        if path == mount or path.startswith(mount.rstrip("/") + "/") or mount == "/":
            if best is None or len(mount) > len(best[0]):
                best = (mount, int(words[3]) * 1024)
    return (best[1], found[1]) if best else (None, None)


# ------------------------------------------------------------ existing dumps

# What made the kernel go down, most telling first.
_REASONS = (
    re.compile(r"BUG: |Oops: |general protection fault|kernel BUG at|Unable to handle kernel"),
    re.compile(r"sysrq: Trigger a crash|SysRq : Trigger a crash|soft lockup|hard LOCKUP|"
               r"Kernel panic - not syncing|Watchdog detected hard LOCKUP|Out of memory and no killable"),
    re.compile(r"INFO: task .* blocked for more than|rcu_sched self-detected stall|rcu: INFO"),
)


def find_dumps(source, target):
    """Dump directories under the local dump path, newest name last.

    A dump directory holds ``vmcore`` (RHEL, SUSE), ``vmcore-incomplete``
    (capture failed part-way), or ``dump.<stamp>`` (Debian kdump-tools),
    with ``vmcore-dmesg.txt`` / ``dmesg.<stamp>`` / ``dmesg.txt`` beside it.
    Apport ``*.crash`` files are user-space crashes and not listed.
    """
    if target.get("kind") != "local":
        return []
    base = (target.get("path") or "/var/crash").lstrip("/")
    dumps = []
    for name in source.listdir(base):
        folder = base + "/" + name
        if not source.isdir(folder):
            continue
        files = source.listdir(folder)
        cores = [f for f in files if f == "vmcore" or f.startswith("vmcore.") or f.startswith("dump.")
                 or f == "vmcore-incomplete" or f.startswith("vmcore-incomplete")]
        dmesg = [f for f in files if f in ("vmcore-dmesg.txt", "dmesg.txt") or f.startswith("dmesg.")]
        if not cores and not dmesg:
            continue
        entry = {"path": "/" + folder, "core": cores[0] if cores else None, "saved": stamp_from_name(name),
                 "core_size": source.size(folder + "/" + cores[0]) if cores else None,
                 "incomplete": any("incomplete" in c for c in cores),
                 "dmesg": dmesg[0] if dmesg else None, "reason": None, "tail": [],
                 "mtime": source.mtime(folder + "/" + (cores or dmesg)[0]), "summary": None}
        if dmesg:
            summarise_dmesg(source, folder + "/" + dmesg[0], entry)
        dumps.append(entry)
    dumps.sort(key=lambda d: (d["mtime"] or 0, d["path"]))
    return dumps


_NAME_STAMPS = (
    # RHEL/Fedora kdumpctl: <ip>-YYYY-MM-DD-HH:MM:SS; SUSE: YYYY-MM-DD-HH:MM
    re.compile(r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})-(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$"),
    # Debian kdump-tools: YYYYMMDDHHMM
    re.compile(r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?P<h>\d{2})(?P<mi>\d{2})$"),
)


def stamp_from_name(name):
    """'YYYY-MM-DD HH:MM[:SS]' from a dump folder's name (the crashed box's clock), or None."""
    for pattern in _NAME_STAMPS:
        match = pattern.search(name)
        if match:
            text = "%s-%s-%s %s:%s" % (match.group("y"), match.group("mo"), match.group("d"),
                                       match.group("h"), match.group("mi"))
            seconds = match.groupdict().get("s")
            return text + (":" + seconds if seconds else "")
    return None


def summarise_dmesg(source, path, entry, tail=5):
    """Fill entry['reason'], entry['tail'] and, through kernelreport, entry['summary'].

    The summary comes from shared/kernelreport.py (``scan`` + ``primaries``,
    the engine behind ``oops``) when it imports; otherwise -- or when it
    finds nothing -- the most telling panic/BUG/Oops line is the reason.
    The last lines of the saved log are always kept.
    """
    lines = list(source.lines(path))
    summary = _kernelreport_summary(lines)
    if summary:
        entry["summary"] = summary
        entry["reason"] = summary.get("title") or entry["reason"]
    text_lines = [re.sub(r"^\[\s*[\d.]+\]\s*", "", l.text).strip() for l in lines]
    for pattern in _REASONS:
        if entry["reason"]:
            break
        for text in text_lines:
            if pattern.search(text):
                entry["reason"] = text
                break
    entry["tail"] = [t for t in text_lines if t][-tail:]


def _kernelreport_summary(lines):
    """{'title', 'kind', 'guilty', 'panicked', 'reports', 'titles'} or None."""
    try:
        from . import kernelreport  # optional engine; a broken or missing one must not break check
    except Exception:  # noqa: BLE001
        return None
    scan = getattr(kernelreport, "scan", None)
    if scan is None:
        return None
    try:
        reports = scan(lines)
        primaries = getattr(kernelreport, "primaries", None)
        if primaries is not None:
            reports = primaries(reports) or reports
    except Exception:  # noqa: BLE001 - a summary is a bonus, never a failure
        return None
    if not reports:
        return None
    # The box went down at the end of the saved log: the last report (or one that
    # panicked) is what took it down; earlier ones are context.
    panicked = [r for r in reports if getattr(r, "panicked", False)]
    first = panicked[-1] if panicked else reports[-1]
    return {"title": getattr(first, "title", None), "kind": getattr(first, "kind", None),
            "guilty": getattr(first, "guilty", None), "panicked": getattr(first, "panicked", None),
            "reports": len(reports), "titles": [getattr(r, "title", None) for r in reports[:5]],
            "engine": "kernelreport"}


# ------------------------------------------------------------ judging

def install_command(facts):
    family = facts.family
    packages = " ".join(facts.packages)
    if family in ("debian", "ubuntu"):
        return "apt-get install -y %s" % packages
    if family == "rhel":
        tool = "yum" if (facts.distro.major or 99) <= 7 and not facts.distro.is_id("fedora") else "dnf"
        return "%s install -y %s" % (tool, packages)
    if family == "suse":
        return "zypper --non-interactive install %s" % packages
    if family == "arch":
        return "pacman -S --needed %s" % packages
    return "install kexec-tools and your distribution's kdump package"


def regenerate_command(facts):
    boot = facts.boot
    if facts.family in ("debian", "ubuntu") and facts.distro.family != "unknown":
        return "update-grub"
    target = "/" + (boot.mkconfig_target or "boot/grub2/grub.cfg")
    if facts.family == "suse":
        return "grub2-mkconfig -o %s" % target
    if facts.family == "arch":
        return "grub-mkconfig -o %s" % target
    return "grub2-mkconfig -o %s" % target


def recommended(facts):
    """(crashkernel words, origin text) this box should have."""
    value, origin = kdump_sizing.distribution_default(facts.distro, facts.arch or "x86_64")
    if value:
        return [value], origin
    return [kdump_sizing.fallback_by_ram(facts.arch or "x86_64")], "by RAM for %s" % (facts.arch or "x86_64")


def judge(facts):
    """Findings (worst first) and the verdict for a Facts object."""
    out = []
    add = out.append
    dist = facts.distro
    boot = facts.boot
    major = dist.major
    ram = facts.ram
    arch = facts.arch or "x86_64"

    if not dist.known:
        add(F.Finding("kdump.distro", F.WARNING if dist.id else F.CRITICAL,
                      "distribution not recognised: %s" % dist.describe() if dist.id
                      else "no /etc/os-release: distribution unknown",
                      detail="kdumpsetup knows Debian, Ubuntu, RHEL and rebuilds, Fedora, Amazon Linux, "
                             "SUSE and Arch (by ID or ID_LIKE)",
                      fix="set up kdump with your distribution's documentation"))
    # Tools.
    if facts.tools_installed is False:
        add(F.Finding("kdump.tools", F.CRITICAL, "kdump tools not installed (%s)" % " ".join(facts.packages),
                      fix="kdumpsetup enable --yes (or: %s)" % install_command(facts)))
    elif facts.tools_installed:
        add(F.Finding("kdump.tools", F.OK, "kdump tools installed (%s)" % ", ".join(
            "/" + p for p in facts.tools_found) if facts.tools_found else "kdump tools installed"))

    # Debian/Ubuntu USE_KDUMP.
    if facts.family in ("debian", "ubuntu") and facts.config:
        if facts.config.get("USE_KDUMP", "0") != "1":
            add(F.Finding("kdump.config", F.CRITICAL, "USE_KDUMP is not 1 in /etc/default/kdump-tools",
                          detail="kdump-tools does nothing while USE_KDUMP=%s" % (facts.config.get("USE_KDUMP") or
                                                                                 "(unset)"),
                          evidence=[F.Evidence("etc/default/kdump-tools")],
                          fix="kdumpsetup enable --yes (or set USE_KDUMP=1 in /etc/default/kdump-tools)"))

    # Next boot's crashkernel.
    words, origin = recommended(facts)
    next_values = facts.next_crashkernel
    entry = boot.default_entry
    if boot.kind == "unknown":
        add(F.Finding.not_evaluated("kdump.crashkernel.next", "bootloader not recognised",
                                    ["grub.cfg, BLS entries or systemd-boot entries under the root"]))
    elif entry is None:
        add(F.Finding("kdump.crashkernel.next", F.CRITICAL, "no boot entry found (%s)" % boot.label,
                      fix="check the bootloader configuration; kdumpsetup cannot tell the next command line"))
    else:
        ev = [F.Evidence(entry.origin, None, "%s: %s" % (entry.title, entry.args[:300]))]
        if not next_values:
            add(F.Finding("kdump.crashkernel.next", F.CRITICAL,
                          "next boot has no crashkernel= (default entry %s)" % (entry.version or entry.title),
                          detail="without a reservation no crash kernel can be loaded",
                          evidence=ev, fix="kdumpsetup enable --yes (recommended: crashkernel=%s, %s)"
                          % (" crashkernel=".join(words), origin)))
        elif kdump_sizing.conflicting(next_values):
            add(F.Finding("kdump.crashkernel.next", F.CRITICAL,
                          "next boot has %d crashkernel= values: %s" % (len(next_values), " ".join(next_values)),
                          detail="the kernel uses one of them; which one depends on the parser",
                          evidence=ev, fix="kdumpsetup enable --yes keeps exactly one"))
        else:
            amount = kdump_sizing.total_reserved(next_values, ram, arch, major, dist.family)
            if "auto" in next_values and not (dist.family == "rhel" and major in (7, 8)):
                add(F.Finding("kdump.crashkernel.next", F.CRITICAL,
                              "crashkernel=auto is not supported by this kernel",
                              detail="only RHEL 7 and 8 kernels understand 'auto'; RHEL 9 and upstream "
                                     "reserve nothing", evidence=ev,
                              fix="kdumpsetup enable --yes (or: kdumpctl reset-crashkernel --kernel=ALL)"))
            elif amount == 0:
                add(F.Finding("kdump.crashkernel.next", F.CRITICAL,
                              "crashkernel=%s reserves nothing with %s of RAM" % (" ".join(next_values),
                                                                                 format_ram(ram)),
                              detail="no range of the value matches this machine's memory", evidence=ev,
                              fix="kdumpsetup enable --yes --crashkernel 256M"))
            else:
                add(F.Finding("kdump.crashkernel.next", F.OK,
                              "next boot: crashkernel=%s%s" % (" crashkernel=".join(next_values),
                                                              " (reserves %s)" % format_size(amount)
                                                              if amount else ""), evidence=ev))
        missing = [e for e in boot.entries if not e.rescue and not e.crashkernel and e is not entry]
        if missing and next_values:
            add(F.Finding("kdump.crashkernel.entries", F.WARNING,
                          "%d other boot entr%s without crashkernel=" % (len(missing), "y" if len(missing) == 1
                                                                         else "ies"),
                          detail="booting %s would leave kdump without memory" % ", ".join(
                              e.version or e.title for e in missing[:3]),
                          evidence=[F.Evidence(e.origin) for e in missing],
                          fix="kdumpsetup enable --yes (sets it on every kernel)"))
    # GRUB defaults versus generated grub.cfg.
    if boot.kind == "grub" and boot.defaults is not None and entry is not None:
        wanted = boot.defaults.crashkernel_values()
        if sorted(wanted) != sorted(entry.crashkernel):
            add(F.Finding("kdump.grub.stale", F.CRITICAL if wanted and not entry.crashkernel else F.WARNING,
                          "/%s does not match /etc/default/grub%s" % (boot.grub_cfg, " and grub.d"
                                                                      if len(boot.defaults.files) > 1 else ""),
                          detail="defaults say crashkernel=%s, the generated config boots with %s" % (
                              " ".join(wanted) or "(none)", " ".join(entry.crashkernel) or "(none)"),
                          evidence=[F.Evidence(p) for p, _, _, _ in boot.defaults.crashkernel_sites()] or
                          [F.Evidence(boot.grub_cfg)],
                          fix="regenerate it: %s" % regenerate_command(facts)))
        if kdump_sizing.conflicting(wanted):
            add(F.Finding("kdump.grub.duplicate", F.CRITICAL,
                          "GRUB defaults add crashkernel= %d times" % len(wanted),
                          evidence=[F.Evidence(p, n, "%s: %s" % (v, " ".join(vals)))
                                    for p, n, v, vals in boot.defaults.crashkernel_sites()],
                          fix="kdumpsetup enable --yes keeps exactly one"))
    if boot.stubs:
        add(F.Finding("kdump.grub.stub", F.INFO,
                      "UEFI stub %s chains to /%s" % (", ".join("/" + s for s in boot.stubs), boot.grub_cfg),
                      detail="never write a generated config over the stub; regenerate /%s" % boot.grub_cfg))
    if boot.kind == "rpm-ostree":
        add(F.Finding("kdump.bootloader", F.INFO, "rpm-ostree system: kernel arguments are managed by rpm-ostree",
                      fix="rpm-ostree kargs --append-if-missing=crashkernel=%s" % words[0]))

    # Running kernel.
    if facts.running_cmdline is None:
        add(F.Finding.not_evaluated("kdump.crashkernel.running", "running command line", ["proc/cmdline"]))
    elif not facts.running_crashkernel:
        add(F.Finding("kdump.crashkernel.running", F.CRITICAL, "running kernel was booted without crashkernel=",
                      detail="memory for the crash kernel is reserved only at boot",
                      evidence=[F.Evidence("proc/cmdline", None, facts.running_cmdline[:300])],
                      fix="reboot after the next boot has crashkernel= (kdumpsetup check shows it)"
                      if next_values else "kdumpsetup enable --yes, then reboot"))
    elif next_values is not None and sorted(next_values) != sorted(facts.running_crashkernel):
        add(F.Finding("kdump.crashkernel.running", F.INFO,
                      "running crashkernel=%s differs from next boot's %s" % (
                          " ".join(facts.running_crashkernel), " ".join(next_values) or "(none)"),
                      fix="reboot to apply the new value"))

    if facts.kexec_support is False:
        add(F.Finding("kdump.kernel", F.CRITICAL, "running kernel has no kexec crash dump support",
                      detail="/sys/kernel has no kexec_crash_size or kexec_crash_loaded (built without "
                             "CONFIG_KEXEC / CONFIG_CRASH_DUMP)",
                      evidence=[F.Evidence("sys/kernel")],
                      fix="boot the distribution's stock kernel (or one built with kexec and crash dump)"))

    # Reservation and loaded crash kernel.
    reserved = facts.crash_size if facts.crash_size is not None else facts.iomem_crash
    messages = [F.Evidence(m["origin"], m["line"], m["text"]) for m in facts.boot_messages]
    if reserved is None:
        add(F.Finding.not_evaluated("kdump.reserved", "memory reserved for the crash kernel",
                                    ["sys/kernel/kexec_crash_size", "proc/iomem"]))
    elif reserved == 0:
        if facts.running_crashkernel:
            add(F.Finding("kdump.reserved", F.CRITICAL, "crashkernel= was given but no memory is reserved",
                          detail="the kernel could not reserve %s (see the boot message)" %
                          " ".join(facts.running_crashkernel), evidence=messages,
                          fix="use a value that fits (kdumpsetup enable --yes --crashkernel 256M) and reboot"))
        else:
            add(F.Finding("kdump.reserved", F.CRITICAL, "no memory reserved for a crash kernel",
                          evidence=[F.Evidence(facts.crash_size_origin or "proc/iomem")] + messages,
                          fix="boot with crashkernel= (kdumpsetup enable --yes, then reboot)"))
    else:
        add(F.Finding("kdump.reserved", F.OK, "%s reserved for the crash kernel" % format_size_mib(reserved),
                      evidence=[F.Evidence(facts.crash_size_origin or "proc/iomem")] + messages))
    if facts.crash_loaded is None:
        add(F.Finding.not_evaluated("kdump.loaded", "crash kernel loaded", ["sys/kernel/kexec_crash_loaded"]))
    elif not facts.crash_loaded:
        fix = "systemctl restart %s and read its log (journalctl -u %s)" % (facts.service, facts.service) \
            if facts.service else "load a crash kernel with kexec -p"
        if reserved == 0:
            fix = "first reserve memory (see above); the service loads the crash kernel at boot"
        add(F.Finding("kdump.loaded", F.CRITICAL, "no crash kernel loaded (kexec_crash_loaded=0)",
                      detail="a panic now reboots or hangs without a dump",
                      evidence=[F.Evidence("sys/kernel/kexec_crash_loaded", None, "0")], fix=fix))
    else:
        add(F.Finding("kdump.loaded", F.OK, "crash kernel loaded",
                      evidence=[F.Evidence("sys/kernel/kexec_crash_loaded", None, "1")]))

    # Service.
    if facts.service:
        if facts.service_enabled is None:
            add(F.Finding.not_evaluated("kdump.service", "%s enabled" % facts.service, ["systemd unit state"]))
        elif not facts.service_enabled:
            add(F.Finding("kdump.service", F.CRITICAL, "%s is not enabled" % facts.service,
                          detail="nothing loads the crash kernel at boot",
                          evidence=[F.Evidence(facts.service_enabled_origin)] if facts.service_enabled_origin else [],
                          fix="kdumpsetup enable --yes (or: systemctl enable %s)" % facts.service))
        else:
            add(F.Finding("kdump.service", F.OK, "%s enabled" % facts.service,
                          evidence=[F.Evidence(facts.service_enabled_origin)] if facts.service_enabled_origin else []))
        if facts.service_active is False and facts.service_enabled:
            add(F.Finding("kdump.service.active", F.WARNING, "%s is enabled but not active" % facts.service,
                          fix="systemctl status %s; journalctl -b -u %s" % (facts.service, facts.service)))

    # Initrd.
    if facts.initrd_expected and facts.initrd_present is False and facts.tools_installed and reserved != 0:
        add(F.Finding("kdump.initrd", F.WARNING if facts.crash_loaded is not True else F.INFO,
                      "kdump initrd /%s not found" % facts.initrd_expected,
                      detail="it is built when the kdump service starts",
                      fix={"rhel": "kdumpctl rebuild", "debian": "kdump-config load",
                           "ubuntu": "kdump-config load", "suse": "systemctl restart kdump",
                           "arch": "mkinitcpio -P"}.get(facts.family, "restart the kdump service")))

    # Target and space.
    target = facts.target
    if target["kind"] != "local":
        add(F.Finding("kdump.target", F.INFO, "dumps go to %s %s" % (target["kind"], target["detail"] or ""),
                      detail="free space on a remote or device target is not checked from here",
                      evidence=[F.Evidence(target["origin"])] if target["origin"] else []))
    elif facts.free_space is None or facts.dump_estimate is None:
        missing = []
        if facts.free_space is None:
            missing.append("free space of %s" % target["path"])
        if facts.dump_estimate is None:
            missing.append("proc/meminfo")
        add(F.Finding.not_evaluated("kdump.space", "space for a dump in %s" % target["path"], missing))
    elif facts.free_space < facts.dump_estimate:
        add(F.Finding("kdump.space", F.CRITICAL, "%s has %s free; a dump needs about %s" % (
            target["path"], format_size_mib(facts.free_space), format_size_mib(facts.dump_estimate)),
            evidence=[F.Evidence(facts.free_space_origin)],
            fix="free space in %s or point the dump elsewhere (%s)" % (target["path"], target["origin"] or
                                                                        "kdump configuration")))
    else:
        add(F.Finding("kdump.space", F.OK, "%s has %s free (a dump needs about %s)" % (
            target["path"], format_size_mib(facts.free_space), format_size_mib(facts.dump_estimate))))
    if target.get("dump_level") == 0 or (target.get("collector") and "cp" == target["collector"].split()[0]):
        add(F.Finding("kdump.collector", F.WARNING, "dumps are not filtered (%s)" % target["collector"],
                      detail="an unfiltered vmcore is as large as RAM",
                      fix="use makedumpfile with -d 31 (core_collector in /etc/kdump.conf)"))

    # Secure Boot.
    if facts.secure_boot or facts.lockdown in ("integrity", "confidentiality"):
        add(F.Finding("kdump.secureboot", F.INFO, "Secure Boot %s, lockdown %s" % (
            "on" if facts.secure_boot else "off/unknown", facts.lockdown or "unknown"),
            detail="the crash kernel must be signed and loaded with kexec_file_load (kexec -s); the "
                   "distribution's kdump service does this"))

    # SysRq.
    value = facts.sysrq_runtime
    persistent = facts.sysrq_persistent
    if value is None and persistent is None:
        add(F.Finding.not_evaluated("kdump.sysrq", "SysRq", ["proc/sys/kernel/sysrq", "sysctl.d"]))
    else:
        now_ok = sysrq_allows_crash(value) if value is not None else None
        boot_ok = sysrq_allows_crash(persistent) if persistent is not None else None
        evidence = [F.Evidence(facts.sysrq_origin)] if facts.sysrq_origin else []
        if now_ok is not False and boot_ok is not False:
            add(F.Finding("kdump.sysrq", F.OK, "SysRq crash allowed from the keyboard (kernel.sysrq=%s)"
                          % (value if value is not None else persistent), evidence=evidence))
        elif now_ok is False and boot_ok:
            add(F.Finding("kdump.sysrq", F.INFO, "kernel.sysrq=%s now; %s from the next boot" % (value, persistent),
                          detail="Alt-SysRq-c (crash) works after a reboot", evidence=evidence,
                          fix="sysctl -w kernel.sysrq=%s to allow it now" % persistent))
        else:
            shown = persistent if boot_ok is False else value
            add(F.Finding("kdump.sysrq", F.WARNING, "kernel.sysrq=%s: Alt-SysRq-c (crash) is disabled" % shown,
                          detail="a hung console cannot force a dump; /proc/sysrq-trigger still works for root",
                          evidence=evidence,
                          fix="kdumpsetup enable --yes --sysrq-mask %d (only crash) or set kernel.sysrq=1"
                          % SYSRQ_DUMP_BIT))

    # Panic sysctls: which events end in a panic, hence in a dump.
    def current(name):
        entry = facts.panic.get(name, {})
        return entry.get("runtime") if entry.get("runtime") is not None else entry.get("persistent")
    events = (("oops", "kernel.panic_on_oops"), ("soft lockup", "kernel.softlockup_panic"),
              ("hard lockup", "kernel.hardlockup_panic"), ("hung task", "kernel.hung_task_panic"),
              ("unknown NMI", "kernel.unknown_nmi_panic"), ("unrecovered NMI", "kernel.panic_on_unrecovered_nmi"),
              ("OOM", "vm.panic_on_oom"))
    known = [(label, current(name)) for label, name in events if current(name) is not None]
    if known:
        on = [label for label, value in known if str(value) not in ("0", "")]
        off = [label for label, value in known if str(value) in ("0", "")]
        delay = current("kernel.panic")
        after = "reboot %ss after a panic when no dump is taken" % delay if delay not in (None, "0", 0) \
            else "without a loaded crash kernel a panic hangs until reset (kernel.panic=0)" \
            if delay is not None else ""
        add(F.Finding("kdump.panic", F.INFO, "dumped on: panic%s; not on: %s" % (
            "".join(", " + label for label in on), ", ".join(off) or "-"),
            detail=after, fix="kdumpsetup enable --yes --panic-profile forensic" if "oops" in off else ""))

    # Existing dumps.
    for dump in facts.dumps:
        severity = F.WARNING if dump["incomplete"] else F.INFO
        title = "%sdump in %s" % ("incomplete " if dump["incomplete"] else "", dump["path"])
        detail = dump["reason"] or "no panic line in the saved kernel log"
        add(F.Finding("kdump.dump", severity, title, detail=detail,
                      evidence=[F.Evidence(dump["path"].lstrip("/") + "/" + dump["dmesg"])] if dump["dmesg"] else [],
                      fix="capture stopped part-way: check target space and the crash kernel's memory"
                      if dump["incomplete"] else ""))
    return F.ranked(out)


def sysrq_allows_crash(value):
    """True when kernel.sysrq lets Alt-SysRq-c through (1 = all, else bit 8)."""
    try:
        number = int(str(value).strip(), 0)
    except (TypeError, ValueError):
        return False
    return number == 1 or (number > 1 and bool(number & SYSRQ_DUMP_BIT))


def verdict(findings):
    critical = [f for f in findings if f.severity == F.CRITICAL]
    return ("READY" if not critical else "NOT READY"), critical


def format_ram(ram):
    return format_size_mib(ram) if ram else "unknown"


def format_size_mib(count):
    if count is None:
        return "-"
    if count >= 1024 * MIB:
        return "%.1fG" % (count / float(1024 * MIB))
    return "%dM" % (count // MIB)


def summary_rows(facts):
    """(label, text) rows for the check header."""
    dist = facts.distro
    boot = facts.boot
    rows = [("system", "%s; %s; %s RAM" % (dist.pretty, facts.arch or "arch unknown", format_ram(facts.ram)))]
    extra = []
    if boot.uefi is not None:
        extra.append("UEFI" if boot.uefi else "BIOS")
    if facts.secure_boot is not None:
        extra.append("Secure Boot %s" % ("on" if facts.secure_boot else "off"))
    if facts.lockdown:
        extra.append("lockdown %s" % facts.lockdown)
    rows.append(("bootloader", boot.label + (" (%s)" % ", ".join(extra) if extra else "")))
    if boot.grub_cfg:
        rows.append(("grub.cfg", "/" + boot.grub_cfg))
    nxt = facts.next_crashkernel
    rows.append(("next boot", ("crashkernel=" + " crashkernel=".join(nxt)) if nxt else
                 ("no crashkernel=" if nxt is not None else "unknown")))
    run = facts.running_crashkernel
    rows.append(("running", ("crashkernel=" + " crashkernel=".join(run)) if run else
                 ("no crashkernel=" if run is not None else "not visible (no proc/cmdline)")))
    reserved = facts.crash_size if facts.crash_size is not None else facts.iomem_crash
    loaded = {True: "loaded", False: "not loaded", None: "load state unknown"}[facts.crash_loaded]
    rows.append(("reserved", "%s; crash kernel %s" % ("unknown" if reserved is None else
                                                      "none" if reserved == 0 else format_size_mib(reserved),
                                                      loaded)))
    if facts.service:
        state = {True: "enabled", False: "disabled", None: "state unknown"}[facts.service_enabled]
        if facts.service_active is not None:
            state += ", " + ("active" if facts.service_active else "inactive")
        rows.append(("service", "%s (%s)" % (facts.service, state)))
    target = facts.target
    where = target["path"] if target["kind"] == "local" else "%s %s" % (target["kind"], target["detail"])
    rows.append(("dump to", "%s%s" % (where, " via %s" % target["collector"] if target["collector"] else "")))
    return rows
