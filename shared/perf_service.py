"""Installing perfcollect as a service: a systemd unit, or cron where there is no systemd.

``plan_install(root, command, args)`` says exactly what would be written
and run; ``apply(plan)`` does it and leaves a receipt
(``/var/lib/perfcollect/service.json``: every file with its SHA-256, every
link); ``plan_uninstall(root)`` reads the receipt and removes exactly
that -- a file changed since is kept and named, the recording itself is
never touched.  Everything is relative to ``root`` (``/`` live, or a
mounted tree for ``--root``); commands (systemctl, the first start) run
only on the live system.
"""

import hashlib
import json
import os
import shlex
import sys
import time

from .version import VERSION

UNIT_NAME = "perfcollect.service"
UNIT_PATH = "etc/systemd/system/" + UNIT_NAME
WANTS_LINK = "etc/systemd/system/multi-user.target.wants/" + UNIT_NAME
CRON_PATH = "etc/cron.d/perfcollect"
RECEIPT = "var/lib/perfcollect/service.json"
MARK = "Written by perfcollect install-service (rescuekit %s)" % VERSION


class ServiceError(Exception):
    def __init__(self, what, fix=None):
        Exception.__init__(self, what)
        self.what = what
        self.fix = fix


class Plan(object):
    def __init__(self, root, init):
        self.root = root
        self.init = init
        self.files = []      # (relative path, content)
        self.links = []      # (relative link, target)
        self.removals = []   # relative paths
        self.kept = []       # (relative path, why)
        self.commands = []   # argv lists (live only)
        self.notes = []
        self.receipt = None
        self.stop_dir = None  # uninstall of a cron service: the recorder to stop

    @property
    def live(self):
        return os.path.abspath(self.root) == "/"

    def to_dict(self):
        return {"root": self.root, "init": self.init,
                "files": [{"path": "/" + p, "content": c} for p, c in self.files],
                "links": [{"path": "/" + p, "target": t} for p, t in self.links],
                "remove": ["/" + p for p in self.removals], "kept": [{"path": "/" + p, "why": w}
                                                                      for p, w in self.kept],
                "commands": [" ".join(shlex.quote(a) for a in c) for c in self.commands], "notes": self.notes}

    def text(self):
        out = []
        where = "" if self.live else " under %s" % self.root
        for path, content in self.files:
            out.append("write /%s%s:" % (path, where))
            out.extend("    " + line for line in content.rstrip("\n").splitlines())
        for path, target in self.links:
            out.append("link  /%s -> %s%s" % (path, target, where))
        for path in self.removals:
            out.append("remove /%s%s" % (path, where))
        for path, why in self.kept:
            out.append("keep  /%s%s (%s)" % (path, where, why))
        for argv in self.commands:
            out.append("run   %s" % " ".join(shlex.quote(a) for a in argv))
        for note in self.notes:
            out.append("note: %s" % note)
        return "\n".join(out) + "\n"


def _in(root, relative):
    return os.path.join(root, relative)


def detect_init(root, live=None):
    """"systemd", "cron" or None for the system at ``root``."""
    live = os.path.abspath(root) == "/" if live is None else live
    if live:
        if os.path.isdir("/run/systemd/system"):
            return "systemd"
    else:
        for path in ("usr/lib/systemd/systemd", "lib/systemd/systemd"):
            if os.path.exists(_in(root, path)):
                return "systemd"
    for path in ("etc/cron.d", "usr/sbin/cron", "usr/sbin/crond", "sbin/crond"):
        if os.path.exists(_in(root, path)):
            return "cron"
    return None


def program_command(explicit=None):
    """The argv prefix that runs perfcollect from a service (no shell)."""
    if explicit:
        return shlex.split(explicit)
    if getattr(sys, "frozen", False):
        path = os.path.abspath(sys.executable)
        return [path] + (["perfcollect"] if os.path.basename(path).startswith("rescuekit") else [])
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else None)
    if not path or path in ("-", "-c") or not os.path.isfile(path):
        raise ServiceError("cannot tell which file runs perfcollect (it was read from stdin)",
                           "save it first (curl -o /usr/local/sbin/perfcollect.py URL) and pass "
                           "--program '/usr/bin/python3 /usr/local/sbin/perfcollect.py'")
    path = os.path.abspath(path)
    prefix = [sys.executable or "/usr/bin/python3", path]
    if os.path.basename(path).startswith("rescuekit"):
        prefix.append("perfcollect")
    return prefix


def _systemd_quote(word):
    if word and all(c.isalnum() or c in "/._-:=+,@" for c in word):
        return word.replace("%", "%%")
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return '"%s"' % escaped


def unit_text(command):
    exec_start = " ".join(_systemd_quote(word) for word in command)
    return ("# %s\n# 'perfcollect uninstall-service' removes it.\n"
            "[Unit]\n"
            "Description=perfcollect background performance recording (rescuekit)\n"
            "Documentation=man:perfcollect(8)\n"
            "After=local-fs.target\n"
            "\n"
            "[Service]\n"
            "Type=simple\n"
            "ExecStart=%s\n"
            "Restart=on-failure\n"
            "RestartSec=30\n"
            "Nice=10\n"
            "IOSchedulingClass=idle\n"
            "TimeoutStopSec=30\n"
            "SuccessExitStatus=130 143\n"
            "\n"
            "[Install]\n"
            "WantedBy=multi-user.target\n") % (MARK, exec_start)


def cron_text(command):
    line = " ".join(shlex.quote(word) for word in command).replace("%", "\\%")
    return ("# %s\n# 'perfcollect uninstall-service' removes it.\n"
            "SHELL=/bin/sh\n"
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
            "@reboot root %s >/dev/null 2>&1\n"
            "*/10 * * * * root %s >/dev/null 2>&1\n") % (MARK, line, line)


