"""Spoken progress: phrasing and the rules that keep it from chattering."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from voxmcp.voice.calls import ActiveCalls, ToolCallScope
from voxmcp.voice.progress import SpokenProgress, progress_phrase


class StubSession:
    def __init__(self) -> None:
        self.user_state = "listening"
        self.agent_state = "thinking"
        self.said: list[str] = []

    def say(self, text: str, *, add_to_chat_ctx: bool = True) -> None:
        assert add_to_chat_ctx is False  # progress never enters the LLM's context
        self.said.append(text)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_phrase() -> None:
    assert progress_phrase(1, 2, None) == "Still working: 50 percent."
    assert progress_phrase(1, 3, "Checking the depot.") == "Still working: Checking the depot, 33 percent."
    assert progress_phrase(4, None, "sorting") == "Still working: sorting."
    assert progress_phrase(4, None, None) == "Still working."
    assert progress_phrase(9, 4, None) == "Still working: 100 percent."


def make(started_ago_s: float = 5.0, **options: Any) -> tuple[SpokenProgress, StubSession, Clock, ToolCallScope]:
    session, clock, calls = StubSession(), Clock(), ActiveCalls()
    spoken = SpokenProgress(lambda: cast(Any, session), calls, clock=clock, **options)
    scope = ToolCallScope(server="s", tool="slow", exposed_name="slow", context=cast(Any, None))
    scope.started_at = time.monotonic() - started_ago_s
    calls._scopes.append(scope)
    return spoken, session, clock, scope


async def test_rate_limited_per_tool() -> None:
    spoken, session, clock, _ = make(min_interval_s=4.0)
    spoken("s", "slow", 1, 10, None)
    clock.now += 1
    spoken("s", "slow", 2, 10, None)  # too soon
    clock.now += 4
    spoken("s", "slow", 6, 10, None)
    assert session.said == ["Still working: 10 percent.", "Still working: 60 percent."]


async def test_quiet_cases() -> None:
    spoken, session, _, scope = make(started_ago_s=0.2, first_after_s=1.0)
    spoken("s", "slow", 1, 10, None)  # a call this young needs no update
    spoken("s", "other", 1, 10, None)  # not a running call
    scope.started_at -= 5
    spoken("s", "slow", 10, 10, None)  # final: the answer follows
    session.user_state = "speaking"
    spoken("s", "slow", 3, 10, None)  # never over the user
    assert session.said == []
    session.user_state = "listening"
    scope.in_dialog = True
    spoken("s", "slow", 4, 10, None)  # a question is waiting for its answer
    scope.in_dialog, scope.finished = False, True
    spoken("s", "slow", 5, 10, None)
    assert session.said == []


def test_bad_option_is_named() -> None:
    with pytest.raises(ValueError, match="first_after_s"):
        SpokenProgress(lambda: None, ActiveCalls(), first_after_s=-1)
