#!/usr/bin/env python3
"""kdumpsetup - make a box ready to capture its next kernel crash, safely and reversibly.

USAGE: kdumpsetup [check]            is kdump ready? (read-only; exit 0 READY, 1 NOT READY)
       kdumpsetup enable [-y]        plan (dry run) or apply what kdump needs on this distro
       kdumpsetup undo [-y]          restore the files of the last applied run byte for byte
       kdumpsetup test               what a test crash does; crashes only with
                                     --i-understand-this-crashes-the-machine

check reads the distribution (os-release, ID_LIKE), the bootloader (GRUB 2
with BLS entries or classic grub.cfg, grub.d overrides, UEFI stubs,
systemd-boot, zipl, rpm-ostree), crashkernel= for the next boot and the
running one, memory reserved, crash kernel loaded, the kdump service, its
initrd, dump target and free space, SysRq, panic sysctls and existing
dumps -- on the live system, a mounted root (--root) or an extracted
sosreport -- and gives READY / NOT READY with the exact fix per problem.

enable does it the distribution's way: kdump-tools and grub.d on Debian,
linux-crashdump on Ubuntu, kexec-tools with kdumpctl reset-crashkernel or
grubby on BLS systems (RHEL 8+, Fedora), /etc/default/grub and
grub2-mkconfig to the real config (never over an EFI stub) on classic GRUB,
kdump with /etc/sysconfig/kdump on SUSE, kexec units on Arch.  It prints
every diff and command first and changes nothing without --yes; a second
run changes nothing; every file is backed up next to a journal.

Overhead: check reads a few dozen small files and runs at most three short
commands (systemctl is-enabled/is-active, dmesg) on a live system; well
under a second.  enable --yes runs the package manager and the bootloader
tool, which take what they take.
"""

import argparse
import os
import sys
import textwrap

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, findings, output, runner, sources, timeparse  # noqa: E402
from shared import kdump, kdump_apply, kdump_plan  # noqa: E402

TOOL = "kdumpsetup"
SYSRQ_TRIGGER = "/proc/sysrq-trigger"
UNDERSTAND = "--i-understand-this-crashes-the-machine"

EXAMPLES = """\
  kdumpsetup                          is this box ready to capture a crash dump?
  kdumpsetup check --json             the same as one JSON document
  kdumpsetup --root /mnt/sysimage     judge a mounted system (rescue boot)
  kdumpsetup --root sosreport-host/   judge an extracted sosreport
  kdumpsetup enable                   show the diffs and commands (dry run)
  kdumpsetup enable --yes             apply them (then reboot and check again)
  kdumpsetup enable -y --crashkernel 512M --panic-profile forensic
  kdumpsetup undo --yes               restore the files of the last enable
  kdumpsetup test                     explain the test crash (changes nothing)
"""


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0].split(" - ", 1)[1], EXAMPLES,
                             common=("root", "json", "utc", "verbose", "yes", "debug", "version"))
    parser.add_argument("action", nargs="?", default="check", choices=("check", "enable", "undo", "test"),
                        help="check (default), enable, undo or test")
    parser.add_argument("--check-only", action="store_true",
                        help="same as 'check' (kept from kdump-enabler): report, change nothing")
    parser.add_argument("--crashkernel", metavar="VALUE",
                        help="enable: reserve exactly VALUE (e.g. 512M or 1G-4G:192M,4G-:256M) instead of the "
                             "distribution's default")
    parser.add_argument("--no-sysrq", action="store_true", help="enable: leave kernel.sysrq alone")
    parser.add_argument("--sysrq-mask", metavar="N", type=_sysrq_mask,
                        help="enable: set kernel.sysrq=N instead of 1 (8 allows only crash and debug dumps)")
    parser.add_argument("--panic-profile", choices=("forensic", "default"),
                        help="enable: forensic makes oops, lockups, hung tasks, NMIs and OOM panic (so they "
                             "dump); default removes kdumpsetup's panic settings")
    parser.add_argument("--force", action="store_true",
                        help="undo: restore files changed since; test: crash even when not READY")
    parser.add_argument(UNDERSTAND, dest="understand", action="store_true",
                        help="test: really crash the running kernel via /proc/sysrq-trigger")
    return parser


