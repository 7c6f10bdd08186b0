"""Marker tables for the boot timeline: what a boot, a shutdown and a crash look like.

Python literals only (no data files).  Two layers:

* ``SCAN_PATTERN`` / ``SCAN_ANCHORS``: the few markers the first, fast
  pass over a whole big log looks for -- where boots start (the kernel
  banner; journal ``-- Reboot --`` separators in journal exports) and where
  the system logger starts and stops.  Every line SCAN_PATTERN matches
  contains one of SCAN_ANCHORS, so ``textio.MatchScanner`` can find
  candidates with ``bytes.find``.  Small inputs get ``FULL_PATTERN``, which
  also sees every kernel timestamp (monotonic clock resets).
* ``classify(message, program)``: what one line of a boot's first or last
  stretch means -- clean end, shutdown started, who asked, likely cause of
  an unclean end, filesystem recovery after one, problems worth a look.

Message shapes come from the programs that print them (kernel
``kernel/reboot.c``, ``init/main.c``; systemd ``src/core``,
``src/shutdown``, ``src/login``; rsyslog, sysklogd, syslog-ng; SysV
``shutdown``/``init``; e2fsprogs, XFS, Hyper-V ``hv_utils``); see
fixtures/bootlog/README.md for the captures they were checked against.
"""

import re

from . import kernelreport_markers

# ---------------------------------------------------------------- pass 1

# Kernel banner: "Linux version 5.14.0-362.8.1.el9_3.x86_64 (mockbuild@...) ..."
BANNER = re.compile(r"^Linux version (\S+)(?: \((.*))?")
CMDLINE = re.compile(r"^(?:Kernel c|C)ommand line: ?(.*)$")
JOURNAL_BOOT = re.compile(r"^-- (?:Reboot|Boot ([0-9a-f]{32})) --\s*$")
# A kernel line stamped in the first second of a boot: a reset of the
# monotonic clock when the banner scrolled out of the ring buffer.
EARLY_MONO = re.compile(r"\[ {4}0\.\d{6}\]")

# The system logger.  Starts are weak evidence of a boot (a restart after a
# config change or a HUP at log rotation is not one); a stop on SIGTERM is
# the last line a SysV shutdown leaves in the syslog files.
LOGGER_START = re.compile(
    r"(?:\[origin software=\"rsyslogd\"[^\]]*\] start$|"
    r"^syslogd [\d.#]+: restart\.?$|"
    r"^syslog-ng starting up|"
    r"(?:imklog|klogd) [\d.#]+, log source = \S+ started)")
LOGGER_STOP = re.compile(
    r"(?:\[origin software=\"rsyslogd\"[^\]]*\] exiting on signal (\d+)|"
    r"^exiting on signal (\d+)|"
    r"^syslog-ng shutting down|"
    r"^Kernel logging \(proc\) stopped|"
    r"^Kernel log daemon terminating)")
LOGGER_PROGRAMS = ("rsyslogd", "syslogd", "syslog-ng", "syslog", "kernel", "klogd", "rsyslog")

# Big inputs: as few and as long anchors as do the job (bytes.find skips ahead
# by the needle's length, so each anchor costs a pass at ~2 GB/s).  The banner
# starts a boot; the logger's start line bounds a boot whose banner the ring
# buffer lost -- a restart of the logger is told apart by the line before it
# (seconds earlier: a restart; minutes: the machine was down).
SCAN_ANCHORS = (
    b"Linux version ",
    b'rsyslog.com"] start',
)
SCAN_PATTERN = (
    rb"Linux version \S+"
    rb"|rsyslog\.com\"\] start\r?$"
)
# Journal text exports add their boot separators.
JOURNAL_ANCHORS = SCAN_ANCHORS + (b"-- Reboot --", b"-- Boot ")
JOURNAL_PATTERN = SCAN_PATTERN + rb"|^-- (?:Reboot|Boot [0-9a-f]{32}) --"

# Small inputs (serial consoles, single dmesg files, most syslog files) are
# scanned for every line with a kernel timestamp too: a monotonic clock that
# goes back to 0 is a boot even when no banner was printed (quiet consoles,
# a ring buffer that overflowed before the logger started).
FULL_PATTERN = (
    SCAN_PATTERN +
    rb"|exiting on signal [0-9]+"
    rb"|syslog-ng (?:starting up|shutting down)"
    rb"|^-- (?:Reboot|Boot [0-9a-f]{32}) --"
    rb"|(?:Kernel c|C)ommand line: "
    rb"|syslogd [0-9.#]+: restart"
    rb"|\[ *[0-9]+\.[0-9]{6}\]"
)
FULL_SCAN_LIMIT = 48 * 1024 * 1024      # bytes on disk


