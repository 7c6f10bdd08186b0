"""The kdump engines piece by piece: distro, sizing, bootloader parsing and edits, facts."""

import os

import pytest

from conftest import fixture_path
from shared import distro, kdump, kdump_boot, kdump_plan, kdump_sizing, sources
from shared.kdump_sizing import GIB, MIB


def root(name):
    return sources.open_source(fixture_path("kdumpsetup", name))


# ------------------------------------------------------------ distro

@pytest.mark.parametrize("text, family, major", [
    ('ID=rocky\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n', "rhel", 9),
    ('ID=pop\nID_LIKE="ubuntu debian"\nVERSION_ID="22.04"\n', "ubuntu", 22),
    ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n', "suse", 15),
    ('ID=almalinux\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\n', "rhel", 8),
    ('ID=amzn\nID_LIKE="centos rhel fedora"\nVERSION_ID="2023"\n', "rhel", 2023),
    ('ID=endeavouros\nID_LIKE=arch\n', "arch", None),
    ('ID=myos\nID_LIKE="debian"\nVERSION_ID=7\n', "debian", 7),
    ("ID=void\n", "unknown", None),
])
def test_family_follows_id_like(text, family, major):
    found = distro.Distro(distro.parse_os_release(text))
    assert found.family == family
    assert found.major == major


def test_os_release_quoting_and_comments():
    fields = distro.parse_os_release('# comment\nNAME="A \\"quoted\\" name"\nID=\'single\'\nVERSION_ID=1 # note\n'
                                     'junk line\n')
    assert fields == {"NAME": 'A "quoted" name', "ID": "single", "VERSION_ID": "1"}


