"""Asking the user, without ever reading the program from stdin.

Under ``curl ... | python3 -`` stdin *is* the program: a prompt there would
eat it.  Questions go to /dev/tty when it exists; with no terminal the
caller must have been given ``--yes``.
"""

from .cli import EXIT_USAGE, ToolError


def confirm(question, assume_yes=False, tty_path="/dev/tty"):
    """True when the user agrees (or assume_yes); raises ToolError without a terminal."""
    if assume_yes:
        return True
    try:
        tty = open(tty_path, "r+")
    except OSError:
        raise ToolError("this needs confirmation and there is no terminal to ask on",
                        fix="rerun with --yes to go ahead", code=EXIT_USAGE)
    with tty:
        tty.write("%s [y/N] " % question)
        tty.flush()
        answer = tty.readline().strip().lower()
    return answer in ("y", "yes")
