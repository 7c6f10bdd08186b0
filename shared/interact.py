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
    import os
    try:
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise ToolError("this needs confirmation and there is no terminal to ask on",
                        fix="rerun with --yes to go ahead", code=EXIT_USAGE)
    try:
        os.write(fd, ("%s [y/N] " % question).encode("utf-8", "replace"))
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(fd, 1)
            if not chunk:
                break
            answer += chunk
    finally:
        os.close(fd)
    return answer.decode("utf-8", "replace").strip().lower() in ("y", "yes")


def ask(question, tty_path="/dev/tty"):
    """One line typed on the terminal (stripped), or None at end of input (Ctrl-D).

    Like ``confirm``: the question and the answer go through /dev/tty, never
    stdin; raises ToolError (usage) when there is no terminal.
    """
    import os
    try:
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise ToolError("this needs an answer and there is no terminal to ask on",
                        fix="give the options on the command line instead", code=EXIT_USAGE)
    try:
        os.write(fd, question.encode("utf-8", "replace"))
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(fd, 1)
            if not chunk:
                if not answer:
                    return None
                break
            answer += chunk
    finally:
        os.close(fd)
    return answer.decode("utf-8", "replace").strip()
