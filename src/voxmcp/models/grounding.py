"""Lexical checks of a small model's tool calls against what the user said, and of which tools a request is about.

Why: a 0.5B model picks a wrong tool and invents its inputs ("Good morning" -> add_note("I'm feeling good today")),
and its wish to call a tool fades as a conversation grows. Words are a cheap second signal that doesn't fade: a call
whose required values the user never said is rejected, a call without a said value needs the request to share the
most words with the tool, and a request that shares a word with a tool is
worth a closer look even when the model's own signal is weak. Nothing here knows a particular tool. Each rule is kept
only while switching it off lowers the held-out or cross-server score (README, "Grounding rules").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from voxmcp.words import SINGLE_NUMBER_WORDS

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_SPOKEN_TIME = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s?m\b", re.I)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])\d+(?::\d{2}|\.\d+)?(?![0-9])")
_CLOCK_VALUE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*$")
NUMBER_WORDS = {word: str(value) for word, value in SINGLE_NUMBER_WORDS.items()}
# function words and the filler of tool descriptions: sharing one of these says nothing about what was asked
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for from with about into onto over under as is are was were be been
    being am do does did doing done have has had having i im me my mine myself you your yours we our us he she it its
    they them their this that these those what whats which who whom whose when where wheres why how hows there here
    not no yes so too very can could will would shall should may might must just also only then than now please tell
    give show let lets make want need know like get gets set use using current given specific some any all each every
    other another way thing things something okay ok oh well hi hello hey thank thanks up down out back again
    e g eg etc return returns result results tool tools user users call calls function value values short long
    new old good bad big small little few many much more most first last next same different""".split()
)
# argument names of free text, the user's own words kept for them (a note's text, a message): no enum, format or pattern
FREE_TEXT_KEYS = frozenset(
    "text message content body note comment description summary memo title subject reminder details".split()
)
MIN_CHECKED_LENGTH = 5  # shorter strings ("km", "°F", "UTC") are normalised by models, so they are not checked

RULES: dict[str, str] = {
    # check_call
    "clock_24h": "a time said with PM, sent in 12-hour or spoken form, rewritten as a 24-hour clock",
    "unsaid_required": "a call whose required value the user never said is rejected",
    "evidence": "a call with no value from the request, for a tool the request is not most about, is rejected",
    # LocalLLM
    "relevance_gate": "a middling call probability needs a word shared with a tool or a follow-up to a call",
    "closest_tools": "after a rejected call, the retry offers the tools sharing the most words with the request",
}
"""The grounding rules, by name: each can be switched off (`[llm] rules_off`) to measure what it is worth, and logs
"grounding rule fired" where it changes a turn, so a run shows which scenarios each one touched."""


def stem(word: str) -> str:
    """A crude English stem, enough to match "notes"/"note", "saved"/"save", "echoes"/"echo"."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("oes", "sses", "xes", "ches", "shes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    """Lower-case words and numbers, apostrophes dropped ("what's" -> "whats"), camelCase and snake_case split,
    thousands separators dropped (whisper writes "2,500": the number the user said is 2500)."""
    spaced = _CAMEL.sub(" ", text).replace("'", "").replace("\u2019", "")
    spaced = _THOUSANDS.sub("", spaced)
    return _WORD.findall(spaced.lower())


def terms(text: str) -> set[str]:
    """Stems of the content words of text: what it is about."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()}


def _said(text: str) -> set[str]:
    """Every form a value could take if the user said it: stems, digits for number words and ordinals, and 24-hour
    clock times for spoken ones ("3 PM" -> "15:00")."""
    out: set[str] = set()
    for w in words(text):
        out.add(stem(w))
        out.add(w)
        if w in NUMBER_WORDS:
            out.add(NUMBER_WORDS[w])
        ordinal = _ORDINAL.match(w)
        if ordinal:
            out.add(ordinal.group(1))
    for hour, minute, half in _SPOKEN_TIME.findall(text):
        h = int(hour) % 12 + (12 if half.lower() == "p" else 0)
        out.add(f"{h}:{minute or '00'}")
        out.add(f"{h:02d}:{minute or '00'}")
    return out


