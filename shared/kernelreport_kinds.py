"""Tables of the kernel-report engine: report kinds, header shapes, helper
frames, taint letters, module flags and advice.  Pure data (Python literals
and compiled regexes); the logic lives in ``kernelreport``.

Header shapes were collected from the kernel sources' printk formats and
real reports from 2.6.x through 6.x (x86_64, i386, arm64, ppc64, s390);
see fixtures/oops/README.md for the corpus that exercises each one.
"""

import re

from .kernelreport_markers import MARKERS

# ------------------------------------------------------------------ kinds
#
# kind id -> (label, severity, noise, needs_trace)
#   severity: "critical" / "warning" / "info" (shared.findings severities)
#   noise:    hidden unless --all (userspace crashes, corrected errors)
#   needs_trace: a report of this kind normally carries a call trace; one
#                without it was cut short (flagged as corrupted)

KINDS = {
    "oops": ("kernel oops", "critical", False, True),
    "null-deref": ("NULL pointer dereference", "critical", False, True),
    "page-fault": ("kernel page fault", "critical", False, True),
    "bug": ("kernel BUG", "critical", False, True),
    "gpf": ("general protection fault", "critical", False, True),
    "invalid-opcode": ("invalid opcode", "critical", False, True),
    "divide-error": ("divide error", "critical", False, True),
    "double-fault": ("double fault", "critical", False, False),
    "warning": ("kernel WARNING", "warning", False, True),
    "soft-lockup": ("soft lockup", "warning", False, True),
    "hard-lockup": ("hard lockup", "critical", False, False),
    "rcu-stall": ("RCU stall", "warning", False, False),
    "hung-task": ("hung task", "warning", False, True),
    "oom": ("out of memory", "warning", False, False),
    "memcg-oom": ("memory cgroup out of memory", "warning", False, False),
    "page-alloc-failure": ("page allocation failure", "warning", True, False),
    "kasan": ("KASAN report", "critical", False, True),
    "kfence": ("KFENCE report", "critical", False, True),
    "kmsan": ("KMSAN report", "warning", False, True),
    "ubsan": ("UBSAN report", "warning", False, False),
    "kcsan": ("KCSAN data race", "warning", False, False),
    "lockdep": ("lockdep report", "warning", False, False),
    "machine-check": ("machine check / hardware error", "critical", False, False),
    "edac": ("EDAC memory error", "warning", False, False),
    "panic": ("kernel panic", "critical", False, False),
    "nmi-unknown": ("NMI for unknown reason", "warning", False, False),
    "io-error": ("I/O error", "warning", False, False),
    "fs-error": ("filesystem error", "critical", False, False),
    "segfault": ("userspace crash", "info", True, False),
}

KIND_ORDER = tuple(sorted(KINDS))

# Kinds after which the kernel is in a bad state: a report that follows
# one of these closely (or carries taint D) belongs to the same incident.
FATAL_KINDS = frozenset(["oops", "null-deref", "page-fault", "bug", "gpf", "invalid-opcode",
                         "divide-error", "double-fault", "hard-lockup", "machine-check", "kasan",
                         "kfence"])

# Kinds whose first header line is a continuation of an open report of
# one of these kinds (the "Oops:" line after "BUG: unable to handle ...").
OOPS_FAMILY = frozenset(["oops", "null-deref", "page-fault", "bug", "gpf", "invalid-opcode",
                         "divide-error", "double-fault"])

# ------------------------------------------------------------------ headers
#
# (kind, regex matched at the start of the kernel message).  The first
# entry that matches wins, so specific shapes come before general ones.

_HEX = r"(?:0x)?[0-9a-fA-F]+"
_FN = r"[A-Za-z_.$][\w.$]*"

