"""Interpreters for the artifact smoke tests: every Python found, 2.7 for the refusal."""

import glob
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")


def find_interpreters():
    """{'3.6': path, ...} from PATH and pyenv's versions folder."""
    found = {}
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = []
    for minor in ["2.7"] + ["3.%d" % n for n in range(5, 15)]:
        candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", minor + ".*", "bin", "python" + minor)))
        which = shutil.which("python" + minor)
        if which:
            candidates.append(which)
    for path in candidates + ["/usr/bin/python3"]:
        if not os.path.exists(path):
            continue
        try:
            out = subprocess.check_output([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        version = out.strip()
        found.setdefault(version, path)
    return found


INTERPRETERS = find_interpreters()
MODERN = sorted((v for v in INTERPRETERS if tuple(map(int, v.split("."))) >= (3, 6)),
                key=lambda v: tuple(map(int, v.split("."))))
OLD = sorted(v for v in INTERPRETERS if tuple(map(int, v.split("."))) < (3, 6))