def read_receipt(root):
    path = _in(root, RECEIPT)
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ServiceError("cannot read %s (%s)" % (path, error), "remove it by hand if it is damaged")


def plan_install(root, program, run_args, out_dir, force_init=None):
    """What install-service writes and runs: a Plan."""
    init = force_init or detect_init(root)
    if init is None:
        raise ServiceError("neither systemd nor cron found under %s" % root,
                           "run 'perfcollect start' from rc.local or your init system instead")
    existing = read_receipt(root)
    plan = Plan(root, init)
    if init == "systemd":
        command = list(program) + ["run", "--out", out_dir] + list(run_args)
        path = UNIT_PATH
        content = unit_text(command)
    else:
        command = list(program) + ["start", "--if-not-running", "--out", out_dir] + list(run_args)
        path = CRON_PATH
        content = cron_text(command)
    target = _in(root, path)
    if os.path.exists(target) and not (existing and any(f["path"] == path for f in existing.get("written", []))):
        raise ServiceError("/%s exists and was not written by perfcollect" % path,
                           "remove or rename it first; nothing was changed")
    plan.files.append((path, content))
    if init == "systemd":
        if plan.live:
            plan.commands.append(["systemctl", "daemon-reload"])
            plan.commands.append(["systemctl", "enable", "--now", UNIT_NAME])
        else:
            plan.links.append((WANTS_LINK, "/" + UNIT_PATH))
            plan.notes.append("not the running system: enabled by link, starts at its next boot")
    else:
        if plan.live:
            plan.commands.append(list(program) + ["start", "--if-not-running", "--out", out_dir] + list(run_args))
        plan.notes.append("cron starts it at boot and restarts it within 10 minutes if it dies")
    first = program[1] if len(program) > 1 else program[0]
    if "/work/" in first or "/home/" in first or "/tmp/" in first:
        plan.notes.append("the service runs %s; keep it there (or install a copy under /usr/local/sbin "
                          "and pass --program)" % first)
    plan.notes.append("recording into %s; 'perfcollect status %s' shows it" % (out_dir, out_dir))
    plan.receipt = {"init": init, "written": [{"path": path, "sha256": _sha(content)}],
                    "links": [{"path": p, "target": t} for p, t in plan.links], "out": out_dir,
                    "command": command, "version": VERSION}
    return plan


def plan_uninstall(root):
    receipt = read_receipt(root)
    if receipt is None:
        raise ServiceError("no perfcollect service installed under %s (no /%s)" % (root, RECEIPT),
                           "nothing to remove")
    plan = Plan(root, receipt.get("init"))
    if plan.live and plan.init == "systemd":
        plan.commands.append(["systemctl", "disable", "--now", UNIT_NAME])
    for link in receipt.get("links", []):
        path = link["path"]
        full = _in(root, path)
        if os.path.islink(full) and os.readlink(full) == link["target"]:
            plan.removals.append(path)
        elif os.path.lexists(full):
            plan.kept.append((path, "changed since install: points elsewhere"))
    for entry in receipt.get("written", []):
        path = entry["path"]
        full = _in(root, path)
        if not os.path.exists(full):
            plan.notes.append("/%s is already gone" % path)
            continue
        if _file_sha(full) == entry.get("sha256"):
            plan.removals.append(path)
        else:
            plan.kept.append((path, "changed since install; remove it by hand if it is ours"))
    if plan.live and plan.init == "systemd":
        plan.commands.append(["systemctl", "daemon-reload"])
    if plan.init == "cron" and receipt.get("out"):
        plan.notes.append("the running recorder of %s is stopped by its pid file" % receipt["out"])
        plan.stop_dir = receipt["out"]
    plan.removals.append(RECEIPT)
    plan.notes.append("the recording in %s is kept; delete it when you no longer need it"
                      % receipt.get("out", "its folder"))
    plan.receipt = receipt
    return plan


def _sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def apply_install(plan, run):
    """Write the files and links, run the commands; returns [problem lines]."""
    problems = []
    for path, content in plan.files:
        full = _in(plan.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        temporary = full + ".perfcollect-tmp"
        with open(temporary, "w") as handle:
            handle.write(content)
        os.chmod(temporary, 0o644)
        os.rename(temporary, full)
    for path, target in plan.links:
        full = _in(plan.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)
    receipt = dict(plan.receipt)
    receipt["installed"] = time.time()
    full = _in(plan.root, RECEIPT)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        json.dump(receipt, handle, indent=1, sort_keys=True)
        handle.write("\n")
    for argv in plan.commands:
        result = run(argv, timeout=60)
        if not result.ok:
            problems.append("%s: %s%s" % (" ".join(argv), result.status,
                                          (": " + result.stderr.strip()[:200]) if result.stderr.strip() else ""))
    return problems


def apply_uninstall(plan, run, stop=None):
    problems = []
    for argv in plan.commands[:1] if plan.commands and plan.commands[0][:2] == ["systemctl", "disable"] else []:
        result = run(argv, timeout=60)
        if not result.ok:
            problems.append("%s: %s" % (" ".join(argv), result.status))
    if plan.stop_dir and stop is not None and plan.live:
        problem = stop(plan.stop_dir)
        if problem:
            problems.append(problem)
    for path in plan.removals:
        full = _in(plan.root, path)
        try:
            os.unlink(full)
        except FileNotFoundError:
            pass
        except OSError as error:
            problems.append("/%s: %s" % (path, error.strerror or error))
    for argv in plan.commands:
        if argv[:2] == ["systemctl", "disable"]:
            continue
        result = run(argv, timeout=60)
        if not result.ok:
            problems.append("%s: %s" % (" ".join(argv), result.status))
    return problems