HEADERS = [
    # -- pre-header: a WARNING / BUG follows
    ("cut-here", r"-+\[ cut here \]-+\s*$"),
    # -- sanitizers (before the generic "BUG:")
    ("kasan", r"BUG: KASAN: (?P<bugtype>[\w -]+?) (?:in|on address) (?P<func>\S+)"),
    ("kasan", r"BUG: KASAN: (?P<bugtype>[\w -]+)"),
    ("kfence", r"BUG: KFENCE: (?P<bugtype>[\w -]+?) in (?P<func>\S+)"),
    ("kfence", r"BUG: KFENCE: (?P<bugtype>[\w -]+)"),
    ("kmsan", r"BUG: KMSAN: (?P<bugtype>[\w -]+?) in (?P<func>\S+)"),
    ("kcsan", r"BUG: KCSAN: (?P<bugtype>[\w -]+?) in (?P<func>\S+?)(?: / (?P<func2>\S+))?\s*$"),
    ("ubsan", r"UBSAN: (?P<bugtype>.+?) in (?P<file>[^\s:]+):(?P<line>\d+)(?::\d+)?"),
    # -- lockups and stalls
    ("soft-lockup", r"(?:(?:NMI )?watchdog: )?BUG: soft lockup - CPU#(?P<cpu>\d+) stuck for "
                    r"(?P<secs>\d+)s! \[(?P<comm>.*):(?P<pid>\d+)\]"),
    ("soft-lockup", r"BUG: soft lockup detected on CPU#(?P<cpu>\d+)"),
    ("hard-lockup", r"(?:(?:NMI )?[Ww]atchdog: (?:CPU ?\d+: )?)?Watchdog detected hard LOCKUP on "
                    r"cpu (?P<cpu>\d+)"),
    ("hard-lockup", r"NMI [Ww]atchdog(?: detected LOCKUP on CPU ?| detected hard LOCKUP on cpu )"
                    r"(?P<cpu>\d+)"),
    ("rcu-stall", r"(?:rcu: )?INFO: (?P<flavor>rcu\w*|\w+_rcu) (?:self-detected stall|"
                  r"detected (?:expedited )?stalls?)"),
    ("hung-task", r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked for more than (?P<secs>\d+) seconds"),
    # -- lockdep (before WARNING)
    ("lockdep", r"(?:WARNING|INFO|\[ INFO): (?P<what>possible circular locking dependency detected|"
                r"possible recursive locking detected|inconsistent lock state|suspicious RCU usage|"
                r"bad unlock balance detected|possible irq lock inversion dependency detected|"
                r"lock held when returning to user space|held lock freed|nested lock was not taken|"
                r"lock held at task exit time|[\w-]+-safe -> [\w-]+-unsafe lock order detected|"
                r"bad contention detected|"
                r"lockdep bfs error|inconsistent \{[^}]*\} state)"),
    # -- oopses
    ("null-deref", r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer "
                   r"dereference|Kernel NULL pointer dereference)(?: on (?:read|write|instruction "
                   r"fetch))?(?:,? at (?:address )?(?P<addr>\S+)|, address: (?P<addr2>\S+))?"),
    ("page-fault", r"BUG: Unable to handle kernel (?:data access|instruction fetch)(?: on (?:read|write|"
                   r"execute))? at (?P<addr>\S+)"),
    ("page-fault", r"BUG: unable to handle (?:page fault for address: ?|kernel paging request at |"
                   r"kernel (?P<what>[\w -]+?) at )(?P<addr>\S+)"),
    ("null-deref", r"Unable to handle kernel NULL pointer dereference at virtual address (?P<addr>\S+)"),
    ("page-fault", r"Unable to handle kernel (?P<what>[\w -]+?) at (?:virtual )?address (?P<addr>\S+)"),
    ("page-fault", r"Unable to handle kernel paging request for (?P<what>[\w ]+?) at address "
                   r"(?P<addr>\S+)"),
    ("page-fault", r"Unable to handle kernel pointer dereference in virtual (?P<what>\w+) address space"),
    ("bug", r"kernel BUG at (?P<file>[^\s:!]+):(?P<line>\d+)"),
    ("bug", r"kernel BUG at (?P<file>[^\s!]+)!"),
    ("double-fault", r"(?:traps: )?(?:Oops: )?(?:PANIC: )?double fault(?:, error_code: (?P<code>\S+)|: (?P<code2>"
                     r"[0-9a-f]{4}))"),
    ("double-fault", r"(?:Oops: )?kernel stack overflow \(double-fault\)"),
    ("bug", r"BUG: stack guard page was hit at (?P<addr>\S+)"),
    ("bug", r"BUG: (?P<what>[^:\[]+?)(?:\s*$|[:\[]| at | in process |, )"),
    ("gpf", r"(?:Oops: )?general protection fault(?:, (?P<detail>[^:]+?))?(?:: (?P<code>[0-9a-f]{4})"
            r"(?: \[#(?P<n>\d+)\])?|\s*$)"),
    ("invalid-opcode", r"(?:Oops: )?invalid (?:opcode|operand): (?P<code>[0-9a-f]{4})(?: \[#(?P<n>\d+)\])?"),
    ("divide-error", r"(?:Oops: )?divide error: (?P<code>[0-9a-f]{4})(?: \[#(?P<n>\d+)\])?"),
    ("oops", r"Internal error: (?P<what>Oops[^:]*|[\w ]+): (?P<code>\S+) \[#(?P<n>\d+)\]"),
    ("oops", r"Oops: (?P<what>.*?)\[#?(?P<n>\d+)\]"),
    ("oops", r"Oops(?: -)? (?P<what>.*?)\[#(?P<n>\d+)\]"),
    # -- warnings
    ("warning", r"WARNING: CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) at (?P<file>[^\s:]+):"
                r"(?P<line>\d+) (?P<func>\S+)"),
    ("warning", r"WARNING: CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) at (?P<func>\S+)"),
    ("warning", r"WARNING: (?P<file>[^\s:]+):(?P<line>\d+) at (?P<func>[^\s,]+), CPU#(?P<cpu>\d+): "
                r"(?P<comm>.+)/(?P<pid>\d+)"),
    ("warning", r"WARNING: at (?P<file>[^\s:]+):(?P<line>\d+) (?P<func>\S+?)(?:\(\))?\s*(?:\(|$)"),
    ("warning", r"WARNING: at (?P<file>[^\s:]+):(?P<line>\d+)"),
    # -- memory
    ("oom", r"(?P<comm>.+?) invoked oom-killer: (?P<rest>.*)"),
    ("memcg-oom", r"Memory cgroup out of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>.*?)\)"),
    ("oom", r"Out of memory(?: \(oom_kill_allocating_task\))?: Kill(?:ed)? process (?P<pid>\d+) "
            r"\((?P<comm>.*?)\)"),
    ("oom", r"Out of memory and no killable processes"),
    ("oom", r"oom-kill:constraint=(?P<constraint>\w+)"),
    ("page-alloc-failure", r"(?P<comm>\S+): page allocation failure[:.] ?order:? ?(?P<order>\d+), "
                           r"mode:? ?(?P<mode>\S+?),?(?:\s|$)"),
    ("page-alloc-failure", r"(?P<comm>\S+): page allocation failure"),
    # -- hardware
    ("machine-check", r"(?:mce: )?\[Hardware Error\]: (?P<rest>.*)"),
    ("machine-check", r"\{\d+\}\[Hardware Error\]: (?P<rest>.*)"),
    ("machine-check", r"(?:mce: )?(?P<rest>Machine check events logged)"),
    ("edac", r"EDAC (?P<mc>(?:[\w-]+ )?MC\d+): (?:(?P<count>\d+) )?(?P<sev>CE|UE)\b(?P<rest>.*)"),
    ("nmi-unknown", r"(?:Uhhuh\. )?NMI received for unknown reason (?P<reason>\S+) on CPU (?P<cpu>\d+)"),
    ("nmi-unknown", r"NMI: (?P<what>PCI system error \(SERR\)|IOCK error \(debug interrupt\?\)) for "
                    r"reason (?P<reason>\S+) on CPU (?P<cpu>\d+)"),
    # -- panic
    ("panic", r"Kernel panic - not syncing:? ?(?P<reason>.*)"),
    # -- storage
    ("io-error", r"(?:(?:blk_update_request|print_req_error|end_request): )?(?P<what>(?:[\w/]+ ){0,3}?)"
                 r"error,? dev (?P<dev>[^\s,]+),? sector (?P<sector>\d+)"),
    ("io-error", r"Buffer I/O error on dev(?:ice)? (?P<dev>[^\s,]+),? logical block (?P<block>\d+)"),
    ("fs-error", r"(?P<fs>EXT[234]-fs) error \(device (?P<dev>[^)]+)\)(?: in)?:? ?(?P<func>[\w.]+)?"
                 r"(?::(?P<line>\d+))?"),
    ("fs-error", r"(?P<fs>EXT[234]-fs) \((?P<dev>[^)]+)\): (?P<what>Remounting filesystem read-only|"
                 r"[^:]*I/O error[^:]*|This should not happen!! Data will be lost|"
                 r"failed to convert unwritten extents.*|Delayed block allocation failed.*)"),
    ("fs-error", r"(?P<fs>JBD2|jbd2): (?P<what>.*(?:[Ee]rror|abort).*)"),
    ("fs-error", r"Aborting journal on device (?P<dev>[^\s.]+(?:\.\d+)?(?:-\d+)?)"),
    ("fs-error", r"(?P<fs>XFS) \((?P<dev>[^)]+)\): (?P<what>Corruption (?:of in-memory data )?detected|"
                 r"Metadata corruption detected|metadata I/O error|xfs_do_force_shutdown|"
                 r"Internal error|Log I/O [Ee]rror|log I/O error|Filesystem has been shut down|"
                 r"[^:]*[Ss]hutting down filesystem|Corruption warning|I/O Error Detected|"
                 r"Metadata CRC error detected|Unmount and run xfs_repair)"),
    ("fs-error", r"(?P<fs>BTRFS)(?: (?:error|critical)| ?: error) \(device (?P<dev>[^)\s]+)[^)]*\)"
                 r"(?P<what>.*)"),
    # -- userspace (listed separately)
    ("segfault", r"(?P<comm>\S.*?)\[(?P<pid>\d+)\]: segfault at (?P<addr>\S+) ip (?P<ip>\S+) sp "
                 r"(?P<sp>\S+) error (?P<err>\S+)(?: in (?P<where>[^\s\[]+))?"),
    ("segfault", r"(?:traps: )?(?P<comm>\S.*?)\[(?P<pid>\d+)\] (?P<trap>general protection fault|"
                 r"trap [\w ]+?|\w[\w ]*?fault) ip:? ?(?P<ip>\S+) sp:? ?(?P<sp>\S+) error:? ?(?P<err>\S+)"
                 r"(?: in (?P<where>[^\s\[]+))?"),
]

HEADER_TABLE = [(kind, re.compile(pattern)) for kind, pattern in HEADERS]

# Cheap test before the table: every header shape contains one of these
# literals.  They are chosen to start with characters that are rare in logs
# (upper case, '[', '#', '*', 'k', 'f', 'g', 'j', 'p', ',') so that one
# compiled trie of them scans big files at tens of MB/s in pure Python; the
# str form prefilters records, the bytes form whole files
# (textio.MatchScanner).  Keep in step with HEADERS: the corpus test checks
# that the file path and the record path find the same reports.
# MARKERS lives in kernelreport_markers (imported above): bootlog screens with it too.


def _trie(words):
    """One alternation of literals nested by leading character (fewer branch tries per position)."""
    groups = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word[1:])
    parts = []
    for first in sorted(groups):
        rests = groups[first]
        if any(not rest for rest in rests):
            parts.append(re.escape(first))   # a prefix is enough for a prefilter
            continue
        inner = _trie(rests)
        parts.append(re.escape(first) + ("(?:%s)" % inner if "|" in inner else inner))
    return "|".join(parts)