def scan_regex(kind="fast"):
    """The compiled first-pass regex (bytes, multi-line): "fast", "journal" or "full"."""
    pattern = {"fast": SCAN_PATTERN, "journal": JOURNAL_PATTERN, "full": FULL_PATTERN}[kind]
    return re.compile(pattern, re.M)


# ---------------------------------------------------------------- pass 2
#
# Each rule: (kind, detail, regex on the message, programs or None).
# kinds:
#   end       a shutdown that completed (detail: reboot / poweroff / halt / kexec / shutdown)
#   intent    a shutdown began (detail says which)
#   initiator who or what asked for the shutdown
#   cause     likely cause of an unclean end (used when no kernel report engine names one)
#   recovery  the next boot found filesystems not cleanly unmounted
#   problem   worth a support engineer's eye (detail: failed-unit, emergency, read-only-root,
#             fsck-repair, security-agent, security-policy)
#   startup   systemd's "Startup finished in ..." (time to the default target)
#   target    the default target reached
#   initrd    the initrd -> root switch (not a shutdown)
#   dump      the kdump capture kernel saved the vmcore (detail: saved / failed)

_SYSTEMD = ("systemd",)


class _lazy(object):
    """A regex compiled on first use: most rules never meet a line that holds their
    literals (classify tries only those), so most are never compiled."""

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern):
        self.pattern = pattern
        self._compiled = None

    def _regex(self):
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled

    def search(self, *args):
        return self._regex().search(*args)

    def match(self, *args):
        return self._regex().match(*args)

