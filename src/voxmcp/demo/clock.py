"""Current time in an IANA time zone or a known city, phrased for speech ("3:05 PM on Monday")."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from voxmcp.demo.cities import example_cities, find_city, normalize_place
from voxmcp.demo.errors import DemoToolError

_ZONE_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC", "universal": "UTC"}


class LocalTime(BaseModel):
    """The current time somewhere."""

    place: str = Field(description="The city or zone asked about, as a voice would say it")
    timezone: str = Field(description="IANA time zone name")
    iso: str = Field(description="Local time, ISO 8601 with offset")
    spoken: str = Field(description="The time in words, e.g. '3:05 PM on Monday'")


def resolve_timezone(text: str) -> tuple[str, ZoneInfo]:
    """(place label, zone) for an IANA name like 'Asia/Tokyo', 'UTC', or a city like 'tokyo'."""
    cleaned = text.strip()
    alias = _ZONE_ALIASES.get(normalize_place(cleaned))
    if alias is not None:
        return alias, ZoneInfo(alias)
    if "/" in cleaned:
        candidate = cleaned.replace(" ", "_")
        try:
            zone = ZoneInfo(candidate)
            return candidate.rsplit("/", 1)[-1].replace("_", " "), zone
        except (ZoneInfoNotFoundError, ValueError):
            pass
    city = find_city(cleaned)
    if city is not None:
        return city.name, ZoneInfo(city.timezone)
    raise DemoToolError(
        f"I don't know the time zone {cleaned!r}. Say a city such as {example_cities()}, "
        "or a zone name like Europe/Paris."
    )


def spoken_time(moment: dt.datetime) -> str:
    """'3:05 PM on Monday': twelve-hour clock, no leading zero, weekday name."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {suffix} on {moment.strftime('%A')}"


def local_time(text: str, *, now: dt.datetime | None = None) -> LocalTime:
    """The current (or given, for tests) moment in the zone named by `text`."""
    place, zone = resolve_timezone(text)
    instant = now if now is not None else dt.datetime.now(dt.UTC)
    moment = instant.astimezone(zone)
    return LocalTime(place=place, timezone=str(zone.key), iso=moment.isoformat(), spoken=spoken_time(moment))
