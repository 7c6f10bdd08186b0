"""Developer sessions.  Plain `nox` runs lint, tests, artifacts and binaries.

    nox -s tests            the suite on every Python 3.6 ... 3.13 found
    nox -s lint             ruff (pyflakes rules) and vermin (3.6 compatibility)
    nox -s build            regenerate build/ (commit the result)
    nox -s artifacts        run every built form the ways users do
    nox -s binaries         PyInstaller + staticx static binary in dist/
    nox -s bench            our tools against the reference tools, with ratios

Interpreters are looked up on PATH and in pyenv's versions folder, so a
machine with pyenv needs no `pyenv global` juggling.
"""

import glob
import os
import shutil

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))
ALL_PYTHONS = ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def _add_pyenv_to_path():
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    folders = sorted(glob.glob(os.path.join(pyenv_root, "versions", "*", "bin")))
    if folders:
        os.environ["PATH"] = os.pathsep.join(folders + [os.environ.get("PATH", "")])


_add_pyenv_to_path()
PYTHONS = [version for version in ALL_PYTHONS if shutil.which("python" + version)]

nox.options.sessions = ["lint", "tests", "artifacts", "binaries"]
nox.options.error_on_missing_interpreters = False
# 3.6 venvs: virtualenv dropped support for creating them; the stdlib venv works.
nox.options.default_venv_backend = "venv"


def install_pytest(session):
    if session.python == "3.6":
        # 3.6 ships pip 18, which cannot pick versions that still support 3.6.
        session.run("python", "-m", "pip", "install", "-q", "-U", "pip<22")
        session.install("-q", "pytest<7.1")
    else:
        session.install("-q", "pytest")


@nox.session(python=PYTHONS)
def tests(session):
    """The test suite (unit, fixture, policy, build reproducibility, load)."""
    install_pytest(session)
    session.run("python", "-m", "pytest", "-q", *(session.posargs or ["tests"]))


@nox.session(python=False)
def lint(session):
    """ruff for mistakes, vermin for anything newer than Python 3.6."""
    session.run("python3", "-m", "pip", "install", "-q", "ruff==0.17.5", "vermin==1.9.2", external=True)
    session.run("python3", "-m", "ruff", "check", "--select", "E9,F", "--line-length", "120",
                "shared", "scripts", "tests", "devtools", "noxfile.py", external=True)
    session.run("vermin", "--no-tips", "--violations", "-t=3.6-", "--eval-annotations",
                "--backport", "typing", "shared", "scripts", external=True)


@nox.session(python=False)
def build(session):
    """Regenerate build/ from the sources."""
    session.run("python3", "devtools/build.py", external=True)


@nox.session(python=False)
def artifacts(session):
    """Smoke-test every built form with every interpreter present (2.7 for the refusal)."""
    session.run("python3", "devtools/build.py", "--check", external=True)
    session.run("python3", "-m", "pip", "install", "-q", "pytest", external=True)
    # The static binary has its own session (it must be built first).
    session.run("python3", "-m", "pytest", "-q", "tests/artifacts", "--ignore=tests/artifacts/test_binary.py",
                *session.posargs, external=True)


@nox.session(python=False)
def binaries(session):
    """Static binary (PyInstaller + staticx, from the distribution's Python)."""
    if not os.path.exists("/usr/bin/python3"):
        session.skip("no /usr/bin/python3: static binaries are built from the distribution's Python "
                     "(staticx refuses interpreters with an RPATH, such as pyenv's)")
    session.run("/usr/bin/python3", "devtools/binary.py", "--out", "dist", external=True)
    session.run("python3", "-m", "pip", "install", "-q", "pytest", external=True)
    session.run("python3", "-m", "pytest", "-q", "tests/artifacts/test_binary.py", external=True)


@nox.session(python=False)
def bench(session):
    """Time our tools against the reference tools on the same input, print ratios.

    `nox -s bench` runs every devtools/bench_<tool>.py; `nox -s bench -- oops bootlog`
    runs the named ones.  Each prints one summary line per comparison with the ratio.
    """
    scripts = sorted(glob.glob(os.path.join(ROOT, "devtools", "bench_*.py")))
    if session.posargs:
        wanted = set(session.posargs)
        scripts = [s for s in scripts if os.path.basename(s)[len("bench_"):-3] in wanted]
    if not scripts:
        session.skip("no benchmarks match")
    for script in scripts:
        session.run("python3", script, external=True)