def test_detect_reads_usr_lib_os_release_when_etc_is_missing(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n')
    found = distro.detect(sources.open_source(str(tmp_path)))
    assert (found.family, found.origin, found.pretty) == ("debian", "usr/lib/os-release", "Debian 12")


# ------------------------------------------------------------ sizing

@pytest.mark.parametrize("value, ram, reserved", [
    ("1G-4G:192M,4G-64G:256M,64G-:512M", 3 * GIB, 192 * MIB),
    ("1G-4G:192M,4G-64G:256M,64G-:512M", 16 * GIB, 256 * MIB),
    ("1G-4G:192M,4G-64G:256M,64G-:512M", 900 * MIB, 0),        # no range matches: nothing reserved
    ("1G-4G:192M,4G-64G:256M,64G-:512M", 4 * GIB, 256 * MIB),  # start inclusive, end exclusive
    ("384M-:128M", 2 * GIB, 128 * MIB),
    ("512M", None, 512 * MIB),
    ("256M@16M", 8 * GIB, 256 * MIB),
    ("2G-:448M@64M", 8 * GIB, 448 * MIB),
    ("bogus", 8 * GIB, 0),
])
def test_crashkernel_reserve_for(value, ram, reserved):
    assert kdump_sizing.CrashkernelValue(value).reserve_for(ram) == reserved


def test_auto_reserves_only_on_rhel7_and_8():
    auto = kdump_sizing.CrashkernelValue("auto")
    assert auto.reserve_for(8 * GIB, "x86_64", 8, "rhel") == 192 * MIB
    assert auto.reserve_for(8 * GIB, "x86_64", 9, "rhel") == 0
    assert auto.reserve_for(8 * GIB, "x86_64", 12, "debian") == 0


def test_high_low_pair_is_one_reservation_but_two_plain_values_conflict():
    assert not kdump_sizing.conflicting(["180M,high", "72M,low"])
    assert kdump_sizing.conflicting(["256M", "384M-:128M"])
    assert kdump_sizing.conflicting(["256M,high", "128M,high"])
    assert kdump_sizing.total_reserved(["180M,high", "72M,low"], 8 * GIB) == 252 * MIB


def test_distribution_defaults():
    def default(text, arch="x86_64"):
        return kdump_sizing.distribution_default(distro.Distro(distro.parse_os_release(text)), arch)[0]
    assert default("ID=debian\nVERSION_ID=12\n") == "384M-:128M"
    assert default("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=22.04\n") == "512M-:192M"
    assert default("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=24.04\n").startswith("2G-4G:320M")
    assert default("ID=rhel\nVERSION_ID=8.9\n") == "auto"
    assert default("ID=rhel\nVERSION_ID=9.3\n") == "1G-4G:192M,4G-64G:256M,64G-:512M"
    assert default("ID=rhel\nVERSION_ID=9.3\n", "aarch64") == "1G-4G:256M,4G-64G:320M,64G-:576M"
    assert default("ID=rhel\nVERSION_ID=10.0\n") == "2G-64G:256M,64G-:512M"
    assert default("ID=sles\nID_LIKE=suse\nVERSION_ID=15.5\n") is None   # kdumptool calibrate decides


def test_kdumptool_calibrate_becomes_high_and_low():
    text = "Low: 72\nHigh: 180\nMinLow: 72\nMaxLow: 3103\nMinHigh: 0\nMaxHigh: 45056\nTotal: 7936\n"
    calibrate = kdump_sizing.parse_calibrate(text)
    assert kdump_sizing.suse_value(calibrate, "x86_64") == ["180M,high", "72M,low"]
    assert kdump_sizing.suse_value(calibrate, "aarch64") == ["252M"]


# ------------------------------------------------------------ GRUB defaults

def test_grub_defaults_chain_expands_self_references():
    defaults = kdump_boot.GrubDefaults([
        ("etc/default/grub", 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="ro"\n'),
        ("etc/default/grub.d/50-cloudimg.cfg", 'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0"\n'),
        ("etc/default/grub.d/kdump-tools.cfg",
         'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'),
    ])
    assert defaults.cmdline() == "ro console=ttyS0 crashkernel=384M-:128M"
    assert defaults.crashkernel_values() == ["384M-:128M"]


def test_shell_values_keep_single_quotes_literal_and_skip_commands():
    env = {"A": "x"}
    assert kdump_boot.shell_value("'$A b'", env) == "$A b"
    assert kdump_boot.shell_value('"${A} c"', env) == "x c"
    assert kdump_boot.shell_value('"q" # comment', env) == "q"


def test_set_crashkernel_replaces_every_copy_and_touches_nothing_else():
    text = ('# keep me\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet"\n'
            'GRUB_CMDLINE_LINUX_DEFAULT="crashkernel=256M splash"\nGRUB_TIMEOUT=5\n')
    new = kdump_boot.set_assignment_crashkernel(text, "GRUB_CMDLINE_LINUX", ["512M"])
    assert new == ('# keep me\nGRUB_CMDLINE_LINUX="rd.lvm.lv=rhel/root rhgb quiet crashkernel=512M"\n'
                   'GRUB_CMDLINE_LINUX_DEFAULT="splash"\nGRUB_TIMEOUT=5\n')
    assert kdump_boot.set_assignment_crashkernel(new, "GRUB_CMDLINE_LINUX", ["512M"]) == new


def test_set_crashkernel_adds_a_line_or_snippet_when_missing():
    assert kdump_boot.set_assignment_crashkernel("GRUB_TIMEOUT=5", "GRUB_CMDLINE_LINUX", ["1G"]) == \
        'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="crashkernel=1G"\n'
    assert kdump_boot.set_assignment_crashkernel("", "GRUB_CMDLINE_LINUX_DEFAULT", ["1G"], snippet=True) == \
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=1G"\n'
    assert kdump_boot.set_assignment_crashkernel("GRUB_CMDLINE_LINUX=quiet\n", "GRUB_CMDLINE_LINUX", ["1G"]) == \
        'GRUB_CMDLINE_LINUX="quiet crashkernel=1G"\n'


def test_options_edit_for_bls_and_systemd_boot():
    text = "title A\noptions root=/dev/sda1 crashkernel=128M ro\noptions quiet\n"
    assert kdump_boot.set_options_crashkernel(text, ["256M"]) == \
        "title A\noptions root=/dev/sda1 ro\noptions quiet crashkernel=256M\n"
    assert kdump_boot.set_options_crashkernel("title B\nlinux /vmlinuz", ["1G"]) == \
        "title B\nlinux /vmlinuz\noptions crashkernel=1G\n"


# ------------------------------------------------------------ bootloaders of the fixtures

def test_rhel8_bls_expands_kernelopts_from_grubenv_and_skips_rescue():
    boot = kdump_boot.detect_bootloader(root("rhel8"))
    assert boot.kind == "grub-bls"
    assert boot.default_entry.version == "4.18.0-513.5.1.el8_9.x86_64"
    assert boot.default_entry.crashkernel == ["auto"]
    assert "$kernelopts" in boot.default_entry.raw_options
    assert [e.rescue for e in boot.entries].count(True) == 1


def test_el9_uefi_stub_is_recognised_and_real_config_chosen():
    boot = kdump_boot.detect_bootloader(root("rhel9"))
    assert boot.stubs == ["boot/efi/EFI/redhat/grub.cfg"]
    assert boot.grub_cfg == boot.mkconfig_target == "boot/grub2/grub.cfg"
    assert boot.uefi is True


def test_rhel7_uefi_real_config_lives_in_efi_vendor_folder():
    boot = kdump_boot.detect_bootloader(root("rhel7"))
    assert boot.kind == "grub"
    assert boot.mkconfig_target == "boot/efi/EFI/redhat/grub.cfg"
    assert boot.default_entry.version == "3.10.0-1160.108.1.el7.x86_64"   # saved_entry, not the first


def test_systemd_boot_default_from_loader_conf():
    boot = kdump_boot.detect_bootloader(root("arch"))
    assert boot.kind == "systemd-boot"
    assert boot.default_entry.id == "arch"
    assert boot.esp_entries_dir == "boot/loader/entries"


def test_suse_stub_with_source_is_a_stub():
    boot = kdump_boot.detect_bootloader(root("sles15"))
    assert boot.stubs == ["boot/efi/EFI/sles/grub.cfg"]
    assert boot.grub_cfg == "boot/grub2/grub.cfg"


def test_debian_grub_cfg_default_entry_and_recovery():
    boot = kdump_boot.detect_bootloader(root("debian12"))
    assert boot.default_entry.title == "Debian GNU/Linux"
    assert any(e.rescue for e in boot.entries)


def test_rpm_ostree_and_zipl_are_recognised(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run/ostree-booted").write_text("")
    (tmp_path / "boot/loader/entries").mkdir(parents=True)
    (tmp_path / "boot/loader/entries/ostree-1-fedora-coreos.conf").write_text(
        "title Fedora CoreOS\nversion 1\nlinux /ostree/vmlinuz\noptions root=UUID=x rw crashkernel=256M\n")
    boot = kdump_boot.detect_bootloader(sources.open_source(str(tmp_path)))
    assert boot.kind == "rpm-ostree" and boot.next_boot_crashkernel() == ["256M"]
    zroot = tmp_path / "z"
    (zroot / "etc").mkdir(parents=True)
    (zroot / "etc/zipl.conf").write_text('[defaultboot]\ndefault=linux\n[linux]\nimage=/boot/image\n'
                                         'parameters="root=/dev/dasda1 crashkernel=196M"\n')
    boot = kdump_boot.detect_bootloader(sources.open_source(str(zroot)))
    assert boot.kind == "zipl" and boot.next_boot_crashkernel() == ["196M"]


# ------------------------------------------------------------ facts

def test_gather_reads_runtime_state_of_a_captured_root():
    facts = kdump.gather(root("ubuntu2204"))
    assert facts.family == "ubuntu"
    assert facts.arch == "x86_64"
    assert facts.crash_size == 192 * MIB and facts.crash_loaded is True
    assert facts.iomem_crash == 192 * MIB
    assert facts.service_enabled is True
    assert facts.initrd_present is True
    assert facts.sysrq_persistent == "176"


def test_mounted_root_without_proc_is_not_evaluated_never_ok(tmp_path):
    import shutil
    copy = tmp_path / "r"
    shutil.copytree(fixture_path("kdumpsetup", "rhel8"), str(copy), symlinks=True)
    shutil.rmtree(str(copy / "proc"))
    shutil.rmtree(str(copy / "sys"))
    found = kdump.judge(kdump.gather(sources.open_source(str(copy))))
    by_check = dict((f.check, f) for f in found)
    for check in ("kdump.reserved", "kdump.loaded", "kdump.crashkernel.running"):
        assert by_check[check].severity == "not evaluated"


def test_dump_listing_ignores_apport_and_flags_incomplete():
    facts = kdump.gather(root("ubuntu2204"))
    assert [d["path"] for d in facts.dumps] == ["/var/crash/202403011200"]
    assert facts.dumps[0]["saved"] == "2024-03-01 12:00"
    facts = kdump.gather(root("rhel7"))
    assert facts.dumps[0]["incomplete"] is True
    assert facts.dumps[0]["saved"] == "2023-11-02 03:14:07"


def test_dump_reason_without_kernelreport_prefers_the_bug_line(monkeypatch):
    monkeypatch.setattr(kdump, "_kernelreport_summary", lambda lines: None)
    facts = kdump.gather(root("rhel7"))
    assert facts.dumps[0]["reason"].startswith("BUG: unable to handle kernel NULL pointer dereference")
    assert facts.dumps[0]["tail"][-1].startswith("RIP: 0010:")


def test_dump_summary_comes_from_kernelreport_when_it_is_there():
    try:
        from shared import kernelreport
    except Exception as error:  # noqa: BLE001
        pytest.skip("shared/kernelreport.py not importable here (%s)" % error)
    if not hasattr(kernelreport, "scan"):
        pytest.skip("shared/kernelreport.py has no scan()")
    facts = kdump.gather(root("rhel7"))
    summary = facts.dumps[0]["summary"]
    assert summary and summary["engine"] == "kernelreport"
    assert "nfs_commit_release_pages" in (summary["title"] + str(summary["guilty"]))


def test_persistent_sysctls_follow_systemd_order(tmp_path):
    for folder, name, text in (("usr/lib/sysctl.d", "50-default.conf", "kernel.sysrq = 16\n"),
                               ("etc/sysctl.d", "50-default.conf", "kernel.sysrq = 1\n"),
                               ("etc/sysctl.d", "10-early.conf", "kernel.panic = 5\n"),
                               ("usr/lib/sysctl.d", "60-late.conf", "kernel/panic = 7\n")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text(text)
    found = kdump.persistent_sysctls(sources.open_source(str(tmp_path)))
    assert found["kernel.sysrq"][:2] == ("1", "etc/sysctl.d/50-default.conf")   # /etc overrides /usr/lib
    assert found["kernel.panic"][0] == "7"                                      # later file name wins


def test_sysrq_bits():
    assert kdump.sysrq_allows_crash(1) and kdump.sysrq_allows_crash(8) and kdump.sysrq_allows_crash("184")
    assert not kdump.sysrq_allows_crash(438) and not kdump.sysrq_allows_crash(176)
    assert not kdump.sysrq_allows_crash(0) and not kdump.sysrq_allows_crash("junk")


def test_secure_boot_variable_is_read():
    assert kdump.gather(root("rhel9")).secure_boot is True
    assert kdump.gather(root("rhel7")).secure_boot is False
    assert kdump.gather(root("rhel9")).lockdown == "integrity"


# ------------------------------------------------------------ plan decisions

def _plan(name, **options):
    source = root(name)
    facts = kdump.gather(source)
    ctx = kdump_plan.Context(fixture_path("kdumpsetup", name), source, None)
    return kdump_plan.build_plan(ctx, facts, kdump_plan.Options(**options))


def test_existing_sufficient_value_is_kept_but_crashkernel_option_enforces():
    plan = _plan("rhel8", no_sysrq=True)
    assert plan.crashkernel_kept == ["auto"]
    assert not any(s.kind == "command" and "grubby" in s.display() for s in plan.steps)
    plan = _plan("rhel8", no_sysrq=True, crashkernel="512M")
    assert any("--args=crashkernel=512M" in s.display() for s in plan.steps if s.kind == "command")


def test_unknown_distribution_is_refused_with_what_was_detected():
    with pytest.raises(kdump_plan.Refused) as raised:
        _plan("unknown-void")
    detected = " ".join(raised.value.detected)
    assert "ID=void" in detected and "GRUB 2" in detected and "/usr/bin/kexec" in detected


def test_bad_crashkernel_value_is_rejected():
    with pytest.raises(ValueError):
        _plan("rhel9", crashkernel="lots")


def test_plan_paths_stay_inside_the_root():
    plan = _plan("debian12", panic_profile="forensic")
    for step in plan.steps:
        if step.kind == "file":
            assert not os.path.isabs(step.path) and ".." not in step.path.split("/")
        else:
            assert step.argv[0] in ("chroot", "systemctl")


def test_secrets_in_kdump_config_are_masked(tmp_path):
    import shutil
    copy = tmp_path / "r"
    shutil.copytree(fixture_path("kdumpsetup", "ubuntu2204"), str(copy), symlinks=True)
    with open(str(copy / "etc/default/kdump-tools"), "a") as handle:
        handle.write('FTP="ftp.example:/dumps"\nFTP_USER="kdump"\nFTP_PASSWORD="hunter2"\n')
    facts = kdump.gather(sources.open_source(str(copy)))
    assert facts.config["FTP_PASSWORD"] == "***" and facts.config["FTP_USER"] == "kdump"
    assert facts.target["kind"] == "ftp" and "hunter2" not in str(facts.to_dict())


def test_check_reads_a_tar_archive_of_a_root(tmp_path):
    import tarfile
    archive = str(tmp_path / "root.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fixture_path("kdumpsetup", "ubuntu2204"), arcname="ubuntu2204")
    facts = kdump.gather(sources.open_source(archive))
    assert facts.next_crashkernel == ["512M-:192M"] and facts.crash_loaded is True
    assert facts.free_space is None          # no statvfs of the archive's host folder
