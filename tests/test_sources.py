"""The sources contract: one way to read a system, whatever holds it."""

import gzip
import io
import lzma
import os
import tarfile

import pytest

from shared import sources


def write(path, data, mode="wb"):
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder)
    with open(path, mode) as handle:
        handle.write(data)


@pytest.fixture
def sos_tree(tmp_path):
    top = tmp_path / "sosreport-host1-2024-06-09-abcdef"
    base = str(top)
    write(os.path.join(base, "etc/os-release"), b'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.2"\n')
    write(os.path.join(base, "var/log/messages"), b"Jun  9 06:06:20 host1 kernel: newest\n")
    write(os.path.join(base, "var/log/messages-20240602"), b"Jun  2 03:00:00 host1 kernel: middle\n")
    write(os.path.join(base, "var/log/messages-20240526"), gzip.compress(b"May 26 03:00:00 host1 kernel: oldest\n"))
    write(os.path.join(base, "sos_commands/filesys/df_-al_-x_autofs"), b"Filesystem 1K-blocks Used\n")
    write(os.path.join(base, "sos_commands/kernel/uname_-a"), b"Linux host1 5.14.0 x86_64\n")
    write(os.path.join(base, "sos_reports/manifest.json"), b"{}")
    os.symlink("sos_commands/filesys/df_-al_-x_autofs", os.path.join(base, "df"))
    return top


def make_tar(folder, archive, mode):
    with tarfile.open(str(archive), mode) as tar:
        tar.add(str(folder), arcname=os.path.basename(str(folder)))
    return str(archive)


def test_rotations_are_read_oldest_first_across_compression(sos_tree):
    source = sources.open_source(str(sos_tree))
    assert source.kind == "sos"
    assert source.log_files("messages") == [
        "var/log/messages-20240526", "var/log/messages-20240602", "var/log/messages"]
    texts = [line.text.split(": ")[1] for line in source.log_lines("messages")]
    assert texts == ["oldest", "middle", "newest"]


def test_numbered_rotations_order():
    names = ["syslog", "syslog.1", "syslog.2.gz", "syslog.10.gz", "syslog.3.xz", "syslogd.log", "kern.log"]
    assert sources.order_rotations(names, "syslog") == [
        "syslog.10.gz", "syslog.3.xz", "syslog.2.gz", "syslog.1", "syslog"]


@pytest.mark.parametrize("mode", ["w:xz", "w:gz", "w:bz2", "w"])
def test_archive_reads_like_the_directory(sos_tree, tmp_path, mode):
    archive = make_tar(sos_tree, tmp_path / ("bundle.tar" + mode[2:]), mode)
    source = sources.open_source(archive)
    assert source.kind == "sos"
    assert "Red Hat" in source.read_text("/etc/os-release")
    assert [l.text[-6:] for l in source.log_lines("messages")] == ["oldest", "middle", "newest"]
    # sos keeps command output under sos_commands/<plugin>/<mangled command>
    text, origin = source.command_output("df -h", "/bin/df -al -x autofs")
    assert text.startswith("Filesystem") and origin == "sos_commands/filesys/df_-al_-x_autofs"
    # root-level symlinks resolve inside the archive
    assert source.read_text("df").startswith("Filesystem")
    line = next(iter(source.lines("var/log/messages")))
    assert (line.origin, line.lineno) == ("var/log/messages", 1)


def test_sos_mangling_matches_sos():
    assert sources.sos_mangle("/usr/bin/journalctl --no-pager") == "journalctl_--no-pager"
    assert sources.sos_mangle("ls -lanR /boot") == "ls_-lanR_.boot"
    assert sources.sos_mangle("lsblk -f -a -l") == "lsblk_-f_-a_-l"


def test_mounted_root_keeps_absolute_links_inside(tmp_path):
    root = tmp_path / "sysimage"
    write(str(root / "usr/lib/os-release"), b"ID=rhel\n")
    os.makedirs(str(root / "etc"))
    os.symlink("/usr/lib/os-release", str(root / "etc/os-release"))
    os.symlink("/etc/shadow", str(root / "etc/evil"))
    os.symlink("../../../../../../etc/passwd", str(root / "etc/climb"))
    source = sources.open_source(str(root))
    assert source.kind == "root" and not source.live
    assert source.read_text("etc/os-release") == "ID=rhel\n"
    # links pointing at the rescue system's files must not reach them
    assert source.read_text("etc/evil") is None
    assert source.read_text("etc/climb") is None
    assert source.read_text("../../etc/passwd") is None


