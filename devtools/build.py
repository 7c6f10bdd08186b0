#!/usr/bin/env python3
"""Generate build/: one single-file script per tool, build/rescuekit.py, the zipapp.

    python3 devtools/build.py [--out DIR] [--check]

The output must regenerate byte-for-byte from the sources on any Python
3.6+, because users curl the committed files and a test rebuilds them into
a temporary folder and fails on any difference (--check does the same from
the command line).  So: no timestamps, no absolute paths, sorted order,
fixed zip metadata.

Single-file layout (the curl | python3 case), after get-pip.py:
  1. shebang, coding line, the tool's own docstring;
  2. a stub in syntax Python 2.7 and 3.0-3.5 can parse, which refuses old
     interpreters politely -- everything else travels as string data,
     because Python compiles the whole file before running any of it;
  3. the sources of the modules the tool needs (import closure), as
     string literals, compiled at start-up under their original file names
     so tracebacks point at shared/x.py line N;
  4. an in-memory importer (nothing written to disk: /tmp may be full,
     read-only or noexec) and the removal of the current directory from
     sys.path before anything is imported from it;
  5. the call to main() on the very last line, so a truncated download
     never runs half a program.
"""

import argparse
import ast
import io
import os
import stat
import sys
import zipfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from shared.version import VERSION, hash_sources  # noqa: E402

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
REFUSAL = (
    "%(tool)s: needs Python 3.6 or newer, found Python %%s at %%s "
    "(run it with python3.6+, e.g. 'python3 %(file)s'; on RHEL 8 use /usr/libexec/platform-python; "
    "or use the static binary)\n"
)


def read(relative):
    with io.open(os.path.join(TOP, relative), encoding="utf-8") as handle:
        return handle.read()


def module_file(name):
    """'shared.cli' -> 'shared/cli.py'; packages -> '<pkg>/__init__.py'."""
    path = name.replace(".", "/")
    if os.path.isdir(os.path.join(TOP, path)):
        return path + "/__init__.py"
    return path + ".py"


def imports_of(name):
    """Modules of this project that module ``name`` imports (shared.*, scripts.*)."""
    source = read(module_file(name))
    tree = ast.parse(source, module_file(name))
    package = name if module_file(name).endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[:-(node.level - 1)]
                base = ".".join(base)
                module = base + ("." + node.module if node.module else "")
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:
                found.add(module + "." + alias.name)
    result = set()
    for module in found:
        if module.split(".")[0] not in ("shared", "scripts"):
            continue
        if os.path.exists(os.path.join(TOP, module_file(module))):
            result.add(module)
    return result


def closure(roots):
    """Every project module reachable from roots, with their parent packages."""
    todo = list(roots)
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        for cut in range(1, len(parts)):
            todo.append(".".join(parts[:cut]))
        todo.extend(imports_of(name))
    return sorted(seen)