def _sysrq_mask(text):
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % (text,))
    if value < 0 or value > 511:
        raise argparse.ArgumentTypeError("kernel.sysrq takes 0-511: %r" % (text,))
    return value


# ------------------------------------------------------------ helpers

def fit(text, width=80):
    """Wrap long lines (not diffs) at spaces, keeping their indentation."""
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        hang = " " * min(indent + 2, 20)
        out.extend(textwrap.wrap(line, width, subsequent_indent=hang, break_long_words=True,
                                 break_on_hyphens=False) or [line])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def open_root(args):
    try:
        source = sources.open_source(args.root)
    except sources.SourceError as error:
        raise cli.ToolError(str(error).split(" (")[0], cause=None,
                            fix="pass a mounted root, an extracted sosreport or '/'", code=cli.EXIT_USAGE)
    source.runner = runner.run
    return source


def where(source):
    return "live system" if source.live else "%s %s" % ({"root": "root", "sos": "sosreport",
                                                       "supportconfig": "supportconfig"}.get(source.kind, "root"),
                                                      source.label)


def _validate(args):
    if args.check_only:
        if args.action not in ("check",):
            raise cli.ToolError("--check-only cannot be combined with '%s'" % args.action, code=cli.EXIT_USAGE)
    enable_only = [name for name, value in (("--crashkernel", args.crashkernel), ("--no-sysrq", args.no_sysrq),
                                            ("--sysrq-mask", args.sysrq_mask is not None),
                                            ("--panic-profile", args.panic_profile)) if value]
    if enable_only and args.action != "enable":
        raise cli.ToolError("%s only applies to 'enable'" % ", ".join(enable_only), code=cli.EXIT_USAGE)
    if args.no_sysrq and args.sysrq_mask is not None:
        raise cli.ToolError("--no-sysrq and --sysrq-mask contradict each other", code=cli.EXIT_USAGE)
    if args.understand and args.action != "test":
        raise cli.ToolError("%s only applies to 'test'" % UNDERSTAND, code=cli.EXIT_USAGE)


# ------------------------------------------------------------ check

def do_check(args):
    source = open_root(args)
    facts = kdump.gather(source, runner.run)
    found = kdump.judge(facts)
    word, critical = kdump.verdict(found)
    if args.json:
        output.emit_json(TOOL, {"action": "check", "verdict": word, "ready": not critical,
                                "facts": facts.to_dict(), "findings": [f.to_dict() for f in found],
                                "dumps": facts.dumps}, warnings=source.warnings, source=source.label)
        return cli.EXIT_OK if not critical else cli.EXIT_FINDINGS
    use = output.use_colour()
    text = "kdumpsetup check: %s\n" % where(source)
    for label, value in kdump.summary_rows(facts):
        text += "  %-11s %s\n" % (label, value)
    problems = len(critical)
    text += "\n%s%s\n\n" % (output.colour("verdict: %s" % word, "green" if not critical else "red", use),
                            " (%d problem%s)" % (problems, "" if problems == 1 else "s") if problems else "")
    shown = found if args.verbose else [f for f in found if f.severity != findings.OK or args.verbose]
    text += findings.render_text(shown, use, verbose=bool(args.verbose))
    ok_count = len(found) - len(shown)
    if ok_count:
        text += "(%d check%s passed; -v shows them)\n" % (ok_count, "" if ok_count == 1 else "s")
    if facts.dumps:
        text += "\nexisting dumps (%s):\n" % facts.target["path"]
        for dump in facts.dumps:
            size = "-" if dump["core_size"] is None else timeparse.format_size(dump["core_size"]) + \
                ("B" if dump["core_size"] < 1024 else "")
            when = ("%s (from its name; the crashed box's clock)" % dump["saved"]) if dump["saved"] else \
                timeparse.format_time(dump["mtime"], args.utc)
            text += "  %s\n      %s (%s), saved %s\n" % (dump["path"], dump["core"] or "no core file", size, when)
            summary = dump.get("summary")
            if summary:
                text += "      cause: %s (kernel-report engine; %d report%s in the log)\n" % (
                    summary["title"], summary["reports"], "" if summary["reports"] == 1 else "s")
            elif dump["reason"]:
                text += "      reason: %s\n" % dump["reason"]
            for line in dump["tail"][-3:]:
                text += "      | %s\n" % line
    if critical and not source.live:
        text += "\n(judged from %s: runtime state is what was captured there)\n" % where(source)
    output.write(fit(text))
    for warning in source.warnings:
        cli.warn(TOOL, warning)
    return cli.EXIT_OK if not critical else cli.EXIT_FINDINGS


