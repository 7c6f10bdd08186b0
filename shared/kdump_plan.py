"""kdump setup as a plan: every file change and every command, decided before anything runs.

``build_plan(ctx, facts, options)`` compares the root with the state kdump
needs on its distribution family and returns a Plan of steps:

* FileStep -- one file's bytes before and after (after None: delete); the
  unified diff is what a dry run prints;
* CommandStep -- one command (already wrapped in ``chroot ROOT`` or
  ``systemctl --root=ROOT`` for a mounted root), the files it may change
  (backed up before it runs, so undo can restore them byte for byte) and the
  commands that revert its non-file effects.

A root already in the wanted state gives an empty plan: that is how a second
``enable --yes`` changes nothing.  Exactly one ``crashkernel=`` reservation
is kept: existing values are kept when they reserve enough (the admin's
choice is respected), otherwise every copy is removed and one is written
where the distribution keeps it.  ``--crashkernel`` enforces a value.
"""

import difflib
import os
import re

from . import kdump, kdump_boot, kdump_sizing
from .kdump_sizing import format_size

SYSRQ_FILE = "etc/sysctl.d/99-zz-kdumpsetup-sysrq.conf"
PANIC_FILE = "etc/sysctl.d/99-zz-kdumpsetup-panic.conf"
ARCH_LOAD_UNIT = "etc/systemd/system/kdumpsetup-load.service"
ARCH_SAVE_UNIT = "etc/systemd/system/kdumpsetup-save.service"


class Refused(Exception):
    """The plan cannot be made for this root; message says what was detected."""

    def __init__(self, message, detected=(), manual=()):
        Exception.__init__(self, message)
        self.detected = list(detected)
        self.manual = list(manual)


class Options(object):
    def __init__(self, crashkernel=None, no_sysrq=False, sysrq_mask=None, panic_profile=None):
        self.crashkernel = crashkernel
        self.no_sysrq = no_sysrq
        self.sysrq_mask = sysrq_mask
        self.panic_profile = panic_profile