RULES = (
    # -- a shutdown that completed
    ("end", "reboot", _lazy(r"^(?:reboot: )?Restarting system\.?$"), None),
    ("end", "poweroff", _lazy(r"^(?:reboot: )?Power down\.?$"), None),
    ("end", "halt", _lazy(r"^(?:reboot: )?System halted\.?$"), None),
    ("end", "kexec", _lazy(r"^(?:kexec_core: )?Starting new kernel$"), None),
    ("end", "kexec", _lazy(r"^Reached target (?:Reboot via kexec|System Reboot via kexec|Kexec)\.?$"),
     None),
    ("end", "reboot", _lazy(r"^Reached target (?:System )?Reboot\.?$"), None),
    ("end", "poweroff", _lazy(r"^Reached target (?:System )?Power[- ]Off\.?$"), None),
    ("end", "halt", _lazy(r"^Reached target (?:System )?Halt\.?$"), None),
    ("end", "shutdown", _lazy(r"^Reached target (?:System )?Shutdown\.?$"), None),
    ("end", "shutdown", _lazy(r"^Reached target (?:Final Step|Late Shutdown Services)\.?$"), None),
    ("end", "shutdown", _lazy(r"^Shutting down\.$"), _SYSTEMD),
    ("end", "shutdown", _lazy(r"^(?:Syncing filesystems and block devices|Sending SIGTERM to remaining "
                                   r"processes|Sending SIGKILL to remaining processes|All filesystems unmounted|"
                                   r"Unmounting file systems|Deactivating swaps|Detaching loop devices|"
                                   r"All loop devices detached|Detaching DM devices|Rebooting\.|Powering off\.|"
                                   r"Halting system\.|Rebooting with kexec\.|"
                                   r"Using hardware watchdog|Watchdog running with a timeout)"),
     ("systemd-shutdown",)),
    ("end", "shutdown", _lazy(r"^systemd-shutdown\[1\]: "), None),
    ("end", "reboot", _lazy(r"^Switching to runlevel: 6$"), None),
    ("end", "poweroff", _lazy(r"^Switching to runlevel: 0$"), None),
    ("end", "reboot", _lazy(r"^shutting down for system reboot"), None),
    ("end", "poweroff", _lazy(r"^shutting down for system (?:halt|power ?off)"), None),
    ("end", "reboot", _lazy(r"^(?:The system is going down for reboot NOW|"
                                 r"The system is going down for system reboot)"), None),
    ("end", "poweroff", _lazy(r"^The system is going down for (?:power-off|poweroff|halt|system halt) NOW"),
     None),
    # -- a shutdown began (the rest may not have reached this log)
    ("intent", "reboot", _lazy(r"^System is rebooting"), None),
    ("intent", "poweroff", _lazy(r"^System is powering down"), None),
    ("intent", "halt", _lazy(r"^System is halting"), None),
    ("intent", "kexec", _lazy(r"^System is rebooting with kexec"), None),
    ("intent", "shutdown", _lazy(r"^Stopped target (?:Multi-User System|Graphical Interface)\.?$"), None),
    ("intent", "shutdown", _lazy(r"^Stopping (?:User Manager for UID|Session \d+ of [Uu]ser)"), _SYSTEMD),
    ("intent", "shutdown", _lazy(r"^Shutdown scheduled for"), None),
    # -- who asked
    ("initiator", "power button", _lazy(r"^Power key pressed"), None),
    ("initiator", "power button", _lazy(r"button/power"), None),
    ("initiator", "hypervisor request", _lazy(r"(?:hv_utils: )?(?:Shutdown|Restart) request received"),
     None),
    ("initiator", "hypervisor request", _lazy(r"guest-shutdown called"), None),
    ("initiator", "hypervisor request", _lazy(r"Initiating (?:halt|reboot)"), ("vmtoolsd", "vmsvc")),
    ("initiator", "auditd halt", _lazy(r"audit daemon is now halting the system"), None),
    ("initiator", "command", _lazy(r"COMMAND=\S*(?:/|\b)(?:reboot|shutdown|poweroff|halt|init [06])\b"),
     None),
    ("initiator", "command", _lazy(r"^(?:requested by|Requested by) "), None),
    ("initiator", "unattended-upgrades", _lazy(r"(?:Automatic-Reboot|unattended-upgrade.*reboot)"), None),
    # -- causes when no kernel report engine is there to name them
    ("cause", "kernel panic", _lazy(r"^Kernel panic - not syncing: (.*)$"), None),
    ("cause", "kernel oops", _lazy(r"^(?:BUG: unable to handle|BUG: kernel NULL pointer|"
                                        r"general protection fault|Oops: |kernel BUG at |invalid opcode: )"),
     None),
    ("cause", "soft lockup", _lazy(r"BUG: soft lockup"), None),
    ("cause", "hard lockup", _lazy(r"(?:Watchdog detected hard LOCKUP|hard LOCKUP on cpu)"), None),
    ("cause", "hung task", _lazy(r"^INFO: task \S+ blocked for more than \d+ seconds"), None),
    ("cause", "RCU stall", _lazy(r"rcu_(?:sched|preempt|bh) (?:self-)?detected stall"), None),
    ("cause", "out of memory", _lazy(r"^(?:Out of memory: Kill(?:ed)? process|"
                                          r"Memory cgroup out of memory)"), None),
    ("cause", "machine check", _lazy(r"(?:Machine check events logged|\[Hardware Error\]: "
                                          r"(?:CPU|Machine check))"), None),
    ("cause", "watchdog", _lazy(r"(?:watchdog did not stop!|Watchdog timer expired|"
                                     r"watchdog: watchdog\d+: .*(?:timeout|expired))"), None),
    ("cause", "sysrq", _lazy(r"^sysrq: (?:Resetting|Trigger a crash|Power Off|Emergency Remount)"),
     None),
    # -- the kdump capture kernel saving the crashed kernel's memory (RHEL's kdump
    #    dracut module, Debian's kdump-tools, SUSE's kdumptool, makedumpfile itself)
    ("dump", "failed", _lazy(r"(?:saving vmcore failed|failed to save vmcore|makedumpfile [Ff]ailed|"
                                  r"Dump saving failed|kdump-tools: makedumpfile failed)"), None),
    ("dump", "saved", _lazy(r"(?:saving vmcore complete|saved vmcore in|The dumpfile is saved to|"
                                 r"Dump saving completed)"), None),
    # -- the next boot found the mess
    ("recovery", "filesystem recovery", _lazy(r"(?:EXT[234]-fs \([^)]*\): (?:recovery complete|"
                                                   r"INFO: recovery required|orphan cleanup)|"
                                                   r"XFS \([^)]*\): (?:Starting|Ending) recovery|"
                                                   r"BTRFS info \([^)]*\): start tree-log replay|"
                                                   r"was not properly unmounted|not cleanly unmounted|"
                                                   r"recovering journal|"
                                                   r"[Cc]learing orphaned inode|"
                                                   r"(?:Fs|Filesystem) was not properly unmounted)"), None),
    # -- problems worth a look
    ("problem", "emergency", _lazy(r"^(?:Reached target Emergency Mode|Started Emergency Shell|"
                                        r"Welcome to emergency mode|You are in emergency mode|"
                                        r"Entering emergency mode)"), None),
    ("problem", "emergency", _lazy(r"^(?:Reached target Rescue Mode|Started Rescue Shell|"
                                        r"You are in rescue mode)"), None),
    ("problem", "emergency", _lazy(r"dracut-initqueue timeout"), None),
    ("problem", "read-only-root", _lazy(r"(?:cannot be mounted read-write|"
                                             r"cannot remount \S+ read-write|"
                                             r"Remounting filesystem read-only|"
                                             r"write access unavailable, cannot proceed|"
                                             r"mounted filesystem read-only|"
                                             r"Filesystem has been shut down)"), None),
    ("problem", "fsck-repair", _lazy(r"(?:FILE SYSTEM WAS MODIFIED|UNEXPECTED INCONSISTENCY|"
                                          r"contains a file system with errors|"
                                          r"Failed to start File System Check)"), None),
    ("problem", "security-policy", _lazy(r"(?:Failed to load SELinux policy|"
                                              r"SELinux: +Could not load policy|"
                                              r"SELinux: +failed to load policy|"
                                              r"AppArmor parser error|"
                                              r"Failed to load AppArmor profiles)"), None),
    ("problem", "failed-unit", _lazy(r"^Failed to start (.+?)\.?$"), None),
    ("problem", "failed-unit", _lazy(r"^(\S+\.(?:service|mount|socket|device|swap)): "
                                          r"Failed with result '([^']+)'\.?$"), None),
    ("problem", "failed-unit", _lazy(r"^\[FAILED\] Failed to start (.+?)\.?$"), None),
    ("startup", "startup", _lazy(r"^Startup finished in (.*?)(?: = (\S+(?: \S+)?))?\.?$"), None),
    ("target", "default", _lazy(r"^Reached target (?:Multi-User System|Graphical Interface)\.?$"),
     None),
    ("initrd", "switch root", _lazy(r"^(?:Switching root\.?|Reached target Switch Root\.?|"
                                         r"Started Switch Root|initrd-switch-root\.service)"), None),
)

