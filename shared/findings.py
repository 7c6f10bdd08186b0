"""The findings model: one way for every tool that judges to say what it found.

A finding has a severity, a stable check id, a one-line title, a detail,
evidence (origin, line number, excerpt) and what to do.  A check whose
inputs are missing is "not evaluated" and says what was missing -- it is
never "ok" on missing data.
"""

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
OK = "ok"
NOT_EVALUATED = "not evaluated"

SEVERITIES = (CRITICAL, WARNING, INFO, OK, NOT_EVALUATED)
_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2, OK: 3, NOT_EVALUATED: 4}

EXCERPT_LIMIT = 400


class Evidence(object):
    """Where a finding comes from: origin (file, command), line number, excerpt."""

    __slots__ = ("origin", "lineno", "excerpt")

    def __init__(self, origin, lineno=None, excerpt=None):
        self.origin = origin
        self.lineno = lineno
        if excerpt is not None and len(excerpt) > EXCERPT_LIMIT:
            excerpt = excerpt[:EXCERPT_LIMIT - 3] + "..."
        self.excerpt = excerpt

    @classmethod
    def from_line(cls, line):
        """From a sources.Line."""
        return cls(line.origin, line.lineno, line.text)

    def where(self):
        return "%s:%d" % (self.origin, self.lineno) if self.lineno else str(self.origin)

    def to_dict(self):
        return {"origin": self.origin, "line": self.lineno, "excerpt": self.excerpt}


class Finding(object):
    """One judged result."""

    def __init__(self, check, severity, title, detail="", evidence=(), fix="", missing=()):
        if severity not in _RANK:
            raise ValueError("unknown severity %r" % (severity,))
        self.check = check
        self.severity = severity
        self.title = title
        self.detail = detail
        self.evidence = list(evidence)
        self.fix = fix
        self.missing = list(missing)

    @classmethod
    def not_evaluated(cls, check, title, missing):
        """A check that could not run: says which inputs were missing."""
        missing = list(missing)
        return cls(check, NOT_EVALUATED, title,
                   detail="not evaluated (missing: %s)" % ", ".join(missing), missing=missing)

    @property
    def rank(self):
        return _RANK[self.severity]

    def to_dict(self):
        return {
            "check": self.check,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "evidence": [e.to_dict() for e in self.evidence],
            "fix": self.fix,
            "missing": self.missing,
        }

    def __repr__(self):
        return "Finding(%r, %r, %r)" % (self.check, self.severity, self.title)


def ranked(findings):
    """Worst first, stable within a severity."""
    return sorted(findings, key=lambda f: f.rank)


def worst(findings):
    """The most severe severity among findings (NOT_EVALUATED only if all are)."""
    ranks = [f.rank for f in findings]
    if not ranks:
        return None
    best = min(ranks)
    return SEVERITIES[best]


def counts(findings):
    result = dict((s, 0) for s in SEVERITIES)
    for finding in findings:
        result[finding.severity] += 1
    return result


def reaches(findings, threshold):
    """True when some finding is at least as severe as ``threshold`` (for --fail-on)."""
    limit = _RANK[threshold]
    return any(f.rank <= limit for f in findings if f.severity != NOT_EVALUATED)


_TAG = {CRITICAL: "CRIT", WARNING: "WARN", INFO: "INFO", OK: " OK ", NOT_EVALUATED: "N/A "}
_TAG_COLOUR = {CRITICAL: "red", WARNING: "yellow", INFO: "blue", OK: "green", NOT_EVALUATED: "dim"}


def render_text(findings, colour_enabled=False, verbose=False):
    """Findings as text, worst first: '[CRIT] title' then indented detail, evidence, fix."""
    from .output import colour
    lines = []
    for finding in ranked(findings):
        tag = colour("[%s]" % _TAG[finding.severity], _TAG_COLOUR[finding.severity], colour_enabled)
        lines.append("%s %s" % (tag, finding.title))
        if finding.detail:
            lines.append("       %s" % finding.detail)
        shown = finding.evidence if verbose else finding.evidence[:3]
        for item in shown:
            text = "       at %s" % item.where()
            if item.excerpt:
                text += ": " + item.excerpt[:200]
            lines.append(text)
        if len(finding.evidence) > len(shown):
            lines.append("       (+%d more; -v shows all)" % (len(finding.evidence) - len(shown)))
        if finding.fix:
            lines.append("       fix: %s" % finding.fix)
    return "\n".join(lines) + ("\n" if lines else "")
