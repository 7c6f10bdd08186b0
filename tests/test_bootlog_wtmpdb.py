"""bootlog on wtmpdb (/var/lib/wtmpdb/wtmp.db): boots, shutdowns, merging, a Python without sqlite3."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import fixture_path, run_tool
from test_bootlog_engine import epoch
from scripts import bootlog
from shared import boot_wtmp, boot_wtmpdb, boottimeline, sources


BASE = fixture_path("bootlog")
KERNEL = "5.14.21-150500.55.39-default"


def case(tmp_path, with_messages=True):
    root = str(tmp_path / "wtmpdb")
    shutil.copytree(os.path.join(BASE, "wtmpdb"), root)
    messages = os.path.join(root, "var", "log", "messages")
    if with_messages:
        os.utime(messages, (1710335513, 1710335513))
    else:
        os.unlink(messages)
    return root


def boots_of(argv, capsys):
    code, out, err = run_tool(bootlog, argv + ["--json", "--utc", "--no-journal"], capsys)
    document = json.loads(out)
    return code, document["result"]["boots"], document["warnings"], document["result"]["inputs"]


def test_fixture_is_a_wtmpdb_database_with_the_real_schema():
    import sqlite3
    path = os.path.join(BASE, "wtmpdb", "var", "lib", "wtmpdb", "wtmp.db")
    with open(path, "rb") as handle:
        assert boot_wtmpdb.looks_wtmpdb(handle.read(16))
    connection = sqlite3.connect("file:%s?mode=ro&immutable=1" % path, uri=True)
    try:
        (schema,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'wtmp'").fetchone()
    finally:
        connection.close()
    assert schema.startswith("CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, "
                             "Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT)")


def test_wtmpdb_alone_boots_shutdown_and_crash(tmp_path, capsys, utc):
    root = case(tmp_path, with_messages=False)
    code, boots, warnings, inputs = boots_of(["--root", root], capsys)
    assert code == 0
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert [b["start"][:19] for b in boots] == ["2024-03-11T09:15:00", "2024-03-13T07:30:43",
                                                "2024-03-13T13:05:10"]
    assert all(b["kernel"] == KERNEL for b in boots)
    # the Logout that ``wtmpdb shutdown`` wrote is the clean end
    assert boots[0]["end"][:19] == "2024-03-12T22:40:18"
    assert boots[0]["evidence"]["end"][0]["origin"] == "var/lib/wtmpdb/wtmp.db"
    assert boots[0]["evidence"]["end"][0]["line"] == 1
    assert boots[1]["cause"]["kind"] == "none"
    # a session logged after the boot extends how long it was seen up
    assert boots[2]["end"][:19] == "2024-03-13T13:07:55"
    assert [i["kind"] for i in inputs] == ["wtmpdb"]
    assert warnings == []


def test_wtmpdb_and_syslog_merge_into_the_same_boots(tmp_path, capsys, utc):
    root = case(tmp_path)
    _, boots, _, _ = boots_of(["--root", root], capsys)
    assert len(boots) == 3
    assert all(set(b["inputs"]) == {"var/log/messages*", "wtmpdb"} for b in boots)
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    # how it ended comes from syslog (a power off), that it ended from both
    assert boots[0]["action"] == "poweroff"
    assert boots[1]["cause"]["kind"] == "power button"


def test_wtmp_and_wtmpdb_of_the_same_boots_are_not_double_counted(tmp_path, capsys, utc):
    root = case(tmp_path, with_messages=False)
    with open(os.path.join(root, "var", "log", "wtmp"), "wb") as handle:
        # the utmp-format file a transition system still writes, seconds after the kernel started
        handle.write(boot_wtmp.boot_record(epoch("2024-03-11 09:15:09"), KERNEL))
        handle.write(boot_wtmp.shutdown_record(epoch("2024-03-12 22:40:18"), KERNEL))
        handle.write(boot_wtmp.boot_record(epoch("2024-03-13 07:30:52"), KERNEL))
        handle.write(boot_wtmp.boot_record(epoch("2024-03-13 13:05:19"), KERNEL))
    _, boots, _, inputs = boots_of(["--root", root], capsys)
    assert len(boots) == 3
    assert all(set(b["inputs"]) == {"wtmp", "wtmpdb"} for b in boots)
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert sorted(i["kind"] for i in inputs) == ["wtmp", "wtmpdb"]


def test_wtmpdb_file_given_on_the_command_line(tmp_path, capsys, utc):
    path = os.path.join(case(tmp_path, with_messages=False), "var", "lib", "wtmpdb", "wtmp.db")
    _, boots, warnings, inputs = boots_of([path], capsys)
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert inputs[0]["kind"] == "wtmpdb"
    assert not any("partial record" in w for w in warnings), "not mistaken for a utmp file"


def test_rotated_databases_are_read_oldest_first(tmp_path, capsys, utc):
    root = str(tmp_path / "root")
    folder = os.path.join(root, "var", "lib", "wtmpdb")
    os.makedirs(folder)
    us = 1000000
    boot_wtmpdb.create(os.path.join(folder, "wtmp_20240301.db"), [
        (boot_wtmpdb.BOOT_TIME, "reboot", epoch("2024-02-01 08:00:00") * us, epoch("2024-02-20 18:00:00") * us,
         "~", "6.7.5-1-default", None),
    ])
    boot_wtmpdb.create(os.path.join(folder, "wtmp.db"), [
        (boot_wtmpdb.BOOT_TIME, "reboot", epoch("2024-02-21 07:59:00") * us, None, "~", "6.7.6-1-default", None),
        (boot_wtmpdb.USER_PROCESS, "admin", epoch("2024-02-21 09:00:00") * us, None, "pts/0", "192.0.2.7",
         "sshd"),
        (boot_wtmpdb.BOOT_TIME, "reboot", epoch("2024-03-05 07:59:00") * us, None, "~", "6.7.7-1-default", None),
    ])
    _, boots, _, inputs = boots_of(["--root", root], capsys)
    assert [b["kernel"] for b in boots] == ["6.7.5-1-default", "6.7.6-1-default", "6.7.7-1-default"]
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert inputs[0]["files"] == ["var/lib/wtmpdb/wtmp_20240301.db", "var/lib/wtmpdb/wtmp.db"]


def test_reading_leaves_no_journal_or_lock_files_beside_the_database(tmp_path):
    folder = os.path.join(case(tmp_path, with_messages=False), "var", "lib", "wtmpdb")
    before = sorted(os.listdir(folder))
    entries, problem = boot_wtmpdb.read(os.path.join(folder, "wtmp.db"))
    assert problem is None
    assert [e.kind for e in entries].count("boot") == 3
    assert sorted(os.listdir(folder)) == before


def test_read_only_mounted_root(tmp_path, capsys, utc):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a read-only bind mount")
    root = case(tmp_path, with_messages=False)
    mountpoint = str(tmp_path / "ro")
    os.mkdir(mountpoint)
    if subprocess.call(["mount", "--bind", root, mountpoint], stderr=subprocess.DEVNULL) != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        if subprocess.call(["mount", "-o", "remount,ro,bind", mountpoint], stderr=subprocess.DEVNULL) != 0:
            pytest.skip("cannot remount read-only here")
        with pytest.raises(OSError):
            open(os.path.join(mountpoint, "probe"), "w")
        _, boots, warnings, _ = boots_of(["--root", mountpoint], capsys)
        assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
        assert warnings == []
    finally:
        subprocess.call(["umount", mountpoint])


def test_python_without_sqlite3_says_so_once_and_goes_on(tmp_path, capsys, monkeypatch, utc):
    root = case(tmp_path)
    monkeypatch.setitem(sys.modules, "sqlite3", None)     # import sqlite3 -> ImportError
    code, boots, warnings, _ = boots_of(["--root", root], capsys)
    assert len(boots) == 3 and all(b["inputs"] == ["var/log/messages*"] for b in boots)
    notes = [w for w in warnings if "sqlite3" in w]
    assert len(notes) == 1 and notes[0].startswith("var/lib/wtmpdb/wtmp.db: ")
    assert "\n" not in notes[0]


def test_damaged_database_is_a_warning(tmp_path, capsys, utc):
    root = case(tmp_path)
    path = os.path.join(root, "var", "lib", "wtmpdb", "wtmp.db")
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff" * 3000)
    code, boots, warnings, _ = boots_of(["--root", root], capsys)
    assert len(boots) == 3                      # syslog still answers
    assert any(w.startswith("var/lib/wtmpdb/wtmp.db: ") for w in warnings)


def test_engine_api_reads_wtmpdb(tmp_path, utc):
    root = case(tmp_path, with_messages=False)
    result = boottimeline.timeline(sources.open_source(root), journal=False, utc=True)
    assert [b.ending for b in result.boots] == ["clean", "unclean", "unknown"]


def test_database_bytes_from_an_archive_member(tmp_path):
    path = os.path.join(case(tmp_path, with_messages=False), "var", "lib", "wtmpdb", "wtmp.db")
    with open(path, "rb") as handle:
        data = handle.read()
    entries, problem = boot_wtmpdb.read(data=data)
    if sys.version_info >= (3, 11):
        assert problem is None
        assert [e.kind for e in entries].count("boot") == 3
    else:       # no sqlite3 deserialize before 3.11: one line saying what to do instead
        assert entries == [] and "extract the archive" in problem
