"""Carrying out a kdump plan safely, and taking it back.

* One run at a time: ``<root>/var/lib/rescuekit/kdumpsetup/lock`` (flock).
* Before a file is written or a command that may change files runs, the
  files are copied (bytes, mode, owner) into a timestamped folder next to
  ``journal.json``; the journal is rewritten and fsynced after every step,
  so even a crash half-way leaves a usable record.
* Files are replaced atomically (temporary file in the same folder, fsync,
  rename), keeping mode and owner.
* A failing step, or SIGINT / SIGTERM / SIGHUP, rolls back everything done
  so far (files restored byte for byte, undo commands run in reverse) and
  the error says what state the box is in.  Packages that were installed
  stay installed (removing them could take other packages along); the
  message names the command that removes them.
* ``undo`` restores the files of the last applied run byte for byte and
  runs its undo commands, refusing files changed since (unless forced).
"""

import hashlib
import json
import os
import signal
import time

from . import lockfile, timeparse
from .version import VERSION

STATE_DIR = "var/lib/rescuekit/kdumpsetup"
JOURNAL = "journal.json"


class ApplyError(Exception):
    """A step failed; ``state`` says what the box looks like now."""

    def __init__(self, message, state, journal=None):
        Exception.__init__(self, message)
        self.state = state
        self.journal = journal


class LockError(Exception):
    pass


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum):
        KeyboardInterrupt.__init__(self, "signal %d" % signum)
        self.signum = signum


def sha256(data):
    return hashlib.sha256(data).hexdigest() if data is not None else None


class Lock(object):
    """Exclusive lock file under the root's state folder."""

    def __init__(self, root):
        self.path = os.path.join(root, STATE_DIR, "lock")
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = lockfile.try_lock(self.path)
        if fd is None:
            try:
                with open(self.path) as other:
                    holder = other.read().strip() or "?"
            except OSError:
                holder = "?"
            raise LockError("another kdumpsetup holds %s (pid %s)" % (self.path, holder))
        self.handle = fd
        os.ftruncate(fd, 0)
        os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            try:
                os.ftruncate(self.handle, 0)
            finally:
                lockfile.release(self.handle)
                self.handle = None
        return False


