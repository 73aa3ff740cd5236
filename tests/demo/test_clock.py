"""Time in words, from a city or an IANA zone."""

import datetime as dt

import pytest

from voxmcp.demo.clock import local_time, spoken_time
from voxmcp.demo.errors import DemoToolError

MONDAY_NOON_UTC = dt.datetime(2026, 11, 30, 12, 5, tzinfo=dt.UTC)


def test_spoken_time_is_twelve_hour_with_weekday() -> None:
    assert spoken_time(dt.datetime(2026, 11, 30, 15, 5)) == "3:05 PM on Monday"
    assert spoken_time(dt.datetime(2026, 11, 30, 0, 0)) == "12:00 AM on Monday"
    assert spoken_time(dt.datetime(2026, 11, 29, 12, 30)) == "12:30 PM on Sunday"


def test_city_name_maps_to_its_zone() -> None:
    moment = local_time("  tokyo ", now=MONDAY_NOON_UTC)
    assert (moment.place, moment.timezone, moment.spoken) == ("Tokyo", "Asia/Tokyo", "9:05 PM on Monday")


def test_iana_zone_and_utc_alias() -> None:
    new_york = local_time("America/New_York", now=MONDAY_NOON_UTC)
    assert (new_york.place, new_york.spoken) == ("New York", "7:05 AM on Monday")
    assert local_time("gmt", now=MONDAY_NOON_UTC).timezone == "UTC"
    assert local_time("new york", now=MONDAY_NOON_UTC).iso.endswith("-05:00")


def test_unknown_zone_lists_examples() -> None:
    with pytest.raises(DemoToolError, match=r"don't know the time zone 'Mars/Olympus'.*Tokyo"):
        local_time("Mars/Olympus")
