"""The engine of ``report``: a support bundle in, one Result out.

``open_bundle(path)`` opens a sosreport / supportconfig (folder or archive)
or a root, reading an archive once: small members are cached, the logs
and sar files the checks read are kept (or digested when huge) in that same
pass (sources.TarTree ``keep=``), so xz is never decompressed twice.

``analyze(source, options) -> Result`` runs every check:

* the computed checks and pattern rules of ``report_checks``;
* the engines of the other tools, when present and importable --
  ``kernelreport`` (oops), ``boottimeline`` (bootlog), ``kdump``
  (kdumpsetup check) -- each guarded: a missing or failing engine gives a
  "not evaluated (missing: ...)" finding, never a crash;
* perfcollect recordings (a folder or tarball with a perfcollect
  ``manifest.json``, found by content): ``PERFCOLLECT_HOOK``
  (``report_perf.read``) gives the analysis findings, chart series,
  triggers with their snapshots and the inventory summary;
* binary members (report_binary): sadc files through ``sadf -d`` into the
  sar charts when no text sar exists, binary journals through
  ``journalctl --file`` shown to the log rules and engines as
  ``report_binary.JOURNAL_TEXT`` when no journal text export exists.

``Result.to_dict(scrubber=None)`` is the JSON document (findings, sections,
timeline, charts, bundle facts, warnings); the renderers in
``report_render`` work from that document only, so a web service or a fleet
view can store, scrub and re-render it.
"""

import collections
import importlib
import re
import time

from . import bundle as bundle_mod
from . import distro as distro_mod
from . import findings as F
from . import logs as logs_mod
from . import report_checks as checks
from . import report_binary, report_perf, report_sar
from . import runner as runner_mod
from . import sources, timeparse

PRE_LINES = 60          # lines shown per command output in a section
EXCERPT_LINES = 20      # matched lines shown per rule in the log section
TIMELINE_LIMIT = 400    # events kept in the timeline (worst and newest first)

# The perfcollect reader: a function (source, utc) -> report_perf.PerfData, or
# the older contract (series dict like report_sar.SarData.series, triggers
# [(epoch, title)]); None when the source holds no recording.
PERFCOLLECT_HOOK = report_perf.read


class Options(object):
    def __init__(self, thresholds=None, utc=False, progress=None, tail_lines=25, engines=True,
                 runner=None, now=None, converter=None):
        self.thresholds = dict(checks.DEFAULT_THRESHOLDS)
        if thresholds:
            self.thresholds.update(thresholds)
        self.utc = utc
        self.progress = progress
        self.tail_lines = tail_lines
        self.engines = engines
        self.runner = runner
        self.now = now          # "now" for ages and end-of-life (tests pin it)
        # Runs the local converters of binary bundle members (sadf, journalctl) on
        # private temp copies; tests pass a RecordingRunner.
        self.converter = converter


class Result(object):
    """findings, sections, timeline, charts, facts, warnings."""

    def __init__(self):
        self.findings = []
        self.sections = []
        self.timeline = []
        self.charts = []
        self.facts = collections.OrderedDict()
        self.bundle = {}
        self.engines = collections.OrderedDict()
        self.warnings = []
        self.source = None
        self.elapsed = None

    def to_dict(self, scrubber=None):
        ranked = F.ranked(self.findings)
        document = {
            "source": self.source,
            "facts": dict(self.facts),
            "bundle": self.bundle,
            "health": {"worst": F.worst([f for f in ranked if f.severity != F.NOT_EVALUATED]) or "ok",
                       "counts": F.counts(ranked)},
            "findings": [f.to_dict() for f in ranked],
            "sections": self.sections,
            "timeline": self.timeline,
            "charts": self.charts,
            "engines": dict(self.engines),
            "warnings": list(self.warnings),
            "elapsed_s": round(self.elapsed, 3) if self.elapsed is not None else None,
        }
        if scrubber is not None:
            document = scrub_document(document, scrubber)
        return document


def scrub_document(value, scrubber):
    """Every string in a JSON-like value through the shared scrubber."""
    if isinstance(value, str):
        return scrubber.scrub(value)
    if isinstance(value, list):
        return [scrub_document(v, scrubber) for v in value]
    if isinstance(value, tuple):
        return [scrub_document(v, scrubber) for v in value]
    if isinstance(value, dict):
        return dict((k, scrub_document(v, scrubber)) for k, v in value.items())
    return value


# ------------------------------------------------------------ opening

def open_bundle(path, progress=None):
    """sources.open_source with the report's read plan (one pass over archives)."""
    regex, anchors = checks.keep_regex()
    return sources.open_source(path, keep=bundle_mod.wanted_member, keep_regex=regex, anchors=anchors,
                               progress=byte_ticker(progress, "reading archive: %s unpacked"))


def byte_ticker(say, template, every=64 * 1024 * 1024):
    """A progress callback taking a byte count that says ``template % size`` every
    ``every`` bytes (None when there is nobody to tell)."""
    if say is None:
        return None
    state = {"next": 0}

    def ticker(done):
        if done >= state["next"]:
            state["next"] = done + every
            say(template % timeparse.format_size(done))
    return ticker


# ------------------------------------------------------------ analysis