class SignalGuard(object):
    """SIGINT/SIGTERM/SIGHUP raise Interrupted while a transaction runs."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.saved = {}

    def _raise(self, signum, frame):
        raise Interrupted(signum)

    def __enter__(self):
        for signum in self.SIGNALS:
            try:
                self.saved[signum] = signal.signal(signum, self._raise)
            except (ValueError, OSError):   # not the main thread
                pass
        return self

    def hold(self):
        """Ignore the signals (during rollback: it must finish)."""
        for signum in self.saved:
            signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc):
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        return False


def _stamp(now):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def write_atomic(path, data, mode=None, uid=None, gid=None):
    """Replace ``path`` with ``data`` atomically, keeping mode/owner when given."""
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, ".%s.kdumpsetup-%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        if uid is not None and gid is not None:
            try:
                os.chown(tmp, uid, gid)
            except OSError:
                pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Transaction(object):
    """One run of a plan against a root, journalled."""

    def __init__(self, root, runner, now=None, tool="kdumpsetup"):
        self.root = os.path.abspath(root)
        self.runner = runner
        base = os.path.join(self.root, STATE_DIR)
        stamp = _stamp(now if now is not None else time.time())
        folder = os.path.join(base, stamp)
        suffix = 1
        while os.path.exists(folder):
            suffix += 1
            folder = os.path.join(base, "%s-%d" % (stamp, suffix))
        self.folder = folder
        self.journal = {"tool": tool, "version": VERSION, "root": self.root,
                        "started": timeparse.iso_utc(now), "finished": None, "status": "running",
                        "files": [], "commands": [], "packages": [], "created_dirs": [], "log": []}
        self._known = {}
        self.started = False

    # -- journal
    @property
    def journal_path(self):
        return os.path.join(self.folder, JOURNAL)

    def _save(self):
        if not self.started:
            os.makedirs(os.path.join(self.folder, "files"), exist_ok=True)
            self.started = True
        data = json.dumps(self.journal, indent=2, sort_keys=True).encode("utf-8")
        write_atomic(self.journal_path, data, 0o600)

    def host(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    # -- backups
    def backup(self, rel, step):
        """Record a file's state before it may change (once per file per run)."""
        rel = rel.lstrip("/")
        if rel in self._known:
            return self._known[rel]
        path = self.host(rel)
        record = {"path": rel, "existed": False, "backup": None, "mode": None, "uid": None, "gid": None,
                  "before_sha256": None, "after_sha256": None, "changed": False, "step": step}
        if os.path.isfile(path) and not os.path.islink(path):
            stat = os.stat(path)
            with open(path, "rb") as handle:
                data = handle.read()
            record.update(existed=True, mode=stat.st_mode & 0o7777, uid=stat.st_uid, gid=stat.st_gid,
                          before_sha256=sha256(data), backup="files/" + rel)
            self._save()
            target = os.path.join(self.folder, "files", rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            write_atomic(target, data, 0o600)
        elif os.path.lexists(path):
            record["existed"] = True
            record["special"] = True      # a symlink or non-regular file: left alone
        self._known[rel] = record
        self.journal["files"].append(record)
        self._save()
        return record

    def _ensure_dir(self, folder):
        missing = []
        current = folder
        while not os.path.isdir(current):
            missing.append(current)
            current = os.path.dirname(current)
        for item in reversed(missing):
            os.mkdir(item, 0o755)
            self.journal["created_dirs"].append(os.path.relpath(item, self.root))
        if missing:
            self._save()

    def _note_after(self, record):
        path = self.host(record["path"])
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            data = None
        record["after_sha256"] = sha256(data)
        record["changed"] = record["after_sha256"] != record["before_sha256"]

    # -- steps
    def file_step(self, step, index):
        record = self.backup(step.path, index)
        if record.get("special"):
            raise ApplyError("/%s is a symlink or special file; kdumpsetup does not replace it" % step.path,
                             "nothing changed by this step")
        path = self.host(step.path)
        current = None
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                current = handle.read()
        if current != step.before:
            raise ApplyError("/%s changed since the plan was made" % step.path, "re-run to plan again")
        if step.after is None:
            os.unlink(path)
        else:
            self._ensure_dir(os.path.dirname(path))
            write_atomic(path, step.after, record["mode"] if record["mode"] is not None else 0o644,
                         record["uid"], record["gid"])
        self._note_after(record)
        self.journal["log"].append({"step": index, "kind": "file", "path": "/" + step.path, "why": step.why})
        self._save()

    def command_step(self, step, index, runner_env=None):
        records = [self.backup(rel, index) for rel in step.touches]
        entry = {"step": index, "kind": "command", "argv": step.argv, "why": step.why, "rc": None,
                 "undo": step.undo, "packages": step.packages, "status": "running"}
        self.journal["commands"].append(entry)
        self._save()
        if step.env:
            result = self.runner(step.argv, timeout=1800, env=step.env)
        else:
            result = self.runner(step.argv, timeout=1800)
        entry["rc"] = result.rc
        entry["status"] = result.status
        for record in records:
            self._note_after(record)
        if result.status != "ok":
            entry["stderr"] = (result.stderr or "").strip()[-2000:]
            self._save()
            detail = (result.stderr or "").strip().splitlines()
            raise ApplyError("'%s' %s%s" % (step.display(), result.status if result.rc is None else
                                            "failed with exit code %s" % result.rc,
                                            ": " + detail[-1] if detail else ""), None)
        if step.packages:
            self.journal["packages"].extend(step.packages)
        self._save()

    def run(self, steps, guard=None, start_index=0):
        index = start_index
        for step in steps:
            index += 1
            if step.kind == "file":
                self.file_step(step, index)
            else:
                self.command_step(step, index)
        return index

    # -- endings
    def finish(self, status="applied"):
        self.journal["status"] = status
        self.journal["finished"] = timeparse.iso_utc()
        if self.started:
            self._save()

    def rollback(self):
        """Undo everything of this run; returns (restored, problems)."""
        problems = []
        restored = []
        for entry in reversed(self.journal["commands"]):
            if entry.get("status") == "ok":
                for argv in entry.get("undo") or []:
                    result = self.runner(argv, timeout=300)
                    if result.status != "ok":
                        problems.append("undo command '%s' failed" % " ".join(argv))
        for record in reversed(self.journal["files"]):
            ok, message = restore_file(self.root, self.folder, record, force=True)
            if message:
                (restored if ok else problems).append(message)
        remove_created_dirs(self.root, self.journal["created_dirs"])
        return restored, problems


def restore_file(root, folder, record, force=False):
    """Put one journalled file back as it was; (ok, message or None)."""
    if record.get("special") or not record.get("changed"):
        return True, None
    path = os.path.join(root, record["path"])
    current = None
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            current = handle.read()
    if not force and sha256(current) != record.get("after_sha256"):
        return False, "/%s changed after kdumpsetup wrote it; left as is (use --force to restore anyway)" % \
            record["path"]
    if not record["existed"]:
        if current is not None:
            os.unlink(path)
        return True, "removed /%s" % record["path"]
    with open(os.path.join(folder, record["backup"]), "rb") as handle:
        data = handle.read()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, data, record["mode"], record["uid"], record["gid"])
    return True, "restored /%s" % record["path"]


def remove_created_dirs(root, dirs):
    for rel in reversed(dirs):
        try:
            os.rmdir(os.path.join(root, rel))
        except OSError:
            pass


