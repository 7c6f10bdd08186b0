"""bootlog on a supportconfig whose journal lives in Command sections (messages.txt, boot.txt)."""

import json
import os
import shutil
import tarfile

import pytest

from conftest import fixture_path, run_tool
from scripts import bootlog
from shared import boottimeline, sources

NAME = "scc_node01_240313_1412"
BASE = fixture_path("bootlog", "supportconfig", NAME)
COLLECTED = 1710335565          # 2024-03-13 13:12:45 UTC, when supportconfig ran


def copy(tmp_path, edit=None):
    target = str(tmp_path / NAME)
    shutil.copytree(BASE, target)
    if edit:
        edit(target)
    for name in os.listdir(target):
        os.utime(os.path.join(target, name), (COLLECTED, COLLECTED))
    return target


def result(argv, capsys):
    code, out, err = run_tool(bootlog, argv + ["--json"], capsys)
    return code, json.loads(out)


def line_of(path, lineno):
    with open(path) as handle:
        return handle.read().splitlines()[lineno - 1]


def test_journal_sections_give_three_boots_each_counted_once(tmp_path, capsys, zone):
    zone("UTC")
    root = copy(tmp_path)
    code, doc = result(["--root", root, "--utc"], capsys)
    boots = doc["result"]["boots"]
    assert code == 0
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert [b["start"][:19] for b in boots] == ["2024-03-11T09:15:02", "2024-03-13T07:30:45",
                                                "2024-03-13T13:05:12"]
    # messages.txt (short-iso, +0100) and boot.txt (--boot N, zone-less) saw the same boots
    for boot in boots:
        assert any(name.startswith("messages.txt:") for name in boot["inputs"])
        assert any(name.startswith("boot.txt:") for name in boot["inputs"])
    assert boots[0]["action"] == "poweroff"
    assert boots[1]["cause"]["kind"] == "power button"
    kinds = sorted(set(i["kind"] for i in doc["result"]["inputs"]))
    assert kinds == ["dmesg", "journal-text", "last"]       # boot.txt also has last -wxF


def test_evidence_points_at_the_line_in_the_supportconfig_file(tmp_path, capsys, zone):
    zone("UTC")
    root = copy(tmp_path)
    _, doc = result(["--root", root, "--utc"], capsys)
    for boot in doc["result"]["boots"]:
        start = boot["evidence"]["start"]
        text = line_of(os.path.join(root, start["origin"]), start["line"])
        assert start["excerpt"] in text or text.endswith(start["excerpt"].split(": ", 1)[-1])
        assert "Linux version" in text
    first_end = doc["result"]["boots"][0]["evidence"]["end"][-1]
    assert line_of(os.path.join(root, first_end["origin"]), first_end["line"]).endswith(first_end["excerpt"]
                                                                                        .split(": ", 1)[-1])


def test_the_machines_zone_does_not_change_the_boots(tmp_path, capsys, zone):
    root = copy(tmp_path)
    zone("UTC")
    _, in_utc = result(["--root", root], capsys)
    zone("America/New_York")
    _, in_new_york = result(["--root", root], capsys)
    assert [b["start_epoch"] for b in in_utc["result"]["boots"]] == \
        [b["start_epoch"] for b in in_new_york["result"]["boots"]]
    assert len(in_new_york["result"]["boots"]) == 3


def test_default_supportconfig_last_lines_and_current_boot(tmp_path, capsys, zone):
    """Without -A supportconfig keeps the journal's last lines and only the current boot in boot.txt."""
    def default_shape(target):
        boot_txt = os.path.join(target, "boot.txt")
        with open(boot_txt) as handle:
            sections = handle.read().split("#==[ ")
        kept = [s for s in sections if "--list-boot" not in s and "--boot 1" not in s and "--boot 2" not in s]
        text = "#==[ ".join(kept).replace("# /usr/bin/journalctl --no-pager --boot 0\n",
                                          "# /usr/bin/journalctl --no-pager --boot 0 | tail -n 2000\n")
        with open(boot_txt, "w") as handle:
            handle.write(text)
        messages = os.path.join(target, "messages.txt")
        with open(messages) as handle:
            text = handle.read().replace("--output=short-iso\n", "--output=short-iso --lines 5000\n")
        with open(messages, "w") as handle:
            handle.write(text)
    zone("UTC")
    root = copy(tmp_path, default_shape)
    _, doc = result(["--root", root, "--utc"], capsys)
    boots = doc["result"]["boots"]
    assert [b["ending"] for b in boots] == ["clean", "unclean", "unknown"]
    assert len(boots[2]["inputs"]) == 4        # messages.txt, boot.txt --boot 0 | tail and last -wxF, dmesg -T


def test_supportconfig_archive(tmp_path, capsys, zone):
    zone("UTC")
    root = copy(tmp_path)
    archive = str(tmp_path / (NAME + ".txz"))
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(root, arcname=NAME)
    _, doc = result(["--root", archive, "--utc"], capsys)
    assert [b["ending"] for b in doc["result"]["boots"]] == ["clean", "unclean", "unknown"]


@pytest.mark.parametrize("command, wanted", [
    ("/usr/bin/journalctl --no-pager --output=short-iso", True),
    ("/usr/bin/journalctl --no-pager --output=short-iso --lines 5000", True),
    ("/usr/bin/journalctl --no-pager --boot 0", True),
    ("/usr/bin/journalctl --no-pager --boot 2", True),
    ("/usr/bin/journalctl --no-pager --boot 0 | tail -n 2000", True),
    ("/usr/bin/journalctl --no-pager --list-boot", False),
    ("/usr/bin/journalctl --no-pager --disk-usage", False),
    ("/usr/bin/journalctl --no-pager -u sshd.service", False),
    ("/usr/bin/journalctl --no-pager -o json", False),
    ("/usr/bin/journalctl --no-pager --boot 0 | grep -i error", False),
])
def test_which_journal_sections_are_boot_logs(command, wanted):
    assert boottimeline.journal_export_words(sources.command_words(command)) is wanted


def test_engine_lists_the_sections(tmp_path, zone):
    zone("UTC")
    source = sources.open_source(copy(tmp_path))
    names = [name for name, kind, _ in boottimeline.supportconfig_inputs(source)]
    assert names[0].startswith("boot.txt:") and names[-1].startswith("messages.txt:")
    assert len(names) == 5      # --boot 0, 1, 2, dmesg -T, messages.txt
