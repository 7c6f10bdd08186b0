"""The static rescuekit binary runs with nothing around it.

Each case builds an otherwise empty chroot holding only ``/rescuekit`` (and
``/proc``, plus the directories the case is about) and runs the binary in it,
so any dependency on the host's Python, libc or ``/tmp`` shows up as a
failure.  Needs ``dist/rescuekit`` (``nox -s binaries``) and root (chroot,
mount); skipped otherwise.

Kept importable on Python 3.6: no ``capture_output``/``text`` in subprocess.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(REPO, "dist", "rescuekit")
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHROOT = shutil.which("chroot", path=SBIN_PATH)
MOUNT = shutil.which("mount", path=SBIN_PATH)
UMOUNT = shutil.which("umount", path=SBIN_PATH)
NO_ROOM = "rescuekit: no writable directory to unpack into (tried $TMPDIR"

pytestmark = pytest.mark.skipif(
    not os.path.isfile(BINARY), reason="static binary not built: run nox -s binaries")

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not (CHROOT and MOUNT and UMOUNT),
    reason="needs root with chroot and mount: the test builds a chroot and mounts /proc")


def run(cmd, env=None, cwd=None):
    return subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)


class Root:
    """An otherwise empty directory tree to chroot into; unmounts everything."""

    def __init__(self, tmpfs=False):
        self.base = tempfile.mkdtemp(prefix="rescuekit-chroot-")
        self.path = os.path.join(self.base, "root")
        os.mkdir(self.path)
        os.chmod(self.path, 0o755)
        self.mounts = []
        if tmpfs:
            # A root of its own, so it can be made read-only below.
            self.mount("-t", "tmpfs", "-o", "size=256m,mode=755", "tmpfs", "")
        shutil.copyfile(BINARY, self.host("rescuekit"))
        os.chmod(self.host("rescuekit"), 0o755)

    def host(self, path):
        return os.path.join(self.path, path.lstrip("/"))

    def mkdir(self, path):
        os.makedirs(self.host(path))

    def mount(self, *args):
        target = self.host(args[-1])
        subprocess.check_call([MOUNT] + list(args[:-1]) + [target])
        self.mounts.append(target)

    def mount_proc(self):
        self.mkdir("/proc")
        self.mount("-t", "proc", "proc", "/proc")

    def read_only(self):
        subprocess.check_call([MOUNT, "-o", "remount,ro", self.path])

    def run(self, args, tmpdir=None, debug=True):
        env = {"PATH": SBIN_PATH}
        if tmpdir is not None:
            env["TMPDIR"] = tmpdir
        if debug:
            env["RESCUEKIT_DEBUG_UNPACK"] = "1"
        return run([CHROOT, self.path, "/rescuekit"] + list(args), env=env)

    def leftovers(self, path):
        names = os.listdir(self.host(path))
        return [n for n in names if n.startswith(("staticx-", "_MEI", ".rescuekit-"))]

    def close(self):
        busy = []
        for target in reversed(self.mounts):
            if subprocess.call([UMOUNT, target]) != 0:
                if subprocess.call([UMOUNT, "-l", target]) != 0:
                    busy.append(target)
        self.mounts = []
        if busy:
            # Never delete through a mount that is still there.
            pytest.fail("could not unmount " + ", ".join(busy))
        shutil.rmtree(self.base)


@pytest.fixture
def make_root():
    roots = []

    def make(tmpfs=False):
        root = Root(tmpfs=tmpfs)
        roots.append(root)
        return root

    try:
        yield make
    finally:
        for root in roots:
            root.close()


def source_tool_names():
    """First word of each line `rescuekit list` prints when run from source."""
    proc = run([sys.executable, "-c",
                "import sys; from scripts.rescuekit import main; sys.exit(main(['list']))"],
               cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def test_binary_is_static():
    readelf = shutil.which("readelf")
    if readelf:
        headers = run([readelf, "-l", BINARY]).stdout
        assert "Program Headers" in headers
        assert "INTERP" not in headers
    else:
        assert "statically linked" in run(["file", "-L", BINARY]).stdout


@needs_root
def test_runs_in_empty_chroot_with_only_tmp(make_root):
    root = make_root()
    root.mkdir("/tmp")
    root.mount_proc()

    version = root.run(["--version"])
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("rescuekit "), version.stdout
    assert "rescuekit: unpacking into /tmp" in version.stderr

    listing = root.run(["list"])
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.strip(), "list printed nothing"
    for name in source_tool_names():
        assert name in listing.stdout, name
    assert root.leftovers("/tmp") == []


# (name, TMPDIR, read-only root?, mounts to add, where it must unpack, refusal)
FALLBACKS = [
    ("no-tmp-only-dev-shm", None, True, [("/dev/shm", "")], "/dev/shm", None),
    ("no-tmp-only-run", None, True, [("/run", "")], "/run", None),
    ("only-cwd", None, False, [], "/", None),
    ("tmpdir-first", "/scratch", True, [("/scratch", ""), ("/dev/shm", "")], "/scratch", None),
    ("tmpdir-noexec", "/tmp", True, [("/tmp", "noexec"), ("/run", "")], "/run", "noexec"),
    ("tmpdir-full", "/tmp", True, [("/tmp", "size=1m"), ("/run", "")], "/run", "full"),
    ("tmpdir-read-only", "/tmp", True, [("/tmp", "ro"), ("/run", "")], "/run", "read-only"),
    ("tmpdir-missing", "/tmp", True, [("/dev/shm", "")], "/dev/shm", "missing"),
]


@needs_root
@pytest.mark.parametrize("name,tmpdir,ro_root,mounts,expected,refusal", FALLBACKS,
                         ids=[case[0] for case in FALLBACKS])
def test_unpack_fallback(make_root, name, tmpdir, ro_root, mounts, expected, refusal):
    root = make_root(tmpfs=True)
    for path, _options in mounts:
        root.mkdir(path)
    root.mkdir("/proc")
    if ro_root:
        root.read_only()
    root.mount("-t", "proc", "proc", "/proc")
    for path, options in mounts:
        opts = ["-o", options] if options else []
        root.mount(*(["-t", "tmpfs"] + opts + ["tmpfs", path]))

    proc = root.run(["--version"], tmpdir=tmpdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("rescuekit "), proc.stdout
    assert "rescuekit: unpacking into " + expected + "\n" in proc.stderr, proc.stderr
    if refusal:
        assert "not unpacking into $TMPDIR (" + tmpdir + "): " + refusal in proc.stderr
    assert root.leftovers(expected) == []


@needs_root
def test_says_so_when_nowhere_is_writable(make_root):
    root = make_root(tmpfs=True)
    root.mkdir("/tmp")
    root.mkdir("/proc")
    root.read_only()
    root.mount("-t", "proc", "proc", "/proc")
    root.mount("-t", "tmpfs", "-o", "noexec", "tmpfs", "/tmp")

    proc = root.run(["--version"], tmpdir="/tmp", debug=False)
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(NO_ROOM), lines[0]
    assert lines[0].endswith("mount a tmpfs or set TMPDIR"), lines[0]


@needs_root
def test_says_so_without_proc(make_root):
    root = make_root()
    root.mkdir("/tmp")

    proc = root.run(["--version"], debug=False)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "/proc" in lines[0], proc.stderr


@needs_root
def test_answers_to_a_tool_name_through_a_symlink(make_root):
    """busybox style: the launcher hands the dispatcher the name it was called by,
    which staticx would otherwise replace with the path of its unpacked copy."""
    sys.path.insert(0, REPO)
    try:
        from scripts import rescuekit
    finally:
        sys.path.remove(REPO)
    names = rescuekit.tool_names()
    if not names:
        pytest.skip("no tools registered in scripts/rescuekit.py yet")
    tool = names[0]
    root = make_root()
    root.mkdir("/tmp")
    root.mount_proc()
    os.symlink("rescuekit", root.host(tool))

    direct = run([CHROOT, root.path, "/rescuekit", tool, "--help"], env={"PATH": SBIN_PATH})
    linked = run([CHROOT, root.path, "/" + tool, "--help"], env={"PATH": SBIN_PATH})
    assert direct.returncode == 0, direct.stderr
    assert linked.returncode == 0, linked.stderr
    assert linked.stdout == direct.stdout
    assert tool in linked.stdout
