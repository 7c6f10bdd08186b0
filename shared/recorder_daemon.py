"""Running perfcollect in the background, and finding it again.

* ``lock(dir)``: one recorder per directory (``flock`` on perfcollect.lock).
* ``daemonize(dir, body)``: double fork, ``setsid``, stdin from /dev/null,
  stdout/stderr to ``dir/perfcollect.log``; the parent returns only when
  the daemon reports that it started (or why it could not).
* The pid file ``dir/perfcollect.pid`` holds the PID and the process's
  start time (field 22 of /proc/PID/stat), so a reused PID is recognised.
* ``verify(dir)``: the PID of the pid file is a perfcollect recording into
  ``dir`` -- alive, same start time, its command line names perfcollect (or
  its name was set to it) and the directory (or it holds the lock file
  open).  ``stop`` signals only a verified PID, never anything by name.
* ``SysstatChildren``: sar and pidstat beside a recording, each in its own
  process group, ended by their PIDs.
"""

import ctypes
import os
import signal
import sys
import time

from . import lockfile, perf_format
from . import runner as runner_module
from .procfs import ProcFS


class DaemonError(Exception):
    """Cannot start, stop or find a recorder; the message names the cause and fix."""

    def __init__(self, what, fix=None):
        Exception.__init__(self, what)
        self.what = what
        self.fix = fix


# ---------------------------------------------------------------- lock and pid file

def lock(directory):
    """Hold the directory's lock; raises DaemonError naming the holder when taken."""
    path = os.path.join(directory, perf_format.LOCKFILE)
    try:
        fd = lockfile.try_lock(path)
    except OSError as error:
        raise DaemonError("cannot create %s (%s)" % (path, error.strerror or error),
                          "choose a folder you can write with --out")
    if fd is None:
        holder = read_pidfile(directory)
        raise DaemonError("%s is already being recorded%s" % (
            directory, " by pid %d" % holder[0] if holder else ""),
            "stop it first ('perfcollect stop %s') or record into another folder" % directory)
    return fd


def unlock(fd):
    lockfile.release(fd)


def is_locked(directory):
    """True when some process holds the directory's lock (a recorder runs)."""
    return lockfile.is_held(os.path.join(directory, perf_format.LOCKFILE))


def process_start(pid, pfs=None):
    """Start time of a process (clock ticks after boot), or None when it is gone."""
    stat = (pfs or ProcFS("/")).pid_stat(pid)
    return stat.get("starttime") if stat else None


def write_pidfile(directory, pid=None):
    pid = pid or os.getpid()
    path = os.path.join(directory, perf_format.PIDFILE)
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write("%d\nstarttime %s\n" % (pid, process_start(pid)))
    os.rename(temporary, path)
    return path


def read_pidfile(directory):
    """(pid, starttime or None) from the pid file, or None."""
    try:
        with open(os.path.join(directory, perf_format.PIDFILE)) as handle:
            lines = handle.read(4096).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        return None
    start = None
    for line in lines[1:]:
        words = line.split()
        if len(words) == 2 and words[0] == "starttime" and words[1].isdigit():
            start = int(words[1])
    return (pid, start) if pid > 1 else None


def remove_pidfile(directory, pid=None):
    current = read_pidfile(directory)
    if current and (pid is None or current[0] == pid):
        try:
            os.unlink(os.path.join(directory, perf_format.PIDFILE))
        except OSError:
            pass


def verify(directory, pfs=None):
    """(pid, None) when the pid file names a live perfcollect of ``directory``; else (pid or None, why)."""
    pfs = pfs or ProcFS("/")
    directory = os.path.realpath(directory)
    entry = read_pidfile(directory)
    if entry is None:
        return None, "no pid file (%s)" % os.path.join(directory, perf_format.PIDFILE)
    pid, start = entry
    stat = pfs.pid_stat(pid)
    if stat is None:
        return pid, "pid %d is not running (a stale pid file: the recorder was killed or crashed)" % pid
    if start is not None and stat.get("starttime") != start:
        return pid, "pid %d is another process now (the recorder ended and the pid was reused)" % pid
    cmdline = pfs.pid_cmdline(pid) or []
    comm = (pfs.read("proc/%d/comm" % pid) or "").strip()
    named = comm == "perfcollect" or any("perfcollect" in word for word in cmdline)
    if not named:
        return pid, "pid %d is not perfcollect (%s)" % (pid, " ".join(cmdline)[:120] or comm)
    if not (_holds_lock(pfs, pid, directory) or _names_directory(pfs, pid, cmdline, directory)):
        return pid, "pid %d is a perfcollect of another folder" % pid
    return pid, None


def _holds_lock(pfs, pid, directory):
    lock_path = os.path.join(directory, perf_format.LOCKFILE)
    for fd in pfs.listdir("proc/%d/fd" % pid):
        if pfs.readlink("proc/%d/fd/%s" % (pid, fd)) == lock_path:
            return True
    return False


def _names_directory(pfs, pid, cmdline, directory):
    cwd = pfs.readlink("proc/%d/cwd" % pid) or "/"
    for word in cmdline:
        value = word.split("=", 1)[1] if word.startswith("--out=") else word
        if not value or value.startswith("-"):
            continue
        candidate = value if os.path.isabs(value) else os.path.join(cwd, value)
        try:
            if os.path.realpath(candidate) == directory:
                return True
        except (OSError, ValueError):
            continue
    return False