def analyze(source, options=None):
    """Every check on one source -> Result."""
    options = options or Options()
    started = time.time()
    result = Result()
    result.source = source.label
    bundle = bundle_mod.Bundle(source)
    say = options.progress or (lambda message: None)
    thresholds = options.thresholds

    now = options.now if options.now is not None else time.time()
    info = bundle_mod.bundle_info(source)
    if source.live and info.get("collected") is None:
        info["collected"] = now
        info["collected_origin"] = "the live system, now"
    say("perfcollect recording")
    perf = _perfcollect(result, source, options)
    if perf is not None and source.kind == "root":
        info.update(kind="perfcollect", tool="perfcollect",
                    version=(perf.manifest.get("tool_version") or
                             (perf.analysis or {}).get("recording", {}).get("tool_version")),
                    collected=perf.manifest.get("last_sample") or perf.manifest.get("updated"),
                    collected_origin="manifest.json (last sample)")
    _binary_journal(result, source, options)
    result.bundle = _bundle_dict(info, options, now)
    dist = distro_mod.detect(source)
    _facts(result, bundle, dist, info)
    if perf is not None:
        for key, value in perf.facts().items():
            if value is not None and not result.facts.get(key):
                result.facts[key] = value

    add = result.findings.extend
    say("checking the bundle")
    add(_bundle_findings(info, thresholds, source, now))
    say("computed checks")
    for name, check in (
            ("fs.space", lambda: checks.check_df(bundle, thresholds, "df", "space")),
            ("fs.inodes", lambda: checks.check_df(bundle, thresholds, "df-inodes", "inodes")),
            ("fs.readonly-mounts", lambda: checks.check_mounts_ro(bundle)),
            ("md.degraded", lambda: checks.check_mdstat(bundle)),
            ("multipath.failed", lambda: checks.check_multipath(bundle)),
            ("mem.available", lambda: checks.check_memory(bundle, thresholds)),
            ("load.per-cpu", lambda: checks.check_load(bundle, thresholds)),
            ("proc.dstate", lambda: checks.check_processes(bundle, thresholds)),
            ("limits", lambda: checks.check_limits(bundle, thresholds)),
            ("systemd.failed", lambda: checks.check_failed_units(bundle)),
            ("net", lambda: checks.check_network(bundle, thresholds)),
            ("time.sync", lambda: checks.check_time_sync(bundle)),
            ("security", lambda: checks.check_security(bundle)),
            ("kernel.taint", lambda: checks.check_taint(bundle)),
            ("cpu.vulnerabilities", lambda: checks.check_vulnerabilities(bundle)),
            ("kernel.outdated", lambda: checks.check_kernel_version(bundle)),
            ("os.eol", lambda: checks.check_eol(dist, now))):
        add(_guarded(name, check))

    say("scanning logs")
    scan = checks.scan_logs(source, extra=bundle_mod.EXTRA_LOGS, tail_lines=options.tail_lines,
                            utc=options.utc, progress=say)
    add(checks.rule_findings(scan, thresholds))
    if not scan.logs:
        add([F.Finding.not_evaluated("log.rules", "log pattern checks",
                                     ["any text log (var/log/messages, syslog, journal export, dmesg)"])])

    reports, boots = [], None
    if info["kind"] == "perfcollect":
        for name in ("oops", "bootlog", "kdump"):
            result.engines[name] = "not applicable (a perfcollect recording: kernel messages are read by its analysis)"
    if options.engines and info["kind"] != "perfcollect":
        say("kernel reports (oops engine)")
        reports = _kernel_reports(result, source, options)
        say("boot timeline (bootlog engine)")
        boots = _boot_timeline(result, source, options)
        say("kdump readiness (kdumpsetup engine)")
        kdump_state = _kdump(result, source, options, bundle)
    else:
        kdump_state = None
    series, triggers = _metrics(result, source, options, perf)
    packages = _package_events(source, options)

    if perf is not None:
        result.findings.extend(perf.findings)
        if info["kind"] == "perfcollect":
            result.findings = _perf_only(result.findings)
    result.findings = _dedupe(result.findings)
    result.timeline = _timeline(result, info, scan, reports, boots, packages, triggers)
    result.charts = _charts(series, reports, boots, perf)
    result.sections = _sections(result, bundle, info, scan, reports, boots, kdump_state, packages, options)
    if perf is not None and perf.items:
        result.sections.insert(0, _section("perfcollect", "Performance recording (perfcollect)", perf.items,
                                           ("perfcollect.",)))
    result.warnings = list(source.warnings) + (perf.warnings if perf is not None else [])
    result.elapsed = time.time() - started
    return result


def _perfcollect(result, source, options):
    """The PerfData of a perfcollect recording in the source, or None."""
    hook = PERFCOLLECT_HOOK
    if hook is None:
        result.engines["perfcollect"] = "not configured (PERFCOLLECT_HOOK)"
        return None
    try:
        found = hook(source, options.utc) if hook is report_perf.read else hook(source)
    except Exception as error:  # a damaged recording must not take the report down
        result.engines["perfcollect"] = "failed: %s: %s" % (type(error).__name__, error)
        result.findings.append(F.Finding.not_evaluated("perfcollect.recording", "perfcollect recording", [
            "a readable recording (%s: %s)" % (type(error).__name__, error)]))
        return None
    if found is None:
        result.engines["perfcollect"] = "no recording in this source"
        return None
    if isinstance(found, tuple):
        data = report_perf.PerfData()
        data.series, data.triggers = found[0], list(found[1])
        found = data
    analysis = found.analysis or {}
    result.engines["perfcollect"] = "ok: %d sample(s), %d series, %d trigger(s)" % (
        analysis.get("samples") or 0, len(found.series),
        len([e for e in analysis.get("events") or [] if e.get("event") == "trigger"]))
    if found.analysis is None and not found.series:
        result.engines["perfcollect"] = "not evaluated: %s" % ("; ".join(found.warnings) or "unreadable")
        result.findings.append(F.Finding.not_evaluated("perfcollect.recording", "perfcollect recording",
                                                        found.warnings[:1] or ["a readable recording"]))
    return found


def _perf_only(found):
    """A bare perfcollect recording holds no bundle files: the bundle checks that say
    'not evaluated' become one line instead of a screenful."""
    keep, idle = [], []
    for finding in found:
        if finding.severity == F.NOT_EVALUATED and not finding.check.startswith("perfcollect."):
            idle.append(finding.check)
        else:
            keep.append(finding)
    if idle:
        keep.append(F.Finding.not_evaluated(
            "bundle.checks", "%d bundle check(s) (%s%s)" % (len(idle), ", ".join(idle[:6]),
                                                             ", ..." if len(idle) > 6 else ""),
            ["a sosreport or supportconfig of the host (a perfcollect recording holds metrics, "
             "not configuration or logs)"]))
    return keep


