"""rescuekit shared engines: everything that does the work.

Modules here import only the standard library and each other (relative
imports, so the package works under any name: ``shared`` in the repository
and the single-file builds, ``rescuekit.shared`` when installed with pip).
See shared/README.md for the contracts.
"""