# ------------------------------------------------------------ enable

def render_step(number, step):
    lines = "%2d. %s\n" % (number, step.why)
    if step.kind == "file":
        diff = step.diff()
        lines += diff if diff else "    (no textual change)\n"
    else:
        lines += wrap_command(step.display())
        if step.touches:
            shown = ", ".join("/" + t for t in step.touches[:3])
            if len(step.touches) > 3:
                shown += " and %d more" % (len(step.touches) - 3)
            lines += fit("    (backed up first: %s)\n" % shown)
    return lines


def wrap_command(command, width=80):
    """'    $ command' split with shell continuations so it fits and still pastes."""
    words = command.split(" ")
    lines = []
    current = "    $"
    for word in words:
        if len(current) + 1 + len(word) > width - 2 and current.strip() != "$":
            lines.append(current + " \\")
            current = "       "
        current += " " + word
    lines.append(current)
    return "\n".join(lines) + "\n"


def render_plan(plan):
    text = ""
    for number, step in enumerate(plan.steps, 1):
        text += render_step(number, step)
    return text


def _context(args):
    source = open_root(args)
    if source.kind in ("sos", "supportconfig"):
        raise cli.ToolError("cannot %s a %s" % (args.action, source.kind), cause="it is a report, not a system",
                            fix="run kdumpsetup on the system itself or on its mounted root",
                            code=cli.EXIT_USAGE)
    if source.kind != "live" and not os.path.isdir(source.label):
        raise cli.ToolError("--root must be a directory for %s" % args.action, code=cli.EXIT_USAGE)
    return kdump_plan.Context(args.root or "/", source, runner.run), source


def _plan(ctx, options, skip_install=False):
    source = sources.open_source(None if ctx.live else ctx.root)
    source.runner = runner.run
    ctx.source = source
    facts = kdump.gather(source, runner.run)
    try:
        return kdump_plan.build_plan(ctx, facts, options, skip_install=skip_install)
    except ValueError as error:
        raise cli.ToolError(str(error), fix="see crashkernel= in the kernel's parameter list",
                            code=cli.EXIT_USAGE)


