#!/usr/bin/env python3
"""report - turn a sosreport, supportconfig or live/mounted root into one readable diagnostic report.

USAGE: report BUNDLE                  sosreport (.tar.xz/.gz/.bz2/.zst, or its folder),
                                      supportconfig (scc_*.txz/.tbz/.tgz, or its folder)
       report RECORDING               a perfcollect recording (folder or tarball)
       report --root DIR              a mounted root (/mnt/sysimage) or an extracted bundle
       report                         this system (the live root)
       report BUNDLE -o case.html     one self-contained HTML page (also .txt .md .json)
       report A B C ... --out DIR     fleet: one report per bundle + DIR/index.html
       report serve                   web service: upload page and REST API (report(8))

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
bootlog and kdumpsetup; a perfcollect recording (found by its manifest)
adds its analysis, charts, triggers with snapshots and inventory.  Binary
sar files and journals in a bundle are converted with this machine's sadf
and journalctl (private temp copies) when no text export exists.

Overhead: reads an archive once, in order (xz is never decompressed
twice): small members are cached, logs and sar files are kept or -- when
huge -- digested in the same pass (matching lines and the tail kept, with
their line numbers); memory stays under ~200 MB whatever the bundle size.
Nothing is extracted to disk unless --extract DIR is asked for.  Nice 10,
idle I/O class.
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared import cli, findings, output, report_engine, report_render, scrub, sources, timeparse  # noqa: E402
from shared import report_binary, report_fleet, report_server  # noqa: E402

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
  report perfcollect-web1-20240609-0600.tar.gz -o p.html  a perfcollect recording
  report bundle.tar.xz --extract /srv/case123             unpack safely, then report
  report bundles/*.tar.xz --out fleet -j 4                one report per host + fleet/index.html
  report bundles/* --out shared --scrub                   the same tokens in every report
  report serve                                            upload page on http://127.0.0.1:8000/
  report serve --bind 0.0.0.0:8000 --token S3CRET         a team server (token on every request)
"""


def build_parser():
    parser = cli.make_parser(TOOL, __doc__.splitlines()[0].split(" - ", 1)[1], EXAMPLES,
                             common=("root", "json", "utc", "verbose", "debug", "version"),
                             fail_on=("critical", "warning"))
    parser.add_argument("bundle", nargs="*", metavar="BUNDLE",
                        help="a sosreport or supportconfig archive or folder, or a perfcollect recording "
                             "(default: --root or this system); "
                             "several (or --out) make a fleet run; 'serve' starts the web service")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="text (default on a terminal), html (default when writing a file or a pipe), "
                             "md, json")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the report to FILE (format from its extension unless --format)")
    parser.add_argument("--scrub", action="store_true",
                        help="replace hostnames, addresses, MACs and secrets (shared scrubber); with -o the "
                             "mapping is written to FILE.scrub-map for the owner; with serve every report, "
                             "file name and API answer is scrubbed, mappings in DATA/scrub-maps (never served)")
    parser.add_argument("--threshold", metavar="NAME=VALUE", action="append", default=[],
                        help="override a threshold (repeatable), e.g. fs_warn_pct=80; "
                             "'--threshold list' prints them")
    parser.add_argument("--no-engines", action="store_true",
                        help="skip the oops, bootlog and kdump engines (faster, fewer findings)")
    parser.add_argument("--extract", metavar="DIR", default=None,
                        help="first extract the archive into DIR (new or empty; hostile members refused "
                             "as when reading in place), then report from DIR")
    fleet = parser.add_argument_group("fleet (several bundles)")
    fleet.add_argument("--out", metavar="DIR", default=None,
                       help="write one report per bundle (NAME.html, NAME.json) and index.html, index.json "
                            "to DIR")
    fleet.add_argument("-j", "--jobs", metavar="N", type=cli.positive_int, default=None,
                       help="bundles analysed at once (default: CPUs, at most 8)")
    fleet.add_argument("--scrub-map", metavar="FILE", default=None,
                       help="with --scrub: where the owner's mapping goes (default: DIR.scrub-map, "
                            "outside DIR)")
    serve = parser.add_argument_group("serve (report serve ...)")
    serve.add_argument("--bind", metavar="HOST:PORT", default=None,
                       help="listen there (default %s; anything but loopback prints a warning)"
                            % report_server.DEFAULT_BIND)
    serve.add_argument("--data", metavar="DIR", default=None,
                       help="reports and uploads (default %s as root, else "
                            "~/.local/share/rescuekit/report-serve)" % "/var/lib/rescuekit/report-serve")
    serve.add_argument("--token", metavar="TOKEN", default=None,
                       help="require this token on every request (Authorization: Bearer TOKEN or "
                            "?token=TOKEN); also from $RESCUEKIT_REPORT_TOKEN")
    serve.add_argument("--max-upload", metavar="SIZE", type=cli.size_type, default=report_server.DEFAULT_MAX_UPLOAD,
                       help="refuse bigger uploads with 413 (default 2G)")
    serve.add_argument("--min-free", metavar="SIZE", type=cli.size_type, default=report_server.DEFAULT_MIN_FREE,
                       help="refuse uploads that would leave less free space in DATA (default 1G)")
    serve.add_argument("--workers", metavar="N", type=cli.positive_int, default=None,
                       help="analyses at once (default: CPUs, at most 8); more uploads wait in a queue")
    serve.add_argument("--keep-uploads", action="store_true",
                       help="keep uploaded bundles in DATA/uploads after the analysis (default: delete)")
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
    bundles = list(args.bundle or [])
    if bundles[:1] == ["serve"]:
        return _serve(args, bundles[1:], thresholds)
    if len(bundles) > 1 or args.out:
        return _fleet(args, bundles, thresholds, fail_on)
    args.bundle = bundles[0] if bundles else None
    if args.bundle and args.root:
        raise cli.ToolError("give either BUNDLE or --root, not both", code=cli.EXIT_USAGE)
    target = args.bundle or args.root
    fmt = _format(args)
    progress = output.Progress(TOOL)
    say = progress.update if progress.enabled else None
    extracted = _extract(args, target, say) if args.extract else None
    if extracted is not None:
        target = args.extract
    try:
        source = report_engine.open_bundle(target, progress=say)
    except sources.SourceError as error:
        raise cli.ToolError(str(error), code=cli.EXIT_FINDINGS)
    if extracted is not None:
        for warning in extracted.warnings():
            source.warn(warning)
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