def _dedupe(found):
    """A log-rule finding whose every evidence line is already the evidence of a
    kernel-report finding (the oops engine classified the same lines) is dropped."""
    covered = set()
    for finding in found:
        if finding.check.startswith("oops."):
            covered.update((e.origin, e.lineno) for e in finding.evidence)
    out = []
    for finding in found:
        if finding.check.startswith("log.") and finding.evidence and covered and \
                all((e.origin, e.lineno) in covered for e in finding.evidence):
            continue
        out.append(finding)
    return out


def _guarded(name, check):
    try:
        return check()
    except Exception as error:  # a check must never take the report down
        return [F.Finding(name, F.NOT_EVALUATED, "check %s failed: %s: %s" % (name, type(error).__name__, error),
                          "not evaluated (internal error; this is a bug: report it with the bundle's "
                          "layout)", missing=["a working %s check" % name])]


def _engine(name):
    """(module, None) or (None, why) for another tool's engine."""
    try:
        return importlib.import_module("." + name, __package__), None
    except Exception as error:
        return None, "%s (%s: %s)" % (name, type(error).__name__, error)


def _refusing_runner(source, options):
    if options.runner is not None:
        return options.runner
    if source.live or source.kind == "root":
        return runner_mod.run
    return runner_mod.RecordingRunner()   # a bundle: run nothing on this machine


def _kernel_reports(result, source, options):
    module, why = _engine("kernelreport")
    if module is None or not hasattr(module, "scan_source"):
        result.engines["oops"] = "missing: %s" % (why or "kernelreport.scan_source")
        result.findings.append(F.Finding.not_evaluated(
            "oops.engine", "kernel reports (panics, oopses, lockups, OOM, hung tasks)",
            ["the kernel-report engine: %s" % (why or "kernelreport.scan_source")]))
        return []
    try:
        reports = module.scan_source(source, utc=options.utc, runner_fn=_refusing_runner(source, options))
        _real_line_numbers(reports, source)
        found = module.summary_findings(reports)
    except Exception as error:
        result.engines["oops"] = "failed: %s: %s" % (type(error).__name__, error)
        result.findings.append(F.Finding.not_evaluated(
            "oops.engine", "kernel reports", ["a working kernel-report engine (%s: %s)" % (
                type(error).__name__, error)]))
        return []
    result.engines["oops"] = "ok: %d report(s)" % len(reports)
    result.findings.extend(found)
    if not found:
        result.findings.append(F.Finding("oops.none", F.OK, "no kernel panics, oopses, lockups, OOM kills or "
                                                         "hung tasks in the logs read"))
    return reports


def _real_line_numbers(reports, source):
    """The oops engine reads a digested archive member (sources.Digest: the kept
    lines of a huge log) as a short text numbered from 1; put back the line
    numbers those lines have in the member, so evidence points at the real line."""
    digest_of = getattr(source.tree, "digest", None)
    if digest_of is None:
        return
    maps = {}
    for report in reports:
        origin = getattr(report, "origin", None)
        if origin not in maps:
            digest = digest_of(origin) if origin else None
            maps[origin] = [n for n, _ in digest.lines] if digest is not None else None
        numbers = maps[origin]
        if not numbers:
            continue

        def real(lineno, numbers=numbers):
            return numbers[lineno - 1] if isinstance(lineno, int) and 0 < lineno <= len(numbers) else lineno
        report.lineno = real(report.lineno)
        report.end_lineno = real(report.end_lineno)
        lines = getattr(report, "lines", None)
        if lines:
            report.lines = [l._replace(lineno=real(l.lineno)) if hasattr(l, "_replace") and l.origin == origin
                            else l for l in lines]


def _boot_timeline(result, source, options):
    module, why = _engine("boottimeline")
    if module is None or not hasattr(module, "timeline"):
        result.engines["bootlog"] = "missing: %s" % (why or "boottimeline.timeline")
        result.findings.append(F.Finding.not_evaluated(
            "bootlog.engine", "boot timeline and unclean reboots",
            ["the boot-timeline engine: %s" % (why or "boottimeline.timeline")]))
        return None
    try:
        timeline = module.timeline(source, journal=source.kind in ("live", "root"), utc=options.utc,
                                   runner_fn=_refusing_runner(source, options))
        found = timeline.findings()
    except Exception as error:
        result.engines["bootlog"] = "failed: %s: %s" % (type(error).__name__, error)
        result.findings.append(F.Finding.not_evaluated(
            "bootlog.engine", "boot timeline", ["a working boot-timeline engine (%s: %s)" % (
                type(error).__name__, error)]))
        return None
    result.engines["bootlog"] = "ok: %d boot(s)" % len(timeline.boots)
    result.findings.extend(found)
    return timeline


def _kdump(result, source, options, bundle):
    module, why = _engine("kdump")
    if module is None or not hasattr(module, "gather"):
        result.engines["kdump"] = "missing: %s" % (why or "kdump.gather")
        result.findings.append(F.Finding.not_evaluated("kdump.engine", "kdump readiness",
                                                        ["the kdump engine: %s" % (why or "kdump.gather")]))
        return None
    try:
        facts = module.gather(source, _refusing_runner(source, options) if source.live else None)
        found = module.judge(facts)
        if not source.live:
            found = _kdump_on_bundle(found, facts, bundle)
        verdict, critical = module.verdict(found)
    except Exception as error:
        result.engines["kdump"] = "failed: %s: %s" % (type(error).__name__, error)
        result.findings.append(F.Finding.not_evaluated("kdump.engine", "kdump readiness", [
            "a working kdump engine (%s: %s)" % (type(error).__name__, error)]))
        return None
    result.engines["kdump"] = "ok: %s" % verdict
    evaluated = [f for f in found if f.severity != F.NOT_EVALUATED]
    if not evaluated:
        result.findings.append(F.Finding.not_evaluated("kdump.ready", "kdump readiness",
                                                       [m for f in found for m in f.missing][:4] or ["kdump facts"]))
    elif critical:
        result.findings.append(F.Finding(
            "kdump.ready", F.WARNING, "kdump NOT READY: %s" % critical[0].title,
            "; ".join(f.title for f in critical[1:4]) or "the next kernel crash would leave no vmcore",
            [e for f in critical for e in f.evidence][:4],
            critical[0].fix or "run 'kdumpsetup check' on the host for the exact steps"))
    else:
        result.findings.append(F.Finding("kdump.ready", F.OK, "kdump ready"))
    return {"verdict": verdict, "findings": [f.to_dict() for f in F.ranked(found)]}