def do_enable(args):
    ctx, source = _context(args)
    options = kdump_plan.Options(args.crashkernel, args.no_sysrq, args.sysrq_mask, args.panic_profile)
    try:
        plan = _plan(ctx, options)
    except kdump_plan.Refused as refused:
        if args.json:
            output.emit_json(TOOL, {"action": "enable", "mode": "refused", "reason": str(refused),
                                    "detected": refused.detected, "manual": refused.manual},
                             source=source.label)
        else:
            text = "kdumpsetup enable: %s -- nothing was changed\ndetected:\n" % refused
            text += "".join("  %s\n" % d for d in refused.detected)
            if refused.manual:
                text += "what to do by hand:\n" + "".join("  %s\n" % m for m in refused.manual)
            output.write(fit(text))
        return cli.EXIT_UNSUPPORTED
    facts = plan.facts
    header = "kdumpsetup enable: %s, %s (family %s)\n" % (where(source), facts.distro.pretty, facts.family)
    kept = kdump_plan.describe_kept(plan)
    header += "crashkernel: %s\n" % (kept or "%s (%s; %s)" % (
        " ".join(plan.crashkernel), plan.crashkernel_origin, kdump_plan.ram_note(facts, plan.crashkernel)))
    notes = "".join("note: %s\n" % n for n in plan.notes)
    if plan.empty:
        if args.json:
            output.emit_json(TOOL, dict(plan.to_dict(), action="enable", mode="unchanged", journal=None),
                             source=source.label)
        else:
            output.write(fit(header + notes) + "nothing to change: kdump is already set up here as kdumpsetup "
                                               "would set it up.\n")
        return cli.EXIT_OK
    if not args.yes:
        if args.json:
            output.emit_json(TOOL, dict(plan.to_dict(), action="enable", mode="dry-run", journal=None),
                             source=source.label)
        else:
            output.write(fit(header + notes) + "\nplanned changes (dry run):\n" + render_plan(plan) +
                         "\nnothing was changed (dry run); apply with: kdumpsetup enable --yes%s\n" % (
                             (" --root %s" % args.root) if args.root else ""))
        return cli.EXIT_OK
    if source.live and os.geteuid() != 0:
        raise cli.ToolError("enable --yes needs root", fix="run it with sudo", code=cli.EXIT_UNSUPPORTED)
    json_mode = args.json
    if not json_mode:
        output.write(fit(header + notes) + "\nplanned changes:\n" + render_plan(plan) + "\napplying:\n")
        sys.stdout.flush()
    counter = [0]

    def announce(kind, payload):
        if json_mode:
            return
        if kind == "step":
            counter[0] += 1
            output.write(fit("  [%d] %s\n" % (counter[0], payload.why)))
        elif kind == "replan":
            rest = [s for s in payload.steps if not (s.kind == "command" and s.phase == "install")]
            output.write("  installed; the plan recomputed on the installed files:\n")
            for number, step in enumerate(rest, counter[0] + 1):
                output.write(render_step(number, step))
        sys.stdout.flush()

    def replan():
        return _plan(ctx, options, skip_install=True)

    try:
        journal, done = kdump_apply.apply(ctx.root, runner.run, plan, replan, ctx.live, announce=announce)
    except kdump_apply.LockError as error:
        raise cli.ToolError(str(error), fix="wait for it to finish, or remove the stale lock if no "
                                            "kdumpsetup runs", code=cli.EXIT_FINDINGS)
    except kdump_apply.ApplyError as error:
        raise cli.ToolError("enable failed: %s" % error, cause=error.state,
                            fix="journal %s" % error.journal if error.journal else None)
    except kdump_apply.Interrupted as stop:
        cli.warn(TOOL, "interrupted by signal %d: %s" % (stop.signum, getattr(stop, "state", "")))
        return cli.EXIT_INTERRUPTED
    if json_mode:
        output.emit_json(TOOL, dict(plan.to_dict(), action="enable", mode="applied", journal=journal,
                                    steps=[s.to_dict() for s in done]), source=source.label)
    else:
        output.write("\ndone: %d step%s applied; journal and backups in %s\n" % (
            len(done), "" if len(done) == 1 else "s", os.path.dirname(journal) if journal else "-"))
        output.write("next: reboot, then run 'kdumpsetup check' to confirm the reservation took effect;\n"
                     "      'kdumpsetup undo --yes' restores the files.\n")
    return cli.EXIT_OK


# ------------------------------------------------------------ undo

