"""rescuekit command-line tools: thin faces over the engines in ``shared``.

In a checkout this package is ``scripts`` beside ``shared``.  Installed with
pip it is ``rescuekit`` with the engines at ``rescuekit.shared``; the alias
below lets the tools keep importing ``shared`` in every form.
"""

import sys

if __name__ != "scripts" and "shared" not in sys.modules:
    from . import shared as _shared

    sys.modules["shared"] = _shared
