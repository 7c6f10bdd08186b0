"""The one lock-file helper: exclusive, non-blocking, gone when the holder dies."""

import os
import signal
import time

from shared import lockfile


def test_second_holder_is_refused_and_release_frees_it(tmp_path):
    path = str(tmp_path / "lock")
    first = lockfile.try_lock(path)
    assert first is not None and lockfile.is_held(path)
    assert lockfile.try_lock(path) is None          # another open file description: refused
    lockfile.release(first)
    assert not lockfile.is_held(path)
    again = lockfile.try_lock(path)
    assert again is not None
    lockfile.release(again)


def test_missing_file_without_create(tmp_path):
    assert lockfile.try_lock(str(tmp_path / "absent"), create=False) is None
    assert not lockfile.is_held(str(tmp_path / "absent"))


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = str(tmp_path / "lock")
    pid = os.fork()
    if pid == 0:
        lockfile.try_lock(path)
        time.sleep(60)
        os._exit(0)
    deadline = time.time() + 10
    while time.time() < deadline and not lockfile.is_held(path):
        time.sleep(0.02)
    assert lockfile.is_held(path)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert not lockfile.is_held(path)
    fd = lockfile.try_lock(path)
    assert fd is not None
    lockfile.release(fd)
