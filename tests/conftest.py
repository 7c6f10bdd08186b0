"""Shared test setup: the checkout root on sys.path, fixture paths, skips."""

import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Read-only tools lower their priority and cap their memory; in the test
# process that would make the whole suite nice'd and capped.
os.environ.setdefault("RESCUEKIT_NO_MANNERS", "1")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


@pytest.fixture
def fixtures_dir():
    return FIXTURES


@pytest.fixture
def zone(monkeypatch):
    """``zone(name)`` sets the local zone (TZ, tzset) for the test; restored after."""
    def set_zone(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def utc(zone):
    """Zone-less log stamps are local time: pin UTC so results are stable."""
    zone("UTC")


def need_root():
    """Skip unless running as root (with the reason)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")


def run_tool(module, argv, capsys):
    """Run a tool's main(argv) in-process; return (exit code, stdout, stderr)."""
    code = module.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
