"""Project policy, enforced by machine: 3.6 compatibility, stdlib only, docs for every tool.

Every shipped file (shared/, scripts/) must parse under the Python 3.6
grammar, use no 3.7+ API, import only the standard library and shared.*,
do no work at import, and every registered tool needs its example file,
man page, test module and main(argv=None).
"""

import ast
import io
import os
import re
import sys

import pytest

from conftest import ROOT

SHIPPED = sorted(
    os.path.join(folder, name)
    for folder in ("shared", "scripts")
    for name in os.listdir(os.path.join(ROOT, folder))
    if name.endswith(".py")
)

# Attribute or function names that arrived after 3.6 (and what to use instead).
NEWER_APIS = {
    "fromisoformat": "timeparse.parse_iso", "removeprefix": "slicing", "removesuffix": "slicing",
    "isascii": "all(ord(c) < 128 ...)", "time_ns": "time.time()", "nullcontext": "a small class",
    "preadv": "os.pread", "pwritev": "os.pwrite", "ThreadingHTTPServer": "ThreadingMixIn + HTTPServer",
    "cached_property": "a property", "prod": "functools.reduce", "isqrt": "int(math.sqrt())",
    "shlex_join": "' '.join(shlex.quote())", "get_running_loop": "get_event_loop",
    "to_thread": "run_in_executor", "create_task": "ensure_future", "bit_count": "bin(x).count('1')",
    "pidfd_open": "polling", "waitstatus_to_exitcode": "os.WEXITSTATUS", "is_relative_to": "string checks",
    "BooleanOptionalAction": "two flags",
}
NEWER_MODULES = {"dataclasses", "contextvars", "zoneinfo", "graphlib", "tomllib", "importlib.metadata",
                 "importlib.resources", "asyncio.run", "functools.cache"}
NEWER_KEYWORDS = {"capture_output", "text"}  # subprocess.*(…)


def source_of(relative):
    with io.open(os.path.join(ROOT, relative), encoding="utf-8") as handle:
        return handle.read()


def parse_36(relative):
    text = source_of(relative)
    if sys.version_info >= (3, 8):
        return ast.parse(text, relative, feature_version=(3, 6))
    return ast.parse(text, relative)


@pytest.mark.parametrize("relative", SHIPPED)
def test_parses_with_the_36_grammar_and_uses_no_newer_api(relative):
    tree = parse_36(relative)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in NEWER_APIS:
            problems.append("line %d: .%s (use %s)" % (node.lineno, node.attr, NEWER_APIS[node.attr]))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            for name in names + [module] + [module + "." + n for n in names]:
                if name in NEWER_MODULES:
                    problems.append("line %d: imports %s" % (node.lineno, name))
            if isinstance(node, ast.ImportFrom) and module == "__future__" and "annotations" in names:
                problems.append("line %d: from __future__ import annotations is 3.7+" % node.lineno)
        if isinstance(node, ast.Call):
            func = node.func
            target = getattr(func, "attr", None) or getattr(func, "id", None)
            owner = getattr(getattr(func, "value", None), "id", None)
            if owner == "subprocess" or target in ("run", "check_output", "Popen"):
                for keyword in node.keywords:
                    if keyword.arg in NEWER_KEYWORDS:
                        problems.append("line %d: %s=... in a subprocess call (use stdout=PIPE, "
                                        "universal_newlines=True)" % (node.lineno, keyword.arg))
            if owner == "asyncio" and target == "run":
                problems.append("line %d: asyncio.run is 3.7+" % node.lineno)
            if owner == "functools" and target == "cache":
                problems.append("line %d: functools.cache is 3.9+" % node.lineno)
        if isinstance(node, ast.Name) and node.id == "breakpoint":
            problems.append("line %d: breakpoint() is 3.7+" % node.lineno)
    assert not problems, "%s:\n  %s" % (relative, "\n  ".join(problems))


@pytest.mark.parametrize("relative", SHIPPED)
def test_imports_only_the_standard_library_and_shared(relative):
    if not hasattr(sys, "stdlib_module_names"):
        pytest.skip("sys.stdlib_module_names needs Python 3.10+ (this check runs there)")
    allowed = set(sys.stdlib_module_names) | {"shared"}
    if relative.startswith("scripts/"):
        allowed.add("scripts")  # the dispatcher's own package; tools never import each other
    tree = parse_36(relative)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name.split(".")[0] not in allowed]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if (node.module or "").split(".")[0] not in allowed:
                bad.append(node.module)
    assert not bad, "%s imports non-stdlib modules: %s" % (relative, bad)