MARKER_RE = re.compile(_trie(MARKERS))
MARKER_BYTES_RE = re.compile(_trie(MARKERS).encode("ascii"))

# ------------------------------------------------------------------ body lines

# A stack frame in any of the shapes architectures and kernel versions print.
FRAME_RE = re.compile(
    r"^\s*\(?(?:\[[<]?(?P<addr>[0-9a-fA-F]{6,16})[>]?\]\s*)*"
    r"(?P<unreliable>\? )?"
    r"(?P<func>[A-Za-z_.$][\w.$]*)\+(?P<off>0x[0-9a-fA-F]+)/(?P<size>0x[0-9a-fA-F]+)"
    r"(?: \[(?P<module>[\w-]+)(?: [0-9a-f]+)?\])?\)?"
    r"(?P<tail>.*)$")
# 32-bit ARM: [<c010f2f4>] (unwind_backtrace) from [<c010b6f8>] (show_stack+0x10/0x14)
ARM_FRAME_RE = re.compile(r"^\s*\[<[0-9a-f]+>\] \((?P<func>[A-Za-z_.$][\w.$]*)(?:\+(?P<off>0x[0-9a-f]+)/"
                          r"(?P<size>0x[0-9a-f]+))?(?: \[(?P<module>[\w-]+)\])?\) from ")
# The program counter line: RIP (x86_64), IP / EIP (i386 and 4.x BUG), pc
# (arm64), PC is at (older arm), NIP (powerpc), Krnl PSW (s390).
PC_RE = re.compile(
    r"^\s*(?:RIP: (?:[0-9a-f]{4}:)?|IP: |EIP: (?:[0-9a-f]{4}:)?|EIP is at |pc ?: |PC is at |"
    r"NIP \[[0-9a-f]+\] |Krnl PSW : [0-9a-f]+ [0-9a-f]+ \()"
    r"(?:\[<[0-9a-fA-F]+>\]\s+)*"
    r"(?P<func>[A-Za-z_.$][\w.$]*)\+(?P<off>0x[0-9a-fA-F]+)/(?P<size>0x[0-9a-fA-F]+)"
    r"(?: \[(?P<module>[\w-]+)(?: [0-9a-f]+)?\])?")