# Security agents whose failing start deserves its own line.
SECURITY_AGENTS = re.compile(
    r"(?i)(crowdstrike|falcon|mdatp|microsoft defender|sentinel ?one|sentinelagent|mcafee|trellix|"
    r"\bds_agent\b|deep security|trend micro|sophos|cylance|carbon black|cbagentd|tanium|qualys|"
    r"wazuh|ossec|osquery|tripwire|auditd|\baudit\b|apparmor|selinux|fapolicyd|aide|clamav|"
    r"cortex xdr|traps|cybereason|elastic agent|rapid7|insight agent)")

# Cheap literal screen for pass 2: a line containing none of these matches no rule.
RULE_LITERALS = (
    "Restarting system", "Power down", "System halted", "Starting new kernel", "Reached target",
    "Shutting down", "systemd-shutdown", "Syncing", "SIGTERM", "SIGKILL", "unmount", "Deactivating",
    "Detaching", "loop devices", "Rebooting", "Powering off", "Halting", "atchdog", "runlevel",
    "shutting down", "going down", "System is ", "Stopped target", "Stopping", "Shutdown",
    "Power key", "button/power", "request received", "guest-shutdown", "Initiating", "halting",
    "COMMAND=", "equested by", "Automatic-Reboot", "unattended-upgrade", "Kernel panic", "BUG",
    "general protection", "Oops", "invalid opcode", "LOCKUP", "INFO: task", "stall", "Out of memory",
    "out of memory", "Machine check", "Hardware Error", "sysrq", "recovery", "orphan", "unmounted",
    "recovering journal", "rphaned inode", "mergency", "Rescue", "rescue", "dracut-initqueue",
    "read-write", "read-only", "write access", "shut down", "FILE SYSTEM", "INCONSISTENCY",
    "with errors", "File System Check", "SELinux", "AppArmor parser", "AppArmor profiles", "Failed",
    "Startup finished", "Switch", "switch-root", "vmcore", "makedumpfile", "dumpfile", "Dump saving",
)


