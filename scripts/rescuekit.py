#!/usr/bin/env python3
"""rescuekit - Linux rescue and troubleshooting tools in one command.

USAGE: rescuekit TOOL [ARGS...]      run a tool (rescuekit TOOL --help)
       rescuekit list                the tools, one line each
       rescuekit --version           version and source hash

Each tool is also available alone (build/<tool>.py, or a symlink to the
static binary named after the tool).  The dispatcher does no work of its
own: it finds the tool in an explicit registry (directory scanning finds
nothing inside a zipapp or a frozen binary) and calls its main().
"""

import importlib
import os
import sys

if __package__ in (None, ""):  # run as a file from a checkout: make `shared` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli  # noqa: E402
from shared.version import version_line  # noqa: E402

TOOL = "rescuekit"

# The registry: (name, one-line summary).  A tool is listed here when it lands.
TOOLS = (
    ("triage", "CPU-, memory-, I/O- or network-bound? The verdict, with evidence"),
    ("procstat", "vmstat, mpstat, pidstat, iostat -x, sar -n DEV from /proc and /sys"),
    ("perfcollect", "unattended recording in a disk budget, triggers, analysis"),
    ("oops", "find and explain kernel crashes, lockups, stalls, OOM kills"),
    ("bootlog", "boot and shutdown timeline: when it rebooted, and was it clean"),
    ("kdumpsetup", "make a box ready to capture its next kernel crash, reversibly"),
    ("toaster", "repeatable, measured, safe load on CPU, memory, disk and network"),
    ("report", "sosreport, supportconfig or a root turned into one readable report"),
)

EXAMPLES = """\
  rescuekit list                      the tools and what each is for
  rescuekit TOOL --help               a tool's options and examples
  curl -fsSL URL/build/rescuekit.pyz -o rk.pyz && python3 rk.pyz list
"""


def tool_names():
    return [name for name, _ in TOOLS]


def load_tool(name):
    """The module of a registered tool, imported the way this program was packaged."""
    if __package__ not in (None, ""):
        return importlib.import_module("." + name, __package__)
    return importlib.import_module("scripts." + name)


def list_tools():
    if not TOOLS:
        sys.stdout.write("no tools registered in this build\n")
        return cli.EXIT_OK
    width = max(len(name) for name, _ in TOOLS)
    for name, summary in TOOLS:
        sys.stdout.write("%s  %s\n" % (name.ljust(width), summary))
    return cli.EXIT_OK


def main(argv=None):
    """Dispatch to a tool; also answers to the name of a tool (busybox style)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    invoked = os.path.basename(sys.argv[0] or "")
    for suffix in (".py", ".pyz"):
        if invoked.endswith(suffix):
            invoked = invoked[:-len(suffix)]
    if invoked in tool_names():
        return load_tool(invoked).main(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        if len(argv) > 1 and argv[0] == "help" and argv[1] in tool_names():
            return load_tool(argv[1]).main(["--help"])
        sys.stdout.write(__doc__.split("\n\n", 1)[1].split("\n\n")[0] + "\n\n")
        list_tools()
        sys.stdout.write("\nexamples:\n" + EXAMPLES + "\n" + cli.exit_table_text())
        return cli.EXIT_OK if argv else cli.EXIT_USAGE
    command = argv[0]
    if command == "--version":
        sys.stdout.write(version_line(TOOL) + "\n")
        return cli.EXIT_OK
    if command == "list":
        return list_tools()
    if command in tool_names():
        return load_tool(command).main(argv[1:])
    cli.warn(TOOL, "unknown tool %r (run 'rescuekit list' to see the tools)" % (command,))
    return cli.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
