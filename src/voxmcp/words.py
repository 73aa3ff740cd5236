"""English number words, in one place: what the transcriber, the grounding, the call parser, spoken answers and the
eval scoring all read the same way ("twelve" is 12 everywhere)."""

from __future__ import annotations

UNITS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
SPOKEN_ZERO = "oh"
"""Zero as said inside a digit sequence ("oh seven"): a number only where digits are being read out."""
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10,
}  # fmt: skip

SINGLE_NUMBER_WORDS: dict[str, int] = {**UNITS, **TENS, "hundred": 100, "thousand": 1000}
"""Words that are a number by themselves ("twelve", "forty", "hundred")."""