_SCREEN = re.compile("|".join(re.escape(literal) for literal in RULE_LITERALS))
_KEYED = []


def _keyed_rules():
    """RULES with the literals of RULE_LITERALS each rule's pattern spells out (built on first use).

    A message passing the screen is tried only against the rules one of
    whose literals it holds (a rule naming none of them is always tried):
    a kernel audit line or a failed login no longer walks every rule.
    """
    if not _KEYED:
        for kind, detail, regex, programs in RULES:
            literals = tuple(literal for literal in RULE_LITERALS if literal in regex.pattern)
            _KEYED.append((kind, detail, regex, programs, literals))
    return _KEYED


def classify(message, program=None):
    """(kind, detail, match) for the first rule that fits one message, or None."""
    if not message or not _SCREEN.search(message):
        return None
    for kind, detail, regex, programs, literals in _keyed_rules():
        if programs is not None and (program or "") not in programs:
            continue
        if literals:
            for literal in literals:
                if literal in message:
                    break
            else:
                continue
        match = regex.search(message)
        if match:
            return kind, detail, match
    return None


def logger_event(message, program=None):
    """'start', 'stop' or None for a system logger line."""
    if "start" not in message and "exiting" not in message and "shutting down" not in message and \
            "stopped" not in message and "terminating" not in message:
        return None       # every LOGGER_START / LOGGER_STOP shape holds one of these
    if LOGGER_START.search(message):
        return "start"
    match = LOGGER_STOP.search(message)
    if match:
        signal = match.group(1) or match.group(2)
        if signal is not None and signal not in ("15", "2", "1", "9"):
            return None
        if match.group(2) is not None and program not in LOGGER_PROGRAMS and program is not None:
            return None  # "ntpd exiting on signal 15" is a service stopping, not the logger
        return "stop"
    return None


# Every kernel report header the kernel-report engine knows holds one of these:
# a window holding none has no report to name, and the engine -- a big import --
# is not loaded for it.
KERNEL_REPORT_MARKERS = kernelreport_markers.MARKERS


# ---------------------------------------------------------------- the benchmark's grep

def grep_pattern():
    """The fast first-pass marker set as one POSIX ERE (for ``grep -E -c`` in the benchmark)."""
    return r"Linux version [^ ]+|rsyslog\.com\"\] start.?$"


# Pass 2 reads only the lines of a window that hold one of these (plus the lines
# at the window's edge: start and end times, whole kernel reports before the
# end): every rule above and the logger.
WINDOW_ANCHORS = tuple(sorted(set(
    [literal.encode() for literal in RULE_LITERALS] +
    [b"] start", b"restart", b"exiting on signal", b"syslog-ng", b"Linux version", b"ommand line"])))


# The same lines found in a lower-cased window with fewer passes: every
# WINDOW_ANCHORS literal, lower-cased, holds one of these (tests check it);
# candidates are confirmed with window_regex() on the line as written.
WINDOW_SCREEN = (
    b"restart", b"power", b"halt", b"new kernel", b"d target", b"shut", b"syncing", b"sigterm",
    b"sigkill", b"unmount", b"deactivating", b"detaching", b"loop devices", b"reboot", b"atchdog",
    b"runlevel", b"going down", b"system is ", b"stopping", b"request received", b"initiating",
    b"command=", b"equested by", b"unattended-upgrade", b"kernel panic", b"bug", b"general protection",
    b"oops", b"invalid opcode", b"lockup", b"info: task", b"stall", b"of memory", b"machine check",
    b"hardware error", b"sysrq", b"recover", b"rphan", b"mergency", b"rescue", b"dracut-initqueue",
    b"read-", b"write access", b"file system", b"inconsistency", b"with errors", b"selinux",
    b"apparmor p", b"failed", b"startup finished", b"switch", b"] start", b"exiting on signal",
    b"syslog-ng", b"linux version", b"ommand line", b"vmcore", b"makedumpfile", b"dumpfile", b"dump saving",
)


def window_regex():
    return re.compile(b"|".join(re.escape(anchor) for anchor in WINDOW_ANCHORS))


def parse_systemd_duration(text):
    """'1min 2.345s', '12.345s', '789ms', '1h 2min 3s' -> seconds, or None."""
    if not text:
        return None
    total = 0.0
    found = False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(h|min|ms|us|s)\b", text):
        found = True
        total += float(number) * {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}[unit]
    return total if found else None
