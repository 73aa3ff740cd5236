"""Weather from the bundled table."""

import pytest

from voxmcp.demo.cities import load_cities
from voxmcp.demo.errors import DemoToolError
from voxmcp.demo.weather import lookup_weather, speak_weather


def test_table_has_about_forty_cities_with_valid_zones() -> None:
    from zoneinfo import ZoneInfo

    cities = load_cities()
    assert len(cities) >= 40
    for city in cities.values():
        ZoneInfo(city.timezone)


@pytest.mark.parametrize("spelling", ["Paris", "paris", "  PARIS ", "Paris, France"])
def test_city_matching_ignores_case_and_spaces(spelling: str) -> None:
    assert lookup_weather(spelling).city == "Paris"


def test_multi_word_city_without_spaces() -> None:
    assert lookup_weather("newyork").city == "New York"
    assert lookup_weather("Sao-Paulo").city == "Sao Paulo"


def test_report_is_deterministic_and_spoken() -> None:
    report = lookup_weather("Oslo")
    assert report == lookup_weather("oslo")
    assert (report.condition, report.temperature_c, report.temperature_f) == ("snow", -3, 27)
    assert speak_weather(report) == (
        "The weather in Oslo is snow, minus 3 degrees Celsius, with 79 percent humidity "
        "and wind at 14 kilometers per hour."
    )


def test_unknown_city_names_known_ones() -> None:
    with pytest.raises(DemoToolError, match=r"no weather for 'Atlantis'.*London, Paris"):
        lookup_weather("Atlantis")