def _kdump_on_bundle(found, facts, bundle):
    """A bundle holds package lists, not the kdump binaries the engine looks for:
    'tools not installed' is replaced by what the package list says."""
    packages = list(getattr(facts, "packages", []) or [])
    states = [checks.package_installed(bundle, name) for name in packages]
    out = []
    for finding in found:
        if finding.check == "kdump.tools" and finding.severity == F.CRITICAL:
            if states and all(state is True for state in states):
                out.append(F.Finding("kdump.tools", F.OK, "kdump packages installed (%s, per the package list)"
                                     % " ".join(packages)))
                continue
            if any(state is None for state in states):
                out.append(F.Finding.not_evaluated("kdump.tools", "kdump tools installed", [
                    "a package list (rpm -qa / dpkg -l); the bundle does not hold the kdump binaries"]))
                continue
        out.append(finding)
    return out


def _metrics(result, source, options, perf=None):
    """sar text in the bundle and the perfcollect recording's series -> series, triggers."""
    series = {}
    triggers = []
    data = report_sar.SarData()
    seen = set()
    for pattern in bundle_mod.SAR_GLOBS:
        for path in source.glob(pattern):
            if path in seen or source.isdir(path):
                continue
            seen.add(path)
            size = source.size(path)
            if size is not None and size > 512 * 1024 * 1024:
                source.warn("%s: sar text over 512 MiB, skipped" % path)
                continue
            head = source.read_text(path, warn=False)
            if not head or not report_sar.looks_like_sar(head[:65536]):
                continue
            parsed = report_sar.parse(head.splitlines(), origin=path, utc=options.utc)
            data.merge(parsed)
    data.finish()
    _binary_sar(result, source, options, data)
    for problem in data.problems:
        source.warn(problem)
    if data.series:
        series.update(data.series)
        triggers.extend((stamp, "LINUX RESTART (sar)") for stamp in data.restarts)
        result.engines["sar"] = "ok: %d series from %s" % (len(data.series), ", ".join(data.origins[1:4] or
                                                                                       data.origins[:3]))
    if perf is not None:
        series.update(perf.series)
        triggers.extend(perf.triggers)
    return series, triggers


def _binary_journal(result, source, options):
    """A bundle's binary journal files -> text through journalctl (private temp copies),
    shown to the log rules and the oops / bootlog engines as JOURNAL_TEXT.  A sos
    bundle's, or an archived root's (a mounted or live root's journal is read by
    journalctl -D / the engines themselves)."""
    if not (source.kind == "sos" or source.kind == "root" and not hasattr(source.tree, "real")):
        return
    paths = report_binary.binary_journal_files(source)
    if not paths:
        return
    texts = [p for p in logs_mod.SOS_JOURNAL_GLOBS if p != report_binary.JOURNAL_TEXT and source.glob(p)]
    if texts:
        result.engines["journal"] = "not converted: journal text present (%s); %d binary file(s)" % (
            texts[0], len(paths))
        return
    done = report_binary.convert_journals(source, paths, options.converter or runner_mod.run)
    if done.stopper:
        result.engines["journal"] = "not evaluated (binary journal: %s)" % done.stopper
        source.warn("binary journal (%d file(s)) not read: %s" % (len(paths), done.stopper))
        result.findings.append(F.Finding(
            "journal.binary", F.NOT_EVALUATED, "binary journal: %d file(s) (%s)" % (len(paths), paths[0]),
            "not evaluated (binary journal: %s)" % done.stopper, [F.Evidence(p) for p in paths[:3]],
            "read them where systemd is installed: journalctl --file FILE -o short-iso > FILE.txt",
            missing=["binary journal: %s" % done.stopper]))
        return
    for problem in done.problems:
        source.warn("binary journal: %s" % problem)
    notes = []
    if done.left_out:
        notes.append("%d older file(s) left out (over %s converted, newest first)" % (
            len(done.left_out), timeparse.format_size(report_binary.JOURNAL_CAP)))
    if done.capped_lines:
        notes.append("the newest %d entries kept" % report_binary.JOURNAL_LINES)
    for note in notes:
        source.warn("binary journal: %s" % note)
    result.engines["journal"] = "ok: %d of %d file(s), %s, converted with journalctl -o short-iso%s" % (
        len(done.converted), len(paths), timeparse.format_size(done.bytes), "; " + "; ".join(notes) if notes else "")
    source.tree = report_binary.OverlayTree(source.tree, {report_binary.JOURNAL_TEXT: done.text.encode("utf-8")},
                                            mtime=max(source.mtime(p) or 0 for p in done.converted) or None)


def _binary_sar(result, source, options, data):
    """Binary sadc files (var/log/sa/saNN) through sadf when no text sar was found."""
    paths = report_binary.binary_sar_files(source)
    if not paths:
        return
    shown = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
    if data.series:
        result.engines["sar-binary"] = "not converted: text sar present (%d binary file(s): %s)" % (len(paths), shown)
        return
    texts, problems = report_binary.convert_sar(source, paths, options.converter or runner_mod.run)
    for path, text in texts:
        report_sar.parse_sadf(text, origin=path, data=data)
    data.finish()
    if texts:
        result.engines["sar-binary"] = "ok: %d of %d file(s) converted with sadf" % (len(texts), len(paths))
        for problem in problems:
            source.warn("binary sar: %s" % problem)
        return
    reason = problems[0] if len(problems) == 1 else "; ".join(problems[:3])
    result.engines["sar-binary"] = "not evaluated (binary sar: %s)" % reason
    result.findings.append(F.Finding("sar.binary", F.NOT_EVALUATED, "sar charts from %d binary sar file(s) (%s)"
                                     % (len(paths), shown), "not evaluated (binary sar: %s)" % reason,
                                     [F.Evidence(p) for p in paths[:3]],
                                     "read them where sysstat matches: 'sar -A -f FILE > FILE.txt' (or "
                                     "'sadf -c FILE > NEW' to convert an old format)",
                                     missing=["binary sar: %s" % reason]))