LR_RE = re.compile(r"^\s*(?:lr ?: |LR is at |LR \[[0-9a-f]+\] )(?P<func>[A-Za-z_.$][\w.$]*)\+")
SECTION_RE = re.compile(r"^\s*<(?P<close>/)?(?P<name>IRQ|NMI|TASK|EOI|SOFTIRQ)>\s*$")
CALLTRACE_RE = re.compile(r"^\s*(?:Call [Tt]race:|Backtrace:|Call trace:|stack backtrace:|"
                          r"Call Trace: ?$|Exception stack)")
END_RE = re.compile(r"^\s*---\[ end (?:trace|Kernel panic)")

# Lines that belong to a report body even though they are not frames.
BODY_RE = re.compile(
    r"^(?:\s|"                                            # indented continuation
    r"[ER]?[A-Z][A-Z0-9]{1,3}\s?:\s*[0-9a-f]|"            # register dumps RAX: R10: EAX: CR2: DS:
    r"CPU|Pid|PID|Hardware name|Modules linked in|Call Trace|Call trace|Code|Stack|Workqueue|"
    r"Tainted|Not tainted|RIP|RSP|IP|EIP|ESP|EFLAGS|PGD|P4D|PUD|PMD|PTE|#PF|Oops|Internal error|"
    r"Kernel Offset|Dumping ftrace|Backtrace|Instruction dump|Mem abort info|Data abort info|"
    r"(?:ESR|EC|IL|SET|FnV|EA|S1PTW|FSC|ISV|ISS|CM|WnR|pc|lr|sp|x\d+|pstate|NIP|LR|CTR|REGS|MSR|CFAR|"
    r"IRQMASK|GPR\d+|TRAP|DAR|DSISR|SOFTE|PACATMSCRATCH|ESR_EL\d)\s*[:=\[]|user pgtable|swapper pgtable|"
    r"Krnl PSW|Krnl GPRS|Krnl Code|User PSW|User Code|Last Breaking-Event-Address|Failing address|"
    r"Fault in|Faulting instruction address|"
    r"irq event stamp|hardirqs last|softirqs last|other info that might help|"
    r"Possible unsafe locking scenario|Possible interrupt unsafe|the existing dependency chain|"
    r"the shortest dependencies|which lock already depends|but task is already holding|"
    r"and this task is already holding|but this lock|which would create a new lock dependency|"
    r"\*\*\* DEADLOCK \*\*\*|no locks held|\d+ locks? held by|rcu_scheduler_active|"
    r"Chain exists of|lockdep|task|Showing all locks|Showing busy workqueues|"
    r"Read of size|Write of size|Allocated by task|Freed by task|The buggy address|Memory state around|"
    r"Last potentially related|Second to last potentially|page:|page dumped|raw:|flags:|head:|"
    r"Uninit was (?:created|stored)|Local variable|Bytes \d+-\d+|Memory access|Byte \d+|"
    r"Invalid read|Invalid write|Corrupted memory|Out-of-bounds|Use-after-free|kfence-#\d+|"
    r"value changed|reported by|read to|write to|read-write to|race at|"
    r"shift exponent|index -?\d+ is out of range|load of value|signed integer overflow|"
    r"-?\d+ [-+*] -?\d+ cannot be represented|negation of|division by zero|variable length array|"
    r"left shift of|member access within|execution reached an unreachable|"
    r"[\w-]+ of address|member access|pointer index expression|"
    r"Mem-Info|active_anon|Node \d|lowmem_reserve|\d+ pages|\d+ total pagecache|Free swap|Total swap|"
    r"Swap cache stats|Tasks state|oom-kill|Out of memory|Killed process|oom_reaper|Memory cgroup|"
    r"memory(?:\+swap)?: usage|kmem: usage|swap: usage|Task in|HighMem|DMA|Normal|Movable|"
    r"warn_alloc_show_mem|\w+ invoked oom-killer|Unreclaimable slab info|Name\s+Used\s+Total|"
    r"rcu|\(detected by|\(t=|Task dump for CPU|NMI backtrace for cpu|Sending NMI|"
    r"INFO: |BUG: |WARNING: |"
    r"\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\"|"
    r"Shutting down cpus|Kernel panic|Rebooting in|Reboot failed|---\[|=====|-----|"
    r"\[ *\d+\]|\[\s+pid\s+\]|"
    r"SMP|PREEMPT|KASAN|NOPTI|PTI|"
    r"mce|\[Hardware Error\]|EDAC|\{\d+\}\[Hardware Error\]|"
    r"sd \d|blk_update_request|print_req_error|end_request|Buffer I/O|I/O error|"
    r"XFS \(|EXT\d-fs|JBD2|BTRFS|"
    r"[0-9a-f]{8,16}:|[0-9a-f]{8}[: ]|ffff|"
    r"<\w+>|<\/\w+>|\?|"
    r"Do you have a strange power saving|Dazed and confused"
    r")")

DELIMITER_RE = re.compile(r"^(?:={20,}|-{20,})\s*$")
DROPPED_RE = re.compile(r"\*\* (?P<count>\d+) printk messages dropped \*\*|"
                        r"printk: (?P<count2>\d+) messages suppressed|"
                        r"(?P<count3>\d+) printk messages dropped")
BANNER_RE = re.compile(r"^Linux version (?P<release>\S+)")
DMI_RE = re.compile(r"^DMI: (?P<hardware>.+)$")

