#!/usr/bin/env python3
"""report - turn a sosreport, supportconfig or live/mounted root into one readable diagnostic report.

USAGE: report BUNDLE                  sosreport (.tar.xz/.gz/.bz2/.zst, or its folder),
                                      supportconfig (scc_*.txz/.tbz/.tgz, or its folder)
       report --root DIR              a mounted root (/mnt/sysimage) or an extracted bundle
       report                         this system (the live root)
       report BUNDLE -o case.html     one self-contained HTML page (also .txt .md .json)

A health card on top: findings ranked critical / warning / info, each with
a one-line explanation, evidence (bundle path, line number, excerpt) and
the fix; a check whose inputs are missing says "not evaluated (missing:
...)", never OK.  Then one incident timeline (boots and how they ended,
kernel reports, service failures, package changes, sar restarts), charts
of the sar data found in the bundle, and sections: system, CPU and
memory, storage, network, processes, services, kernel events, boots,
kdump, packages, security, log excerpts (matched lines and tails with
file and line number, never whole logs), and the bundle itself (collection
date and age, plugins timed out, commands not found, truncated files).
Kernel reports, boots and kdump readiness come from the engines of oops,
bootlog and kdumpsetup.

Overhead: reads an archive once, in order (xz is never decompressed
twice): small members are cached, logs and sar files are kept or -- when
huge -- digested in the same pass (matching lines and the tail kept, with
their line numbers); memory stays under ~200 MB whatever the bundle size.
Nothing is extracted to disk.  Nice 10, idle I/O class.
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, findings, output, report_engine, report_render, scrub, sources, timeparse  # noqa: E402

TOOL = "report"
FORMATS = ("text", "html", "md", "json")
EXTENSIONS = {".html": "html", ".htm": "html", ".txt": "text", ".md": "md", ".json": "json"}

EXAMPLES = """\
  report sosreport-web1-2024-06-09.tar.xz -o web1.html   the HTML page for a case
  report scc_db2_240609_1200.txz                          console summary on a terminal
  report sosreport-web1.tar.xz --format md > ticket.md    Markdown for the ticket
  report --root /mnt/sysimage                             a rescued system's disk
  report                                                  this system, now
  report bundle.tar.xz --json | jq '.result.findings[0]'  the findings as JSON
  report bundle.tar.xz --scrub -o shareable.html          hostnames and addresses replaced
  report bundle.tar.xz --fail-on critical                 for pipelines: exit 1 on critical
  report bundle.tar.xz --threshold fs_warn_pct=80         tighter filesystem threshold
