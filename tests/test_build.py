"""build/ regenerates byte-for-byte, and the single files keep their promises."""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "devtools"))
import build as builder  # noqa: E402

BUILD = os.path.join(ROOT, "build")


@pytest.fixture(scope="module")
def fresh_build():
    folder = tempfile.mkdtemp(prefix="rk-build-test-")
    try:
        builder.build(folder)
        yield folder
    finally:
        shutil.rmtree(folder)


def test_committed_build_matches_the_sources(fresh_build):
    differing = builder.stale(fresh_build, BUILD)
    assert not differing, ("build/ is out of date (%s): run 'python3 devtools/build.py' and commit build/"
                           % ", ".join(differing))


def test_every_tool_has_a_single_file(fresh_build):
    names = set(os.listdir(fresh_build))
    expected = set("%s.py" % t for t in builder.registered_tools()) | {
        "rescuekit.py", "rescuekit.pyz", "SHA256SUMS"}
    assert names == expected


def test_sha256sums_cover_every_file(fresh_build):
    import hashlib
    with open(os.path.join(fresh_build, "SHA256SUMS")) as handle:
        listed = dict(reversed(line.split("  ")) for line in handle.read().splitlines())
    for name, digest in listed.items():
        with open(os.path.join(fresh_build, name), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest
    assert set(listed) == set(os.listdir(fresh_build)) - {"SHA256SUMS"}


def test_single_file_layout(fresh_build):
    with open(os.path.join(fresh_build, "rescuekit.py"), encoding="utf-8") as handle:
        text = handle.read()
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env python3"
    assert lines[2].startswith('"""rescuekit - ')  # the tool's own docstring comes first
    assert lines[-1] == "sys.exit(main())"        # main() on the very last line
    import ast
    assert ast.get_docstring(ast.parse(text)).startswith("rescuekit - ")


def test_version_hash_matches_the_checkout(fresh_build):
    from shared import version
    out = subprocess.check_output([sys.executable, os.path.join(fresh_build, "rescuekit.py"), "--version"],
                                  universal_newlines=True)
    assert out.strip() == version.version_line("rescuekit")


def test_truncated_download_never_runs(fresh_build):
    path = os.path.join(fresh_build, "rescuekit.py")
    with open(path, "rb") as handle:
        data = handle.read()
    cuts = [len(data) * k // 10 for k in range(1, 10)] + [len(data) - len(b"sys.exit(main())\n")]
    for cut in cuts:
        proc = subprocess.run([sys.executable, "-", "list"], input=data[:cut], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        assert proc.stdout == b"", "a file cut at byte %d ran: %r" % (cut, proc.stdout[:200])


def test_tracebacks_point_at_the_original_files(fresh_build, tmp_path):
    # Make the embedded dispatcher fail inside a shared module and look at the traceback.
    env = dict(os.environ, PYTHONPATH="")
    script = os.path.join(fresh_build, "rescuekit.py")
    with open(script, encoding="utf-8") as handle:
        text = handle.read()
    assert text.count("    if tool == PROJECT:\n") == 1
    broken = text.replace("    if tool == PROJECT:\n", "    1 / 0\n    if tool == PROJECT:\n")
    target = tmp_path / "broken.py"
    target.write_text(broken, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(target), "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env)
    assert "ZeroDivisionError" in proc.stderr
    assert 'File "shared/version.py", line' in proc.stderr
    assert "1 / 0" in proc.stderr  # the source line is shown from memory
