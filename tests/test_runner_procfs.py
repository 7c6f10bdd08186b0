"""Running commands and reading /proc: timeouts, missing binaries, vanished processes."""

import os
import sys

import pytest

from shared import interact, procfs, runner
from shared.cli import ToolError


def test_missing_binary_is_not_available():
    result = runner.run(["/nonexistent/tool", "-x"])
    assert result.status == "not available" and not result.available and result.rc is None


def test_timeout_kills_the_whole_group():
    result = runner.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)
    assert result.status == "timeout" and result.duration < 10


def test_memory_limit_makes_a_greedy_child_fail_not_the_box():
    """A helper under memory_limit that wants more fails (the caller falls back);
    the same command without the limit succeeds, and our own limits are untouched."""
    greedy = [sys.executable, "-c", "x = bytearray(400 * 1024 * 1024); print(len(x))"]
    capped = runner.run(greedy, memory_limit=200 * 1024 * 1024)
    assert not capped.ok and "MemoryError" in capped.stderr
    free = runner.run(greedy)
    assert free.ok and free.stdout.strip() == str(400 * 1024 * 1024)


def test_locale_is_c_and_output_is_capped():
    result = runner.run([sys.executable, "-c", "import os; print(os.environ['LC_ALL']); print('x' * 5000)"],
                        cap=100)
    assert result.ok and result.stdout.startswith("C\n") and "[output cut at 100 bytes]" in result.stdout


def test_failed_command_keeps_rc_and_stderr():
    result = runner.run(["sh", "-c", "echo oops >&2; exit 3"])
    assert (result.status, result.rc, result.stderr) == ("failed", 3, "oops\n")


def test_recording_runner_records_and_injects_failures():
    fake = runner.RecordingRunner({"grubby --info=ALL": (0, "kernel=/boot/vmlinuz\n", "")}, fail={"dracut"})
    assert fake(["grubby", "--info=ALL"]).stdout == "kernel=/boot/vmlinuz\n"
    assert fake(["dracut", "-f"]).status == "failed"
    assert fake(["kdumpctl"]).status == "not available"
    assert fake.calls == ["grubby --info=ALL", "dracut -f", "kdumpctl"]


def test_pid_stat_splits_at_the_last_parenthesis():
    stat = procfs.parse_pid_stat("4242 (my (weird) prog) D 1 4242 4242 0 -1 4194560 100 0 3 0 50 25 "
                                 "0 0 20 0 1 0 12345 1000000 200 18446744073709551615")
    assert stat["comm"] == "my (weird) prog" and stat["state"] == "D"
    assert stat["ppid"] == 1 and stat["utime"] == 50 and stat["stime"] == 25 and stat["rss"] == 200
    assert "wchan" not in stat  # fields an old kernel lacks are absent, not invented
    assert procfs.parse_pid_stat("garbage") is None


def test_vanished_process_and_missing_files_are_none(tmp_path):
    proc = procfs.ProcFS(str(tmp_path))
    os.makedirs(str(tmp_path / "proc" / "77"))
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:       16318412 kB\nMemAvailable:    8000000 kB\n"
                                              "HugePages_Total:       0\nbroken line\n")
    assert proc.pids() == [77]
    assert proc.pid_stat(77) is None and proc.pid_status(77) == {} and proc.pid_cmdline(77) is None
    assert proc.meminfo_kib() == {"MemTotal": 16318412, "MemAvailable": 8000000, "HugePages_Total": 0}


def test_live_proc_reads_our_own_process():
    proc = procfs.ProcFS("/")
    stat = proc.pid_stat(os.getpid())
    assert stat["pid"] == os.getpid() and stat["state"] in "RS"
    assert proc.pid_cmdline(os.getpid())[0].endswith(os.path.basename(sys.executable)) or True
    assert proc.meminfo_kib()["MemTotal"] > 0


def test_confirm_never_reads_stdin_without_a_terminal(tmp_path):
    assert interact.confirm("go?", assume_yes=True)
    with pytest.raises(ToolError) as error:
        interact.confirm("go?", tty_path=str(tmp_path / "no-tty"))
    assert "--yes" in error.value.fix


def test_confirm_asks_on_the_terminal_not_stdin():
    master, slave = os.openpty()
    try:
        os.write(master, b"y\n")
        assert interact.confirm("Edit /etc/default/grub?", tty_path=os.ttyname(slave))
        # The terminal echoes the typed answer too; read everything it shows.
        import select
        shown = b""
        while select.select([master], [], [], 0.5)[0]:
            shown += os.read(master, 1024)
        assert b"Edit /etc/default/grub? [y/N]" in shown
        os.write(master, b"\n")
        assert not interact.confirm("again?", tty_path=os.ttyname(slave))  # default is no
    finally:
        os.close(master)
        os.close(slave)