def registered_tools():
    """The dispatcher's registry, read without importing it."""
    tree = ast.parse(read("scripts/rescuekit.py"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TOOLS" for t in node.targets):
            # ast.Constant.value (3.8+); ast.Str.s before (``.s`` warns from 3.12)
            return [getattr(elt.elts[0], "value", None) or elt.elts[0].s for elt in node.value.elts]
    raise SystemExit("build: no TOOLS registry in scripts/rescuekit.py")


def all_modules():
    names = []
    for package in ("shared", "scripts"):
        for entry in sorted(os.listdir(os.path.join(TOP, package))):
            if entry.endswith(".py"):
                names.append(package if entry == "__init__.py" else package + "." + entry[:-3])
    return names


def docstring_of(name):
    return ast.get_docstring(ast.parse(read(module_file(name))), clean=False) or ""


def literal(text):
    """A triple-quoted literal that Python 2.7 and 3.x both read back as ``text``."""
    body = text.replace("\\", "\\\\").replace("\r", "\\r").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return '"""' + body + '"""'


STUB = r'''
import sys

if sys.version_info < (3, 6):
    sys.stderr.write(%(refusal)r %% (sys.version.split()[0], sys.executable or "python"))
    sys.exit(4)


def _rk_clean_path():
    # Root in /tmp must not import a planted json.py: drop the current
    # directory and the script's own directory before importing anything.
    import os
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    here = None
    if len(sys.argv) > 0 and sys.argv[0] not in ("", "-", "-c"):
        here = os.path.dirname(os.path.abspath(sys.argv[0]))
    keep = []
    for entry in sys.path:
        if entry in ("", "."):
            continue
        absolute = os.path.abspath(entry)
        if absolute == cwd or absolute == here:
            continue
        keep.append(entry)
    sys.path[:] = keep


_rk_clean_path()

_RK_MODULES = {}
'''

LOADER = r'''

def _rk_install():
    import importlib.abc
    import importlib.util
    import linecache

    class _MemoryImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        """Serve the embedded modules from memory (nothing is written to disk)."""

        def find_spec(self, fullname, path=None, target=None):
            entry = _RK_MODULES.get(fullname)
            if entry is None:
                return None
            return importlib.util.spec_from_loader(
                fullname, self, origin=entry[0], is_package=entry[0].endswith("__init__.py"))

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            filename, source = _RK_MODULES[module.__name__]
            module.__file__ = filename
            # Keep tracebacks pointing at the original file and line.
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)

        def get_source(self, fullname):
            return _RK_MODULES[fullname][1]

    sys.meta_path.insert(0, _MemoryImporter())

    def _excepthook(kind, value, trace):
        # Before 3.7 or so the default hook reads source lines from disk by
        # file name; the traceback module reads them from linecache.
        import traceback
        traceback.print_exception(kind, value, trace)

    sys.excepthook = _excepthook


def main(argv=None):
    _rk_install()
    import importlib
    tool = importlib.import_module(%(entry)r)
    return tool.main(argv)


sys.exit(main())
'''


def single_file(tool, modules, entry):
    """Text of one single-file program."""
    pairs = [(name, read(module_file(name))) for name in modules]
    digest = hash_sources(pairs)
    buildinfo = ('"""Written by devtools/build.py: identity of the sources in this file."""\n\n'
                 'SOURCE_HASH = "%s"\n' % digest)
    doc = docstring_of(entry)
    out = ["#!/usr/bin/env python3\n", "# -*- coding: utf-8 -*-\n"]
    out.append(literal(doc.rstrip("\n") + "\n") + "\n")
    out.append("# Generated by devtools/build.py from rescuekit %s (sources %s).\n" % (VERSION, digest))
    out.append("# Do not edit: change the sources and run 'python3 devtools/build.py'.\n")
    out.append(STUB % {"refusal": REFUSAL % {"tool": tool, "file": "build/%s.py" % tool}})
    for name, text in pairs + [("shared._buildinfo", buildinfo)]:
        filename = module_file(name) if name != "shared._buildinfo" else "shared/_buildinfo.py"
        out.append("\n_RK_MODULES[%r] = (%r, %s)\n" % (name, filename, literal(text)))
    out.append(LOADER % {"entry": entry})
    return "".join(out), digest


ZIP_MAIN = r'''"""rescuekit zipapp entry: refuse old Pythons, clean sys.path, dispatch."""
import sys

if sys.version_info < (3, 6):
    sys.stderr.write(%(refusal)r %% (sys.version.split()[0], sys.executable or "python"))
    sys.exit(4)


def _rk_clean_path():
    # Keep the archive itself on sys.path, drop the current directory.
    import os
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    sys.path[:] = [entry for entry in sys.path
                   if entry not in ("", ".") and os.path.abspath(entry) != cwd
                   or entry.endswith(".pyz")]


_rk_clean_path()

from scripts.rescuekit import main  # noqa: E402

sys.exit(main())
'''


def zipapp_bytes(modules):
    pairs = [(name, read(module_file(name))) for name in modules]
    digest = hash_sources(pairs)
    files = dict((module_file(name), text) for name, text in pairs)
    files["shared/_buildinfo.py"] = ('"""Written by devtools/build.py: identity of the sources in this file."""\n\n'
                                     'SOURCE_HASH = "%s"\n' % digest)
    files["__main__.py"] = ZIP_MAIN % {"refusal": REFUSAL % {"tool": "rescuekit", "file": "build/rescuekit.pyz"}}
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, files[name].encode("utf-8"))
    return buffer.getvalue(), digest


def build(out_dir):
    """Write every artefact into out_dir; return {relative name: bytes}."""
    tools = registered_tools()
    outputs = {}
    for tool in tools:
        modules = closure(["scripts." + tool])
        text, _ = single_file(tool, modules, "scripts." + tool)
        outputs["%s.py" % tool] = text.encode("utf-8")
    # The whole toolkit carries every module, so its source hash equals the
    # one a checkout computes (shared.version.source_hash).
    everything = closure(["scripts.rescuekit"] + ["scripts." + t for t in tools] + all_modules())
    text, _ = single_file("rescuekit", everything, "scripts.rescuekit")
    outputs["rescuekit.py"] = text.encode("utf-8")
    data, _ = zipapp_bytes(everything)
    outputs["rescuekit.pyz"] = data
    import hashlib
    sums = "".join("%s  %s\n" % (hashlib.sha256(outputs[name]).hexdigest(), name) for name in sorted(outputs))
    outputs["SHA256SUMS"] = sums.encode("ascii")
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    for name, data in sorted(outputs.items()):
        path = os.path.join(out_dir, name)
        with open(path, "wb") as handle:
            handle.write(data)
        mode = 0o755 if name.endswith((".py", ".pyz")) else 0o644
        os.chmod(path, mode)
    return outputs


def stale(out_dir, reference_dir):
    """Names whose bytes differ between two build folders (or exist in one only)."""
    names = set(os.listdir(out_dir)) | set(n for n in os.listdir(reference_dir) if not n.startswith("."))
    differing = []
    for name in sorted(names):
        left = os.path.join(out_dir, name)
        right = os.path.join(reference_dir, name)
        if not (os.path.isfile(left) and os.path.isfile(right)):
            differing.append(name)
            continue
        with open(left, "rb") as a, open(right, "rb") as b:
            if a.read() != b.read():
                differing.append(name)
    return differing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(TOP, "build"), help="output folder (default build/)")
    parser.add_argument("--check", action="store_true",
                        help="build into a temporary folder and fail if build/ differs")
    args = parser.parse_args(argv)
    if args.check:
        import tempfile
        import shutil
        temp = tempfile.mkdtemp(prefix="rk-build-")
        try:
            build(temp)
            differing = stale(temp, os.path.join(TOP, "build"))
        finally:
            shutil.rmtree(temp)
        if differing:
            sys.stderr.write("build: out of date: %s (run 'python3 devtools/build.py' and commit build/)\n"
                             % ", ".join(differing))
            return 1
        print("build: build/ matches the sources")
        return 0
    outputs = build(args.out)
    for name in sorted(outputs):
        print("%-20s %8d bytes" % (name, len(outputs[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