# ------------------------------------------------------------------ helper frames
#
# Frames that are never the guilty function: dump / panic / warn helpers,
# fault entry code, locking, allocators, sanitizer runtime, scheduler waits
# (for hung tasks), timer and NMI plumbing (for lockups and stalls).

SKIP_FRAMES = (
    r"dump_stack(?:_lvl)?", r"__dump_stack", r"show_stack", r"show_regs", r"__show_regs",
    r"show_trace_log_lvl", r"show_stack_log_lvl", r"dump_backtrace", r"show_registers",
    r"print_trace_address", r"printk", r"_printk", r"vprintk.*", r"__warn_printk",
    r"panic", r"vpanic", r"nmi_panic", r"__warn", r"warn_slowpath.*", r"warn_alloc.*", r"__WARN.*",
    r"report_bug", r"handle_bug", r"do_error_trap", r"do_trap", r"do_invalid_op", r"invalid_op",
    r"exc_invalid_op", r"asm_exc_invalid_op", r"do_divide_error", r"exc_divide_error",
    r"asm_exc_divide_error", r"divide_error", r"do_double_fault", r"exc_double_fault",
    r"asm_exc_double_fault", r"handle_stack_overflow", r"df_debug",
    r"page_fault", r"do_page_fault", r"__do_page_fault", r"exc_page_fault", r"asm_exc_page_fault",
    r"do_user_addr_fault", r"do_kern_addr_fault", r"handle_page_fault", r"no_context",
    r"__bad_area.*", r"bad_area.*", r"kernelmode_fixup_or_oops", r"page_fault_oops",
    r"spurious_kernel_fault", r"fixup_exception", r"oops_end", r"oops_begin", r"die", r"__die.*",
    r"die_addr", r"do_general_protection", r"exc_general_protection",
    r"asm_exc_general_protection", r"general_protection", r"do_mem_abort", r"do_translation_fault",
    r"__do_kernel_fault", r"do_bad_area", r"el1_abort", r"el1_da", r"el1h_64_sync.*", r"el1_sync.*",
    r"el1_dbg", r"el1_undef", r"do_undefinstr", r"bug_handler", r"call_break_hook", r"brk_handler",
    r"die_kernel_fault", r"arm64_notify_die", r"bad_page_fault", r"__bad_page_fault",
    r"handle_page_fault", r"data_access_common.*", r"program_check_common.*", r"program_check_exception",
    r"do_program_check", r"do_report_trap", r"do_exception", r"do_dat_exception", r"pgm_check_handler",
    r"do_no_context", r"do_low_address",
    # sanitizers and debugging
    r"kasan_.*", r"__kasan_.*", r"____kasan_.*", r"check_memory_region.*", r"__asan_.*",
    r"asan_report.*", r"print_address_description.*", r"print_report", r"end_report", r"start_report",
    r"describe_object.*", r"kmsan_.*", r"__msan_.*", r"__kmsan_.*", r"ubsan_.*", r"__ubsan_.*",
    r"ubsan_epilogue", r"kcsan_.*", r"__kcsan_.*", r"__tsan_.*", r"kfence_.*", r"__kfence_.*",
    r"check_canary.*", r"debug_object.*", r"debug_print_object", r"debug_check_no.*",
    r"__might_sleep", r"___might_sleep", r"__might_resched", r"__might_fault", r"might_fault",
    r"__cant_sleep", r"check_stack_object", r"check_heap_object", r"__check_object_size",
    r"usercopy_abort", r"__list_add_valid.*", r"__list_del_entry_valid.*", r"__list_.*_report",
    r"__check_heap_object", r"check_object", r"check_bytes_and_report", r"object_err", r"slab_err",
    r"print_trailer", r"__slab_err",
    # lockdep and locking
    r"lock_acquire.*", r"lock_release", r"lock_acquired", r"lock_contended", r"__lock_acquire.*",
    r"lockdep_.*", r"__lockdep_.*", r"validate_chain", r"check_prev_add", r"check_prevs_add",
    r"check_noncircular", r"print_circular_bug.*", r"check_deadlock", r"print_deadlock_bug",
    r"mark_lock.*", r"print_usage_bug", r"valid_state", r"mark_usage", r"mark_held_locks",
    r"__lock_release", r"print_unlock_imbalance_bug", r"debug_check_no_locks.*",
    r"_raw_spin_.*", r"__raw_spin_.*", r"do_raw_spin_.*", r"raw_spin_.*", r"spin_.*", r"_spin_.*",
    r"queued_spin_lock_slowpath", r"native_queued_spin_lock_slowpath.*", r"__pv_queued_spin_lock.*",
    r"pv_queued_spin_lock.*", r"queued_.*_lock.*", r"_raw_read_.*", r"_raw_write_.*",
    r"__raw_read_.*", r"__raw_write_.*", r"do_raw_read_.*", r"do_raw_write_.*", r"arch_spin_lock",
    r"mutex_lock.*", r"__mutex_lock.*", r"mutex_unlock.*", r"__mutex_unlock.*", r"mutex_trylock",
    r"down", r"down_read.*", r"down_write.*", r"__down.*", r"up_read", r"up_write", r"up",
    r"rwsem_.*", r"__rwsem_.*", r"call_rwsem_.*", r"percpu_down_.*", r"__percpu_down_.*",
    r"percpu_rwsem_.*", r"rt_mutex_.*", r"__rt_mutex_.*", r"rt_spin_lock.*", r"lock_sock.*",
    r"__lock_sock", r"lock_page.*", r"__lock_page.*", r"folio_lock.*", r"__folio_lock.*",
    r"folio_wait_bit.*", r"wait_on_page_bit.*", r"io_wait_event.*",
    # scheduler waits (hung tasks)
    r"__schedule", r"schedule", r"schedule_timeout.*", r"schedule_preempt_disabled",
    r"schedule_hrtimeout.*", r"preempt_schedule.*", r"io_schedule.*", r"bit_wait.*",
    r"__wait_on_bit.*", r"out_of_line_wait_on_bit.*", r"wait_for_completion.*",
    r"__wait_for_common", r"wait_for_common.*", r"do_wait_for_common", r"__wait_event.*",
    r"wait_event.*", r"prepare_to_wait.*", r"finish_wait", r"__flush_work.*", r"flush_work",
    r"context_switch", r"__switch_to.*", r"switch_to", r"__cond_resched.*", r"_cond_resched",
    r"percpu_rwsem_wait", r"rwbase_.*", r"__sched_text_start",
    # allocators and string helpers
    r"kmalloc.*", r"__kmalloc.*", r"kmem_cache_alloc.*", r"__kmem_cache_alloc.*", r"kzalloc.*",
    r"kcalloc", r"krealloc.*", r"__krealloc", r"kvmalloc.*", r"__kvmalloc.*", r"kvzalloc",
    r"kfree.*", r"kvfree.*", r"kmem_cache_free.*", r"__kmem_cache_free.*", r"slab_free.*",
    r"__slab_free", r"do_slab_free", r"___slab_alloc", r"__slab_alloc.*", r"slab_alloc.*",
    r"new_slab", r"allocate_slab", r"__alloc_pages.*", r"alloc_pages.*", r"__get_free_pages",
    r"get_free_pages", r"alloc_page_interleave", r"__alloc_frozen_pages.*", r"folio_alloc.*",
    r"__folio_alloc.*", r"vmalloc.*", r"__vmalloc.*", r"vzalloc", r"kmalloc_order.*",
    r"kmalloc_large.*", r"__kmalloc_large.*", r"alloc_pages_vma", r"vma_alloc_folio",
    r"memcpy.*", r"__memcpy.*", r"memset.*", r"__memset.*", r"memmove.*", r"__memmove.*",
    r"memcmp", r"__memcmp", r"strcpy", r"strncpy", r"strlen", r"strnlen", r"strcmp", r"strncmp",
    r"strscpy", r"strlcpy", r"sized_strscpy", r"_copy_to_user", r"_copy_from_user",
    r"copy_to_user.*", r"copy_from_user.*", r"__copy_.*", r"copy_user_.*", r"rep_movs_alternative",
    r"fortify_panic", r"__fortify_.*", r"refcount_warn_saturate", r"refcount_.*", r"kref_put",
    # timers, interrupts, NMI and watchdog plumbing (lockups and stalls)
    r"watchdog_timer_fn", r"watchdog_overflow_callback", r"watchdog_hardlockup_check",
    r"__perf_event_overflow", r"perf_event_overflow", r"perf_event_nmi_handler", r"x86_pmu_handle_irq",
    r"intel_pmu_handle_irq", r"amd_pmu_handle_irq", r"perf_ibs_nmi_handler", r"nmi_handle",
    r"default_do_nmi", r"do_nmi", r"exc_nmi", r"asm_exc_nmi", r"end_repeat_nmi", r"repeat_nmi",
    r"nmi", r"nmi_cpu_backtrace.*", r"nmi_trigger_cpumask_backtrace", r"arch_trigger_.*_backtrace",
    r"trigger_.*_backtrace", r"rcu_dump_cpu_stacks", r"print_cpu_stall.*", r"print_other_cpu_stall",
    r"check_cpu_stall", r"rcu_pending", r"rcu_sched_clock_irq", r"rcu_check_callbacks",
    r"rcu_check_gp_start_stall", r"rcu_stall_kick_kthreads", r"update_process_times",
    r"tick_sched_handle.*", r"tick_sched_timer", r"tick_nohz_handler", r"tick_handle_periodic",
    r"tick_periodic", r"__hrtimer_run_queues", r"hrtimer_interrupt", r"hrtimer_run_queues",
    r"__run_hrtimer", r"local_apic_timer_interrupt", r"smp_apic_timer_interrupt",
    r"apic_timer_interrupt", r"__sysvec_apic_timer_interrupt", r"sysvec_apic_timer_interrupt",
    r"asm_sysvec_apic_timer_interrupt", r"asm_sysvec_.*", r"sysvec_.*", r"__sysvec_.*",
    r"irq_exit.*", r"__irq_exit_rcu", r"do_softirq.*", r"__do_softirq", r"handle_softirqs",
    r"run_ksoftirqd", r"invoke_softirq", r"irq_enter.*", r"handle_irq", r"do_IRQ",
    r"common_interrupt", r"asm_common_interrupt", r"ret_from_intr", r"arch_cpu_idle.*",
    r"irq_work_.*", r"timer_interrupt", r"__timer_interrupt", r"el1_interrupt", r"el1h_64_irq.*",
    r"el1_irq", r"gic_handle_irq", r"handle_domain_irq", r"generic_handle_domain_irq",
    r"arch_timer_handler_.*", r"do_IRQ", r"ext_int_handler", r"do_ext_irq", r"do_ext_interrupt",
    r"clock_comparator_work", r"sched_clock_tick", r"scheduler_tick", r"trigger_load_balance",
    r"softlockup_fn", r"is_softlockup", r"watchdog", r"show_regs_print_info",
    r"smp_call_function.*", r"generic_exec_single", r"csd_lock_wait.*", r"flush_tlb_.*",
    r"on_each_cpu.*", r"native_flush_tlb_.*",
    # sysrq and panic plumbing
    r"__handle_sysrq", r"handle_sysrq", r"sysrq_handle_.*_noop", r"crash_kexec", r"__crash_kexec",
    r"machine_crash_shutdown", r"native_machine_crash_shutdown", r"crash_smp_send_stop",
    r"smp_send_stop", r"native_stop_other_cpus", r"stop_this_cpu", r"emergency_restart",
    r"kmsg_dump", r"console_unlock", r"console_flush_all", r"console_emit_next_record",
    r"serial8250_console_write", r"univ8250_console_write", r"wait_for_xmitr", r"vprintk_emit",
    r"devkmsg_emit", r"devkmsg_write",
    # out-of-memory plumbing
    r"oom_kill_process", r"out_of_memory", r"dump_header", r"dump_tasks", r"mem_cgroup_out_of_memory",
    r"mem_cgroup_oom", r"try_charge.*", r"__mem_cgroup_charge", r"mem_cgroup_charge",
    r"charge_memcg", r"__alloc_pages_may_oom", r"__alloc_pages_slowpath.*", r"show_mem",
    r"__show_mem", r"pagefault_out_of_memory", r"obj_cgroup_charge.*", r"memcg_.*charge.*",
)
SKIP_FRAME_RE = re.compile(r"^(?:%s)$" % "|".join(SKIP_FRAMES))

