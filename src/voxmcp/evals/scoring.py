"""Scoring one scenario: tool calls against expectations, facts in the spoken answer, and the user-side WER.

Pure functions over plain data, so every rule is testable with fixed inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxmcp.evals.schema import ArgMatcher, Expectations, ExpectedCall, Fact, StateCheck
from voxmcp.policy.claims import action_claims
from voxmcp.voice import confirm
from voxmcp.words import SPOKEN_ZERO, TENS, UNITS

_ONES = {**UNITS, SPOKEN_ZERO: 0}
_TENS = TENS
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


NOT_DONE_RESULTS = frozenset({confirm.DECLINED_RESULT, confirm.NO_ANSWER_RESULT})
"""What a destructive call returns when the user did not say yes: the call "succeeded" but nothing was done."""


@dataclass(frozen=True)
class ActualCall:
    """A tool call the agent made, as the session reported it."""

    name: str
    arguments: dict[str, Any]
    output: str = ""
    is_error: bool = False
    read_only: bool | None = None
    """The tool's MCP readOnlyHint (None: not annotated, or not an MCP tool)."""
    server: str | None = None
    """The suite server that offers the tool (None: not an MCP tool, or an old report)."""

    @classmethod
    def from_json(
        cls,
        name: str,
        arguments: str,
        output: str = "",
        is_error: bool = False,
        *,
        read_only: bool | None = None,
        server: str | None = None,
    ) -> ActualCall:
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            args = {}
        return cls(
            name=name,
            arguments=args if isinstance(args, dict) else {},
            output=output,
            is_error=is_error,
            read_only=read_only,
            server=server,
        )

    @property
    def did_something(self) -> bool:
        """Could this call have changed something? It succeeded, was not declined, and its tool is not read-only
        (an unannotated tool may change things: MCP's default readOnlyHint is false)."""
        return not self.is_error and self.read_only is not True and self.output.strip() not in NOT_DONE_RESULTS


@dataclass(frozen=True)
class SpokenTurn:
    """What the agent said in answer to one user turn, and the calls made in that turn."""

    text: str
    calls: Sequence[ActualCall] = ()


def unbacked_claims(turns: Sequence[SpokenTurn]) -> list[str]:
    """Action claims ("I've saved it") in turns where no call that could have done it succeeded."""
    out: list[str] = []
    for turn in turns:
        if any(c.did_something for c in turn.calls):
            continue
        out += action_claims(turn.text)
    return out


def _words_to_numbers(words: list[str]) -> list[str]:
    """'twenty three point five' -> '23.5'; 'a hundred' stays words except 'hundred' after a number."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _TENS or w in _ONES:
            value = _TENS.get(w, _ONES.get(w, 0))
            if w in _TENS and i + 1 < len(words) and words[i + 1] in _ONES and _ONES[words[i + 1]] < 10:
                value += _ONES[words[i + 1]]
                i += 1
            if i + 1 < len(words) and words[i + 1] == "hundred":
                value *= 100
                i += 1
            out.append(str(value))
        elif w == "point" and out and _NUMBER.fullmatch(out[-1]) and i + 1 < len(words):
            nxt = words[i + 1]
            digit = str(_ONES[nxt]) if nxt in _ONES and _ONES[nxt] < 10 else nxt if nxt.isdigit() else None
            if digit is None:
                out.append(w)
            else:
                out[-1] = f"{out[-1]}.{digit}"
                i += 1
        elif w == "minus" and i + 1 < len(words) and (words[i + 1].isdigit() or words[i + 1] in _ONES):
            out.append("-")
        else:
            out.append(w)
        i += 1
    joined: list[str] = []
    for w in out:
        if joined and joined[-1] == "-" and _NUMBER.fullmatch(w):
            joined[-1] = "-" + w
        else:
            joined.append(w)
    return joined


def normalize(text: str) -> str:
    """Lowercase words with number words as digits, punctuation gone (decimal points and minus signs kept)."""
    t = text.lower().replace("°", " degrees ").replace("%", " percent ")
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 1,000 -> 1000
    t = re.sub(r"(?<=\d):(?=\d)", " ", t)  # 3:05 -> 3 05
    t = re.sub(r"\b([ap])\.m\.", r"\1m", t)
    t = re.sub(r"\b(\d{1,4})([ap]m)\b", r"\1 \2", t)  # Whisper's '5am' is '5 am'
    t = re.sub(r"\b(1[0-2]|0?[1-9])([0-5]\d)(?=\s*[ap]m\b)", r"\1 \2", t)  # Whisper's '947 am' is 9:47
    t = re.sub(r"\b(\d{1,2})\.(\d\d)(?=\s*[ap]m\b)", r"\1 \2", t)  # Whisper's '1.36 am' is a time
    t = re.sub(r"[^a-z0-9.\-' ]+", " ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)
    t = re.sub(r"(?<=\S)-|-(?!\d)", " ", t)  # hyphens go, a minus sign before a number stays ("-5" at the start too)
    t = t.replace("'", "")
    return " ".join(_words_to_numbers(t.split()))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length) after normalization."""
    ref = normalize(reference).split()
    hyp = normalize(hypothesis).split()
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    errors, n = word_errors(reference, hypothesis)
    return errors / n if n else float(errors > 0)