_PKG_PATTERNS = (
    ("var/log", "dpkg.log", re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (install|upgrade|remove|purge) "
                                       r"(\S+) (\S+) (\S+)")),
    ("var/log", "yum.log", re.compile(r"^(\w{3}\s+\d+ \d{2}:\d{2}:\d{2}) (Installed|Updated|Erased): (\S+)")),
    ("var/log", "dnf.rpm.log", re.compile(r"^(\S+T\S+) SUBDEBUG (Installed|Upgrade|Upgraded|Erase|Install): (\S+)")),
    ("var/log/zypp", "history", re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\|(install|remove)\s*\|(\S+)\|(\S+)")),
)


def _package_events(source, options):
    events = []
    for folder, base, pattern in _PKG_PATTERNS:
        for path in source.log_files(base, folder):
            mtime = source.mtime(path)
            years = timeparse.YearInference(mtime, utc=options.utc)
            for line in source.lines(path):
                match = pattern.match(line.text)
                if not match:
                    continue
                stamp_text = match.group(1)
                if re.match(r"^\d{4}-", stamp_text):
                    stamp = timeparse.parse_iso(stamp_text.replace(" ", "T"), assume_utc=options.utc)
                else:
                    parsed = timeparse.parse_rfc3164(stamp_text)
                    stamp = years.epoch(*parsed[:5]) if parsed else None
                action = match.group(2).lower()
                name = match.group(3)
                if base == "dpkg.log":
                    name = "%s %s -> %s" % (match.group(3), match.group(4), match.group(5))
                events.append((stamp, action, name, line))
    events.sort(key=lambda e: (e[0] is None, e[0] or 0))
    return events[-2000:]


# ------------------------------------------------------------ facts and bundle

def _facts(result, bundle, dist, info):
    facts = result.facts
    hostname = bundle.text("hostname")
    facts["hostname"] = hostname.strip().splitlines()[0].split()[-1] if hostname and hostname.strip() else None
    if hostname and "Static hostname" in hostname:
        match = re.search(r"Static hostname:\s*(\S+)", hostname)
        facts["hostname"] = match.group(1) if match else facts["hostname"]
    facts["os"] = dist.pretty if dist.id else None
    facts["distro"] = dist.to_dict()
    facts["kernel"] = checks.running_kernel(bundle)
    facts["uname"] = (bundle.text("uname") or "").strip() or None
    cmdline = bundle.text("cmdline")
    facts["cmdline"] = cmdline.strip() if cmdline else None
    facts["cpus"] = checks.cpu_count(bundle)
    mem = checks.meminfo(bundle) if bundle.text("meminfo") else {}
    facts["memory_kib"] = mem.get("MemTotal", (None,))[0]
    uptime = bundle.text("uptime")
    facts["uptime"] = uptime.strip().splitlines()[0][:120] if uptime and uptime.strip() else None
    facts["virtualization"] = _virtualization(bundle)
    facts["collected"] = timeparse.iso_utc(info["collected"]) if info.get("collected") else None


_CLOUDS = (("Amazon EC2", "AWS"), ("Google Compute Engine", "Google Cloud"), ("Microsoft Corporation", "Azure / Hyper-V"),
           ("OpenStack", "OpenStack"), ("Alibaba Cloud", "Alibaba Cloud"), ("Oracle Cloud", "Oracle Cloud"))


def _virtualization(bundle):
    text = bundle.text("virt-what")
    found = None
    if text and text.strip() and "not found" not in text:
        found = text.strip().splitlines()[0]
    dmi = bundle.text("dmidecode") or ""
    for marker, cloud in _CLOUDS:
        if marker in dmi:
            return "%s (%s)" % (found or "virtual", cloud)
    if not found:
        product = re.search(r"Product Name:\s*(.+)", dmi)
        if product and re.search(r"KVM|VMware|VirtualBox|HVM domU|Standard PC", product.group(1)):
            found = product.group(1).strip()
        cpuinfo = bundle.text("cpuinfo") or ""
        if not found and re.search(r"^flags\s*:.*\bhypervisor\b", cpuinfo, re.M):
            found = "virtual (hypervisor flag)"
    return found


def _bundle_dict(info, options, now):
    collected = info.get("collected")
    return {
        "kind": info["kind"], "tool": info["tool"], "version": info["version"], "policy": info.get("policy"),
        "collected": timeparse.iso_utc(collected) if collected else None,
        "collected_local": timeparse.format_time(collected, options.utc) if collected else None,
        "collected_origin": info.get("collected_origin"),
        "age_days": round((now - collected) / 86400.0, 1) if collected else None,
        "cmdline": info.get("cmdline"), "timeouts": info["timeouts"], "not_found": info["not_found"][:50],
        "truncated": [t for t in info["truncated"] if t][:50], "plugins": len(info["plugins"]),
    }


