"""kdumpsetup enable --yes / undo against temp copies of every fixture root.

Commands never run: ``shared.runner.run`` is replaced by FakeSystem, a
RecordingRunner-style double that records each command and performs the
file effects the real tool would have (package files appear, grubby edits
BLS entries or grubenv's kernelopts, update-grub rewrites the ``linux``
lines, systemctl creates the .wants symlink), so that a second apply has a
real system state to find and undo has real changes to reverse.
"""

import json
import os
import re
import shutil
import signal

import pytest

from conftest import fixture_path, run_tool
from scripts import kdumpsetup
from shared import kdump_apply, kdump_boot, runner, sources
from shared.runner import CommandResult

STATE = kdump_apply.STATE_DIR

SUSE_SYSCONFIG = ('## Path:        System/Kernel/Kdump\n## Type:        string\n## Default:     "/var/crash"\n'
                  'KDUMP_SAVEDIR="/var/crash"\nKDUMP_KEEP_OLD_DUMPS="5"\nKDUMP_FREE_DISK_SIZE="64"\n'
                  'KDUMP_DUMPLEVEL="31"\nKDUMP_DUMPFORMAT="lzo"\n')
RHEL_KDUMP_CONF = "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n"
KDUMP_UNIT = "[Unit]\nDescription=Crash recovery kernel arming\n\n[Install]\nWantedBy=multi-user.target\n"
DEBIAN_UNIT = "[Unit]\nDescription=Kernel crash dump capture service\n\n[Install]\nWantedBy=basic.target\n"

# What each fixture's package install brings (paths relative to the root).
PACKAGES = {
    "debian12": {"kdump-tools": {
        "etc/default/kdump-tools": "# kdump-tools configuration\nUSE_KDUMP=1\nKDUMP_COREDIR=\"/var/crash\"\n",
        "etc/default/grub.d/kdump-tools.cfg":
            'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n',
        "usr/sbin/kdump-config": "#!/bin/sh\n",
        "lib/systemd/system/kdump-tools.service": DEBIAN_UNIT},
        "kexec-tools": {"sbin/kexec": ""}},
    "fedora40": {"kexec-tools": {
        "usr/bin/kdumpctl": "#!/bin/bash\n# reset-crashkernel get-default-crashkernel\n",
        "etc/kdump.conf": RHEL_KDUMP_CONF, "usr/lib/systemd/system/kdump.service": KDUMP_UNIT}},
    "sles15": {"kdump": {"usr/sbin/kdumptool": "", "etc/sysconfig/kdump": SUSE_SYSCONFIG,
                         "usr/lib/systemd/system/kdump.service": KDUMP_UNIT}},
    "arch": {"kexec-tools": {"usr/bin/kexec": "", "usr/bin/vmcore-dmesg": ""}},
}
RESET_DEFAULT = "1G-4G:192M,4G-64G:256M,64G-:512M"

ALL = ["debian12", "ubuntu2204", "ubuntu2404", "rhel7", "rhel8", "rhel9", "fedora40", "sles15", "arch"]


