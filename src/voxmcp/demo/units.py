"""Unit conversion for length, mass, temperature, volume and speed, with names people actually say."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pydantic import BaseModel, Field

from voxmcp.demo.errors import DemoToolError


@dataclass(frozen=True)
class Unit:
    """A unit as a linear map to its quantity's base unit: base = value * scale + offset."""

    name: str
    plural: str
    quantity: str
    scale: float
    offset: float = 0.0


_UNITS: list[tuple[Unit, tuple[str, ...]]] = [
    # length, base meter
    (Unit("meter", "meters", "length", 1.0), ("m", "metre", "metres")),
    (Unit("kilometer", "kilometers", "length", 1000.0), ("km", "kilometre", "kilometres", "kms")),
    (Unit("centimeter", "centimeters", "length", 0.01), ("cm", "centimetre", "centimetres")),
    (Unit("millimeter", "millimeters", "length", 0.001), ("mm", "millimetre", "millimetres")),
    (Unit("mile", "miles", "length", 1609.344), ("mi",)),
    (Unit("yard", "yards", "length", 0.9144), ("yd", "yds")),
    (Unit("foot", "feet", "length", 0.3048), ("ft", "foots")),
    (Unit("inch", "inches", "length", 0.0254), ("in",)),
    (Unit("nautical mile", "nautical miles", "length", 1852.0), ("nmi",)),
    # mass, base kilogram
    (Unit("kilogram", "kilograms", "mass", 1.0), ("kg", "kgs", "kilo", "kilos")),
    (Unit("gram", "grams", "mass", 0.001), ("g", "gr", "gramme", "grammes")),
    (Unit("milligram", "milligrams", "mass", 1e-6), ("mg",)),
    (Unit("tonne", "tonnes", "mass", 1000.0), ("t", "metric ton", "metric tons", "ton", "tons")),
    (Unit("pound", "pounds", "mass", 0.45359237), ("lb", "lbs")),
    (Unit("ounce", "ounces", "mass", 0.028349523125), ("oz",)),
    (Unit("stone", "stones", "mass", 6.35029318), ("st",)),
    # temperature, base kelvin
    (Unit("degree Celsius", "degrees Celsius", "temperature", 1.0, 273.15), ("c", "celsius", "centigrade")),
    (
        Unit("degree Fahrenheit", "degrees Fahrenheit", "temperature", 5 / 9, 273.15 - 32 * 5 / 9),
        ("f", "fahrenheit"),
    ),
    (Unit("kelvin", "kelvin", "temperature", 1.0), ("k", "kelvins")),
    # volume, base liter
    (Unit("liter", "liters", "volume", 1.0), ("l", "litre", "litres", "ltr")),
    (Unit("milliliter", "milliliters", "volume", 0.001), ("ml", "millilitre", "millilitres")),
    (Unit("cubic meter", "cubic meters", "volume", 1000.0), ("m3", "cubic metre", "cubic metres")),
    (Unit("gallon", "gallons", "volume", 3.785411784), ("gal", "us gallon", "us gallons")),
    (Unit("quart", "quarts", "volume", 0.946352946), ("qt",)),
    (Unit("pint", "pints", "volume", 0.473176473), ("pt",)),
    (Unit("cup", "cups", "volume", 0.2365882365), ()),
    (Unit("fluid ounce", "fluid ounces", "volume", 0.0295735295625), ("fl oz", "floz")),
    (Unit("tablespoon", "tablespoons", "volume", 0.01478676478125), ("tbsp",)),
    (Unit("teaspoon", "teaspoons", "volume", 0.00492892159375), ("tsp",)),
    # speed, base meter per second
    (
        Unit("meter per second", "meters per second", "speed", 1.0),
        ("m/s", "mps", "metres per second", "metre per second"),
    ),
    (
        Unit("kilometer per hour", "kilometers per hour", "speed", 1000 / 3600),
        ("km/h", "kmh", "kph", "kmph", "kilometres per hour", "kilometre per hour"),
    ),
    (Unit("mile per hour", "miles per hour", "speed", 1609.344 / 3600), ("mph", "mi/h")),
    (Unit("knot", "knots", "speed", 1852 / 3600), ("kn", "kt", "kts")),
]


def _key(text: str) -> str:
    text = text.strip().lower().replace("°", "").replace("degrees ", "").replace("degree ", "")
    return re.sub(r"\s+", " ", text)


def _build_lookup() -> dict[str, Unit]:
    lookup: dict[str, Unit] = {}
    for unit, aliases in _UNITS:
        for name in (unit.name, unit.plural, *aliases):
            lookup[_key(name)] = unit
    return lookup


_LOOKUP = _build_lookup()


class Conversion(BaseModel):
    """A converted quantity."""

    value: float = Field(description="The value converted")
    from_unit: str = Field(description="Unit converted from, canonical name")
    result: float = Field(description="The converted value, rounded to 4 significant digits or 2 decimals")
    to_unit: str = Field(description="Unit converted to, canonical name")
    quantity: str = Field(description="length, mass, temperature, volume or speed")


def find_unit(text: str) -> Unit:
    """The unit named by `text` (name, plural or abbreviation); DemoToolError if unknown."""
    unit = _LOOKUP.get(_key(text))
    if unit is None:
        raise DemoToolError(
            f"I don't know the unit {text.strip()!r}. I can convert length, mass, temperature, volume "
            "and speed, for example kilometers, pounds, celsius, liters or miles per hour."
        )
    return unit


def _round_significant(value: float, digits: int = 4) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(2, digits - 1 - math.floor(math.log10(abs(value)))))


def convert(value: float, from_unit: str, to_unit: str) -> Conversion:
    """Convert `value`; DemoToolError for unknown or incompatible units and impossible temperatures."""
    if not math.isfinite(value):
        raise DemoToolError("The value to convert must be an ordinary number.")
    source, target = find_unit(from_unit), find_unit(to_unit)
    if source.quantity != target.quantity:
        raise DemoToolError(
            f"I can't convert {source.plural}, a {source.quantity}, to {target.plural}, a {target.quantity}."
        )
    base = value * source.scale + source.offset
    if source.quantity == "temperature" and base < 0:
        raise DemoToolError(f"{_format(value)} {source.plural} is colder than absolute zero.")
    result = (base - target.offset) / target.scale
    return Conversion(
        value=value,
        from_unit=source.name,
        result=_round_significant(result),
        to_unit=target.name,
        quantity=source.quantity,
    )


def _format(number: float) -> str:
    return f"{number:g}" if abs(number) < 1e15 else f"{number:.3e}"


def speak_conversion(conversion: Conversion) -> str:
    """'10 kilometers is 6.214 miles.'"""
    source = _LOOKUP[_key(conversion.from_unit)]
    target = _LOOKUP[_key(conversion.to_unit)]
    from_name = source.name if conversion.value == 1 else source.plural
    to_name = target.name if conversion.result == 1 else target.plural
    return f"{_format(conversion.value)} {from_name} is {_format(conversion.result)} {to_name}."
