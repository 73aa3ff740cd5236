"""Unit conversion: the numbers, the names people say, and the refusals."""

import pytest

from voxmcp.demo.errors import DemoToolError
from voxmcp.demo.units import convert, speak_conversion


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (10, "km", "miles", 6.214),
        (100, "Fahrenheit", "celsius", 37.78),
        (0, "°C", "K", 273.15),
        (1, "gallon", "liters", 3.785),
        (60, "mph", "km/h", 96.56),
        (5, "lbs", "kilograms", 2.268),
        (12, "inches", "foot", 1.0),
        (-40, "C", "F", -40.0),
        (10, "knots", "meters per second", 5.144),
        (250, "ml", "cups", 1.057),
    ],
)
def test_converts_known_units(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target).result == pytest.approx(expected, rel=1e-3)


def test_spoken_form_uses_full_names() -> None:
    assert speak_conversion(convert(10, "KM", " mi ")) == "10 kilometers is 6.214 miles."
    assert speak_conversion(convert(1, "kg", "g")) == "1 kilogram is 1000 grams."


def test_incompatible_units_are_refused_by_quantity() -> None:
    with pytest.raises(DemoToolError, match=r"can't convert kilometers, a length, to kilograms, a mass"):
        convert(3, "km", "kg")


def test_unknown_unit_is_named() -> None:
    with pytest.raises(DemoToolError, match="don't know the unit 'furlongs'"):
        convert(3, "furlongs", "km")


def test_below_absolute_zero_is_refused() -> None:
    with pytest.raises(DemoToolError, match="colder than absolute zero"):
        convert(-300, "celsius", "kelvin")


def test_non_finite_value_is_refused() -> None:
    with pytest.raises(DemoToolError, match="ordinary number"):
        convert(float("inf"), "m", "km")