class FakeSystem(object):
    """Records commands and does what they would do to the files under ``root``."""

    def __init__(self, root, name, fail=(), on_call=None):
        self.root = root
        self.name = name
        self.fail = list(fail)
        self.on_call = on_call
        self.calls = []
        self.package_files = set()

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def read(self, rel):
        with open(self.path(rel)) as handle:
            return handle.read()

    def write(self, rel, text):
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)

    def __call__(self, argv, timeout=30, cap=None, stdin_data=None, env=None, cwd=None):
        argv = [str(a) for a in argv]
        line = " ".join(argv)
        self.calls.append(line)
        if self.on_call:
            self.on_call(line)
        for pattern in self.fail:
            if pattern in line:
                return CommandResult(argv, 1, "", "E: injected failure", 0.0, "failed")
        if argv[0] == "chroot":
            assert argv[1] == self.root, "chroot into the wrong root: %s" % line
            argv = argv[2:]
        handler = getattr(self, "cmd_" + argv[0].replace("-", "_").replace("2", "two"), None)
        if handler is None:
            return CommandResult(argv, None, "", "%s: not available" % argv[0], 0.0, "not available")
        handler(argv)
        return CommandResult(argv, 0, "", "", 0.0, "ok")

    # -- package managers
    def install(self, packages):
        for package in packages:
            for rel, text in PACKAGES.get(self.name, {}).get(package, {}).items():
                if not os.path.exists(self.path(rel)):
                    self.package_files.add(rel)
                self.write(rel, text)
        status = self.path("var/lib/dpkg/status")
        if os.path.exists(status):
            with open(status, "a") as handle:
                for package in packages:
                    handle.write("\nPackage: %s\nStatus: install ok installed\nVersion: 1\n" % package)
        if "kdump-tools" in packages and os.path.exists(self.path("boot/grub/grub.cfg")):
            self.cmd_update_grub(["update-grub"])        # the postinst does this

    def cmd_apt_get(self, argv):
        self.install([a for a in argv[2:] if not a.startswith("-")])

    def cmd_dnf(self, argv):
        self.install([a for a in argv[2:] if not a.startswith("-")])

    cmd_yum = cmd_dnf

    def cmd_zypper(self, argv):
        self.install([a for a in argv if a not in ("zypper", "--non-interactive", "install")])

    def cmd_pacman(self, argv):
        self.install([a for a in argv[1:] if not a.startswith("-")])

    # -- bootloader tools
    def regenerate(self, cfg):
        defaults = kdump_boot.read_grub_defaults(sources.open_source(self.root))
        words = ["crashkernel=" + v for v in defaults.crashkernel_values()]
        lines = []
        for text in self.read(cfg).splitlines(True):
            if re.match(r"^\s*(linux|linuxefi)\s", text):
                ending = "\n" if text.endswith("\n") else ""
                kept = [w for w in text.rstrip("\n").split(" ") if not w.startswith("crashkernel=")]
                text = " ".join(kept + words) + ending
            lines.append(text)
        self.write(cfg, "".join(lines))

    def cmd_update_grub(self, argv):
        self.regenerate("boot/grub/grub.cfg")

    def cmd_grubtwo_mkconfig(self, argv):
        assert argv[1] == "-o"
        self.regenerate(argv[2])

    cmd_grub_mkconfig = cmd_grubtwo_mkconfig

    def cmd_update_bootloader(self, argv):
        self.regenerate("boot/grub2/grub.cfg")

    def set_bls(self, words):
        folder = self.path("boot/loader/entries")
        for name in sorted(os.listdir(folder)):
            rel = "boot/loader/entries/" + name
            text = self.read(rel)
            if "$kernelopts" in text:
                env = self.read("boot/grub2/grubenv")
                body = env.rstrip("#")
                new = []
                for item in body.splitlines():
                    if item.startswith("kernelopts="):
                        kept = [w for w in item[len("kernelopts="):].split() if not w.startswith("crashkernel=")]
                        item = "kernelopts=" + " ".join(kept + ["crashkernel=" + w for w in words]) + " "
                    new.append(item)
                body = "\n".join(new) + "\n"
                self.write("boot/grub2/grubenv", body + "#" * (1024 - len(body)))
            else:
                self.write(rel, kdump_boot.set_options_crashkernel(text, words))

    def cmd_grubby(self, argv):
        for arg in argv[1:]:
            if arg.startswith("--args="):
                self.set_bls([w[len("crashkernel="):] for w in arg[len("--args="):].split()])
            elif arg == "--remove-args=crashkernel":
                self.set_bls([])

    def cmd_kdumpctl(self, argv):
        assert argv[1] == "reset-crashkernel"
        self.set_bls([RESET_DEFAULT])

    def cmd_zipl(self, argv):
        pass

    def cmd_systemctl(self, argv):
        args = [a for a in argv[1:] if not a.startswith("--root=")]
        assert any(a == "--root=%s" % self.root for a in argv), "systemctl without --root: %s" % argv
        verb, unit = args[0], args[1]
        if verb == "enable":
            for folder in ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"):
                if os.path.exists(self.path(folder + "/" + unit)):
                    target = re.search(r"WantedBy=(\S+)", self.read(folder + "/" + unit)).group(1)
                    link = self.path("etc/systemd/system/%s.wants/%s" % (target, unit))
                    os.makedirs(os.path.dirname(link), exist_ok=True)
                    if not os.path.lexists(link):
                        os.symlink("/" + folder + "/" + unit, link)
                    return
            raise AssertionError("unit %s not found" % unit)
        if verb == "disable":
            base = self.path("etc/systemd/system")
            for folder in os.listdir(base):
                link = os.path.join(base, folder, unit)
                if folder.endswith(".wants") and os.path.lexists(link):
                    os.unlink(link)