# Kernel entry code at the bottom of traces: not guilty either.
ENTRY_FRAME_RE = re.compile(
    r"^(?:entry_SYSCALL_64.*|do_syscall_64|do_syscall_\w+|__x64_sys_\w+|__ia32_sys_\w+|"
    r"__do_sys_\w+|__se_sys_\w+|x64_sys_call|ret_from_fork.*|kthread|worker_thread|"
    r"process_one_work|process_scheduled_works|smpboot_thread_fn|start_kernel|"
    r"secondary_startup_64.*|x86_64_start_.*|start_secondary|cpu_startup_entry|do_idle|"
    r"cpuidle_enter.*|default_idle.*|native_safe_halt|arch_cpu_idle|el0_svc.*|el0t_64_sync.*|"
    r"invoke_syscall|system_call.*|__sys_\w+|ksys_\w+)$")

# Functions the issue calls out as look-alikes of report headers: they are
# ordinary symbol names when they appear in a trace.
SUFFIX_RE = re.compile(r"(?:\.(?:cold|isra|constprop|part|lto_priv|llvm|localalias)(?:\.\d+)*)+$")

# ------------------------------------------------------------------ taint

TAINTS = (
    ("P", "PROPRIETARY_MODULE", "a proprietary (non-GPL) module was loaded"),
    ("F", "FORCED_MODULE", "a module was force-loaded"),
    ("S", "CPU_OUT_OF_SPEC", "the system is running out of specification"),
    ("R", "FORCED_RMMOD", "a module was force-unloaded"),
    ("M", "MACHINE_CHECK", "the processor reported a machine check exception"),
    ("B", "BAD_PAGE", "a bad page was referenced or unexpected page flags were seen"),
    ("U", "USER", "userspace requested a taint"),
    ("D", "DIE", "the kernel died recently (an earlier oops or BUG)"),
    ("A", "OVERRIDDEN_ACPI_TABLE", "an ACPI table was overridden by the user"),
    ("W", "WARN", "the kernel issued a warning earlier"),
    ("C", "CRAP", "a staging driver was loaded"),
    ("I", "FIRMWARE_WORKAROUND", "a workaround for a platform firmware bug was applied"),
    ("O", "OOT_MODULE", "an out-of-tree (externally built) module was loaded"),
    ("E", "UNSIGNED_MODULE", "an unsigned module was loaded"),
    ("L", "SOFTLOCKUP", "a soft lockup occurred earlier"),
    ("K", "LIVEPATCH", "the kernel has been live patched"),
    ("X", "AUX", "auxiliary taint (distribution defined)"),
    ("T", "RANDSTRUCT", "the kernel was built with the struct randomization plugin"),
    ("N", "TEST", "an in-kernel test has been run"),
    ("J", "FWCTL", "userspace used a mutating debug operation through fwctl"),
)
TAINT_MEANING = dict((letter, (name, text)) for letter, name, text in TAINTS)
TAINT_NAME_LETTER = dict((name, letter) for letter, name, _ in TAINTS)

