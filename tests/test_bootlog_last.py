"""bootlog from `last` output in bundles without wtmp (sos login plugin, supportconfig boot.txt).

The outputs in fixtures/bootlog/last/ are what util-linux 2.38.1 `last` printed
for fixtures/bootlog/last/wtmp (see the README there); the wtmp file itself is
the ground truth the parsed text is checked against.
"""

import json
import os
import re
import shutil
import time

import pytest

from conftest import fixture_path, run_tool
from scripts import bootlog
from shared import boot_last, boot_wtmp, boottimeline, sources

BASE = fixture_path("bootlog", "last")
COLLECTED = 1707552000          # 2024-02-10 08:00 UTC: the bundle was taken during boot 5
ENDINGS = ["clean", "unclean", "clean", "clean", "unknown"]


def wtmp_entries():
    with open(os.path.join(BASE, "wtmp"), "rb") as handle:
        return list(boot_wtmp.parse(handle))


def read(zone_dir, name):
    with open(os.path.join(BASE, zone_dir, name)) as handle:
        return handle.read().splitlines()


def parse(zone_dir, name, **options):
    warnings = []
    entries = boot_last.parse(read(zone_dir, name), warn=warnings.append, **options)
    return entries, warnings


# ------------------------------------------------------------------ the parser

@pytest.mark.parametrize("zone_dir,tz", [("utc", "UTC"), ("kolkata", "Asia/Kolkata")])
@pytest.mark.parametrize("name", ["last", "last_reboot"])
def test_minute_outputs_give_every_boot_with_its_year(zone, zone_dir, tz, name):
    zone(tz)      # the box's zone: zone-less wall times read as local time
    entries, warnings = parse(zone_dir, name)
    boots = [e for e in wtmp_entries() if e.kind == "boot"]
    assert warnings == []
    assert [e.kind for e in entries] == ["boot"] * len(boots)
    # newest first; minutes cut, years from the "wtmp begins" trailer across New Year
    assert [e.stamp for e in reversed(entries)] == [int(b.stamp) // 60 * 60 for b in boots]
    assert all(e.resolution == 60 for e in entries)
    assert entries[0].kernel == "6.1.0-18-cloud-a"        # last cuts the host column at 16
    assert entries[0].end is None                          # still running


@pytest.mark.parametrize("zone_dir,tz", [("utc", "UTC"), ("kolkata", "Asia/Kolkata")])
def test_full_output_gives_boots_shutdowns_and_runlevels(zone, zone_dir, tz):
    zone(tz)
    entries, warnings = parse(zone_dir, "last_-wxF")
    assert warnings == []
    got = [(e.kind, e.stamp, e.runlevel) for e in reversed(entries)]
    want = [(e.kind, int(e.stamp), e.runlevel) for e in wtmp_entries()]
    assert got == want
    assert all(e.resolution == 1 for e in entries)
    assert entries[1].kernel == "6.1.0-18-cloud-amd64"     # -w: the whole kernel release
    text = read(zone_dir, "last_-wxF")
    assert all(text[e.lineno - 1] == e.text for e in entries)


def test_last_shutdown_without_x_lists_nothing():
    entries, warnings = parse("utc", "last_shutdown")
    assert entries == [] and warnings == []


def test_zone_less_times_are_wall_time_of_the_box(zone):
    zone("UTC")
    local, _ = parse("kolkata", "last_reboot")
    as_utc, _ = parse("kolkata", "last_reboot", utc=True)
    truth = [int(e.stamp) // 60 * 60 for e in wtmp_entries() if e.kind == "boot"]
    # read on a UTC box, the Kolkata wall times are 5h30 off until the zones are aligned
    assert [e.stamp - 19800 for e in reversed(local)] == truth
    assert [e.stamp for e in local] == [e.stamp for e in as_utc]


def test_without_trailer_the_year_comes_from_the_reference(zone):
    zone("UTC")
    lines = [t for t in read("utc", "last") if "begins" not in t]
    entries = boot_last.parse(lines, reference=COLLECTED)
    truth = [int(e.stamp) // 60 * 60 for e in wtmp_entries() if e.kind == "boot"]
    assert [e.stamp for e in reversed(entries)] == truth
    # a year later the printed weekdays no longer fit 2025: the year goes back to 2024
    again = boot_last.parse(lines, reference=COLLECTED + 365 * 86400)
    assert [e.stamp for e in again] == [e.stamp for e in entries]


def test_end_column_is_the_next_shutdown_last_met(zone):
    zone("UTC")
    entries, _ = parse("utc", "last_reboot")
    by_start = list(reversed(entries))
    downs = [int(e.stamp) // 60 * 60 for e in wtmp_entries()
             if e.kind == "shutdown" or (e.kind == "runlevel" and e.runlevel in "06")]
    # the crashed boot 2 shows the power-off of boot 3, not an end of its own
    assert by_start[1].end == by_start[2].end == downs[2]
    assert by_start[1].end > by_start[2].stamp
    assert by_start[0].end <= by_start[1].stamp


def test_junk_truncated_and_foreign_lines_warn_and_keep_the_rest(zone):
    zone("UTC")
    lines = read("utc", "last_reboot")
    junk = ["\x00\x01binary\xff", "reboot   system boot  6.1.0-1",                     # cut mid-line
            "reboot   system boot  6.1.0-18-amd64   Sa Feb  3 12:00   noch aktiv",     # other locale
            "", "random text"]
    warnings = []
    entries = boot_last.parse(junk + lines[:3], warn=warnings.append, reference=COLLECTED)
    assert len(entries) == 3
    assert len(warnings) == 1 and "2 reboot/shutdown line(s)" in warnings[0] and "LC_ALL=C" in warnings[0]


# ------------------------------------------------------------------ the timeline

def sos_bundle(tmp_path, zone_dir="utc", names=("last", "last_reboot", "last_shutdown"), extra=None):
    top = tmp_path / "sosreport-host-2024-02-10"
    login = top / "sos_commands" / "login"
    login.mkdir(parents=True)
    (top / "sos_reports").mkdir()
    (top / "sos_reports" / "manifest.json").write_text("{}")
    for name in names:
        shutil.copy(os.path.join(BASE, zone_dir, name), str(login / name))
        os.utime(str(login / name), (COLLECTED, COLLECTED))
    if extra:
        extra(top)
    return str(top)


def judged(path, utc=True):
    source = sources.open_source(path)
    line = boottimeline.timeline(source, journal=False, utc=utc)
    return source, line


@pytest.mark.parametrize("zone_dir,tz", [("utc", "UTC"), ("kolkata", "Asia/Kolkata")])
def test_sos_last_outputs_judge_the_crash_and_the_clean_ends(tmp_path, zone, zone_dir, tz):
    zone(tz)
    path = sos_bundle(tmp_path, zone_dir)
    source, line = judged(path, utc=False)
    boots = [b.to_dict() for b in line.boots]
    truth = [int(e.stamp) // 60 * 60 for e in wtmp_entries() if e.kind == "boot"]
    assert [b["ending"] for b in boots] == ENDINGS
    assert [b["start_epoch"] for b in boots] == truth
    assert boots[1]["cause"]["title"].startswith("no evidence")
    assert [i["kind"] for i in line.to_dict()["inputs"]] == ["last"]
    assert source.warnings == []
    for boot in boots:      # evidence: the bundle file and the line of `last` output
        start = boot["evidence"]["start"]
        assert start["origin"].startswith("sos_commands/login/last")
        with open(os.path.join(path, start["origin"])) as handle:
            assert handle.read().splitlines()[start["line"] - 1].strip() == start["excerpt"]
    # no -x: the clean end is read from the boot line's end column (the next shutdown last met)
    ends = boots[0]["evidence"]["end"]
    assert len(ends) == 1 and ends[0]["excerpt"] == boots[0]["evidence"]["start"]["excerpt"]
    assert boots[1]["evidence"]["end"] == []


def test_bootlog_cli_on_a_sos_folder_flags_the_unclean_boot(tmp_path, capsys, zone):
    zone("UTC")
    path = sos_bundle(tmp_path)
    code, out, err = run_tool(bootlog, ["--root", path, "--utc", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0
    assert [b["ending"] for b in doc["result"]["boots"]] == ENDINGS
    code, out, err = run_tool(bootlog, ["--root", path, "--utc", "--fail-on", "unclean"], capsys)
    assert code == 1 and "UNCLEAN" in out and "Traceback" not in err


def supportconfig_bundle(tmp_path, zone_dir="utc"):
    top = tmp_path / "scc_host_240210_0800"
    top.mkdir()
    (top / "basic-environment.txt").write_text("#==[ Command ]======================================#\n"
                                               "# /bin/date\nSat Feb 10 08:00:00 UTC 2024\n")
    kept = [t for t in read(zone_dir, "last_-wxF") if re.search("reboot|shutdown|runlevel|system", t)]
    text = ("#==[ Command ]======================================#\n"
            "# /usr/bin/uname -a\nLinux host 6.1.0-18-cloud-amd64 #1 SMP x86_64 GNU/Linux\n\n"
            "#==[ Command ]======================================#\n"
            "# /usr/bin/last -wxF | egrep \"reboot|shutdown|runlevel|system\"\n" + "\n".join(kept) + "\n\n")
    (top / "boot.txt").write_text(text)
    for name in os.listdir(str(top)):
        os.utime(str(top / name), (COLLECTED, COLLECTED))
    return str(top)


def test_supportconfig_boot_txt_last_section(tmp_path, zone):
    zone("UTC")
    path = supportconfig_bundle(tmp_path)
    source, line = judged(path)
    assert source.kind == "supportconfig"
    boots = [b.to_dict() for b in line.boots]
    assert [b["ending"] for b in boots] == ENDINGS
    assert [b["action"] for b in boots[:4]] == ["reboot", None, "poweroff", "shutdown"]
    assert [b["start_epoch"] for b in boots] == [int(e.stamp) for e in wtmp_entries() if e.kind == "boot"]
    assert boots[4]["kernel"] == "6.1.0-18-cloud-amd64"
    with open(os.path.join(path, "boot.txt")) as handle:
        text = handle.read().splitlines()
    for boot in boots:
        for evidence in [boot["evidence"]["start"]] + boot["evidence"]["end"]:
            assert evidence["origin"] == "boot.txt"
            assert text[evidence["line"] - 1].strip() == evidence["excerpt"]
    assert boots[2]["evidence"]["end"][0]["excerpt"].startswith("runlevel (to lvl 0)")


def syslog_for_boots(top):
    """var/log/messages with the kernel banner a few seconds before each wtmp boot record."""
    lines = []
    boots = [e for e in wtmp_entries() if e.kind == "boot"]
    for entry in boots:
        for offset, message in ((-9, "kernel: [    0.000000] Linux version %s (debian-kernel@lists.debian.org) "
                                      "(gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC" % entry.kernel),
                                (-9, "kernel: [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro"),
                                (30, "systemd[1]: Startup finished in 2.1s (kernel) + 9.3s (userspace) = 11.4s.")):
            stamp = time.gmtime(entry.stamp + offset)
            lines.append("%s host %s" % (time.strftime("%b %e %H:%M:%S", stamp), message))
    folder = top / "var" / "log"
    folder.mkdir(parents=True)
    (folder / "messages").write_text("\n".join(lines) + "\n")
    os.utime(str(folder / "messages"), (COLLECTED, COLLECTED))


@pytest.mark.parametrize("names", [("last", "last_reboot", "last_shutdown")])
def test_syslog_and_last_see_the_same_boots_once(tmp_path, zone, names):
    zone("UTC")
    path = sos_bundle(tmp_path, names=names, extra=syslog_for_boots)
    _, line = judged(path)
    boots = [b.to_dict() for b in line.boots]
    assert len(boots) == 5
    assert all(sorted(b["inputs"]) == ["last", "var/log/messages*"] for b in boots)
    assert [b["ending"] for b in boots] == ENDINGS
    # the kernel's own start (syslog, seconds) wins over the minute of `last`
    truth = [int(e.stamp) - 9 for e in wtmp_entries() if e.kind == "boot"]
    assert [round(b["start_epoch"]) for b in boots] == truth


def test_wtmp_in_the_bundle_wins_over_last_output(tmp_path, zone):
    zone("UTC")

    def with_wtmp(top):
        (top / "var" / "log").mkdir(parents=True)
        shutil.copy(os.path.join(BASE, "wtmp"), str(top / "var" / "log" / "wtmp"))
    path = sos_bundle(tmp_path, extra=with_wtmp)
    _, line = judged(path)
    kinds = [i["kind"] for i in line.to_dict()["inputs"]]
    assert "wtmp" in kinds and "last" not in kinds
    boots = [b.to_dict() for b in line.boots]
    assert [b["ending"] for b in boots] == ENDINGS
    assert all(b["inputs"] == ["wtmp"] for b in boots)


def test_broken_last_file_is_a_warning_not_a_traceback(tmp_path, capsys, zone):
    zone("UTC")

    def damage(top):
        login = top / "sos_commands" / "login"
        text = (login / "last").read_text().splitlines()
        (login / "last").write_text("\n".join(text[:5]) + "\nreboot   system boot  6.1.0-17-amd64   Tue Ja")
        (login / "last_reboot").write_bytes(b"\x00\xff\xfe" * 400)
        os.utime(str(login / "last"), (COLLECTED, COLLECTED))
    path = sos_bundle(tmp_path, extra=damage)
    code, out, err = run_tool(bootlog, ["--root", path, "--utc", "--json"], capsys)
    doc = json.loads(out)
    assert code in (0, 3)
    assert "Traceback" not in err
    assert any("not understood" in w for w in doc["warnings"])
    assert any("last_reboot" in w and "not last output" in w for w in doc["warnings"])
    # the three newest boots the truncated file still shows
    assert len(doc["result"]["boots"]) == 3


@pytest.mark.parametrize("name", ["last", "last_reboot", "last_-wxF"])
def test_a_saved_last_output_given_as_a_file(zone, capsys, name):
    """'last -xF > last.txt' copied off a box: bootlog FILE reads it as last output, not as a console log."""
    zone("UTC")
    code, out, err = run_tool(bootlog, [os.path.join(BASE, "utc", name), "--utc", "--json"], capsys)
    doc = json.loads(out)["result"]
    assert [i["kind"] for i in doc["inputs"]] == ["last"]
    assert [b["ending"] for b in doc["boots"]] == ENDINGS


def test_other_text_is_not_taken_for_last_output():
    for path in (fixture_path("bootlog", "console", "qemu-debian12-4boots.log"),
                 fixture_path("bootlog", "rhel8", "var", "log", "messages"),
                 fixture_path("bootlog", "sos-rhel9", "sos_commands", "logs", "journalctl_--no-pager")):
        assert not boottimeline._looks_last(path), path
    assert boottimeline._looks_last(os.path.join(BASE, "utc", "last_shutdown"))     # the trailer alone


def test_user_sessions_show_how_long_a_crashed_boot_was_seen_up(tmp_path, zone):
    """Plain 'last' lists logins too: bob logged in on Jan 1 10:05 during boot 2 (his line ends
    in 'crash'), so boot 2 was up at least until then -- the unclean end is after that."""
    zone("UTC")
    entries = boot_last.parse(read("utc", "last"), sessions=True)
    sessions = [e for e in entries if e.kind == "session"]
    assert [e.text.split()[0] for e in sessions] == ["carol", "alice", "bob", "alice"]
    bob = sessions[2]
    assert bob.end is None and "crash" in bob.text
    alice = sessions[1]          # Tue Jan  2 08:00 - 12:00 (04:00)
    assert alice.end - alice.stamp == 4 * 3600
    assert [e.kind for e in boot_last.parse(read("utc", "last"))].count("session") == 0   # opt-in
    _, line = judged(sos_bundle(tmp_path))
    boots = [b.to_dict() for b in line.boots]
    assert [b["ending"] for b in boots] == ENDINGS
    assert boots[1]["end_epoch"] == bob.stamp == 1704103500             # 2024-01-01 10:05 UTC
    assert boots[2]["end_epoch"] >= alice.end                           # alice's logout during boot 3