# ------------------------------------------------------------ helpers

def copy_root(tmp_path, name):
    root = str(tmp_path / name)
    shutil.copytree(fixture_path("kdumpsetup", name), root, symlinks=True)
    return root


def snapshot(root):
    """{path: (bytes, mode) | ('link', target)} of every file and symlink but kdumpsetup's state."""
    result = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if rel_folder.startswith("var/lib/rescuekit"):
            continue
        for name in dirs:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                result[os.path.relpath(path, root)] = ("link", os.readlink(path))
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                result[rel] = ("link", os.readlink(path))
            else:
                with open(path, "rb") as handle:
                    result[rel] = (handle.read(), os.stat(path).st_mode & 0o7777)
    return result


def enable(root, capsys, *extra):
    return run_tool(kdumpsetup, ["enable", "--root", root] + list(extra), capsys)


def journals(root):
    return kdump_apply.list_journals(root)


@pytest.fixture
def fake(monkeypatch):
    made = []

    def make(root, name, **kwargs):
        system = FakeSystem(root, name, **kwargs)
        monkeypatch.setattr(runner, "run", system)
        made.append(system)
        return system
    return make


# ------------------------------------------------------------ the full cycle per distribution

@pytest.mark.parametrize("name", ALL)
def test_apply_then_second_apply_is_noop_then_undo_restores_bytes(tmp_path, capsys, fake, name):
    root = copy_root(tmp_path, name)
    before = snapshot(root)
    system = fake(root, name)

    code, out, err = enable(root, capsys, "--yes")
    assert code == 0, err
    assert "done:" in out
    after_first = snapshot(root)
    assert after_first != before, "enable --yes changed nothing on %s" % name

    # The result is what check calls ready for the next boot: one crashkernel, service on.
    code, out, _ = run_tool(kdumpsetup, ["check", "--root", root, "--json"], capsys)
    document = json.loads(out)
    facts = document["result"]["facts"]
    assert facts["next_crashkernel"], "no crashkernel for the next boot after enable on %s" % name
    assert len([v for v in facts["next_crashkernel"] if "," not in v or ":" in v]) == 1
    assert facts["service_enabled"] is True
    assert facts["tools_installed"] is True

    # Second apply: nothing to do, nothing changes, no new journal.
    calls_before = len(system.calls)
    code, out, _ = enable(root, capsys, "--yes")
    assert code == 0
    assert "nothing to change" in out
    assert snapshot(root) == after_first
    assert len(system.calls) == calls_before
    assert len(journals(root)) == 1

    # Undo: every file kdumpsetup changed is back byte for byte; files it
    # created are gone; package files stay (documented).
    code, out, err = run_tool(kdumpsetup, ["undo", "--root", root, "--yes"], capsys)
    assert code == 0, err + out
    restored = snapshot(root)
    for rel in system.package_files:
        restored.pop(rel, None)
    # Package installs leave their dpkg status lines behind; compare everything else exactly.
    for rel in ("var/lib/dpkg/status",):
        if rel in before and system.package_files:
            restored[rel] = before[rel]
    assert restored == before
    journal = journals(root)[-1][1]
    assert journal["status"] == "undone"
    for rel in journal["created_dirs"]:
        assert not os.path.exists(os.path.join(root, rel)), "undo left the folder /%s behind" % rel