def _is_bootstrap(node):
    # `if __package__ in (None, ""): sys.path.insert(...)` lets a tool run as a file.
    return isinstance(node, ast.If) and "__package__" in ast.dump(node.test)


def _is_main_guard(node):
    return isinstance(node, ast.If) and "__name__" in ast.dump(node.test) and "__main__" in ast.dump(node.test)


@pytest.mark.parametrize("relative", SHIPPED)
def test_nothing_runs_at_import(relative):
    tree = parse_36(relative)
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            pytest.fail("%s line %d: a call at module level runs at import" % (relative, node.lineno))
        if isinstance(node, (ast.For, ast.While, ast.With)):
            pytest.fail("%s line %d: work at module level" % (relative, node.lineno))
        if _is_main_guard(node):
            assert index == len(tree.body) - 1, "%s: the __main__ guard must be last" % relative
    if relative == "scripts/__init__.py":
        return  # the installed-package alias for `shared`


def normalise_help(text):
    """--help as words: argparse wraps and titles differently across Python versions."""
    text = text.replace("optional arguments:", "options:")
    text = " ".join(text.split())
    # 3.9 shortened nargs="*" in usage lines from "[X [X ...]]" to "[X ...]".
    text = re.sub(r"\[(\S+) \[\1 \.\.\.\]\]", r"[\1 ...]", text)
    # 3.13 writes "-o, --output FILE" where older versions wrote "-o FILE, --output FILE".
    return re.sub(r"(?<!\S)(-\w) (\S+), (--[\w-]+) \2(?!\S)", r"\1, \3 \2", text)


def registered_tools():
    from scripts import rescuekit
    return rescuekit.tool_names()


def test_every_scripts_file_is_registered_or_the_dispatcher():
    tools = set(registered_tools())
    files = set(name[:-3] for name in os.listdir(os.path.join(ROOT, "scripts"))
                if name.endswith(".py") and name != "__init__.py")
    assert files - tools == {"rescuekit"}, "unregistered tools in scripts/: %s" % sorted(files - tools - {"rescuekit"})
    assert tools <= files


def test_dispatcher_has_docs(capsys):
    from scripts import rescuekit
    for suffix in ("_example.txt", ".8"):
        assert os.path.exists(os.path.join(ROOT, "scripts", "rescuekit" + suffix)), "rescuekit" + suffix
    assert rescuekit.main(["--help"]) == 0
    helptext = capsys.readouterr().out
    assert normalise_help(source_of("scripts/rescuekit_example.txt")).endswith(normalise_help(helptext))


def tool_params():
    try:
        return registered_tools()
    except Exception:  # pragma: no cover - reported by the registry test
        return []


@pytest.mark.parametrize("tool", tool_params())
def test_every_tool_has_main_docs_and_tests(tool, capsys):
    relative = "scripts/%s.py" % tool
    tree = parse_36(relative)
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    assert mains, "%s has no main()" % relative
    arguments = mains[0].args
    assert [a.arg for a in arguments.args] == ["argv"] and len(arguments.defaults) == 1, \
        "%s: main must be main(argv=None)" % relative
    for path in ("scripts/%s_example.txt" % tool, "scripts/%s.8" % tool, "tests/test_%s.py" % tool):
        assert os.path.exists(os.path.join(ROOT, path)), "%s is missing" % path
    # The example file ends with the verbatim --help, so it cannot drift.
    import importlib
    module = importlib.import_module("scripts." + tool)
    assert module.main(["--help"]) == 0
    helptext = capsys.readouterr().out
    example = source_of("scripts/%s_example.txt" % tool)
    assert normalise_help(example).endswith(normalise_help(helptext)), \
        "scripts/%s_example.txt does not end with the current --help output" % tool
    # The man page has the common sections and documents every long option.
    manual = source_of("scripts/%s.8" % tool)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(r"^\.SH \"?%s\"?\s*$" % section, manual, re.M), "%s.8 lacks %s" % (tool, section)
    # Options from argparse's option list (not from prose such as the exit table); --help is argparse's.
    options = set(re.findall(r"^\s+(?:-\w+(?: \S+)?, )?(--[a-z][a-z0-9-]+)", helptext, re.M)) - {"--help"}
    manual_plain = manual.replace("\\-", "-").replace("\\f[BIRP]", "").replace("\\fB", "").replace("\\fR", "")
    missing = sorted(o for o in options if o not in manual_plain)
    assert not missing, "%s.8 does not document %s" % (tool, ", ".join(missing))