class Context(object):
    """Where and how: host path of the root, the Source, the runner."""

    def __init__(self, root, source, runner):
        self.root = os.path.abspath(root or "/")
        self.source = source
        self.runner = runner

    @property
    def live(self):
        return self.root == "/"

    def host(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def read(self, rel):
        try:
            with open(self.host(rel), "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def command(self, argv):
        """argv as it runs against the root: chroot for a mounted root."""
        if self.live:
            return list(argv)
        return ["chroot", self.root] + list(argv)

    def systemctl(self, *args):
        if self.live:
            return ["systemctl"] + list(args)
        return ["systemctl", "--root=%s" % self.root] + list(args)


class FileStep(object):
    kind = "file"

    def __init__(self, path, before, after, why, mode=None):
        self.path = path.lstrip("/")
        self.before = before
        self.after = after
        self.why = why
        self.mode = mode

    def diff(self):
        old = (self.before or b"").decode("utf-8", "replace").splitlines(True)
        new = (self.after or b"").decode("utf-8", "replace").splitlines(True)
        lines = difflib.unified_diff(old, new, "a/" + self.path if self.before is not None else "/dev/null",
                                     "b/" + self.path if self.after is not None else "/dev/null")
        text = ""
        for line in lines:
            text += line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        return text

    def to_dict(self):
        return {"kind": "file", "path": "/" + self.path, "why": self.why,
                "action": "create" if self.before is None else ("delete" if self.after is None else "edit"),
                "diff": self.diff()}


class CommandStep(object):
    kind = "command"

    def __init__(self, argv, why, touches=(), undo=(), phase="main", env=None, packages=(), live_only=False):
        self.argv = list(argv)
        self.why = why
        self.touches = [t.lstrip("/") for t in touches if t]
        self.undo = [list(u) for u in undo]
        self.phase = phase
        self.env = env
        self.packages = list(packages)
        self.live_only = live_only

    def display(self):
        return " ".join(_quote(a) for a in self.argv)

    def to_dict(self):
        return {"kind": "command", "argv": self.argv, "command": self.display(), "why": self.why,
                "phase": self.phase, "may_change": ["/" + t for t in self.touches],
                "undo": [" ".join(_quote(a) for a in u) for u in self.undo]}


def _quote(word):
    if word and re.match(r"^[\w@%+=:,./-]+$", word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


class Plan(object):
    def __init__(self, facts):
        self.facts = facts
        self.steps = []
        self.notes = []
        self.crashkernel = None
        self.crashkernel_origin = None
        self.crashkernel_kept = None

    @property
    def empty(self):
        return not self.steps

    def install_steps(self):
        return [s for s in self.steps if s.kind == "command" and s.phase == "install"]

    def to_dict(self):
        return {"family": self.facts.family, "crashkernel": self.crashkernel,
                "crashkernel_origin": self.crashkernel_origin, "crashkernel_kept": self.crashkernel_kept,
                "steps": [s.to_dict() for s in self.steps], "notes": list(self.notes)}


# ------------------------------------------------------------ sizing

def choose_crashkernel(ctx, facts, options):
    """(words, origin, enforced) for the reservation this box should get."""
    if options.crashkernel:
        words = options.crashkernel.replace("crashkernel=", "").split()
        for word in words:
            value = kdump_sizing.CrashkernelValue(word)
            if value.kind == "invalid":
                raise ValueError("--crashkernel %s: %s" % (word, value.error or "not a crashkernel value"))
        return words, "--crashkernel", True
    if facts.family == "suse":
        if ctx.live and facts.tools_installed:
            result = ctx.runner(["kdumptool", "calibrate"])
            if result.ok:
                words = kdump_sizing.suse_value(kdump_sizing.parse_calibrate(result.stdout), facts.arch or "x86_64")
                if words:
                    return words, "kdumptool calibrate", False
        return [kdump_sizing.fallback_by_ram(facts.arch or "x86_64")], \
            "by RAM for %s (kdumptool calibrate not available here)" % (facts.arch or "x86_64"), False
    words, origin = kdump.recommended(facts)
    return words, origin, False


def acceptable(existing, words, enforced, facts):
    """True when ``existing`` crashkernel values can stay as they are."""
    if not existing:
        return False
    if enforced:
        return sorted(existing) == sorted(words)
    if kdump_sizing.conflicting(existing):
        return False
    if any(kdump_sizing.CrashkernelValue(v).kind == "invalid" for v in existing):
        return False
    dist = facts.distro
    if "auto" in existing:
        return dist.family == "rhel" and dist.major in (7, 8)
    amount = kdump_sizing.total_reserved(existing, facts.ram, facts.arch or "x86_64", dist.major, dist.family)
    wanted = kdump_sizing.total_reserved(words, facts.ram, facts.arch or "x86_64", dist.major, dist.family)
    if amount is None:
        return True
    if amount == 0:
        return False
    return wanted is None or amount >= wanted


# ------------------------------------------------------------ building blocks

def _text(data):
    return (data or b"").decode("utf-8", "surrogateescape")


def _bytes(text):
    return text.encode("utf-8", "surrogateescape")


def grub_defaults_steps(ctx, facts, words, owner):
    """File steps that leave exactly ``words`` as crashkernel in the GRUB defaults chain."""
    owner_path, var, snippet = owner
    boot = facts.boot
    files = list(boot.defaults.files) if boot.defaults else []
    texts = dict((p, t) for p, t in files)
    order = [p for p, _ in files]
    if owner_path not in texts:
        texts[owner_path] = ""
        order.append(owner_path)
        order = ["etc/default/grub"] + sorted(p for p in order if p != "etc/default/grub") \
            if "etc/default/grub" in order else sorted(order)
    candidates = [owner_path]
    for path in reversed(order):
        if path != owner_path:
            candidates.append(path)
    for chosen in candidates:
        new = {}
        for path in order:
            text = texts[path]
            if path == chosen:
                changed = kdump_boot.set_assignment_crashkernel(text, var, words, snippet=(path != "etc/default/grub"))
            elif "crashkernel=" in text:
                changed = kdump_boot.set_assignment_crashkernel(text, var, [])
            else:
                changed = text
            new[path] = changed
        check = kdump_boot.GrubDefaults([(p, new[p]) for p in order if new[p] or p in dict(files)])
        if sorted(check.crashkernel_values()) == sorted(words):
            steps = []
            for path in order:
                before = ctx.read(path)
                if new[path] != texts[path] or (before is None and new[path]):
                    why = "crashkernel=%s for the next boot" % " crashkernel=".join(words) if path == chosen \
                        else "remove a second crashkernel="
                    steps.append(FileStep(path, before, _bytes(new[path]), why))
            return steps, check
    raise Refused("cannot place crashkernel= in the GRUB defaults: a later file overrides %s" % var,
                  detected=order)


def bls_needs_update(facts, words, enforced):
    entries = [e for e in facts.boot.entries if not e.rescue]
    if not entries:
        return False
    return not all(acceptable(e.crashkernel, words, enforced, facts) for e in entries)


def service_steps(ctx, facts):
    if facts.service_enabled:
        return []
    return [CommandStep(ctx.systemctl("enable", facts.service),
                        "start %s at every boot (it loads the crash kernel)" % facts.service,
                        undo=[ctx.systemctl("disable", facts.service)])]


def sysrq_steps(ctx, facts, options):
    if options.no_sysrq:
        return []
    wanted = options.sysrq_mask
    current = facts.sysrq_persistent
    if wanted is None:
        effective = current if current is not None else facts.sysrq_runtime
        if effective is not None and kdump.sysrq_allows_crash(effective):
            return []
        wanted = 1
    content = ("# Written by kdumpsetup: SysRq functions allowed from the keyboard/console.\n"
               "# 1 = all; %d = crash (Alt-SysRq-c) and debug dumps only.  Remove this file\n"
               "# (or run 'kdumpsetup undo') to return to the distribution's value.\n"
               "kernel.sysrq = %d\n" % (kdump.SYSRQ_DUMP_BIT, wanted)).encode("ascii")
    before = ctx.read(SYSRQ_FILE)
    steps = []
    if before != content:
        steps.append(FileStep(SYSRQ_FILE, before, content, "kernel.sysrq=%d at every boot" % wanted))
    if ctx.live and facts.sysrq_runtime is not None and facts.sysrq_runtime != wanted:
        steps.append(CommandStep(["sysctl", "-q", "-w", "kernel.sysrq=%d" % wanted], "kernel.sysrq=%d now" % wanted,
                                 undo=[["sysctl", "-q", "-w", "kernel.sysrq=%d" % facts.sysrq_runtime]],
                                 live_only=True))
    return steps


def panic_steps(ctx, facts, options):
    profile = options.panic_profile
    if not profile:
        return []
    before = ctx.read(PANIC_FILE)
    if profile == "default":
        if before is None:
            return []
        return [FileStep(PANIC_FILE, before, None, "remove kdumpsetup's panic settings (distribution defaults "
                                                   "apply from the next boot)")]
    lines = ["# Written by kdumpsetup --panic-profile forensic: turn oopses, lockups, hung",
             "# tasks, unknown NMIs and OOM into a panic, so kdump captures them.",
             "# kernel.panic=10 reboots 10 s after a panic when no crash kernel is loaded."]
    lines += ["%s = %s" % (name, value) for name, value in kdump.FORENSIC_PROFILE]
    content = ("\n".join(lines) + "\n").encode("ascii")
    steps = []
    if before != content:
        steps.append(FileStep(PANIC_FILE, before, content, "panic sysctls (forensic profile) at every boot"))
    if ctx.live:
        changed = [(n, v) for n, v in kdump.FORENSIC_PROFILE if facts.panic.get(n, {}).get("runtime") is not None
                   and str(facts.panic[n]["runtime"]) != v]
        if changed:
            steps.append(CommandStep(["sysctl", "-q", "-w"] + ["%s=%s" % (n, v) for n, v in changed],
                                     "panic sysctls now",
                                     undo=[["sysctl", "-q", "-w"] + ["%s=%s" % (n, facts.panic[n]["runtime"])
                                                                     for n, _ in changed]],
                                     live_only=True))
    return steps


def _set_shell_var(text, var, value):
    pattern = re.compile(r"^(\s*)(?:export\s+)?%s=.*$" % re.escape(var), re.M)
    if pattern.search(text):
        return pattern.sub(lambda m: "%s%s=%s" % (m.group(1), var, value), text, count=1) \
            if len(pattern.findall(text)) == 1 else _set_last(text, pattern, var, value)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "%s=%s\n" % (var, value)


def _set_last(text, pattern, var, value):
    matches = list(pattern.finditer(text))
    last = matches[-1]
    return text[:last.start()] + "%s%s=%s" % (last.group(1), var, value) + text[last.end():]


# ------------------------------------------------------------ per family

def build_plan(ctx, facts, options, skip_install=False):
    """The Plan for this root (raises Refused, ValueError for a bad --crashkernel)."""
    plan = Plan(facts)
    family = facts.family
    boot = facts.boot
    if family not in kdump.FAMILIES:
        detected = ["os-release: %s" % facts.distro.describe() if facts.distro.id else "os-release: none",
                    "architecture: %s" % (facts.arch or "unknown"), "bootloader: %s" % boot.label]
        if facts.kexec_found:
            detected.append("kexec: %s" % ", ".join("/" + p for p in facts.kexec_found))
        raise Refused("unsupported distribution", detected=detected,
                      manual=["install kexec-tools and the distribution's kdump service",
                              "add crashkernel=%s to the kernel command line" % kdump_sizing.fallback_by_ram(
                                  facts.arch or "x86_64"),
                              "enable the service that runs 'kexec -p' at boot, then reboot"])
    words, origin, enforced = choose_crashkernel(ctx, facts, options)
    plan.crashkernel = words
    plan.crashkernel_origin = origin
    if boot.kind == "rpm-ostree":
        raise Refused("rpm-ostree system: the kernel command line and packages are managed by rpm-ostree",
                      detected=["bootloader: %s" % boot.label],
                      manual=["rpm-ostree kargs --delete-if-present=crashkernel=... (old values)",
                              "rpm-ostree kargs --append-if-missing=crashkernel=%s" % words[0],
                              "systemctl enable kdump.service, then reboot"])
    if boot.kind == "unknown":
        raise Refused("bootloader not recognised", detected=["bootloader files: none of grub.cfg, "
                                                             "/boot/loader/entries, loader.conf found"] + boot.notes,
                      manual=["add crashkernel=%s to the kernel command line" % words[0]])
    if boot.kind == "zipl" and not boot.bls_dir:
        raise Refused("zipl without BLS entries", detected=["/etc/zipl.conf"],
                      manual=["add crashkernel=%s to parameters= in /etc/zipl.conf, run zipl, reboot" % words[0]])

    profile = kdump.FAMILIES[family]
    # 1. packages
    if not facts.tools_installed and not skip_install:
        plan.steps.append(_install_step(ctx, facts))
    pending = not facts.tools_installed and not skip_install

    # 2. the distribution's kdump configuration
    if family in ("debian", "ubuntu"):
        _debian_config(ctx, facts, plan, pending)
    elif family == "rhel":
        _rhel_config(ctx, facts, plan, pending)
    elif family == "suse":
        plan.notes.append("SUSE's kdump reads /etc/sysconfig/kdump (not /etc/kdump.conf); its defaults "
                          "save to /var/crash")
    elif family == "arch":
        plan.notes.append("Arch has no kdump service: kexec-tools, a unit that loads the running kernel with "
                          "'kexec -p' at boot and one that saves /proc/vmcore inside the crash kernel")
        _arch_units(ctx, facts, plan)

    # 3. the reservation
    _crashkernel_steps(ctx, facts, plan, words, enforced, profile)

    # 4. the service, SysRq, panic sysctls
    plan.steps.extend(service_steps(ctx, facts))
    plan.steps.extend(sysrq_steps(ctx, facts, options))
    plan.steps.extend(panic_steps(ctx, facts, options))
    if pending and family in ("debian", "ubuntu", "rhel"):
        plan.notes.append("files that %s ships are edited after it is installed; the plan is computed again "
                          "then and shown as it runs" % " ".join(facts.packages))
    return plan


def _install_step(ctx, facts):
    family = facts.family
    packages = facts.packages
    env = None
    if family in ("debian", "ubuntu"):
        argv = ["apt-get", "install", "-y"] + packages
        env = {"DEBIAN_FRONTEND": "noninteractive"}
    elif family == "rhel":
        tool = "yum" if (facts.distro.major or 99) <= 7 and not facts.distro.is_id("fedora") else "dnf"
        argv = [tool, "install", "-y"] + packages
    elif family == "suse":
        argv = ["zypper", "--non-interactive", "install"] + packages
    else:
        argv = ["pacman", "-S", "--noconfirm", "--needed"] + packages
    touches = [facts.boot.grub_cfg] if facts.boot.grub_cfg else []
    return CommandStep(ctx.command(argv), "install %s" % " ".join(packages), touches=touches,
                       phase="install", env=env, packages=packages)


def _debian_config(ctx, facts, plan, pending):
    path = "etc/default/kdump-tools"
    before = ctx.read(path)
    if before is None:
        if pending:
            plan.notes.append("kdump-tools ships /etc/default/kdump-tools with USE_KDUMP=1 (its debconf default)")
            return
        after = b"USE_KDUMP=1\n"
    else:
        env = kdump.shell_vars(_text(before))
        if env.get("USE_KDUMP") == "1":
            return
        after = _bytes(_set_shell_var(_text(before), "USE_KDUMP", "1"))
    plan.steps.append(FileStep(path, before, after, "USE_KDUMP=1: let kdump-tools load the crash kernel"))


def _rhel_config(ctx, facts, plan, pending):
    """kexec-tools ships /etc/kdump.conf; its defaults (path /var/crash, makedumpfile -d 31) are right."""
    path = "etc/kdump.conf"
    if ctx.read(path) is not None:
        return
    if pending:
        plan.notes.append("kexec-tools ships /etc/kdump.conf (dumps to /var/crash with makedumpfile -d 31)")
        return
    content = b"path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n"
    plan.steps.append(FileStep(path, None, content, "dump target and filtering (the file was missing)"))


def _arch_units(ctx, facts, plan):
    kernel = "/boot/vmlinuz-linux"
    initrd = "/boot/initramfs-linux-fallback.img"
    if not ctx.source.exists(initrd) and ctx.source.exists("boot/initramfs-linux.img"):
        initrd = "/boot/initramfs-linux.img"
    if not ctx.source.exists(kernel):
        plan.notes.append("%s not found: edit %s if the kernel is named differently" % (kernel, ARCH_LOAD_UNIT))
    load = (
        "# Written by kdumpsetup: load the running kernel as crash kernel at boot.\n"
        "# Arch has no kdump service; this is the Arch wiki's kexec -p setup.\n"
        "[Unit]\n"
        "Description=Load the crash (kdump) kernel\n"
        "After=local-fs.target\n"
        "ConditionKernelCommandLine=crashkernel\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        "ExecStart=/bin/sh -c 'exec /usr/bin/kexec -p %s --initrd=%s "
        "--append=\"$(sed -e \"s/crashkernel=[^ ]*//g\" /proc/cmdline) "
        "systemd.unit=kdumpsetup-save.service irqpoll nr_cpus=1 reset_devices\"'\n"
        "ExecStop=/usr/bin/kexec -p -u\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n" % (kernel, initrd)).encode("ascii")
    save = (
        "# Written by kdumpsetup: runs inside the crash kernel, saves /proc/vmcore, reboots.\n"
        "[Unit]\n"
        "Description=Save the crash dump (kdump capture kernel)\n"
        "DefaultDependencies=no\n"
        "Requires=local-fs.target\n"
        "After=local-fs.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=/bin/sh -c 'd=/var/crash/$(date +%%Y-%%m-%%d-%%H:%%M); mkdir -p \"$d\"; "
        "vmcore-dmesg /proc/vmcore > \"$d/vmcore-dmesg.txt\"; "
        "if command -v makedumpfile >/dev/null; then makedumpfile -l -d 31 /proc/vmcore \"$d/vmcore\"; "
        "else cp --sparse=always /proc/vmcore \"$d/vmcore\"; fi; sync'\n"
        "ExecStopPost=/usr/bin/systemctl reboot\n").encode("ascii")
    for path, content, why in ((ARCH_LOAD_UNIT, load, "unit that loads the crash kernel"),
                               (ARCH_SAVE_UNIT, save, "unit that saves the dump in the crash kernel")):
        before = ctx.read(path)
        if before != content:
            plan.steps.append(FileStep(path, before, content, why))
    if not ctx.source.exists(initrd):
        plan.notes.append("no %s: run mkinitcpio -P" % initrd)


def _crashkernel_steps(ctx, facts, plan, words, enforced, profile):
    boot = facts.boot
    if boot.kind == "grub":
        existing = boot.defaults.crashkernel_values() if boot.defaults else []
        edits = []
        if acceptable(existing, words, enforced, facts):
            final = existing
            plan.crashkernel_kept = existing
        else:
            edits, check = grub_defaults_steps(ctx, facts, words, profile["owner"])
            final = check.crashkernel_values()
        plan.steps.extend(edits)
        entry = boot.default_entry
        if edits or (entry is not None and sorted(entry.crashkernel) != sorted(final)):
            plan.steps.append(_regenerate_step(ctx, facts))
        return
    if boot.kind in ("grub-bls", "zipl"):
        if not bls_needs_update(facts, words, enforced):
            default = boot.default_entry
            plan.crashkernel_kept = default.crashkernel if default else None
            return
        # Keep /etc/default/grub in step: grub2-mkconfig rebuilds kernelopts from it on EL8.
        if boot.defaults is not None and "etc/default/grub" in boot.defaults.paths:
            existing = boot.defaults.crashkernel_values()
            if not (sorted(existing) == sorted(words)):
                steps, _ = grub_defaults_steps(ctx, facts, words, ("etc/default/grub", "GRUB_CMDLINE_LINUX", False))
                plan.steps.extend(steps)
        touches = [e.origin for e in boot.entries] + [boot.grubenv_path, "etc/default/grub", "etc/kernel/cmdline"]
        if facts.has_reset_crashkernel and not enforced:
            argv = ["kdumpctl", "reset-crashkernel", "--kernel=ALL"]
            why = "set the distribution's default crashkernel on every kernel"
        else:
            if any(kdump_sizing.conflicting(e.crashkernel) for e in boot.entries):
                plan.steps.append(CommandStep(ctx.command(["grubby", "--update-kernel=ALL",
                                                           "--remove-args=crashkernel"]),
                                              "drop duplicate crashkernel= values", touches=touches))
            argv = ["grubby", "--update-kernel=ALL", "--args=%s" % " ".join("crashkernel=" + w for w in words)]
            why = "crashkernel=%s on every kernel" % " crashkernel=".join(words)
        plan.steps.append(CommandStep(ctx.command(argv), why, touches=touches))
        if boot.kind == "zipl":
            plan.steps.append(CommandStep(ctx.command(["zipl"]), "write the s390x boot record", touches=[]))
        return
    if boot.kind == "systemd-boot":
        for entry in boot.entries:
            if acceptable(entry.crashkernel, words, enforced, facts):
                continue
            before = ctx.read(entry.origin)
            after = _bytes(kdump_boot.set_options_crashkernel(_text(before), words))
            if after != before:
                plan.steps.append(FileStep(entry.origin, before, after,
                                           "crashkernel=%s in %s" % (" crashkernel=".join(words), entry.title)))
        cmdline = ctx.read("etc/kernel/cmdline")
        if cmdline is not None:
            current = kdump_sizing.values_in_cmdline(_text(cmdline))
            if not acceptable(current, words, enforced, facts):
                kept = [w for w in _text(cmdline).split() if not w.startswith("crashkernel=")]
                after = " ".join(kept + ["crashkernel=" + w for w in words]) + "\n"
                plan.steps.append(FileStep("etc/kernel/cmdline", cmdline, _bytes(after),
                                           "crashkernel= for kernels installed later (kernel-install)"))
        if not any(s.kind == "file" and s.path.startswith(boot.esp_entries_dir or "-") for s in plan.steps):
            default = boot.default_entry
            plan.crashkernel_kept = default.crashkernel if default else None
        return
    raise Refused("no way to set crashkernel= with %s" % boot.label)


def _regenerate_step(ctx, facts):
    boot = facts.boot
    target = boot.mkconfig_target
    if facts.family in ("debian", "ubuntu"):
        argv = ["update-grub"]
        target = target or "boot/grub/grub.cfg"
    elif facts.family == "suse" and ctx.source.exists("usr/sbin/update-bootloader"):
        argv = ["update-bootloader", "--refresh"]
    elif facts.family == "arch":
        argv = ["grub-mkconfig", "-o", "/" + (target or "boot/grub/grub.cfg")]
    else:
        argv = ["grub2-mkconfig", "-o", "/" + (target or "boot/grub2/grub.cfg")]
    if target in boot.stubs:
        raise Refused("refusing to regenerate over the UEFI stub /%s" % target)
    return CommandStep(ctx.command(argv), "regenerate /%s from the GRUB defaults" % target,
                       touches=[target] if target else [])


def describe_kept(plan):
    if plan.crashkernel_kept:
        return "keeping crashkernel=%s (reserves enough)" % " crashkernel=".join(plan.crashkernel_kept)
    return None


def ram_note(facts, words):
    amount = kdump_sizing.total_reserved(words, facts.ram, facts.arch or "x86_64", facts.distro.major,
                                         facts.distro.family)
    if amount is None:
        return "the kernel picks the size from RAM at boot"
    return "reserves %s on this %s box" % (format_size(amount) if amount else "nothing",
                                           kdump.format_ram(facts.ram))
