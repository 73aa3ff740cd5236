"""What happened so far in the current tool turn, read from LiveKit's chat context.

A turn starts at the user's last message; every tool step after it (calls and their outputs) belongs to it. The
policy decides from this view alone whether to repair a failed call, speak a failure, or let the model answer, so
it works the same whichever LLM produced the calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents.llm import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput

Outcome = Literal["done", "declined", "refused", "lost"]
"""How a call ended: it ran (`done`), the user said no (`declined`), the tool or server refused it (`refused`: no
effect happened, so a corrected call is safe), or the connection failed around it (`lost`: the effect may or may not
have happened, so nothing is sent again)."""

OutcomeOf = Callable[[FunctionCall, FunctionCallOutput], Outcome | None]
"""Who ran the call may know better than the chat context (a declined confirmation is not an error there)."""


@dataclass(frozen=True)
class Step:
    """One call of the current turn and what it returned (None while it has no output)."""

    call: FunctionCall
    output: FunctionCallOutput | None
    outcome: Outcome | None

    @property
    def arguments(self) -> dict[str, Any]:
        try:
            value = json.loads(self.call.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def failed(self) -> bool:
        return self.outcome in ("refused", "lost")

    def same_call(self, name: str, arguments: dict[str, Any]) -> bool:
        return self.call.name == name and canonical(self.arguments) == canonical(arguments)


def canonical(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def default_outcome(call: FunctionCall, output: FunctionCallOutput) -> Outcome:
    return "refused" if output.is_error else "done"


@dataclass(frozen=True)
class Turn:
    """The user's request and the tool steps taken for it, in order."""

    request: str
    steps: tuple[Step, ...]
    last_step_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, chat_ctx: ChatContext, outcome_of: OutcomeOf | None = None) -> Turn:
        items = chat_ctx.items
        start = 0
        request = ""
        for i in range(len(items) - 1, -1, -1):
            item = items[i]
            if isinstance(item, ChatMessage) and item.role == "user" and (item.text_content or "").strip():
                start, request = i + 1, (item.text_content or "").strip()
                break
        outputs = {o.call_id: o for o in items[start:] if isinstance(o, FunctionCallOutput)}
        steps = []
        for item in items[start:]:
            if not isinstance(item, FunctionCall):
                continue
            output = outputs.get(item.call_id)
            outcome: Outcome | None = None
            if output is not None:
                outcome = (outcome_of(item, output) if outcome_of is not None else None) or default_outcome(
                    item, output
                )
            steps.append(Step(item, output, outcome))
        return cls(request, tuple(steps), _last_step_ids(items[start:]))

    @property
    def last_step(self) -> tuple[Step, ...]:
        """The calls of the latest LLM response that made calls (one step; several when made in parallel)."""
        return tuple(s for s in self.steps if s.call.call_id in self.last_step_ids)

    @property
    def failures(self) -> int:
        return sum(s.failed for s in self.steps)

    def already_tried(self, name: str, arguments: dict[str, Any]) -> bool:
        """A call with exactly these arguments failed earlier in this turn (sending it again can't help)."""
        return any(s.failed and s.same_call(name, arguments) for s in self.steps)

    def unresolved(self) -> list[Step]:
        """Failed calls whose tool has not succeeded since (a repair may still be owed for them)."""
        out = []
        for i, step in enumerate(self.steps):
            if step.failed and not any(
                later.outcome == "done" and later.call.name == step.call.name for later in self.steps[i + 1 :]
            ):
                out.append(step)
        return out

    def succeeded(self, effects_only: Callable[[str], bool] | None = None) -> list[Step]:
        """Calls that ran; with `effects_only`, only those of tools it says may change something."""
        return [s for s in self.steps if s.outcome == "done" and (effects_only is None or effects_only(s.call.name))]


def _last_step_ids(items: Sequence[Any]) -> frozenset[str]:
    """LiveKit appends a step as its calls, then their outputs: walking back, the outputs, then the calls."""
    ids: set[str] = set()
    seen_call = False
    for item in reversed(items):
        if isinstance(item, FunctionCallOutput) and not seen_call:
            continue
        if isinstance(item, FunctionCall):
            seen_call = True
            ids.add(item.call_id)
            continue
        if seen_call:
            break
    return frozenset(ids)