"""


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0].split(" - ", 1)[1], EXAMPLES,
                             common=("root", "json", "utc", "verbose", "debug", "version"),
                             fail_on=("critical", "warning"))
    parser.add_argument("bundle", nargs="?", metavar="BUNDLE",
                        help="a sosreport or supportconfig archive or folder (default: --root or this system)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="text (default on a terminal), html (default when writing a file or a pipe), "
                             "md, json")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the report to FILE (format from its extension unless --format)")
    parser.add_argument("--scrub", action="store_true",
                        help="replace hostnames, addresses, MACs and secrets (shared scrubber); with -o the "
                             "mapping is written to FILE.scrub-map for the owner")
    parser.add_argument("--threshold", metavar="NAME=VALUE", action="append", default=[],
                        help="override a threshold (repeatable), e.g. fs_warn_pct=80; "
                             "'--threshold list' prints them")
    parser.add_argument("--no-engines", action="store_true",
                        help="skip the oops, bootlog and kdump engines (faster, fewer findings)")
    return parser


def _thresholds(values):
    result = {}
    for value in values:
        if value == "list":
            raise _ListThresholds()
        name, sep, number = value.partition("=")
        if not sep or name not in report_engine.checks.DEFAULT_THRESHOLDS:
            raise cli.ToolError("unknown threshold %r" % value, fix="'report --threshold list' prints the names",
                                code=cli.EXIT_USAGE)
        try:
            result[name] = float(number)
        except ValueError:
            raise cli.ToolError("threshold %s needs a number, not %r" % (name, number), code=cli.EXIT_USAGE)
    return result


class _ListThresholds(Exception):
    pass


def _format(args):
    if args.json:
        return "json"
    if args.format:
        return args.format
    if args.output:
        return EXTENSIONS.get(os.path.splitext(args.output)[1].lower(), "html")
    return "text" if sys.stdout.isatty() else "html"


def run(args):
    try:
        thresholds = _thresholds(args.threshold)
    except _ListThresholds:
        for name, value in sorted(report_engine.checks.DEFAULT_THRESHOLDS.items()):
            output.write("%-24s %g\n" % (name, value))
        return cli.EXIT_OK
    fail_on = cli.fail_on_values(args, ("critical", "warning"))
    if args.bundle and args.root:
        raise cli.ToolError("give either BUNDLE or --root, not both", code=cli.EXIT_USAGE)
    target = args.bundle or args.root
    fmt = _format(args)
    progress = output.Progress(TOOL)
    say = progress.update if progress.enabled else None
    try:
        source = report_engine.open_bundle(target, progress=say)
    except sources.SourceError as error:
        raise cli.ToolError(str(error), code=cli.EXIT_FINDINGS)
    try:
        options = report_engine.Options(thresholds=thresholds, utc=args.utc, progress=say,
                                        engines=not args.no_engines)
        result = report_engine.analyze(source, options)
    finally:
        progress.done()
        tree = getattr(source, "tree", None)
        if tree is not None:
            tree.close()
    scrubber = None
    if args.scrub:
        scrubber = scrub.Scrubber(hostnames=scrub.hostnames_from_source(source))
        if result.facts.get("hostname"):
            scrubber.add("host", result.facts["hostname"])
    document = result.to_dict(scrubber)
    if fmt == "json":
        envelope = output.envelope(TOOL, document, document["warnings"], source=document["source"])
        text = output.dumps(envelope) + "\n"
    elif fmt == "html":
        text = report_render.render_html(document, utc=args.utc)
    elif fmt == "md":
        text = report_render.render_md(document)
    else:
        colour = output.use_colour() and not args.output
        text = report_render.render_text(document, colour=colour, verbose=bool(args.verbose))
    if args.output:
        _write_file(args.output, text)
        if scrubber is not None:
            _write_file(args.output + ".scrub-map", scrubber.mapping_text(), private=True)
        if fmt != "json":
            cli.warn(TOOL, "wrote %s (%s, %s): %s" % (args.output, fmt, timeparse.format_size(len(text.encode("utf-8"))),
                                                   _summary(document)))
    else:
        output.write(text)
    if fmt != "json" and document["warnings"] and (args.output or fmt != "text"):
        for warning in document["warnings"][:5]:
            cli.warn(TOOL, warning)
        if len(document["warnings"]) > 5:
            cli.warn(TOOL, "%d more warnings in the report" % (len(document["warnings"]) - 5))
    found = [findings.Finding(f["check"], f["severity"], f["title"]) for f in document["findings"]]
    if fail_on and any(findings.reaches(found, level) for level in fail_on):
        return cli.EXIT_FINDINGS
    damaged = any(f["check"] == "bundle.damaged" for f in document["findings"])
    return cli.EXIT_PARTIAL if damaged else cli.EXIT_OK


def _summary(document):
    counts = document["health"]["counts"]
    return "health %s (%s)" % (document["health"]["worst"], ", ".join(
        "%d %s" % (counts[s], s) for s in ("critical", "warning", "info") if counts.get(s)) or "no problems")


def _write_file(path, text, private=False):
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        handle = os.open(path, flags, 0o600 if private else 0o644)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise cli.ToolError("cannot write %s" % path, error.strerror or str(error),
                            "choose a writable place with -o")


def main(argv=None):
    return cli.run_main(TOOL, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
