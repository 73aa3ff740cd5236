"""What a short spoken answer means: yes / no / cancel, numbers (digits or words), booleans, enum choices.

Deterministic on purpose: a confirmation or a form value must not depend on a small model's mood, and these
run on every reply to a question the agent asked, so they must cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, TypeAlias

from voxmcp.words import ORDINALS, SCALES, SPOKEN_ZERO, TENS, UNITS

Reply: TypeAlias = Literal["yes", "no", "cancel"]

_CANCEL = (
    "cancel",
    "never mind",
    "nevermind",
    "forget it",
    "forget about it",
    "stop",
    "abort",
    "skip it",
    "not now",
)
_NO = (
    "no",
    "nope",
    "nah",
    "don't",
    "do not",
    "dont",
    "not really",
    "rather not",
    "negative",
    "no way",
    "wrong",
    "incorrect",
    "that's wrong",
    "leave it",
    "keep it",
)
_UNSURE = ("not sure", "unsure", "don't know", "dont know", "do not know", "no idea", "maybe", "perhaps")
_YES = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "correct",
    "right",
    "that's right",
    "go ahead",
    "do it",
    "please do",
    "affirmative",
    "absolutely",
    "of course",
    "confirm",
    "confirmed",
    "true",
    "fine",
    "alright",
    "all right",
    "definitely",
    "please",
)


def _norm(text: str) -> str:
    t = text.lower().replace("’", "'")
    t = re.sub(r"[^a-z0-9'.\- ]+", " ", t)
    return " ".join(t.split())


def _has_phrase(text: str, phrases: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![a-z']){re.escape(p)}(?![a-z'])", text) for p in phrases)


def classify_reply(text: str) -> Reply | None:
    """yes / no / cancel for an answer to a yes-no question; None when it is neither (ask again).

    Cancel wins over no, and no over yes ("yes, no, wait, don't" is not a yes): the safe reading first.
    """
    t = _norm(text).replace(".", " ")
    if not t:
        return None
    if _has_phrase(t, _CANCEL):
        return "cancel"
    if _has_phrase(t, _UNSURE):
        return None
    if _has_phrase(t, _NO):
        return "no"
    if _has_phrase(t, _YES):
        return "yes"
    return None


def parse_boolean(text: str) -> bool | None:
    reply = classify_reply(text)
    if reply == "yes":
        return True
    if reply == "no":
        return False
    t = _norm(text)
    if _has_phrase(t, ("false", "off", "disabled", "disable")):
        return False
    if _has_phrase(t, ("on", "enabled", "enable")):
        return True
    return None


_UNITS = {**UNITS, SPOKEN_ZERO: 0}
_TENS = TENS
_SCALES = SCALES
_ORDINALS = ORDINALS
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES) | {"and", "point", "minus", "negative", "half"}


def _words_to_number(words: list[str]) -> float | None:
    """English number words ("twenty five", "one hundred and two", "two point five") -> value."""
    sign = 1.0
    if words and words[0] in ("minus", "negative"):
        sign, words = -1.0, words[1:]
    if not words:
        return None
    if "point" in words:
        i = words.index("point")
        whole = _words_to_number(words[:i]) if i else 0.0
        digits = [_UNITS.get(w) for w in words[i + 1 :]]
        if whole is None or not digits or any(d is None or d > 9 for d in digits):
            return None
        return sign * (whole + float("0." + "".join(str(d) for d in digits)))
    total, current, seen = 0.0, 0.0, False
    for w in words:
        if w == "and":
            continue
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in _SCALES:
            total += (current or 1) * _SCALES[w]
            current = 0
        elif w == "half" and seen:
            current += 0.5
        else:
            return None
        seen = True
    return sign * (total + current) if seen else None


_PRONOUN_ONE = {"the", "this", "that", "which", "other", "another", "each", "every", "any", "no", "last", "next"}


def find_numbers(text: str) -> list[float]:
    """Every number said in the text, digits or words, in order ("3", "3.5", "-2", "twenty five", "third")."""
    t = _norm(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text))
    t = re.sub(r"\ban? (hundred|thousand|million)\b", r"one \1", t)
    t = re.sub(r"\band an? half\b", "and half", t)
    found: list[float] = []
    run: list[str] = []

    def close_run() -> None:
        while run and run[-1] in ("and", "point"):
            run.pop()
        if run:
            value = _words_to_number(run)
            if value is not None:
                found.append(value)
        run.clear()

    previous = ""
    for tok in t.split():
        tok = tok.strip(".")
        if tok == "one" and not run and (previous in _ORDINALS or previous in _PRONOUN_ONE):
            previous = tok  # "the third one", "that one": a pronoun, not a number
            continue
        previous = tok
        if re.fullmatch(r"-?\d+(?:\.\d+)?", tok):
            negative = run == ["minus"] or run == ["negative"]
            if negative:
                run.clear()
            close_run()
            found.append(-float(tok) if negative else float(tok))
        elif m := re.fullmatch(r"(\d+)(?:st|nd|rd|th)", tok):
            close_run()
            found.append(float(m.group(1)))
        elif tok in _ORDINALS:
            close_run()
            found.append(float(_ORDINALS[tok]))
        elif tok in _NUMBER_WORDS and (run or tok not in ("and", "point", "half")):
            run.append(tok)
        else:
            close_run()
    close_run()
    return found


def parse_number(text: str, *, integer: bool = False) -> float | int | None:
    """The one number in the answer; None when there is none or more than one (ambiguous)."""
    numbers = find_numbers(text)
    if len(numbers) != 1:
        return None
    value = numbers[0]
    if integer:
        return int(value) if value == int(value) else None
    return int(value) if value == int(value) else value


def match_choice(text: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """The single choice the answer names. `choices` are (value, spoken label) pairs; None when none or several.

    A whole-phrase match of the label or value wins; otherwise a unique word overlap.
    """
    t = _norm(text)
    hits: list[str] = []
    for value, label in choices:
        for name in {_norm(label), _norm(value).replace("_", " ").replace("-", " ")}:
            if name and re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", t):
                hits.append(value)
                break
    if len(set(hits)) == 1:
        return hits[0]
    if hits:
        return None  # several named: ambiguous, ask again
    said = set(t.split())
    overlaps = [
        value
        for value, label in choices
        if said & {w for w in _norm(label).split() + _norm(value).replace("_", " ").split() if len(w) > 2}
    ]
    return overlaps[0] if len(set(overlaps)) == 1 else None


_LEAD_INS = (
    r"^(?:um+|uh+|well|so|okay|ok|yes|yeah)[, ]+",
    r"^(?:it'?s|it is|that'?s|that is|the answer is|i'?d say|i say|make it|call it|let'?s say|use)\s+",
    r"^(?:my|the|our)\s+[a-z ]{1,30}?\s+is\s+",
    r"^(?:i am|i'?m)\s+",
)


def clean_free_text(text: str) -> str:
    """The value in a spoken free-text answer: lead-ins ("it's", "my name is") and the final period removed."""
    t = " ".join(text.strip().split())
    changed = True
    while changed:
        changed = False
        for pattern in _LEAD_INS:
            new = re.sub(pattern, "", t, flags=re.IGNORECASE)
            if new != t and new.strip():
                t, changed = new, True
    return t.strip().rstrip(".!?").strip()


def spoken_email(text: str) -> str:
    """ "anna at example dot com" -> "anna@example.com"."""
    t = clean_free_text(text).lower()
    t = re.sub(r"\s+at\s+", "@", t)
    t = re.sub(r"\s+dot\s+", ".", t)
    return t.replace(" ", "")