MODULE_FLAGS = {
    "P": "proprietary",
    "O": "out-of-tree",
    "E": "unsigned",
    "F": "force-loaded",
    "C": "staging",
    "K": "livepatch",
    "X": "auxiliary taint",
    "N": "test module",
    "T": "struct randomization",
    "+": "being loaded",
    "-": "being unloaded",
}

# ------------------------------------------------------------------ advice

DECODE_ADVICE = (
    "decode the trace with the matching debuginfo: scripts/decode_stacktrace.sh vmlinux "
    "/lib/modules/$(uname -r) < report.txt, or gdb vmlinux -ex 'list *(FUNC+0xOFF)'; "
    "in crash(8): dis -l FUNC+0xOFF")

ADVICE = {
    "oops": (DECODE_ADVICE,
             "search the title with the kernel version in the distribution's bug tracker; an "
             "update often fixes it"),
    "warning": (DECODE_ADVICE,
                "a WARNING is not fatal, but the kernel is now tainted (W); look for what happened "
                "next and update if the title is a known bug",
                "kernel.panic_on_warn=1 turns the next one into a panic (and a kdump) on a test box"),
    "soft-lockup": ("a CPU ran kernel code for too long without scheduling: check the RIP function "
                    "and the trace for a loop (often a driver or a huge list walk)",
                    "kernel.softlockup_panic=1 (with kdump loaded) captures the next one as a vmcore",
                    "on virtual machines, host overcommit and steal time cause false soft lockups: "
                    "check the hypervisor"),
    "hard-lockup": ("a CPU stopped taking interrupts (a spinning lock with interrupts off, broken "
                    "hardware or firmware): the NMI backtrace shows where",
                    "kernel.hardlockup_panic=1 (with kdump loaded) captures the next one",
                    "check the firmware / BIOS and microcode level; look for machine checks nearby"),
    "rcu-stall": ("a CPU or task blocked RCU grace periods: look at the stack of the stalled CPU "
                  "(not of the CPU that detected it)",
                  "'kthread starved' means the RCU thread did not get CPU time (real-time hogs, "
                  "overloaded VM): fix the starvation, not RCU",
                  "kernel.panic_on_rcu_stall=1 (with kdump loaded) captures the next one"),
    "hung-task": ("the task waited in D state (usually I/O or a lock) longer than "
                  "kernel.hung_task_timeout_secs: the trace shows what it waited for",
                  "check storage and network filesystems for errors and latency at the same time "
                  "(iostat, multipath -ll, dmesg I/O errors)",
                  "kernel.hung_task_panic=1 (with kdump loaded) captures the next one"),
    "oom": ("memory ran out: look at the biggest tasks and the victim's RSS; check for leaks "
            "(growing RSS over time) and for overcommitted limits",
            "in crash(8) on a vmcore: kmem -i (memory use), ps -m / ps -G (per task)",
            "if the kernel itself holds the memory, check Unreclaimable slab and slabtop"),
    "memcg-oom": ("a cgroup hit its memory limit: compare memory.max / memory.limit_in_bytes with "
                  "the workload's real need (systemctl show UNIT -p MemoryMax, docker inspect)",
                  "the rest of the system did not run out of memory; raise the limit or fix the leak"),
    "page-alloc-failure": ("a kernel allocation of 2^order pages failed (fragmentation or pressure); "
                           "usually harmless for order > 0 with a fallback",
                           "raise vm.min_free_kbytes if these repeat with network or storage errors"),
    "kasan": ("KASAN found memory corruption: the trace, 'Allocated by' and 'Freed by' stacks show "
              "the culprit; report it upstream with the full text", DECODE_ADVICE),
    "kfence": ("KFENCE caught a memory error on a production kernel: the report is reliable; "
               "report it with the full text", DECODE_ADVICE),
    "kmsan": ("KMSAN found use of uninitialised memory: see the origin stack in the report",),
    "ubsan": ("undefined behaviour in the kernel: usually benign but a real bug; report it with "
              "the file and line",),
    "kcsan": ("a data race between the two functions in the title: report it upstream",),
    "lockdep": ("lockdep found a lock ordering problem that can deadlock: the chain in the report "
                "names the locks; report it with the full text", DECODE_ADVICE),
    "machine-check": ("the hardware reported an error: decode it with rasdaemon (ras-mc-ctl "
                      "--errors) or mcelog, and check the BMC / iLO / iDRAC event log",
                      "repeated errors on one DIMM or CPU: replace it; update BIOS and microcode"),
    "edac": ("memory errors on the DIMM named in the report: ras-mc-ctl --error-count; corrected "
             "errors that keep growing predict uncorrected ones: plan a replacement",),
    "panic": ("the kernel stopped: the reason and the report before it say why",
              "with kdump loaded the next panic leaves a vmcore in /var/crash for crash(8)"),
    "nmi-unknown": ("an NMI nobody claimed: often the BMC / watchdog or a hardware error; check the "
                    "BMC event log and for machine checks",
                    "kernel.unknown_nmi_panic=1 turns the next one into a panic (and a kdump)"),
    "io-error": ("the block device returned errors: check the disk (smartctl -a, nvme smart-log), "
                 "cables and the controller / multipath state",
                 "I/O errors explain hung tasks and read-only filesystems that follow them"),
    "fs-error": ("the filesystem found corruption or lost its journal: unmount and check it "
                 "(fsck / xfs_repair -n first) after fixing any I/O errors before it",
                 "a read-only remount protects data: do not force it read-write"),
    "segfault": ("a program crashed; coredumpctl list / coredumpctl info PID shows the core dump if "
                 "one was kept",
                 "'error' bits: 4 user mode, 2 write, 1 protection violation (0 = not present)"),
}
ADVICE["null-deref"] = ADVICE["page-fault"] = ADVICE["bug"] = ADVICE["gpf"] = ADVICE["oops"]
ADVICE["invalid-opcode"] = ADVICE["divide-error"] = ADVICE["double-fault"] = ADVICE["oops"]

