"""Command-line conventions shared by every tool.

One argparse factory, one exit-code table, one error shape:
``<tool>: <what happened> (<likely cause>; <what to do>)`` on stderr and
tracebacks only with ``--debug``.  Common flags mean the same everywhere.
"""

import argparse
import os
import sys
import traceback

from . import manners, timeparse
from .version import version_line

EXIT_OK = 0
EXIT_FINDINGS = 1       # also: the tool failed at its job
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_UNSUPPORTED = 4
EXIT_INTERRUPTED = 130

EXIT_TABLE = (
    (EXIT_OK, "success"),
    (EXIT_FINDINGS, "failure, or findings at the --fail-on level were found"),
    (EXIT_USAGE, "usage error (bad option or argument)"),
    (EXIT_PARTIAL, "partial result (some inputs could not be read; see warnings)"),
    (EXIT_UNSUPPORTED, "unsupported environment (Python, OS, privileges)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM)"),
)


class _LazyVersion(argparse.Action):
    """argparse's version action, with the source hash computed only when asked
    (hashing every source file costs milliseconds at each start otherwise)."""

    def __init__(self, option_strings, tool=None, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super(_LazyVersion, self).__init__(option_strings=option_strings, dest=dest, default=default,
                                           nargs=0, help=help)
        self.tool = tool

    def __call__(self, parser, namespace, values, option_string=None):
        formatter = parser._get_formatter()
        formatter.add_text(version_line(self.tool))
        parser._print_message(formatter.format_help(), sys.stdout)
        parser.exit()


def exit_table_text():
    return "exit status:\n" + "".join("  %-4d %s\n" % row for row in EXIT_TABLE)


class ToolError(Exception):
    """An expected failure: printed as one line, exits with ``code``.

    what: what happened; cause: the likely cause; fix: what to do.
    """

    def __init__(self, what, cause=None, fix=None, code=EXIT_FINDINGS):
        Exception.__init__(self, what)
        self.what = what
        self.cause = cause
        self.fix = fix
        self.code = code

    def line(self, tool):
        extra = "; ".join(part for part in (self.cause, self.fix) if part)
        return "%s: %s%s" % (tool, self.what, " (%s)" % extra if extra else "")


# ------------------------------------------------------------ argument types

def _typed(convert, name):
    def parse(text):
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error))
    parse.__name__ = name
    return parse


duration_type = _typed(timeparse.parse_duration, "duration")
size_type = _typed(timeparse.parse_size, "size")


def _when(text):
    timeparse.parse_when(text)  # validate now, resolve later with --utc
    return text


when_type = _typed(_when, "time")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number: %r" % (text,))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0: %r" % (text,))
    return value


# ------------------------------------------------------------ parser factory

COMMON = ("root", "json", "utc", "since", "until", "debug", "version")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, "%s: %s (see '%s --help')\n" % (self.prog, message, self.prog))


def make_parser(tool, summary, examples="", common=COMMON, fail_on=None):
    """An ArgumentParser with the shared flags.

    common: which of root, json, utc, since, until, verbose, yes, debug,
    version to add; fail_on: the choices of --fail-on, if the tool has it.
    The epilog shows the examples and the exit-code table.
    """
    epilog = ""
    if examples:
        epilog += "examples:\n" + examples.rstrip("\n") + "\n\n"
    epilog += exit_table_text()
    parser = _Parser(prog=tool, description=summary, epilog=epilog,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if "root" in common:
        parser.add_argument("--root", metavar="DIR", default=None,
                            help="read the system under DIR (a mounted root, an extracted sosreport or "
                                 "supportconfig) instead of the live one")
    if "json" in common:
        parser.add_argument("--json", action="store_true",
                            help="print one JSON document (the rescuekit envelope) and nothing else")
    if "utc" in common:
        parser.add_argument("--utc", action="store_true", help="show and read times in UTC, not local time")
    if "since" in common:
        parser.add_argument("--since", metavar="TIME", type=when_type,
                            help="from TIME: '2024-06-09 06:00', ISO-8601 with zone, '-2h', '@EPOCH'")
    if "until" in common:
        parser.add_argument("--until", metavar="TIME", type=when_type, help="up to TIME (same forms)")
    if "verbose" in common:
        parser.add_argument("-v", "--verbose", action="count", default=0, help="more detail")
    if "yes" in common:
        parser.add_argument("-y", "--yes", action="store_true",
                            help="act without asking (required when there is no terminal)")
    if fail_on:
        parser.add_argument("--fail-on", metavar="WHAT", default=None,
                            help="exit %d when %s is found (for scripts and monitoring)"
                                 % (EXIT_FINDINGS, "|".join(fail_on)))
    if "debug" in common:
        parser.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    if "version" in common:
        parser.add_argument("--version", action=_LazyVersion, tool=tool,
                            help="print the version and the hash of the sources, then exit")
    return parser


def time_window(args, now=None):
    """(since, until) as epoch seconds or None, honouring --utc."""
    utc = getattr(args, "utc", False)
    since = getattr(args, "since", None)
    until = getattr(args, "until", None)
    return (timeparse.parse_when(since, now, utc) if since else None,
            timeparse.parse_when(until, now, utc) if until else None)


def fail_on_values(args, allowed):
    """Split --fail-on into a set, checking every value; raises ToolError (usage)."""
    raw = getattr(args, "fail_on", None)
    if not raw:
        return set()
    values = set(v.strip() for v in raw.split(",") if v.strip())
    unknown = values - set(allowed)
    if unknown:
        raise ToolError("unknown --fail-on value: %s" % ", ".join(sorted(unknown)),
                        fix="choose from %s" % ", ".join(allowed), code=EXIT_USAGE)
    return values


def warn(tool, message):
    """One diagnostic line on stderr."""
    try:
        sys.stderr.write("%s: %s\n" % (tool, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# ------------------------------------------------------------ running a tool

def run_main(tool, parser, body, argv=None, polite=True):
    """Parse ``argv``, call ``body(args)`` and turn every outcome into an exit code.

    ``polite``: lower CPU and I/O priority and cap memory (read-only tools).
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    debug = getattr(args, "debug", False)
    if polite:
        manners.be_polite()
    try:
        code = body(args)
        sys.stdout.flush()
        return EXIT_OK if code is None else code
    except ToolError as error:
        warn(tool, error.line(tool)[len(tool) + 2:])
        return error.code
    except KeyboardInterrupt:
        warn(tool, "interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tool | head`: the reader left; that is not an error.
        _silence_stdout()
        return EXIT_OK
    except MemoryError:
        warn(tool, "ran out of memory (the input is larger than the memory cap of %s; "
                   "narrow it with --since/--until or set RESCUEKIT_MEMORY_CAP)"
             % timeparse.format_size(manners.memory_cap()))
        return EXIT_FINDINGS
    except Exception as error:  # the last line of defence: never a bare traceback
        if debug:
            traceback.print_exc()
        else:
            warn(tool, "internal error: %s: %s (this is a bug; rerun with --debug and report the "
                       "traceback)" % (type(error).__name__, error))
        return EXIT_FINDINGS


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