# ------------------------------------------------------------ journals

def list_journals(root):
    """[(folder, journal dict)] oldest first."""
    base = os.path.join(os.path.abspath(root), STATE_DIR)
    found = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    for name in names:
        path = os.path.join(base, name, JOURNAL)
        try:
            with open(path, "rb") as handle:
                found.append((os.path.join(base, name), json.loads(handle.read().decode("utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def undo_last(root, runner, force=False):
    """Undo the newest applied run.  Returns a report dict, or None if there is none."""
    candidates = [(f, j) for f, j in list_journals(root) if j.get("status") in ("applied", "partial")]
    if not candidates:
        return None
    folder, journal = candidates[-1]
    report = {"journal": os.path.join(folder, JOURNAL), "restored": [], "problems": [], "commands": [],
              "packages": list(journal.get("packages") or [])}
    conflicts = []
    for record in journal.get("files", []):
        if record.get("special") or not record.get("changed"):
            continue
        path = os.path.join(root, record["path"])
        current = None
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                current = handle.read()
        if sha256(current) != record.get("after_sha256"):
            conflicts.append("/" + record["path"])
    if conflicts and not force:
        report["problems"].append("changed since kdumpsetup wrote them: %s" % ", ".join(conflicts))
        report["refused"] = True
        return report
    for entry in reversed(journal.get("commands", [])):
        if entry.get("status") != "ok":
            continue
        for argv in entry.get("undo") or []:
            result = runner(argv, timeout=300)
            report["commands"].append({"argv": argv, "status": result.status})
            if result.status != "ok":
                report["problems"].append("'%s' %s" % (" ".join(argv), result.status))
    for record in reversed(journal.get("files", [])):
        ok, message = restore_file(root, folder, record, force=True)
        if message:
            (report["restored"] if ok else report["problems"]).append(message)
    remove_created_dirs(root, journal.get("created_dirs") or [])
    journal["status"] = "undone"
    journal["undone"] = timeparse.iso_utc()
    write_atomic(os.path.join(folder, JOURNAL), json.dumps(journal, indent=2, sort_keys=True).encode("utf-8"),
                 0o600)
    report["refused"] = False
    return report


def packages_note(packages, family):
    if not packages:
        return ""
    remover = {"debian": "apt-get remove", "ubuntu": "apt-get remove", "rhel": "dnf remove",
               "suse": "zypper remove", "arch": "pacman -R"}.get(family, "remove")
    return "%s stay%s installed (remove with: %s %s)" % (
        ", ".join(packages), "s" if len(packages) == 1 else "", remover, " ".join(packages))


def apply(root, runner, plan, replan, live, now=None, announce=None):
    """Run a plan: packages first, then (re-planned on the installed system) the rest.

    ``replan()`` returns a fresh Plan gathered after the packages are in;
    ``announce(kind, payload)`` is told about each phase and step as it
    starts (the CLI prints them).  Returns (journal path, steps run).
    Raises ApplyError (state filled in) or Interrupted after rolling back.
    """
    tx = Transaction(root, runner, now)
    done = []
    with Lock(root):
        with SignalGuard() as guard:
            try:
                installs = plan.install_steps()
                rest = [s for s in plan.steps if s not in installs]
                index = 0
                for step in installs:
                    if announce:
                        announce("step", step)
                    index = tx.run([step], start_index=index)
                    done.append(step)
                if installs:
                    fresh = replan()
                    rest = [s for s in fresh.steps if not (s.kind == "command" and s.phase == "install")]
                    if announce:
                        announce("replan", fresh)
                for step in rest:
                    if step.kind == "command" and step.live_only and not live:
                        continue
                    if announce:
                        announce("step", step)
                    index = tx.run([step], start_index=index)
                    done.append(step)
                tx.finish("applied")
            except BaseException as error:
                guard.hold()
                restored, problems = tx.rollback()
                tx.finish("rolled back" if not problems else "partial")
                state = "every change of this run was rolled back; files are as they were" if not problems \
                    else "rollback incomplete: %s" % "; ".join(problems)
                note = packages_note(tx.journal["packages"], plan.facts.family)
                if note:
                    state += "; " + note
                if isinstance(error, KeyboardInterrupt):
                    interrupted = error if isinstance(error, Interrupted) else Interrupted(signal.SIGINT)
                    interrupted.state = state
                    interrupted.journal = tx.journal_path if tx.started else None
                    raise interrupted
                if isinstance(error, ApplyError):
                    raise ApplyError(str(error), state, tx.journal_path if tx.started else None)
                if isinstance(error, OSError):
                    raise ApplyError("%s: %s" % (getattr(error, "filename", None) or "file",
                                                 error.strerror or error), state,
                                     tx.journal_path if tx.started else None)
                raise
    return (tx.journal_path if tx.started else None), done