def set_process_name(name="perfcollect"):
    """Set /proc/self/comm (what ps and top show); best effort."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name.encode("ascii")[:15]), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- start / stop / status

def daemonize(directory, body, log_name=perf_format.LOGFILE):
    """Run ``body(notify)`` in a detached daemon; return its PID once it reports.

    ``notify(ok, message)`` must be called by the body once it has started
    (or failed); the parent waits for it (or for the daemon to die).
    Raises DaemonError with the daemon's message when it could not start.
    """
    read_end, write_end = os.pipe()
    first = os.fork()
    if first > 0:
        os.close(write_end)
        chunks = []
        while True:
            try:
                data = os.read(read_end, 4096)
            except InterruptedError:
                continue
            if not data:
                break
            chunks.append(data)
        os.close(read_end)
        try:
            os.waitpid(first, 0)
        except ChildProcessError:
            pass
        message = b"".join(chunks).decode("utf-8", "replace")
        if message.startswith("ok "):
            return int(message.split()[1])
        if message.startswith("error "):
            text = message[6:]
            what, _, fix = text.partition("\t")
            raise DaemonError(what, fix or None)
        raise DaemonError("the recorder died while starting (see %s)" % os.path.join(directory, log_name),
                          "run 'perfcollect run' in the foreground to see why")
    # first child: new session, then fork again so the daemon is no session leader
    code = 1
    try:
        os.close(read_end)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        os.chdir("/")
        os.umask(0o022)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        try:
            log = os.open(os.path.join(directory, log_name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            log = os.open(os.devnull, os.O_WRONLY)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        state = {"done": False}

        def notify(ok, message="", fix=""):
            if state["done"]:
                return
            state["done"] = True
            text = ("ok %d" % os.getpid()) if ok else ("error %s\t%s" % (message, fix or ""))
            try:
                os.write(write_end, text.encode("utf-8", "replace"))
            except OSError:
                pass
            os.close(write_end)

        set_process_name()
        code = body(notify) or 0
        notify(False, "the recorder ended while starting", "see %s" % os.path.join(directory, log_name))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException as error:  # the daemon must never fall back into the caller's code
        try:
            sys.stderr.write("perfcollect: daemon failed: %s: %s\n" % (type(error).__name__, error))
            sys.stderr.flush()
        except Exception:
            pass
    finally:
        os._exit(code if isinstance(code, int) else 1)


def stop(directory, timeout=15.0, pfs=None, kill=os.kill, poll=0.1):
    """SIGTERM to the verified recorder of ``directory``; wait until it is gone.

    Returns the PID.  Raises DaemonError when there is nothing (verified)
    to stop, or when it did not end in ``timeout`` seconds.
    """
    pfs = pfs or ProcFS("/")
    pid, why = verify(directory, pfs)
    if why is not None:
        raise DaemonError("nothing to stop in %s: %s" % (directory, why),
                          "check 'perfcollect status %s'; nothing was signalled" % directory)
    start = process_start(pid, pfs)
    kill(pid, signal.SIGTERM)
    waited = 0.0
    while waited < timeout:
        current = process_start(pid, pfs)
        if current is None or current != start:
            return pid
        stat = pfs.pid_stat(pid)
        if stat and stat.get("state") == "Z":
            return pid
        time.sleep(poll)
        waited += poll
    raise DaemonError("pid %d did not stop within %.0f s" % (pid, timeout),
                      "it may be stuck on a hung disk; wait, or 'kill -9 %d' (the records written so far "
                      "stay readable)" % pid)


# ---------------------------------------------------------------- sysstat beside us

class SysstatChildren(object):
    """sar (binary data file) and pidstat (text) for the same window, killed by PID."""

    def __init__(self, directory, interval, spawn=None, which=None):
        self.folder = os.path.join(directory, perf_format.SYSSTAT)
        self.interval = max(1, int(round(interval)))
        self.spawn = spawn or runner_module.spawn
        self.which = which or runner_module.which
        self.children = []
        self.stopped_for_budget = False

    def commands(self):
        return (
            ("sar", ["sar", "-A", "-o", os.path.join(self.folder, "sa.data"), str(self.interval)], "sar.txt"),
            ("pidstat", ["pidstat", "-h", "-u", "-r", "-d", "-w", "-l", str(self.interval)], "pidstat.txt"),
        )

    def start(self):
        """(names started, [problem lines])."""
        problems = []
        started = []
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as error:
            return [], ["--with-sysstat: cannot create %s (%s)" % (self.folder, error.strerror or error)]
        for name, argv, out_name in self.commands():
            if not self.which(argv[0]):
                problems.append("--with-sysstat: %s not available (install sysstat)" % name)
                continue
            out_path = os.path.join(self.folder, out_name)
            if name == "sar":
                out_path = os.devnull   # the binary file is the record; sar -f reads it
            process, status = self.spawn(argv, out_path, os.path.join(self.folder, name + ".err"))
            if process is None:
                problems.append("--with-sysstat: %s %s" % (name, status))
                continue
            self.children.append((name, process))
            started.append(name)
        return started, problems

    def size(self):
        return perf_format.directory_size(self.folder)

    def check_budget(self, max_size, share=0.25):
        """Stop the children when their files pass ``share`` of the budget; a problem line or None."""
        if self.stopped_for_budget or not self.children:
            return None
        if self.size() > max_size * share:
            self.stop()
            self.stopped_for_budget = True
            return ("--with-sysstat: sysstat output reached %d%% of --max-size; sar and pidstat stopped "
                    "(perfcollect's own recording goes on)" % int(share * 100))
        return None

    def stop(self):
        for _, process in self.children:
            runner_module.stop_child(process)
        self.children = []
