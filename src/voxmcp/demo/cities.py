"""The bundled city table (data/weather.csv): weather and time zone for about forty world cities."""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class City:
    """One row of the bundled table."""

    name: str
    country: str
    timezone: str
    condition: str
    temperature_c: int
    humidity_pct: int
    wind_kph: int


def normalize_place(text: str) -> str:
    """Lower-case, drop punctuation and spaces, so 'new york', 'New-York' and 'NewYork' match."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


@functools.cache
def load_cities() -> dict[str, City]:
    """Read the table once; keys are normalized city names."""
    table = resources.files("voxmcp.demo").joinpath("data/weather.csv").read_text(encoding="utf-8")
    cities: dict[str, City] = {}
    for row in csv.DictReader(table.splitlines()):
        city = City(
            name=row["city"],
            country=row["country"],
            timezone=row["timezone"],
            condition=row["condition"],
            temperature_c=int(row["temperature_c"]),
            humidity_pct=int(row["humidity_pct"]),
            wind_kph=int(row["wind_kph"]),
        )
        cities[normalize_place(city.name)] = city
    return cities


def find_city(text: str) -> City | None:
    """The city named by `text` (case, spaces and a trailing ', Country' ignored), or None."""
    cities = load_cities()
    key = normalize_place(text)
    if key in cities:
        return cities[key]
    head = normalize_place(text.split(",")[0])
    return cities.get(head)


def example_cities(count: int = 5) -> str:
    """A short spoken list of known cities for error messages."""
    names = ["London", "Paris", "Tokyo", "New York", "Sydney", "Berlin", "Cairo"][:count]
    return ", ".join(names[:-1]) + " or " + names[-1]