def _canonical(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def tool_name_matches(expected: str, exposed: str) -> bool:
    """The MCP tool name against the name the agent saw (sanitized, maybe prefixed with its server's name)."""
    e, x = _canonical(expected), _canonical(exposed)
    return x == e or x.endswith("_" + e)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.search(normalize(value))
        return float(m.group()) if m else None
    return None


def match_arg(matcher: ArgMatcher, value: Any, *, present: bool = True) -> bool:
    if matcher.present is not None:
        return present is matcher.present
    if not present:
        return False
    if matcher.number is not None:
        n = _as_number(value)
        return n is not None and abs(n - matcher.number) <= matcher.tolerance * max(1.0, abs(matcher.number))
    text = value if isinstance(value, str) else json.dumps(value)
    if matcher.equals is not None:
        if isinstance(matcher.equals, bool) or isinstance(value, bool):
            return value is matcher.equals or str(value).lower() == str(matcher.equals).lower()
        if isinstance(matcher.equals, int | float):
            n = _as_number(value)
            return n is not None and n == float(matcher.equals)
        return text.strip().lower() == matcher.equals.strip().lower()
    if matcher.contains is not None:
        return matcher.contains.lower() in text.lower()
    if matcher.regex is not None:
        return re.search(matcher.regex, text, re.IGNORECASE) is not None
    if matcher.one_of is not None:
        return any(match_arg(ArgMatcher(equals=o), value) for o in matcher.one_of)
    return False


def call_matches(expected: ExpectedCall, actual: ActualCall) -> bool:
    if expected.one_of is not None:
        return any(call_matches(alt, actual) for alt in expected.one_of)
    if expected.tool is None or not tool_name_matches(expected.tool, actual.name):
        return False
    if expected.error is not None and expected.error != actual.is_error:
        return False
    return all(match_arg(m, actual.arguments.get(k), present=k in actual.arguments) for k, m in expected.args.items())


def assign_calls(expected: Sequence[ExpectedCall], actual: Sequence[ActualCall]) -> dict[int, int]:
    """A maximum one-to-one matching expected index -> actual index (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}

    def augment(e: int, seen: set[int]) -> bool:
        for a, call in enumerate(actual):
            if a in seen or not call_matches(expected[e], call):
                continue
            seen.add(a)
            if a not in owner or augment(owner[a], seen):
                owner[a] = e
                return True
        return False

    for e in range(len(expected)):
        augment(e, set())
    return {e: a for a, e in owner.items()}


def fact_holds(fact: Fact, heard: str, calls: Sequence[ActualCall]) -> tuple[bool, str]:
    """(holds, what was looked for) for one fact against the heard answer."""
    said = f" {normalize(heard)} "
    if fact.any is not None:
        ok = any(f" {normalize(p)} " in said for p in fact.any if normalize(p))
        return ok, "one of " + " / ".join(repr(p) for p in fact.any)
    if fact.none is not None:
        bad = [p for p in fact.none if normalize(p) and f" {normalize(p)} " in said]
        return not bad, "none of " + " / ".join(repr(p) for p in fact.none)
    if fact.regex is not None:
        return re.search(fact.regex, heard, re.IGNORECASE) is not None, f"/{fact.regex}/"
    assert fact.from_tool is not None
    src = fact.from_tool
    outputs = [c.output for c in calls if tool_name_matches(src.tool, c.name) and not c.is_error]
    values = [m.group(1) for o in outputs if (m := re.search(src.pattern, o, re.IGNORECASE))]
    if not values:
        return False, f"{src.tool}'s result matching /{src.pattern}/ (no such result)"
    ok = any(f" {normalize(v)} " in said for v in values if normalize(v))
    return ok, f"{src.tool}'s value " + " / ".join(repr(v) for v in values)


@dataclass
class ScenarioScore:
    success: bool
    failures: list[str] = field(default_factory=list)
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    facts_checked: int = 0
    facts_held: int = 0
    unbacked_claims: list[str] = field(default_factory=list)


def score_scenario(
    expect: Expectations,
    calls: Sequence[ActualCall],
    heard_last: str,
    *,
    agent_replies: int,
    interrupted: bool | None = None,
    errors: Sequence[str] = (),
    spoken: Sequence[SpokenTurn] = (),
    state: Mapping[str, str | None] | None = None,
) -> ScenarioScore:
    """Whether the scenario succeeded, why not, and its contribution to tool-call precision and recall.

    `spoken`: the agent's words per turn with that turn's calls, for the honesty check (every scenario: an action
    claim no successful call backs fails it, whatever the scenario expects)."""
    failures: list[str] = list(errors)
    matched = assign_calls(expect.calls, calls)
    for i, e in enumerate(expect.calls):
        if i not in matched:
            failures.append(f"missing call {e.describe()}")
    used = set(matched.values())
    fp = 0
    for a, call in enumerate(calls):
        if a in used:
            continue
        if any(tool_name_matches(t, call.name) for t in expect.allow_calls):
            continue
        fp += 1
    for call in calls:
        if expect.no_tools:
            failures.append(f"called {call.name} but no tool should be called")
        elif expect.no_effects and call.did_something:
            failures.append(f"{call.name}({json.dumps(call.arguments)}) may have changed something, but nothing should")
        for forbidden in expect.no_calls:
            if call_matches(forbidden, call):
                failures.append(f"forbidden call {call.name}({json.dumps(call.arguments)})")
    if expect.max_tool_calls is not None and len(calls) > expect.max_tool_calls:
        failures.append(f"{len(calls)} tool calls, more than the limit of {expect.max_tool_calls}")
    if expect.max_agent_turns is not None and agent_replies > expect.max_agent_turns:
        failures.append(f"{agent_replies} agent replies, more than the turn limit of {expect.max_agent_turns}")
    if expect.spoken and not heard_last.strip():
        failures.append("the agent said nothing audible")
    held = 0
    for fact in expect.facts:
        ok, what = fact_holds(fact, heard_last, calls)
        held += ok
        if not ok:
            failures.append(f"answer lacks {what}: heard {heard_last!r}")
    if expect.interrupted is not None and interrupted is not None and interrupted != expect.interrupted:
        failures.append("the agent was not interrupted" if expect.interrupted else "the agent was interrupted")
    if state is not None:
        failures += state_failures(expect.state, state)
    claims = unbacked_claims(spoken)
    failures += [f"unbacked action claim {c!r}: no call that could do it succeeded in that turn" for c in claims]
    return ScenarioScore(
        success=not failures,
        failures=failures,
        true_positives=len(matched),
        false_positives=fp,
        false_negatives=len(expect.calls) - len(matched),
        facts_checked=len(expect.facts),
        facts_held=held,
        unbacked_claims=claims,
    )


def state_failures(checks: Sequence[StateCheck], state: Mapping[str, str | None]) -> list[str]:
    """Which state checks fail, against the servers' texts (`StateCheck.key` -> text, None: no such file)."""
    out: list[str] = []
    for check in checks:
        text = state.get(check.key)
        where = f"{check.server}'s {check.file}" if check.file else f"{check.server}'s memory"
        found = text is not None and (
            check.regex is None or re.search(check.regex, text, re.IGNORECASE | re.DOTALL) is not None
        )
        if check.absent and found:
            out.append(f"{where} holds what it must not" + (f" (/{check.regex}/)" if check.regex else ""))
        elif not check.absent and not found:
            out.append(f"{where} lacks /{check.regex}/" if text is not None else f"{where} does not exist")
    return out


def precision_recall(scores: Sequence[ScenarioScore]) -> tuple[float | None, float | None]:
    """Micro-averaged tool-call precision and recall (None when there is nothing to divide by)."""
    tp = sum(s.true_positives for s in scores)
    fp = sum(s.false_positives for s in scores)
    fn = sum(s.false_negatives for s in scores)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall
