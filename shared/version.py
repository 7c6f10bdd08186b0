"""Version and source identity.

A commit id cannot live inside a file that must regenerate byte-for-byte
from the sources, so builds identify themselves by a hash of the sources
they contain.  The single-file build provides ``_buildinfo`` with the hash
computed at build time; in a checkout or an installed package the same hash
is computed from the files next to this one, with the same function the
builder uses, so both forms agree.
"""

import hashlib
import os

VERSION = "0.1.0"
PROJECT = "rescuekit"


def hash_sources(named_sources):
    """Hash an iterable of (module name, source text) pairs, order-independent."""
    digest = hashlib.sha256()
    for name, text in sorted(named_sources):
        data = text.encode("utf-8")
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(str(len(data)).encode("ascii") + b"\0")
        digest.update(data)
    return digest.hexdigest()[:12]


def _sources_on_disk():
    """(module name, text) for every module of the tree this file sits in.

    In a checkout the tools sit in scripts/ beside shared/; installed with
    pip they are the package (rescuekit/) that holds shared/.  Either way
    they are named scripts.<tool>, as in the build.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    scripts = os.path.join(top, "scripts")
    if not os.path.isdir(scripts):
        scripts = top
    pairs = []
    for package, folder in (("shared", here), ("scripts", scripts)):
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py") or name == "_buildinfo.py":
                continue
            module = name[:-3]
            qualified = package if module == "__init__" else package + "." + module
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    pairs.append((qualified, handle.read()))
            except (IOError, OSError, UnicodeDecodeError):
                continue
    return pairs


def source_hash():
    """The hash of the sources this program runs from."""
    try:
        from . import _buildinfo  # present only in built single files

        return _buildinfo.SOURCE_HASH
    except ImportError:
        pass
    return hash_sources(_sources_on_disk())


def version_line(tool):
    """What ``--version`` prints: tool, version and source hash."""
    if tool == PROJECT:
        return "%s %s (sources %s)" % (PROJECT, VERSION, source_hash())
    return "%s %s (%s, sources %s)" % (tool, VERSION, PROJECT, source_hash())