@pytest.mark.parametrize("name", ["ubuntu2204", "rhel7"])
def test_already_ready_roots_need_no_change_without_sysrq(tmp_path, capsys, fake, name):
    root = copy_root(tmp_path, name)
    before = snapshot(root)
    system = fake(root, name)
    code, out, _ = enable(root, capsys, "--yes", "--no-sysrq")
    assert code == 0
    assert "nothing to change" in out
    assert system.calls == []
    assert snapshot(root) == before


# ------------------------------------------------------------ failures leave files as they were

# The step made to fail: the last one that changes files, so every earlier change must be rolled back.
FAILING_STEP = {
    "debian12": ("systemctl", []), "ubuntu2404": ("update-grub", []),
    "rhel7": ("grub2-mkconfig", ["--crashkernel", "256M"]), "rhel8": ("grubby", ["--crashkernel", "512M"]),
    "rhel9": ("kdumpctl reset-crashkernel", []), "fedora40": ("systemctl", []),
    "sles15": ("update-bootloader", []), "arch": ("systemctl", []),
}


@pytest.mark.parametrize("name", sorted(FAILING_STEP))
def test_injected_failure_rolls_back_every_file(tmp_path, capsys, fake, name):
    root = copy_root(tmp_path, name)
    before = snapshot(root)
    pattern, extra = FAILING_STEP[name]
    system = fake(root, name, fail=[pattern])
    code, out, err = enable(root, capsys, "--yes", *extra)
    assert any(pattern in c for c in system.calls)
    assert code == 1
    assert err.startswith("kdumpsetup: enable failed: '")
    assert "injected failure" in err
    assert "rolled back" in err
    after = snapshot(root)
    for rel in system.package_files:
        after.pop(rel, None)
    if system.package_files and "var/lib/dpkg/status" in before:
        after["var/lib/dpkg/status"] = before["var/lib/dpkg/status"]
    assert after == before
    if system.package_files:
        assert "stay" in err and "installed" in err   # says what state the box is in
    status = journals(root)[-1][1]["status"]
    assert status == "rolled back"


def test_failed_package_install_changes_nothing(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "fedora40")
    before = snapshot(root)
    system = fake(root, "fedora40", fail=["dnf install"])
    code, _, err = enable(root, capsys, "--yes")
    assert code == 1
    assert "dnf install -y kexec-tools" in err
    assert snapshot(root) == before
    assert [c for c in system.calls if "grubby" in c or "kdumpctl" in c] == []


def test_sigterm_during_a_command_rolls_back_and_exits_130(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "ubuntu2404")
    before = snapshot(root)

    def on_call(line):
        if "update-grub" in line:
            os.kill(os.getpid(), signal.SIGTERM)

    fake(root, "ubuntu2404", on_call=on_call)
    old = signal.getsignal(signal.SIGTERM)
    code, _, err = enable(root, capsys, "--yes")
    assert code == 130
    assert "interrupted by signal %d" % signal.SIGTERM in err
    assert snapshot(root) == before
    assert signal.getsignal(signal.SIGTERM) == old       # handlers put back


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "rhel9")
    before = snapshot(root)
    fake(root, "rhel9")
    with kdump_apply.Lock(root):
        code, _, err = enable(root, capsys, "--yes")
    assert code == 1
    assert "another kdumpsetup holds" in err and "(pid %d)" % os.getpid() in err
    assert snapshot(root) == before


# ------------------------------------------------------------ journal and undo