def _bundle_findings(info, thresholds, source, now):
    out = []
    if info["timeouts"]:
        out.append(F.Finding("bundle.timeouts", F.WARNING, "collection timed out: %s" % ", ".join(info["timeouts"][:8]),
                             "data from these plugins/commands is missing or partial; checks that "
                             "need it say 'not evaluated'", [F.Evidence("sos_logs/sos.log" if info["kind"] == "sos"
                                                                         else "supportconfig.txt")],
                             ("re-collect with a longer timeout (sos report --plugin-timeout 600)"
                              if info["kind"] == "sos" else "re-collect with a longer timeout "
                              "(VAR_OPTION_BIN_TIMEOUT_SEC in /etc/supportconfig.conf)") +
                             "; check why the commands hung (often a dead NFS mount or a hung disk)"))
    if info["not_found"]:
        out.append(F.Finding("bundle.not-found", F.INFO, "%d command(s) not found at collection" % len(info["not_found"]),
                             ", ".join(info["not_found"][:10])))
    truncated = [t for t in info["truncated"] if t]
    if truncated:
        out.append(F.Finding("bundle.truncated", F.INFO, "%d file(s) collected truncated" % len(truncated),
                             "; ".join(truncated[:6]),
                             fix="re-collect with --all-logs (sos) or ADD_OPTION_LOGS=1 (supportconfig) if the "
                                 "missing part matters"))
    age = info.get("collected")
    if age and source.kind not in ("live",):
        days = (now - age) / 86400.0
        if days > thresholds["bundle_age_warn_days"]:
            out.append(F.Finding("bundle.age", F.INFO, "bundle collected %d days ago" % int(days),
                                 "the system may have changed since %s" % timeparse.iso_utc(age)))
    damaged = [w for w in source.warnings if "ends early" in w or "corrupt" in w or "stopped reading" in w]
    if damaged:
        out.append(F.Finding("bundle.damaged", F.WARNING, "the bundle is damaged: parts could not be read",
                             damaged[0], [F.Evidence(source.label, None, w[:300]) for w in damaged[:3]],
                             "check the transfer (checksum); ask for the bundle again"))
    if info["kind"] == "root":
        out.append(F.Finding("bundle.kind", F.INFO, "a mounted or copied root: no command outputs",
                             "checks that need commands (df, ps, systemctl) are 'not evaluated'"))
    return out


# ------------------------------------------------------------ timeline

def _event(stamp, kind, severity, title, evidence=None, utc=False):
    return {"time": timeparse.iso_utc(stamp) if stamp is not None else None, "stamp": stamp,
            "local": timeparse.format_time(stamp, utc) if stamp is not None else None,
            "kind": kind, "severity": severity, "title": title,
            "evidence": evidence.to_dict() if evidence is not None else None}