def test_hostile_archive_members_are_refused(tmp_path):
    archive = str(tmp_path / "hostile.tar")
    with tarfile.open(archive, "w") as tar:
        def add(name, data=b"x", kind=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("sosreport-x/sos_commands/x/y", b"ok\n")
        add("/etc/passwd", b"root:x:0:0\n")
        add("sosreport-x/../../escape", b"bad\n")
        add("sosreport-x/etc/shadowlink", kind=tarfile.SYMTYPE, link="/etc/shadow")
        add("sosreport-x/etc/up", kind=tarfile.SYMTYPE, link="../../../../etc/passwd")
        add("sosreport-x/dev/sda", kind=tarfile.BLKTYPE)
        add("sosreport-x/fifo", kind=tarfile.FIFOTYPE)
    source = sources.open_source(archive)
    assert source.read_text("sos_commands/x/y") == "ok\n"
    assert source.read_text("etc/passwd") is None
    assert source.read_text("escape") is None
    assert source.read_text("etc/shadowlink") is None     # absolute link: inside the bundle only
    assert source.read_text("etc/up") is None
    assert not source.exists("dev/sda") and not source.exists("fifo")
    assert any("absolute or '..'" in w for w in source.warnings)
    # nothing was written anywhere
    assert sorted(os.listdir(str(tmp_path))) == ["hostile.tar"]


def test_truncated_and_corrupt_compressed_logs_give_lines_and_one_warning(tmp_path):
    data = b"".join(b"Jun  9 06:%02d:00 h kernel: line %d\n" % (i % 60, i) for i in range(5000))
    whole = gzip.compress(data)
    write(str(tmp_path / "var/log/messages.1.gz"), whole[: len(whole) // 2])
    write(str(tmp_path / "var/log/messages"), b"Jun  9 07:00:00 h kernel: after\n")
    source = sources.open_source(str(tmp_path))
    lines = list(source.log_lines("messages"))
    assert 100 < len(lines) < 5001
    assert lines[-1].text.endswith("after")
    assert len(source.warnings) == 1 and "truncated" in source.warnings[0]
    assert source.warnings[0].startswith("var/log/messages.1.gz:")


def test_binary_nul_and_long_lines(tmp_path):
    write(str(tmp_path / "var/log/wtmp.log"), os.urandom(4096))
    write(str(tmp_path / "var/log/syslog"), b"\x00" * 300 + b"Jun  9 06:06:20 h a\x00b: ok\n"
          + b"x" * (2 * 1024 * 1024) + b"\nJun  9 06:06:21 h after: \xff\xfe bytes\n")
    source = sources.open_source(str(tmp_path))
    assert list(source.lines("var/log/wtmp.log")) == []
    assert "binary" in source.warnings[0]
    lines = list(source.lines("var/log/syslog"))
    assert lines[0].text == "Jun  9 06:06:20 h ab: ok"
    assert len(lines[1].text) == 64 * 1024
    assert lines[2].text.startswith("Jun  9 06:06:21 h after: ") and "\ufffd" in lines[2].text
    assert lines[2].lineno == 3
    assert any("over-long" in w for w in source.warnings)


def test_supportconfig_sections_become_files_and_commands(tmp_path):
    folder = tmp_path / "scc_host1_240609_0606"
    write(str(folder / "basic-environment.txt"), (
        "#==[ Command ]======================================#\n"
        "# /bin/uname -a\n"
        "Linux host1 5.14.21-150500.55.19-default #1 SMP x86_64 GNU/Linux\n"
        "\n"
        "#==[ Configuration File ]===========================#\n"
        "# /etc/os-release\n"
        'NAME="SLES"\nVERSION_ID="15.5"\n'
        "\n").encode())
    write(str(folder / "messages.txt"), (
        "#==[ Log File ]=====================================#\n"
        "# /var/log/messages - Last 3 Lines\n"
        "2024-06-09T06:06:20.123456+02:00 host1 kernel: one\n"
        "2024-06-09T06:06:21.000000+02:00 host1 kernel: two\n"
        "\n"
        "#==[ Log File ]=====================================#\n"
        "# /var/log/warn - File not found\n").encode())
    for path in (str(folder), make_tar(folder, tmp_path / "scc_host1_240609_0606.txz", "w:xz")):
        source = sources.open_source(path)
        assert source.kind == "supportconfig"
        assert source.read_text("/etc/os-release").startswith('NAME="SLES"')
        text, origin = source.command_output("uname -a")
        assert text.startswith("Linux host1") and origin == "basic-environment.txt:3"
        assert source.log_files("messages") == ["var/log/messages"]
        lines = list(source.log_lines("messages"))
        assert [l.text[-3:] for l in lines] == ["one", "two"]
        # evidence points into the bundle file, at the real line
        assert (lines[0].origin, lines[0].lineno) == ("messages.txt", 3)
        assert not source.exists("var/log/warn")
        assert any("last 3 lines" in w for w in source.warnings)


def test_encrypted_and_missing_bundles_are_refused_politely(tmp_path):
    gpg = tmp_path / "sosreport.tar.xz.gpg"
    gpg.write_bytes(b"\x85\x02\x0c\x03" + os.urandom(64))
    with pytest.raises(sources.SourceError) as error:
        sources.open_source(str(gpg))
    assert "encrypted" in str(error.value) and "gpg --decrypt" in str(error.value)
    with pytest.raises(sources.SourceError) as error:
        sources.open_source(str(tmp_path / "nope"))
    assert "no such file" in str(error.value)
    junk = tmp_path / "junk.tar.xz"
    junk.write_bytes(lzma.compress(b"not a tar at all" * 10)[:40])
    with pytest.raises(sources.SourceError) as error:
        sources.open_source(str(junk))
    assert "cannot read as a tar archive" in str(error.value)


def test_live_command_output_runs_through_the_runner():
    from shared.runner import RecordingRunner
    source = sources.open_source("/")
    assert source.live
    source.runner = RecordingRunner({"uname -r": (0, "6.1.0\n", "")})
    assert source.command_output("uname -r") == ("6.1.0\n", "command: uname -r")
    assert source.command_output("missing-tool --x") is None


def test_unreadable_file_as_non_root_gives_a_warning(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user for the test")
    import shutil
    import tempfile
    top = tempfile.mkdtemp(prefix="rk-perm-")  # pytest's tmp_path is root-only
    os.chmod(top, 0o755)
    write(os.path.join(top, "var/log/messages"), b"secret\n")
    os.chmod(os.path.join(top, "var/log/messages"), 0o600)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, read, report through the pipe
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            source = sources.open_source(top)
            lines = list(source.log_lines("messages"))
            os.write(write_end, repr((len(lines), source.warnings)).encode())
        except BaseException as error:
            os.write(write_end, repr((-1, [repr(error)])).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    shutil.rmtree(top)
    count, warnings = eval(report)
    assert count == 0
    assert warnings == ["var/log/messages: permission denied (run as root, or copy the file somewhere readable)"]
