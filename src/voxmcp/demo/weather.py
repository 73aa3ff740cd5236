"""Deterministic weather from the bundled city table: the same city always gets the same report."""

from __future__ import annotations

from pydantic import BaseModel, Field

from voxmcp.demo.cities import example_cities, find_city
from voxmcp.demo.errors import DemoToolError


class WeatherReport(BaseModel):
    """Current weather in one city."""

    city: str = Field(description="City name as known to the table")
    country: str
    condition: str = Field(description="Sky and precipitation, e.g. 'light rain'")
    temperature_c: int = Field(description="Temperature in degrees Celsius")
    temperature_f: int = Field(description="Temperature in degrees Fahrenheit")
    humidity_pct: int = Field(description="Relative humidity in percent")
    wind_kph: int = Field(description="Wind speed in kilometers per hour")


def lookup_weather(city: str) -> WeatherReport:
    """Weather for `city`; raises DemoToolError naming a few known cities when it is not in the table."""
    found = find_city(city)
    if found is None:
        raise DemoToolError(f"I have no weather for {city.strip()!r}. Try a major city such as {example_cities()}.")
    return WeatherReport(
        city=found.name,
        country=found.country,
        condition=found.condition,
        temperature_c=found.temperature_c,
        temperature_f=round(found.temperature_c * 9 / 5 + 32),
        humidity_pct=found.humidity_pct,
        wind_kph=found.wind_kph,
    )


def speak_weather(report: WeatherReport) -> str:
    """One sentence a voice can read."""
    degrees = "degree" if abs(report.temperature_c) == 1 else "degrees"
    number = f"minus {-report.temperature_c}" if report.temperature_c < 0 else str(report.temperature_c)
    return (
        f"The weather in {report.city} is {report.condition}, {number} {degrees} Celsius, "
        f"with {report.humidity_pct} percent humidity and wind at {report.wind_kph} kilometers per hour."
    )