def _timeline(result, info, scan, reports, boots, packages, triggers):
    events = []
    if info.get("collected"):
        events.append(_event(info["collected"], "bundle", F.INFO, "bundle collected"))
    if boots is not None:
        for boot in boots.wall:
            ev = boot.start_evidence
            events.append(_event(boot.start, "boot", F.INFO, "boot %d started%s" % (
                boot.number, " (%s)" % boot.kernel if boot.kernel else ""), ev))
            if boot.end is not None and boot.ending in ("clean", "unclean"):
                severity = F.CRITICAL if boot.ending == "unclean" else F.INFO
                cause = (boot.cause or {}).get("title") if boot.ending == "unclean" else None
                events.append(_event(boot.end, "shutdown", severity, "boot %d ended %s%s" % (
                    boot.number, boot.ending, ": " + cause if cause else ""),
                    boot.end_evidence[0] if boot.end_evidence else None))
    for report in reports or ():
        if not report.primary or report.stamp is None:
            continue
        events.append(_event(report.stamp, "kernel", "critical" if report.panicked else report.severity
                             if report.severity in F.SEVERITIES else F.WARNING,
                             "%s%s" % (report.title, " (x%d)" % report.count if report.count > 1 else ""),
                             F.Evidence(report.origin, report.lineno, report.header)))
    for key, hits in scan.hits.items():
        rule = hits[0].rule
        if rule[5] > 100000:
            continue
        last = None
        for hit in hits:
            if hit.stamp is None:
                continue
            if last is not None and hit.stamp - last["stamp"] < 60 and last["rule"] == key:
                last["count"] += 1
                continue
            event = _event(hit.stamp, "service" if key.startswith("systemd") else "log", rule[1],
                           rule[2], F.Evidence.from_line(hit.line))
            event["rule"] = key
            event["count"] = 1
            events.append(event)
            last = event
    for event in events:
        if event.get("count", 1) > 1:
            event["title"] += " (x%d within a minute)" % event["count"]
    groups = collections.OrderedDict()
    for stamp, action, name, line in packages:
        if stamp is None:
            continue
        minute = int(stamp // 60)
        groups.setdefault(minute, []).append((stamp, action, name, line))
    for minute, items in groups.items():
        events.append(_event(items[0][0], "package", F.INFO, "%d package change(s): %s%s" % (
            len(items), ", ".join("%s %s" % (i[1], i[2]) for i in items[:3]), " ..." if len(items) > 3 else ""),
            F.Evidence.from_line(items[0][3])))
    for stamp, title in triggers:
        events.append(_event(stamp, "metric", F.INFO, title))
    events = [e for e in events if e["stamp"] is not None]
    events.sort(key=lambda e: e["stamp"])
    if len(events) > TIMELINE_LIMIT:
        keep = sorted(events, key=lambda e: (F.SEVERITIES.index(e["severity"]) if e["severity"] in F.SEVERITIES
                                             else 9, -e["stamp"]))[:TIMELINE_LIMIT]
        ids = set(id(e) for e in keep)
        dropped = len(events) - len(keep)
        events = [e for e in events if id(e) in ids]
        result.warnings.append("timeline: %d lesser events left out (kept the %d most severe and newest)"
                               % (dropped, TIMELINE_LIMIT))
    return events


# ------------------------------------------------------------ charts

_CHARTS = (
    ("cpu", "CPU busy, I/O wait and steal (%)", ("cpu.busy_pct", "cpu.iowait_pct", "cpu.steal_pct"), "%"),
    ("memory", "Memory used (%)", ("mem.used_pct", "mem.swap_used_pct", "swap.used_pct"), "%"),
    ("memory-available", "Memory available (%)", ("mem.available_pct",), "%"),
    ("load", "Load average (1 min)", ("load1",), ""),
    ("pressure", "Pressure stall, some (avg10, %)", ("psi.cpu.some_avg10", "psi.io.some_avg10",
                                                     "psi.memory.some_avg10"), "%"),
)


def _charts(series, reports, boots, perf=None):
    if not series:
        return []
    markers = []
    for event in ((perf.analysis or {}).get("events") or []) if perf is not None else ():
        if event.get("event") == "trigger" and event.get("t") is not None:
            markers.append({"stamp": event["t"], "label": "trigger %s: %s" % (event.get("trigger"),
                                                                            event.get("detail") or ""),
                            "kind": "trigger"})
    for report in reports or ():
        if report.primary and report.stamp is not None:
            markers.append({"stamp": report.stamp, "label": report.title[:60], "kind": "kernel"})
    if boots is not None:
        for boot in boots.wall:
            if boot.start is not None:
                markers.append({"stamp": boot.start, "label": "boot %d" % boot.number, "kind": "boot"})
    charts = []
    for key, title, names, unit in _CHARTS:
        lines = [(name, series[name]) for name in names if series.get(name)]
        if lines:
            charts.append({"id": key, "title": title, "unit": unit,
                           "series": [{"name": n, "points": [[round(t, 1), v] for t, v in pts]} for n, pts in lines]})
    for family, leaf, title, unit in (("disk", "util_pct", "Disk utilisation (%, busiest devices)", "%"),
                                      ("disk", "await_ms", "Disk await (ms, busiest devices)", "ms"),
                                      ("net", "rx_kbps", "Network received (KiB/s, busiest interfaces)", "KiB/s"),
                                      ("net", "tx_kbps", "Network sent (KiB/s, busiest interfaces)", "KiB/s")):
        candidates = [(name, pts) for name, pts in series.items()
                      if name.startswith(family + ".") and name.endswith("." + leaf)]
        candidates.sort(key=lambda item: -max(v for _, v in item[1]))
        candidates = [c for c in candidates if max(v for _, v in c[1]) > 0][:3]
        if candidates:
            charts.append({"id": "%s-%s" % (family, leaf), "title": title, "unit": unit,
                           "series": [{"name": n, "points": [[round(t, 1), v] for t, v in pts]} for n, pts in candidates]})
    if charts:
        stamps = [p[0] for chart in charts for s in chart["series"] for p in s["points"]]
        low, high = min(stamps), max(stamps)
        inside = [m for m in markers if low <= m["stamp"] <= high]
        for chart in charts:
            chart["markers"] = inside[:50]
    return charts


# ------------------------------------------------------------ sections

def _pre(bundle, datum, title, limit=PRE_LINES):
    found = bundle.get(datum)
    if not found:
        return None
    lines = bundle.lines(datum)
    item = {"type": "pre", "title": title, "origin": bundle_mod.origin_path(found[1]),
            "lines": [[n, t] for n, t in lines[:limit]]}
    if len(lines) > limit:
        item["more"] = len(lines) - limit
    return item


def _kv(rows):
    return {"type": "kv", "rows": [[k, v if v is not None else "-"] for k, v in rows]}


def _section(key, title, items, findings_prefixes=()):
    return {"id": key, "title": title, "items": [i for i in items if i], "checks": list(findings_prefixes)}


def _sections(result, bundle, info, scan, reports, boots, kdump_state, packages, options):
    facts = result.facts
    utc = options.utc
    sections = []
    sections.append(_section("system", "System", [
        _kv([("hostname", facts.get("hostname")), ("OS", facts.get("os")), ("kernel", facts.get("kernel")),
             ("uname", facts.get("uname")), ("command line", facts.get("cmdline")),
             ("uptime", facts.get("uptime")), ("virtualisation", facts.get("virtualization")),
             ("CPUs", facts.get("cpus")),
             ("memory", timeparse.format_size(facts["memory_kib"] * 1024) if facts.get("memory_kib") else None)]),
        _pre(bundle, "hostnamectl", "hostnamectl"),
    ], ("os.", "kernel.outdated", "cpu.")))
    mem_items = []
    info_mem = checks.meminfo(bundle) if bundle.text("meminfo") else {}
    if info_mem:
        keys = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree", "Dirty",
                "Slab", "SReclaimable", "SUnreclaim", "Committed_AS", "HugePages_Total", "HugePages_Free",
                "Hugepagesize")
        mem_items.append({"type": "table", "title": "/proc/meminfo (selected)", "headers": ["field", "value"],
                          "rows": [[k, (timeparse.format_size(info_mem[k][0] * 1024) if not k.startswith("HugePages_")
                                        else str(info_mem[k][0]))] for k in keys if k in info_mem]})
    mem_items.append(_pre(bundle, "free", "free"))
    mem_items.append(_pre(bundle, "lscpu", "lscpu", 30))
    sections.append(_section("cpu-memory", "CPU and memory", mem_items, ("mem.", "load.")))
    storage = []
    if bundle.text("df"):
        rows = checks.parse_df(bundle.lines("df"))
        storage.append({"type": "table", "title": "filesystems (%s)" % bundle_mod.origin_path(bundle.origin("df")),
                        "headers": ["mount", "filesystem", "size", "used"],
                        "rows": [[m, fs, timeparse.format_size(size * 1024) if size else "-", "%d%%" % used]
                                 for _, fs, size, used, m, _t in rows if not checks._pseudo(fs, m, _t)],
                        "origin": bundle_mod.origin_path(bundle.origin("df"))})
    for datum, title in (("df-inodes", "df -i"), ("lsblk", "lsblk"), ("mdstat", "/proc/mdstat"),
                         ("multipath", "multipath -ll"), ("lvs", "lvs"), ("mounts", "mounts")):
        storage.append(_pre(bundle, datum, title, 40))
    sections.append(_section("storage", "Storage", storage, ("fs.", "md.", "multipath.", "log.io", "log.fs", "log.nfs")))
    network = []
    if bundle.text("netdev"):
        network.append({"type": "table", "title": "interfaces (/proc/net/dev)",
                        "headers": ["iface", "rx packets", "rx errs", "rx drop", "tx packets", "tx errs", "tx drop"],
                        "rows": [[name, v[1], v[2], v[3], v[9], v[10], v[11]]
                                 for _, name, v, _l in checks.parse_netdev(bundle)]})
    for datum, title in (("ip-addr", "addresses"), ("ip-route", "routes"), ("resolv", "/etc/resolv.conf")):
        network.append(_pre(bundle, datum, title, 40))
    sections.append(_section("network", "Network", network, ("net.", "log.net")))
    processes = []
    if bundle.text("ps"):
        cpu, mem = checks.top_consumers(bundle)
        for title, rows in (("top CPU", cpu), ("top memory (RSS)", mem)):
            processes.append({"type": "table", "title": title,
                              "headers": ["pid", "user", "%cpu", "%mem", "rss", "stat", "command"],
                              "rows": [[r.get("PID"), r.get("USER"), r.get("%CPU"), r.get("%MEM"),
                                        timeparse.format_size(int(r["RSS"]) * 1024) if r.get("RSS", "").isdigit()
                                        else r.get("RSS"), r.get("STAT"), r["COMMAND"][:100]] for _, r in rows],
                              "origin": bundle_mod.origin_path(bundle.origin("ps"))})
    sections.append(_section("processes", "Processes", processes, ("proc.", "limits.")))
    sections.append(_section("services", "Services", [_pre(bundle, "failed-units", "failed units")],
                             ("systemd.", "log.systemd")))
    kernel_items = []
    if reports:
        kernel_items.append({"type": "table", "title": "kernel reports (oops engine)",
                             "headers": ["time", "kind", "title", "where"],
                             "rows": [[timeparse.format_time(r.stamp, utc) if r.stamp is not None else "-",
                                       r.kind, r.title + (" (x%d)" % r.count if r.count > 1 else ""),
                                       "%s:%s" % (r.origin, r.lineno)] for r in reports if r.primary][:100]})
    kernel_items.append(_pre(bundle, "tainted", "/proc/sys/kernel/tainted", 5))
    kernel_items.append(_pre(bundle, "lsmod", "modules", 40))
    sections.append(_section("kernel", "Kernel events", kernel_items, ("oops.", "kernel.taint")))
    boot_items = []
    if boots is not None:
        boot_items.append({"type": "table", "title": "boots (bootlog engine)",
                           "headers": ["#", "start", "end", "ending", "kernel", "cause"],
                           "rows": [[b.number,
                                     timeparse.format_time(b.start, utc) if b.start is not None and not b.relative else "-",
                                     timeparse.format_time(b.end, utc) if b.end is not None and not b.relative else "-",
                                     b.ending, b.kernel or "-", (b.cause or {}).get("title", "") if b.ending == "unclean"
                                     else ""] for b in boots.boots][-50:]})
    sections.append(_section("boots", "Boots", boot_items, ("bootlog.",)))
    kdump_items = []
    if kdump_state:
        kdump_items.append(_kv([("verdict", kdump_state["verdict"])]))
        kdump_items.append({"type": "table", "title": "kdump checks (kdumpsetup engine)",
                            "headers": ["severity", "check", "title"],
                            "rows": [[f["severity"], f["check"], f["title"]] for f in kdump_state["findings"]]})
    sections.append(_section("kdump", "kdump", kdump_items, ("kdump.",)))
    package_items = []
    kernels = checks.installed_kernels(bundle)
    if kernels:
        package_items.append({"type": "table", "title": "installed kernels", "headers": ["version", "from"],
                              "rows": [[v, o] for v, o in sorted(set(kernels), key=lambda k: checks._version_key(k[0]))]})
    for datum in ("rpm", "dpkg"):
        text = bundle.text(datum)
        if text:
            count = len([l for l in text.splitlines() if l.strip() and not l.startswith(("Desired", "|", "+++"))])
            package_items.append(_kv([("packages listed", "%d (%s)" % (count, bundle.origin(datum)))]))
    if packages:
        package_items.append({"type": "table", "title": "latest package changes",
                              "headers": ["time", "action", "package"],
                              "rows": [[timeparse.format_time(s, utc) if s else "-", a, n] for s, a, n, _ in packages[-30:]]})
    sections.append(_section("packages", "Packages", package_items, ("kernel.outdated",)))
    sections.append(_section("security", "Security", [_pre(bundle, "sestatus", "sestatus", 30),
                                                      _pre(bundle, "apparmor", "AppArmor", 30)],
                             ("security.", "log.security", "log.auth")))
    log_items = []
    for name, kind, paths in scan.logs:
        log_items.append(_kv([("log", "%s (%s, %d file(s))" % (name, kind, len(paths) or 1))]))
    for key, hits in scan.hits.items():
        shown = checks._spread(hits, EXCERPT_LINES)
        log_items.append({"type": "lines", "title": "%s: %d line(s)" % (hits[0].rule[2], scan.counts[key]),
                          "rule": key, "lines": [[h.line.origin, h.line.lineno, h.line.text[:500]] for h in shown]})
    for name, tail in scan.tails.items():
        log_items.append({"type": "lines", "title": "last lines of %s" % name,
                          "lines": [[l.origin, l.lineno, l.text[:500]] for l in tail]})
    sections.append(_section("logs", "Log excerpts", log_items, ("log.",)))
    sections.append(_section("bundle", "The bundle", [
        _kv([("source", result.source), ("kind", info["kind"]), ("collected by", "%s %s" % (info["tool"], info["version"] or "")),
             ("collected", result.bundle.get("collected_local")), ("age (days)", result.bundle.get("age_days")),
             ("collection command", info.get("cmdline")),
             ("plugins timed out", ", ".join(info["timeouts"]) or "none"),
             ("commands not found", ", ".join(info["not_found"][:20]) or "none"),
             ("truncated", "; ".join(t for t in info["truncated"][:10] if t) or "none")]),
        _kv([("engine %s" % k, v) for k, v in result.engines.items()]),
    ], ("bundle.",)))
    return sections