def test_journal_records_backups_next_to_it(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "ubuntu2404")
    original = open(os.path.join(root, "etc/default/grub"), "rb").read()
    fake(root, "ubuntu2404")
    assert enable(root, capsys, "--yes")[0] == 0
    (folder, journal), = journals(root)
    assert re.match(r"^\d{8}T\d{6}Z", os.path.basename(folder))
    assert journal["status"] == "applied"
    record = [r for r in journal["files"] if r["path"] == "etc/default/grub"][0]
    assert record["changed"] and record["existed"]
    with open(os.path.join(folder, record["backup"]), "rb") as handle:
        assert handle.read() == original
    commands = [" ".join(c["argv"]) for c in journal["commands"]]
    assert any(c.endswith("update-grub") for c in commands)
    assert any("systemctl --root=%s enable kdump-tools.service" % root == c for c in commands)


def test_undo_refuses_files_changed_since_and_force_overrides(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "rhel9")
    original = open(os.path.join(root, "etc/default/grub"), "rb").read()
    fake(root, "rhel9")
    assert enable(root, capsys, "--yes")[0] == 0
    with open(os.path.join(root, "etc/default/grub"), "a") as handle:
        handle.write("# edited by the admin afterwards\n")
    edited = open(os.path.join(root, "etc/default/grub"), "rb").read()
    code, out, _ = run_tool(kdumpsetup, ["undo", "--root", root, "--yes"], capsys)
    assert code == 1
    assert "undo refused" in out and "/etc/default/grub" in out
    assert open(os.path.join(root, "etc/default/grub"), "rb").read() == edited
    code, out, _ = run_tool(kdumpsetup, ["undo", "--root", root, "--yes", "--force"], capsys)
    assert code == 0
    assert open(os.path.join(root, "etc/default/grub"), "rb").read() == original


def test_undo_without_yes_only_lists_and_undo_twice_has_nothing(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "arch")
    fake(root, "arch")
    assert enable(root, capsys, "--yes")[0] == 0
    applied = snapshot(root)
    code, out, _ = run_tool(kdumpsetup, ["undo", "--root", root], capsys)
    assert code == 0
    assert "remove  /etc/systemd/system/kdumpsetup-load.service" in out
    assert "restore /boot/loader/entries/arch.conf" in out
    assert "dry run" in out
    assert snapshot(root) == applied
    assert run_tool(kdumpsetup, ["undo", "--root", root, "--yes"], capsys)[0] == 0
    code, out, _ = run_tool(kdumpsetup, ["undo", "--root", root, "--yes"], capsys)
    assert code == 0 and "nothing to undo" in out


def test_file_modes_are_kept(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "ubuntu2404")
    path = os.path.join(root, "etc/default/kdump-tools")
    os.chmod(path, 0o600)
    fake(root, "ubuntu2404")
    assert enable(root, capsys, "--yes")[0] == 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert b"USE_KDUMP=1" in open(path, "rb").read()
    assert run_tool(kdumpsetup, ["undo", "--root", root, "--yes"], capsys)[0] == 0
    assert os.stat(path).st_mode & 0o777 == 0o600


# ------------------------------------------------------------ what each family actually runs

def test_rhel8_uses_grubby_and_keeps_grubenv_kernelopts_single(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "rhel8")
    system = fake(root, "rhel8")
    assert enable(root, capsys, "--yes", "--crashkernel", "512M")[0] == 0
    assert "chroot %s grubby --update-kernel=ALL --args=crashkernel=512M" % root in system.calls
    env = open(os.path.join(root, "boot/grub2/grubenv")).read()
    assert len(env) == 1024
    kernelopts = [l for l in env.splitlines() if l.startswith("kernelopts=")][0]
    assert kernelopts.count("crashkernel=") == 1 and "crashkernel=512M" in kernelopts
    grub = open(os.path.join(root, "etc/default/grub")).read()
    assert grub.count("crashkernel=") == 1 and "crashkernel=512M" in grub


def test_rhel7_regenerates_the_real_efi_config(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "rhel7")
    system = fake(root, "rhel7")
    assert enable(root, capsys, "--yes", "--crashkernel", "256M")[0] == 0
    assert "chroot %s grub2-mkconfig -o /boot/efi/EFI/redhat/grub.cfg" % root in system.calls
    cfg = open(os.path.join(root, "boot/efi/EFI/redhat/grub.cfg")).read()
    assert cfg.count("crashkernel=256M") == 2 and "crashkernel=auto" not in cfg


