"""The literals every kernel report header holds (the kernel-report engine's prefilter).

A data module with no imports: bootlog screens its boot windows with these
before loading the engine (shared.kernelreport_kinds compiles its regexes at
import), and report keeps the lines holding them when it digests huge logs.
"""

MARKERS = (
    "BUG", "WARNING", "INFO:", "Oops", "[#", "[ cut here", "PANIC", "Internal error", "Unable to handle",
    "LOCKUP", "UBSAN", "Hardware Error", "Machine check", "EDAC ", "Kernel panic", "NMI", "I/O error",
    "I/O Error", ", dev ", "-fs error", "failed to convert", "Delayed block", "JBD2", "jbd2", "Aborting journal", "XFS (",
    "BTRFS", "Out of memory", "Memory cgroup", "kill", "failure", "fault ip", "gfault", "protection fault",
    "Remounting", "Data will be lost",
)
