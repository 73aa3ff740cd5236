"""policy/turn.py: the current turn's steps read from LiveKit's chat context."""

from __future__ import annotations

from livekit.agents.llm import ChatContext, FunctionCall, FunctionCallOutput

from voxmcp.policy.turn import Turn


def _ctx() -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content="Earlier request")
    ctx.items.append(FunctionCall(call_id="old", name="list_notes", arguments="{}"))
    ctx.items.append(FunctionCallOutput(call_id="old", name="list_notes", output="1: milk", is_error=False))
    ctx.add_message(role="assistant", content="You have one note.")
    ctx.add_message(role="user", content="Weather in Paris and Oslo")
    return ctx


def test_a_turn_starts_at_the_last_user_message() -> None:
    turn = Turn.of(_ctx())
    assert turn.request == "Weather in Paris and Oslo" and turn.steps == () and turn.last_step == ()


def test_parallel_calls_are_one_step_and_outcomes_come_from_the_caller_first() -> None:
    ctx = _ctx()
    ctx.items.append(FunctionCall(call_id="a", name="get_weather", arguments='{"city": "Paris"}'))
    ctx.items.append(FunctionCallOutput(call_id="a", name="get_weather", output="x", is_error=True))
    ctx.items.append(FunctionCall(call_id="b", name="get_weather", arguments='{"city": "Pariss"}'))
    ctx.items.append(FunctionCall(call_id="c", name="get_weather", arguments='{"city": "Oslo"}'))
    ctx.items.append(FunctionCallOutput(call_id="b", name="get_weather", output="no such city", is_error=True))
    ctx.items.append(FunctionCallOutput(call_id="c", name="get_weather", output="Okay, I won't.", is_error=False))
    turn = Turn.of(ctx, lambda call, out: "declined" if call.call_id == "c" else None)
    assert [s.call.call_id for s in turn.last_step] == ["b", "c"]
    assert [s.outcome for s in turn.steps] == ["refused", "refused", "declined"]
    assert turn.failures == 2 and turn.succeeded() == []
    assert turn.already_tried("get_weather", {"city": "Pariss"})
    assert not turn.already_tried("get_weather", {"city": "Oslo"})


def test_a_failed_call_is_unresolved_until_its_tool_succeeds() -> None:
    ctx = _ctx()
    ctx.items.append(FunctionCall(call_id="a", name="read_file", arguments='{"path": "x"}'))
    ctx.items.append(FunctionCallOutput(call_id="a", name="read_file", output="Access denied", is_error=True))
    ctx.items.append(FunctionCall(call_id="b", name="list_allowed_directories", arguments="{}"))
    ctx.items.append(FunctionCallOutput(call_id="b", name="list_allowed_directories", output="/srv", is_error=False))
    turn = Turn.of(ctx)
    assert [s.call.call_id for s in turn.unresolved()] == ["a"]
    ctx.items.append(FunctionCall(call_id="c", name="read_file", arguments='{"path": "/srv/x"}'))
    ctx.items.append(FunctionCallOutput(call_id="c", name="read_file", output="milk", is_error=False))
    assert Turn.of(ctx).unresolved() == []
    assert [s.call.name for s in Turn.of(ctx).succeeded(lambda tool: tool != "list_allowed_directories")] == [
        "read_file"
    ]