def _collapsed(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def value_is_grounded(value: Any, user_text: str) -> bool:
    """Whether one argument value comes from what the user said.

    Numbers must appear (as digits or a number word). A string must appear with its separators removed
    ("AB1234" in "a B1 2 3 4"), or at least half of its content words must have been said ("Europe/London" for
    "time in London"); strings under five characters and non-scalar values are not checked.
    """
    said = _said(user_text)
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return True
    if isinstance(value, int | float):
        return f"{value:g}" in said or str(value) in said
    if not isinstance(value, str) or len(value.strip()) < MIN_CHECKED_LENGTH:
        return True
    clock = _CLOCK_VALUE.match(value)
    if clock:
        return f"{int(clock.group(1))}:{clock.group(2)}" in said
    collapsed = _collapsed(value)
    if len(collapsed) >= 3 and collapsed in _collapsed(user_text):
        return True
    if not all(_number_was_said(m.group(0), said) for m in _NUMBER_IN_TEXT.finditer(value)):
        return False  # a reworded note may add words, not figures: "at 10:00 AM" nobody said is invented data
    content = [w for w in words(value) if w not in STOPWORDS] or words(value)
    if not content:
        return True
    hits = sum(1 for w in content if _was_said(w, said))
    return hits * 2 >= len(content)


def _number_was_said(token: str, said: set[str]) -> bool:
    """A number or clock time written inside a string value ("3", "2.5", "10:00") that the user said."""
    if ":" in token:
        hour, minute = token.split(":")
        return f"{int(hour)}:{minute}" in said or (minute == "00" and str(int(hour)) in said)
    return token in said or f"{float(token):g}" in said


def _was_said(word: str, said: set[str]) -> bool:
    """A value word the user said, allowing a model's local spelling of a name ("Lisboa" for "Lisbon": the same
    first four letters and at least two thirds of the shorter word) and its repair of a misheard one, one edit away
    ("Paris" for whisper's "pairs")."""
    if word in said or stem(word) in said or NUMBER_WORDS.get(word) in said:
        return True
    if len(word) < 5 or word.isdigit():
        return False
    return any(_close_spelling(word, other) or _one_edit_apart(word, other) for other in said)


def _one_edit_apart(word: str, other: str) -> bool:
    """Words of five letters or more that differ by one substitution, insertion, deletion or swap of neighbours."""
    if min(len(word), len(other)) < 5 or abs(len(word) - len(other)) > 1 or word == other:
        return False
    i = next((k for k, (a, b) in enumerate(zip(word, other, strict=False)) if a != b), min(len(word), len(other)))
    if len(word) == len(other):
        if word[i + 1 :] == other[i + 1 :]:
            return True  # substitution
        return word[i : i + 2] == other[i : i + 2][::-1] and word[i + 2 :] == other[i + 2 :]  # swap
    longer, shorter = (word, other) if len(word) > len(other) else (other, word)
    return longer[i + 1 :] == shorter[i:]


def _close_spelling(word: str, other: str) -> bool:
    shorter = min(len(word), len(other))
    shared = next((i for i, (a, b) in enumerate(zip(word, other, strict=False)) if a != b), shorter)
    return word != other and shared >= 4 and shared * 3 >= 2 * shorter


def spoken_times_to_24h(arguments: dict[str, Any], user_text: str) -> dict[str, Any]:
    """Clock-time strings the model wrote in 12-hour form for a time the user said with PM ("3:00" for "3 PM"), or
    copied as spoken ("3pm", "3:30 p.m."), rewritten as 24-hour ("15:00"): tools that take a time expect 24-hour
    clocks."""
    pm_hours = {int(h) % 12 for h, _, half in _SPOKEN_TIME.findall(user_text) if half.lower() == "p"}
    out = dict(arguments)
    for key, value in arguments.items():
        spoken = _SPOKEN_TIME.fullmatch(value.strip().rstrip(".")) if isinstance(value, str) else None
        if spoken is not None:
            hour, minute, half = spoken.groups()
            out[key] = f"{int(hour) % 12 + (12 if half.lower() == 'p' else 0):02d}:{minute or '00'}"
        elif isinstance(value, str) and (clock := _CLOCK_VALUE.match(value)):
            hour = int(clock.group(1))
            if 0 < hour < 12 and hour in pm_hours:
                out[key] = f"{hour + 12}:{clock.group(2)}"
    return out


def tool_terms(name: str, description: str) -> set[str]:
    return terms(re.sub(r"[_\-.]+", " ", name) + " " + description)


def relevant_tools(user_text: str, tools: Mapping[str, str]) -> dict[str, set[str]]:
    """Tool name -> the request's content words that its name or description shares (only tools sharing any)."""
    asked = terms(user_text)
    found: dict[str, set[str]] = {}
    for name, description in tools.items():
        shared = asked & tool_terms(name, description)
        if shared:
            found[name] = shared
    return found


def closest_tools(
    user_text: str, tools: Mapping[str, str], schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """The tools sharing the most content words with the request: where to look next after the model's pick was
    rejected ("Trigger an elicitation request" -> trigger-elicitation-request, not toggle-simulated-logging). When
    none shares a word but the user said numbers, the tools that take exactly that many numbers ("At 123 and 456"
    -> get-sum(a, b)); else all of them."""
    shared = relevant_tools(user_text, tools)
    if shared:
        best = max(len(words) for words in shared.values())
        return [name for name in tools if len(shared.get(name, ())) == best]
    count = said_numbers(user_text)
    if count and schemas:
        fitting = [name for name in tools if _numeric_parameters(schemas.get(name, {})) == count]
        if fitting:
            return fitting
    return list(tools)


def said_numbers(user_text: str) -> int:
    """How many numbers the user said (digits or number words)."""
    return sum(1 for w in words(user_text) if _NUMBER.fullmatch(w) or w in NUMBER_WORDS)


def _numeric_parameters(schema: Mapping[str, Any]) -> int:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return sum(
        1
        for key, spec in properties.items()
        if key in required and isinstance(spec, Mapping) and spec.get("type") in ("number", "integer")
    )


@dataclass
class CallCheck:
    """The verdict on one call: the arguments to send, or why it is rejected."""

    arguments: dict[str, Any] | None
    fired: list[str] = field(default_factory=list)
    """The RULES that changed this verdict or the arguments."""
    reason: str = ""
    invented: bool = False
    """Rejected for a required value the user never said (the model filled one in: often a misheard name)."""

    @property
    def ok(self) -> bool:
        return self.arguments is not None


def check_call(
    name: str,
    arguments: dict[str, Any],
    schema: Mapping[str, Any],
    tools: Mapping[str, str],
    user_text: str,
    *,
    off: Collection[str] = (),
) -> CallCheck:
    """Keep a call only if it comes from the user's words: every required value said, and some value shares a word
    with the request, or else the tool is among those whose name and description share the most words with it
    (`tools`: name -> description of every tool offered). `off`: RULES not to apply."""
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}
    free = {key for key, spec in properties.items() if isinstance(spec, Mapping) and is_free_text(key, spec)}
    fired: list[str] = []
    if "clock_24h" not in off:
        fixed = spoken_times_to_24h(arguments, user_text)
        if fixed != arguments:
            fired.append("clock_24h")
            arguments = fixed
    for key, value in arguments.items():
        if key not in required or "unsaid_required" in off or value_is_grounded(value, user_text):
            continue
        return CallCheck(None, [*fired, "unsaid_required"], reason=f"{key}={value!r} was not said", invented=True)
    relevant = name in relevant_tools(user_text, tools)
    # a free-text argument holds whatever was said ("Hi there, how's it going?" -> echo(message=...)): it shows the
    # call is about the request only when the request also names the tool ("Echo hello", "add note, buy eggs")
    evidence = any(_came_from(value, user_text) for key, value in arguments.items() if key not in free or relevant)
    about_it = relevant and name in closest_tools(user_text, tools)
    # the only tool offered, taking no parameters (a down server's stand-in): nothing to invent, no other to confuse
    only_choice = set(tools) == {name} and not schema.get("properties")
    if not evidence and not about_it and not only_choice and "evidence" not in off:
        # flags, enums and short strings prove nothing: {"topic": "AI", "ambiguous": true} for "Trigger an
        # elicitation request" is a wrong tool, list_notes() for "Tell me a joke" too, and for "the tracking number
        # is B1234" (one word shared, "number", where check_package_status shares three)
        reason = "nothing in the call or the tool's name comes from the request"
        return CallCheck(None, [*fired, "evidence"], reason=reason)
    return CallCheck(dict(arguments), fired)


def is_free_text(key: str, spec: Mapping[str, Any]) -> bool:
    """A string argument that carries the user's own words: named like text ("text", "message", "noteBody") and
    not restricted to a set, format or pattern."""
    if spec.get("type", "string") != "string" or any(k in spec for k in ("enum", "const", "format", "pattern")):
        return False
    return bool(set(words(key)) & FREE_TEXT_KEYS)


def _came_from(value: Any, user_text: str, depth: int = 0) -> bool:
    """Whether a (grounded) value shows that the call is about the request: a number or a word the user said. In a
    nested value (a list of objects: `{"entities": [{"name": "Carlos", ...}]}`) any leaf may show it."""
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return depth < 8 and any(_came_from(v, user_text, depth + 1) for v in list(items)[:50])
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float) or len(value.strip()) >= MIN_CHECKED_LENGTH:
        return value_is_grounded(value, user_text)
    said = set(words(user_text))
    return bool(words(value)) and all(w in said for w in words(value))
