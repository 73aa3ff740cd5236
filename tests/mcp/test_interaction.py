"""Interaction handlers: SEP-1034 defaults, reply normalization, policies, progress throttling."""

from __future__ import annotations

from typing import Any

import mcp.types as types
import pytest

from voxmcp.mcp.interaction import (
    InteractionHandlers,
    ProgressThrottle,
    apply_schema_defaults,
    describe_progress,
    elicitation_callback,
    sampling_callback,
    to_elicit_result,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "size": {"type": "string", "default": "medium"},
        "count": {"type": "integer", "default": 1},
    },
}


def test_apply_schema_defaults_fills_only_omitted_fields() -> None:
    assert apply_schema_defaults({"name": "Ada", "count": 5}, SCHEMA) == {"name": "Ada", "count": 5, "size": "medium"}
    assert apply_schema_defaults(None, SCHEMA) == {"size": "medium", "count": 1}
    assert apply_schema_defaults({"a": 1}, {"type": "object"}) == {"a": 1}


def test_to_elicit_result_normalizes_replies() -> None:
    accepted = to_elicit_result({"action": "accept", "content": {"name": "Ada"}}, SCHEMA)
    assert accepted.action == "accept" and accepted.content == {"name": "Ada", "size": "medium", "count": 1}
    assert to_elicit_result("decline", SCHEMA).action == "decline"
    cancelled = to_elicit_result(types.ElicitResult(action="cancel", content={"name": "x"}), SCHEMA)
    assert cancelled.action == "cancel" and cancelled.content is None
    with pytest.raises(ValueError, match="accept, decline or cancel"):
        to_elicit_result("maybe", SCHEMA)  # type: ignore[arg-type]


async def test_elicitation_callback_modes_and_defaults() -> None:
    assert elicitation_callback("s", InteractionHandlers()) is None  # not advertised without handlers
    asked: list[tuple[str, str, dict[str, Any]]] = []

    async def elicit(server: str, message: str, schema: dict[str, Any]) -> dict[str, Any]:
        asked.append((server, message, schema))
        return {"action": "accept", "content": {"name": "Ada"}}

    callback = elicitation_callback("s", InteractionHandlers(elicit=elicit))
    assert callback is not None
    form = types.ElicitRequestFormParams(message="Name?", requested_schema=SCHEMA)
    result = await callback(None, form)  # type: ignore[arg-type]
    assert isinstance(result, types.ElicitResult)
    assert result.content == {"name": "Ada", "size": "medium", "count": 1}
    assert asked[0][:2] == ("s", "Name?")
    url = types.ElicitRequestURLParams(message="Sign in", url="https://e.com", elicitation_id="1")
    declined = await callback(None, url)  # type: ignore[arg-type]
    assert isinstance(declined, types.ElicitResult) and declined.action == "decline"


async def test_elicitation_handler_crash_answers_with_error() -> None:
    async def broken(server: str, message: str, schema: dict[str, Any]) -> str:
        raise RuntimeError("microphone unplugged")

    callback = elicitation_callback("s", InteractionHandlers(elicit=broken))
    assert callback is not None
    result = await callback(None, types.ElicitRequestFormParams(message="?", requested_schema=SCHEMA))  # type: ignore[arg-type]
    assert isinstance(result, types.ErrorData) and "microphone unplugged" in result.message


def test_sampling_policy() -> None:
    async def sample(server: str, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        raise AssertionError("not called")

    assert sampling_callback("s", InteractionHandlers(sample=sample), allowed=False) is None
    assert sampling_callback("s", InteractionHandlers(), allowed=True) is None
    assert sampling_callback("s", InteractionHandlers(sample=sample), allowed=True) is not None


def test_progress_throttle_rate_and_final_update() -> None:
    now = [0.0]
    spoken: list[tuple[float, float | None]] = []
    throttle = ProgressThrottle(
        lambda s, t, p, total, m: spoken.append((p, total)), min_interval_s=4.0, clock=lambda: now[0]
    )
    for step in range(1, 10):
        throttle("srv", "tool", step, 10, None)
        now[0] += 1.0
    throttle("srv", "tool", 10, 10, None)  # final always passes
    assert spoken == [(1, 10), (5, 10), (9, 10), (10, 10)]
    throttle("srv", "other", 1, None, None)
    assert spoken[-1] == (1, None)


def test_describe_progress() -> None:
    assert describe_progress(1, 4, None) == "25 percent done"
    assert describe_progress(3, None, None) == "3 steps done"
    assert describe_progress(1, 4, "  Downloading  ") == "Downloading"