# Watchdog and panic sysctls read from the root's /proc/sys.
SYSCTLS = (
    "kernel/watchdog", "kernel/watchdog_thresh", "kernel/softlockup_panic", "kernel/hardlockup_panic",
    "kernel/nmi_watchdog", "kernel/hung_task_timeout_secs", "kernel/hung_task_panic",
    "kernel/panic", "kernel/panic_on_oops", "kernel/panic_on_warn", "kernel/panic_on_rcu_stall",
    "kernel/unknown_nmi_panic", "kernel/softlockup_all_cpu_backtrace", "vm/panic_on_oom",
    "kernel/sysrq",
)

# For each kind, the sysctls whose values the advice shows.
_KIND_SYSCTLS = {
    "soft-lockup": ("kernel/watchdog_thresh", "kernel/softlockup_panic", "kernel/watchdog"),
    "hard-lockup": ("kernel/watchdog_thresh", "kernel/hardlockup_panic", "kernel/nmi_watchdog"),
    "rcu-stall": ("kernel/panic_on_rcu_stall",),
    "hung-task": ("kernel/hung_task_timeout_secs", "kernel/hung_task_panic"),
    "warning": ("kernel/panic_on_warn",),
    "oom": ("vm/panic_on_oom",),
    "nmi-unknown": ("kernel/unknown_nmi_panic",),
}
KIND_SYSCTLS = dict(list(_KIND_SYSCTLS.items()) +
                    [(kind, ("kernel/panic_on_oops", "kernel/panic")) for kind in OOPS_FAMILY])

# The file prefilter also wants boot banners (kernel release, boot
# boundaries), journal reboot markers and console-loss notices.
PREFILTER_EXTRA = ("Linux version", "DMI: ", "Reboot --", "Boot ", "** ")
MARKER_BYTES_RE_PLUS = re.compile(_trie(MARKERS + PREFILTER_EXTRA).encode("ascii"))
