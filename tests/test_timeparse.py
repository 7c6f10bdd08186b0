"""Durations, sizes, --since/--until, ISO stamps, year inference, display."""

import os
import time

import pytest

from shared import timeparse


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("10m", 600), ("24h", 86400), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25),
    ("30", 30), ("1.5h", 5400),
])
def test_durations(text, seconds):
    assert timeparse.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "ten", "5x", "1h30", "-5m"])
def test_bad_durations_say_how_to_write_one(bad):
    with pytest.raises(ValueError) as error:
        timeparse.parse_duration(bad)
    assert "90s" in str(error.value)


@pytest.mark.parametrize("text,count", [
    ("500M", 500 * 1024 ** 2), ("2G", 2 * 1024 ** 3), ("512K", 512 * 1024), ("1GiB", 1024 ** 3),
    ("100", 100), ("1.5G", int(1.5 * 1024 ** 3)),
])
def test_sizes_use_binary_units(text, count):
    assert timeparse.parse_size(text) == count


def test_when_relative_and_absolute():
    now = 1717913180.0  # 2024-06-09T06:06:20Z
    assert timeparse.parse_when("-2h", now) == now - 7200
    assert timeparse.parse_when("2h ago", now) == now - 7200
    assert timeparse.parse_when("@1000", now) == 1000
    assert timeparse.parse_when("2024-06-09T06:06:20Z", now) == now
    assert timeparse.parse_when("2024-06-09 08:06:20+02:00", now) == now
    assert timeparse.parse_when("2024-06-09 06:06:20", now, utc=True) == now
    with pytest.raises(ValueError):
        timeparse.parse_when("last tuesday", now)


def test_iso_with_fraction_and_compact_zone():
    assert timeparse.parse_iso("2023-10-01T06:06:20.123456+02:00") == pytest.approx(1696133180.123456)
    assert timeparse.parse_iso("2023-10-01T06:06:20-0400") == 1696154780
    assert timeparse.parse_iso("not a time") is None
    assert timeparse.parse_iso("2023-02-30T00:00:00Z") is None


def local_epoch(*fields):
    return time.mktime(fields + (0, 0, -1))


def test_year_inference_rolls_over_december_to_january():
    mtime = local_epoch(2024, 1, 2, 12, 0, 0)
    years = timeparse.YearInference(mtime=mtime)
    first = years.epoch(12, 31, 23, 59, 0)
    second = years.epoch(1, 1, 0, 1, 0)
    assert time.localtime(first).tm_year == 2023
    assert time.localtime(second).tm_year == 2024
    assert second - first == pytest.approx(120, abs=3600)  # allow a DST quirk in the local zone


def test_year_inference_ignores_small_backward_steps():
    years = timeparse.YearInference(mtime=local_epoch(2024, 6, 30, 0, 0, 0))
    years.epoch(6, 9, 6, 0, 0)
    years.epoch(5, 31, 23, 0, 0)  # clock stepped back: same year
    assert years.year == 2024


def test_format_time_always_names_the_zone():
    assert timeparse.format_time(0, utc=True) == "1970-01-01 00:00:00 UTC"
    old = os.environ.get("TZ")
    os.environ["TZ"] = "CET-1CEST,M3.5.0,M10.5.0/3"
    time.tzset()
    try:
        assert timeparse.format_time(1717913180) == "2024-06-09 08:06:20 CEST"
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_human_forms():
    assert timeparse.format_size(1536) == "1.5K"
    assert timeparse.format_size(500 * 1024 ** 2) == "500M"
    assert timeparse.format_duration(3725) == "1h02m"
    assert timeparse.format_duration(59) == "59s"
    assert timeparse.iso_utc(1717913180) == "2024-06-09T06:06:20Z"