def test_el9_stub_is_never_a_target(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "rhel9")
    stub = open(os.path.join(root, "boot/efi/EFI/redhat/grub.cfg"), "rb").read()
    system = fake(root, "rhel9")
    assert enable(root, capsys, "--yes")[0] == 0
    assert not any("EFI/redhat" in c for c in system.calls)
    assert "chroot %s kdumpctl reset-crashkernel --kernel=ALL" % root in system.calls
    assert open(os.path.join(root, "boot/efi/EFI/redhat/grub.cfg"), "rb").read() == stub


def test_suse_edits_default_grub_not_kdump_conf(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "sles15")
    system = fake(root, "sles15")
    assert enable(root, capsys, "--yes")[0] == 0
    assert not os.path.exists(os.path.join(root, "etc/kdump.conf"))
    assert "chroot %s zypper --non-interactive install kdump" % root in system.calls
    assert "chroot %s update-bootloader --refresh" % root in system.calls
    grub = open(os.path.join(root, "etc/default/grub")).read()
    line = [l for l in grub.splitlines() if l.startswith("GRUB_CMDLINE_LINUX_DEFAULT=")][0]
    assert line.count("crashkernel=") == 1 and line.startswith('GRUB_CMDLINE_LINUX_DEFAULT="splash=silent')


def test_debian_installs_kdump_tools_not_ubuntu_metapackage(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "debian12")
    system = fake(root, "debian12")
    code, out, _ = enable(root, capsys, "--yes")
    assert code == 0
    installs = [c for c in system.calls if "apt-get install" in c]
    assert installs == ["chroot %s apt-get install -y kdump-tools kexec-tools" % root]
    assert not any("linux-crashdump" in c for c in system.calls)
    # The package's own grub.d snippet is kept (it reserves enough); no second value.
    cfg = open(os.path.join(root, "boot/grub/grub.cfg")).read()
    linux = [l for l in cfg.splitlines() if l.strip().startswith("linux")]
    assert all(l.count("crashkernel=") == 1 and "crashkernel=384M-:128M" in l for l in linux)
    assert "plan recomputed" in out


def test_arch_gets_units_not_a_missing_kdump_service(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "arch")
    system = fake(root, "arch")
    assert enable(root, capsys, "--yes")[0] == 0
    assert not any(c.endswith(" kdump.service") for c in system.calls)
    assert "systemctl --root=%s enable kdumpsetup-load.service" % root in system.calls
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/kdumpsetup-load.service")
    assert os.path.islink(link)
    for name in ("arch.conf", "arch-fallback.conf"):
        text = open(os.path.join(root, "boot/loader/entries", name)).read()
        assert text.count("crashkernel=") == 1


def test_panic_profile_forensic_then_default_removes_it(tmp_path, capsys, fake):
    root = copy_root(tmp_path, "ubuntu2204")
    fake(root, "ubuntu2204")
    assert enable(root, capsys, "--yes", "--panic-profile", "forensic", "--sysrq-mask", "8")[0] == 0
    panic = open(os.path.join(root, "etc/sysctl.d/99-zz-kdumpsetup-panic.conf")).read()
    assert "kernel.softlockup_panic = 1" in panic and "kernel.panic = 10" in panic
    sysrq = open(os.path.join(root, "etc/sysctl.d/99-zz-kdumpsetup-sysrq.conf")).read()
    assert "kernel.sysrq = 8" in sysrq
    code, out, _ = run_tool(kdumpsetup, ["check", "--root", root, "-v"], capsys)
    assert "kernel.sysrq=176 now; 8 from the next boot" in out
    assert enable(root, capsys, "--yes", "--panic-profile", "default", "--sysrq-mask", "8")[0] == 0
    assert not os.path.exists(os.path.join(root, "etc/sysctl.d/99-zz-kdumpsetup-panic.conf"))
