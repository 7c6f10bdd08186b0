"""One way to run external commands.

Always a timeout, never a shell, output capped, ``LC_ALL=C`` so parsers
see the same words on every box, and a missing binary reported as "not
available" rather than an exception.  Python 3.6 APIs only
(``universal_newlines`` instead of ``text=``, PIPE instead of
``capture_output``).

Tests replace the runner with a ``RecordingRunner`` so that nothing touches
the real system and every command a tool would run can be asserted.
"""

import collections
import os
import signal
import subprocess
import time

from . import manners

DEFAULT_TIMEOUT = 30.0
DEFAULT_CAP = 4 * 1024 * 1024

CommandResult = collections.namedtuple(
    "CommandResult", "argv rc stdout stderr duration status")
CommandResult.__doc__ = """What a command did.

status: "ok" (ran, rc 0), "failed" (ran, rc != 0), "not available"
(binary missing or not executable), "timeout" (killed), "error" (could
not start for another reason; stderr says why).  rc is None unless it ran."""


def _available(result):
    return result.status not in ("not available", "error")


CommandResult.available = property(_available)
CommandResult.ok = property(lambda self: self.status == "ok")


def command_env(extra=None):
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def _read_capped(stream, cap):
    data = stream.read(cap)
    # Drain the rest so the child is not blocked on a full pipe.
    while stream.read(1 << 16):
        pass
    return data


def run(argv, timeout=DEFAULT_TIMEOUT, cap=DEFAULT_CAP, stdin_data=None, env=None, cwd=None, memory_limit=None):
    """Run ``argv`` (a list) and return a CommandResult; never raises for the command's sake.

    ``memory_limit``: an address-space cap in bytes for the child (manners.child_limits)."""
    argv = [str(a) for a in argv]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=command_env(env),
            cwd=cwd,
            close_fds=True,
            start_new_session=True,
            preexec_fn=manners.child_limits(memory_limit),
        )
    except (FileNotFoundError, NotADirectoryError):
        return CommandResult(argv, None, "", "%s: not available" % argv[0], 0.0, "not available")
    except PermissionError:
        return CommandResult(argv, None, "", "%s: not executable" % argv[0], 0.0, "not available")
    except OSError as error:
        return CommandResult(argv, None, "", "%s: %s" % (argv[0], error), 0.0, "error")
    try:
        out, err = process.communicate(
            input=stdin_data.encode("utf-8") if isinstance(stdin_data, str) else stdin_data,
            timeout=timeout)
        status = "ok" if process.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        status = "timeout"
    except KeyboardInterrupt:
        _kill_group(process)
        process.wait()
        raise
    duration = time.monotonic() - started
    stdout = out[:cap].decode("utf-8", "replace")
    stderr = err[:cap].decode("utf-8", "replace")
    if len(out) > cap:
        stdout += "\n[output cut at %d bytes]\n" % cap
    return CommandResult(argv, process.returncode if status != "timeout" else None,
                         stdout, stderr, duration, status)


def spawn(argv, stdout_path, stderr_path=None, env=None, cwd=None):
    """Start a long-running child (sysstat beside a recording) writing to files.

    Same rules as ``run``: no shell, ``LC_ALL=C``, its own session (so
    ``stop_child`` can end it and anything it forked, by its PID), our
    memory cap lifted.  Returns ``(process, None)`` or ``(None, status
    text)`` with "not available" when the binary is missing.
    """
    argv = [str(a) for a in argv]
    try:
        out = open(stdout_path, "ab")
    except OSError as error:
        return None, "error: %s: %s" % (stdout_path, error.strerror or error)
    try:
        err = open(stderr_path, "ab") if stderr_path else subprocess.STDOUT
    except OSError as error:
        out.close()
        return None, "error: %s: %s" % (stderr_path, error.strerror or error)
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   env=command_env(env), cwd=cwd, close_fds=True, start_new_session=True,
                                   preexec_fn=manners.child_setup if manners.memory_capped() else None)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None, "not available"
    except OSError as error:
        return None, "error: %s" % error
    finally:
        out.close()
        if err is not subprocess.STDOUT:
            err.close()
    return process, None


def stop_child(process, timeout=5.0):
    """End a child started by ``spawn``: SIGTERM to its process group (its PID), then SIGKILL."""
    if process.poll() is not None:
        return process.returncode
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.killpg(process.pid, sig)
        except OSError:
            try:
                process.send_signal(sig)
            except OSError:
                pass
        try:
            return process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    return process.poll()


def _kill_group(process):
    # The child runs in its own session: kill its whole group, since tools
    # like journalctl spawn pagers and helpers that would outlive it.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        try:
            process.kill()
        except OSError:
            pass


def which(name, path=None):
    """Full path of an executable on PATH (or the given path string), else None."""
    for folder in (path or os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")).split(os.pathsep):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class RecordingRunner(object):
    """A runner for tests: records every call and answers from a table.

    ``responses`` maps a command string (argv joined by spaces) or its
    first word to a CommandResult-like tuple ``(rc, stdout, stderr)``;
    anything else is "not available".  ``fail`` names commands that
    return rc 1 to inject failures.
    """

    def __init__(self, responses=None, fail=()):
        self.responses = dict(responses or {})
        self.fail = set(fail)
        self.calls = []

    def __call__(self, argv, timeout=DEFAULT_TIMEOUT, cap=DEFAULT_CAP, stdin_data=None, env=None, cwd=None,
                 memory_limit=None):
        argv = [str(a) for a in argv]
        line = " ".join(argv)
        self.calls.append(line)
        if line in self.fail or argv[0] in self.fail:
            return CommandResult(argv, 1, "", "injected failure", 0.0, "failed")
        answer = self.responses.get(line, self.responses.get(argv[0]))
        if answer is None:
            return CommandResult(argv, None, "", "%s: not available" % argv[0], 0.0, "not available")
        rc, out, err = answer
        return CommandResult(argv, rc, out, err, 0.0, "ok" if rc == 0 else "failed")


# (The lead renamed this from a second `spawn`, which silently replaced the
# file-writing `spawn` above; keep names unique in this module.)
def stream_output(argv, env=None):
    """Start ``argv`` with its stdout as a pipe for streaming (no shell, LC_ALL=C,
    own session); None when it cannot start.  End it with ``finish_stream``."""
    try:
        return subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=command_env(env), close_fds=True, start_new_session=True,
                                preexec_fn=manners.child_setup if manners.memory_capped() else None)
    except OSError:
        return None


def filter_process(argv, env=None):
    """Start ``argv`` with stdin AND stdout as pipes (a filter such as grep fed by
    the caller; no shell, LC_ALL=C, own session, stderr discarded); None when it
    cannot start.  The caller must drain stdout while it writes (a thread) and
    end it with ``finish_stream`` after closing stdin."""
    try:
        return subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=command_env(env), close_fds=True, start_new_session=True,
                                preexec_fn=manners.child_setup if manners.memory_capped() else None)
    except OSError:
        return None


def finish_stream(process, timeout=10.0):
    """Close a ``stream_output`` process: drain, wait (kill its group after ``timeout``);
    returns None when it exited 0, else a one-line problem."""
    try:
        process.stdout.close()
    except OSError:
        pass
    try:
        err = process.stderr.read(65536)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
        return "did not finish in %d s (killed)" % timeout
    finally:
        try:
            process.stderr.close()
        except OSError:
            pass
    if process.returncode not in (0, None) and process.returncode != -13:
        text = err.decode("utf-8", "replace").strip().splitlines()
        return "exit status %d%s" % (process.returncode, (": " + text[-1][:200]) if text else "")
    return None