def _extract(args, target, say):
    """--extract DIR: the archive unpacked safely into DIR (report_binary.extract)."""
    if not args.bundle or os.path.isdir(args.bundle):
        raise cli.ToolError("--extract needs an archive (a folder or --root is read where it is)",
                            code=cli.EXIT_USAGE)
    if not os.path.exists(args.bundle):
        raise cli.ToolError("%s: no such file" % args.bundle, fix="check the path", code=cli.EXIT_USAGE)
    ticker = report_engine.byte_ticker(say, "extracting: %s written")
    try:
        done = report_binary.extract(target, args.extract, progress=ticker)
    except report_binary.ExtractError as error:
        raise cli.ToolError(str(error), code=cli.EXIT_USAGE if "not empty" in str(error) or "not a folder"
                            in str(error) else cli.EXIT_FINDINGS)
    cli.warn(TOOL, "extracted %d file(s), %s, into %s%s" % (
        done.files, timeparse.format_size(done.bytes), args.extract,
        "; %d member(s) refused" % sum(done.refused.values()) if done.refused else ""))
    return done


def _settings(args, thresholds):
    return report_fleet.Settings(thresholds=thresholds, utc=args.utc, engines=not args.no_engines)


def _fleet(args, bundles, thresholds, fail_on):
    if not bundles or args.root:
        raise cli.ToolError("a fleet run needs bundle files or folders (not --root)", code=cli.EXIT_USAGE)
    if not args.out:
        raise cli.ToolError("several bundles need --out DIR (one report per bundle plus index.html)",
                            code=cli.EXIT_USAGE)
    if args.output or args.format:
        raise cli.ToolError("-o/--format are for one bundle; a fleet run writes HTML and JSON to --out DIR",
                            code=cli.EXIT_USAGE)
    if args.extract:
        raise cli.ToolError("--extract is for one bundle", code=cli.EXIT_USAGE)
    missing = [b for b in bundles if not os.path.exists(b)]
    if missing:
        raise cli.ToolError("%s: no such file or directory" % missing[0], fix="check the paths",
                            code=cli.EXIT_USAGE)
    progress = output.Progress(TOOL)
    options = report_fleet.FleetOptions(jobs=args.jobs, settings=_settings(args, thresholds), scrub=args.scrub,
                                        scrub_map=args.scrub_map,
                                        progress=progress.update if progress.enabled else None,
                                        warn=lambda message: (progress.done(), cli.warn(TOOL, message)))
    try:
        result = report_fleet.run_fleet(bundles, args.out, options)
    except OSError as error:
        raise cli.ToolError("cannot write to %s" % args.out, error.strerror or str(error),
                            "choose a writable --out DIR")
    finally:
        progress.done()
    if args.json:
        with open(result.index_json, encoding="utf-8") as handle:
            output.write(handle.read())
    else:
        rows = [[r["host"], (r["worst"] or "-").upper(), r["status"], r["report"] or (r["error"] or "")[:60]]
                for r in report_fleet.index_document(result.rows)["hosts"]]
        output.write(output.table(rows, ["host", "worst", "status", "report"], flexible=3))
        worst = report_fleet.index_document(result.rows)["hosts_by_worst"]
        cli.warn(TOOL, "wrote %d report(s) and %s: %s%s%s" % (
            len(result.rows) - len(result.broken), result.index_html,
            ", ".join("%d %s" % (worst[s], s) for s in findings.SEVERITIES if worst.get(s)) or "no host read",
            "; %d broken" % len(result.broken) if result.broken else "",
            "; mapping for the owner in %s" % result.scrub_map if result.scrub_map else ""))
    return report_fleet.exit_code(result, fail_on)


def _serve(args, extra, thresholds):
    if extra or args.root or args.out or args.output or args.scrub_map:
        raise cli.ToolError("'report serve' takes only its options (--bind, --data, --token, --scrub, ...)",
                            code=cli.EXIT_USAGE)
    token = args.token or os.environ.get("RESCUEKIT_REPORT_TOKEN") or None
    try:
        report_server.parse_bind(args.bind)
    except ValueError as error:
        raise cli.ToolError("bad --bind: %s" % error, code=cli.EXIT_USAGE)
    config = report_server.Config(bind=args.bind or report_server.DEFAULT_BIND, data=args.data, token=token,
                                  max_upload=args.max_upload, min_free=args.min_free, workers=args.workers,
                                  keep_uploads=args.keep_uploads, settings=_settings(args, thresholds),
                                  scrub=args.scrub,
                                  log=(lambda line: cli.warn(TOOL, line)) if args.verbose else None)
    try:
        report_server.serve(config, say=lambda line: cli.warn(TOOL, line))
    except OSError as error:
        raise cli.ToolError("cannot serve on %s with data in %s" % (config.bind, config.data),
                            error.strerror or str(error), "choose another --bind port or a writable --data DIR")
    return cli.EXIT_OK


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