def do_undo(args):
    ctx, source = _context(args)
    journals = [(f, j) for f, j in kdump_apply.list_journals(ctx.root) if j.get("status") in ("applied", "partial")]
    if not journals:
        if args.json:
            output.emit_json(TOOL, {"action": "undo", "mode": "nothing", "journal": None}, source=source.label)
        else:
            output.write("nothing to undo: no applied kdumpsetup run under %s\n" % os.path.join(
                ctx.root, kdump_apply.STATE_DIR))
        return cli.EXIT_OK
    folder, journal = journals[-1]
    changed = [r for r in journal.get("files", []) if r.get("changed")]
    undo_cmds = [u for c in journal.get("commands", []) if c.get("status") == "ok" for u in c.get("undo") or []]
    if not args.yes:
        if args.json:
            output.emit_json(TOOL, {"action": "undo", "mode": "dry-run",
                                    "journal": os.path.join(folder, kdump_apply.JOURNAL),
                                    "files": ["/" + r["path"] for r in changed],
                                    "commands": [" ".join(u) for u in undo_cmds],
                                    "packages": journal.get("packages") or []}, source=source.label)
            return cli.EXIT_OK
        text = "kdumpsetup undo: run of %s (%s)\n" % (journal.get("started"), folder)
        for record in changed:
            text += "  %s /%s\n" % ("remove " if not record["existed"] else "restore", record["path"])
        for argv in undo_cmds:
            text += "  $ %s\n" % " ".join(argv)
        note = kdump_apply.packages_note(journal.get("packages"), kdump.gather(source).family)
        if note:
            text += "  (%s)\n" % note
        text += "nothing was changed (dry run); undo with: kdumpsetup undo --yes\n"
        output.write(fit(text))
        return cli.EXIT_OK
    if source.live and os.geteuid() != 0:
        raise cli.ToolError("undo --yes needs root", fix="run it with sudo", code=cli.EXIT_UNSUPPORTED)
    try:
        with kdump_apply.Lock(ctx.root):
            with kdump_apply.SignalGuard() as guard:
                guard.hold()          # an undo half done is worse than one finished: let it finish
                report = kdump_apply.undo_last(ctx.root, runner.run, force=args.force)
    except kdump_apply.LockError as error:
        raise cli.ToolError(str(error), fix="wait for the other run to finish")
    if args.json:
        output.emit_json(TOOL, dict(report, action="undo", mode="refused" if report["refused"] else "undone"),
                         source=source.label)
    else:
        text = "".join("  %s\n" % r for r in report["restored"])
        text += "".join("  $ %s (%s)\n" % (" ".join(c["argv"]), c["status"]) for c in report["commands"])
        text += "".join("  problem: %s\n" % p for p in report["problems"])
        if report["refused"]:
            text += "undo refused: nothing was changed (rerun with --force to overwrite those files)\n"
        else:
            text += "undone: files are back as they were before %s\n" % journal.get("started")
            note = kdump_apply.packages_note(report["packages"], kdump.gather(source).family)
            if note:
                text += "%s\n" % note
        output.write(fit(text))
    if report["refused"] or report["problems"]:
        return cli.EXIT_FINDINGS
    return cli.EXIT_OK


# ------------------------------------------------------------ test

TEST_TEXT = """\
kdumpsetup test: what a test crash does

  echo c > /proc/sysrq-trigger makes the running kernel crash on purpose
  (a NULL pointer dereference in the SysRq handler).  The machine stops
  at once: every process dies, unsaved data is lost, network connections
  drop.  If kdump is ready, the crash kernel boots in the reserved memory,
  saves /proc/vmcore to the dump target and reboots; afterwards
  'kdumpsetup check' lists the new dump.  If kdump is not ready the box
  hangs or reboots with nothing saved.

  Do it only in a maintenance window, on a box whose services can fail.
"""


def do_test(args):
    source = open_root(args)
    facts = kdump.gather(source, runner.run)
    found = kdump.judge(facts)
    word, critical = kdump.verdict(found)
    if not args.understand:
        if args.json:
            output.emit_json(TOOL, {"action": "test", "mode": "explained", "verdict": word,
                                    "trigger": SYSRQ_TRIGGER}, source=source.label)
        else:
            output.write(TEST_TEXT + "\n  kdump here: %s\n  To crash now: kdumpsetup test %s\n"
                         % (word, UNDERSTAND))
        return cli.EXIT_OK
    if not source.live:
        raise cli.ToolError("test crashes the running kernel; --root makes no sense here",
                            fix="run it on the machine itself", code=cli.EXIT_USAGE)
    if critical and not args.force:
        raise cli.ToolError("kdump is NOT READY: the crash would save nothing",
                            cause=critical[0].title, fix="run 'kdumpsetup check', fix it, or add --force")
    cli.warn(TOOL, "syncing file systems and crashing the kernel now")
    try:
        os.sync()
    except (AttributeError, OSError):
        pass
    try:
        with open(SYSRQ_TRIGGER, "w") as handle:
            handle.write("c")
    except OSError as error:
        raise cli.ToolError("cannot write %s" % SYSRQ_TRIGGER, cause=error.strerror or str(error),
                            fix="run as root", code=cli.EXIT_UNSUPPORTED)
    return cli.EXIT_OK


# ------------------------------------------------------------ main

def run(args):
    _validate(args)
    if args.check_only or args.action == "check":
        return do_check(args)
    if args.action == "enable":
        return do_enable(args)
    if args.action == "undo":
        return do_undo(args)
    return do_test(args)


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv, polite=False)


if __name__ == "__main__":
    sys.exit(main())
