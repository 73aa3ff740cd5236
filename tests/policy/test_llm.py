"""The turn policy around a scripted LLM: validation, repair, ask, preamble, honesty (tests mirror policy/llm.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.llm import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput, function_tool
from tests.policy.fakes import Reply, ScriptedLLM, Seen, collect

from voxmcp.policy import PolicyOptions, TurnPolicyLLM
from voxmcp.policy.wording import NOT_DONE

TIME_SCHEMA = {
    "type": "object",
    "properties": {
        "source_timezone": {"type": "string", "description": "Source IANA timezone name (e.g. 'America/New_York')"},
        "time": {"type": "string", "description": "Time to convert in 24-hour format (HH:MM)"},
        "target_timezone": {"type": "string", "description": "Target IANA timezone name"},
    },
    "required": ["source_timezone", "time", "target_timezone"],
}
NOTE_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
}
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}, "units": {"enum": ["metric", "imperial"]}},
    "required": ["city"],
}


def _tool(name: str, schema: dict[str, Any]) -> llm.Tool:
    async def run(raw_arguments: dict[str, Any]) -> str:
        return "ok"

    return function_tool(run, raw_schema={"name": name, "description": name, "parameters": schema})


TOOLS = [_tool("convert_time", TIME_SCHEMA), _tool("add_note", NOTE_SCHEMA), _tool("get_weather", WEATHER_SCHEMA)]


def _ctx(request: str, *steps: tuple[str, dict[str, Any], str, bool]) -> ChatContext:
    """A chat: the request, then (tool, arguments, output, is_error) steps as LiveKit appends them."""
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="You are a voice assistant.")
    ctx.add_message(role="user", content=request)
    for i, (name, args, output, is_error) in enumerate(steps):
        call_id = f"c{i}"
        ctx.items.append(FunctionCall(call_id=call_id, name=name, arguments=json.dumps(args)))
        ctx.items.append(FunctionCallOutput(call_id=call_id, name=name, output=output, is_error=is_error))
    return ctx


async def _run(inner: ScriptedLLM, ctx: ChatContext, **options: Any) -> tuple[str, list[llm.FunctionToolCall]]:
    policy = TurnPolicyLLM(inner, PolicyOptions(**options))
    return await collect(policy.chat(chat_ctx=ctx, tools=list(TOOLS)))


async def test_a_valid_call_passes_with_the_preamble_before_it() -> None:
    inner = ScriptedLLM(Reply(calls=[("get_weather", {"city": "Paris"})]))
    text, calls = await _run(inner, _ctx("Weather in Paris?"))
    assert text == "One moment. "
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]


async def test_no_preamble_when_the_model_already_spoke_or_on_a_later_step() -> None:
    spoke = ScriptedLLM(Reply(text=["Let me look. "], calls=[("get_weather", {"city": "Paris"})]))
    text, _ = await _run(spoke, _ctx("Weather in Paris?"))
    assert text == "Let me look. "
    later = ScriptedLLM(Reply(calls=[("get_weather", {"city": "Oslo"})]))
    text, calls = await _run(later, _ctx("Paris and Oslo?", ("get_weather", {"city": "Paris"}, "Sunny.", False)))
    assert text == "" and calls[0].name == "get_weather"


async def test_an_llm_that_says_the_preamble_itself_is_heard_once_per_turn() -> None:
    own = ScriptedLLM(Reply(text=["One moment. "], calls=[("get_weather", {"city": "Oslo"})]))
    text, calls = await _run(own, _ctx("Paris and Oslo?", ("get_weather", {"city": "Paris"}, "Sunny.", False)))
    assert text == "" and calls[0].name == "get_weather"
    first = ScriptedLLM(Reply(text=["One moment. "], calls=[("get_weather", {"city": "Oslo"})]))
    text, _ = await _run(first, _ctx("Oslo?"))
    assert text == "One moment. "


async def test_a_call_that_fails_its_schema_is_never_sent_and_the_model_corrects_it() -> None:
    def corrected(seen: Seen) -> Reply:
        assert seen.calls == []  # the rejected call is described in the note, not shown as a call to copy
        assert 'get_weather({"town": "Paris"}): Not sent: ' in seen.last_user and "city is required" in seen.last_user
        assert "Parameters of get_weather" in seen.last_user and "city (string; required): City name" in seen.last_user
        return Reply(calls=[("get_weather", {"city": "Paris"})])

    inner = ScriptedLLM(Reply(calls=[("get_weather", {"town": "Paris"})]), corrected)
    text, calls = await _run(inner, _ctx("Weather in Paris?"))
    assert [json.loads(c.arguments) for c in calls] == [{"city": "Paris"}]
    assert text == "One moment. " and len(inner.seen) == 2


async def test_an_enum_is_checked_too() -> None:
    inner = ScriptedLLM(
        Reply(calls=[("get_weather", {"city": "Paris", "units": "kelvin"})]),
        Reply(calls=[("get_weather", {"city": "Paris", "units": "metric"})]),
    )
    _, calls = await _run(inner, _ctx("Weather in Paris in metric?"))
    assert json.loads(calls[0].arguments)["units"] == "metric"
    assert "'kelvin' is not one of" in inner.seen[1].last_user


async def test_a_refused_call_is_repaired_from_the_servers_error() -> None:
    def repair(seen: Seen) -> Reply:
        note = seen.last_user
        assert note.startswith("If it is 3 PM in New York, what time is it in London?")
        assert "Invalid time format. Expected HH:MM [24-hour format]" in note
        assert "time (string; required): Time to convert in 24-hour format (HH:MM)" in note
        return Reply(
            calls=[
                (
                    "convert_time",
                    {"source_timezone": "America/New_York", "time": "15:00", "target_timezone": "Europe/London"},
                )
            ]
        )

    ctx = _ctx(
        "If it is 3 PM in New York, what time is it in London?",
        ("convert_time", {"source_timezone": "America/New_York", "time": "3 PM", "target_timezone": "Europe/London"},
         "Invalid time format. Expected HH:MM [24-hour format]", True),
    )  # fmt: skip
    inner = ScriptedLLM(repair)
    text, calls = await _run(inner, ctx)
    assert text == "" and json.loads(calls[0].arguments)["time"] == "15:00"


async def test_the_failed_call_is_described_not_left_to_copy() -> None:
    ctx = _ctx(
        "Time in Paris?", ("convert_time", {"source_timezone": "Paris"}, "No time zone found with key Paris", True)
    )
    inner = ScriptedLLM(Reply(text=["Sorry."]))
    await _run(inner, ctx)
    seen = inner.seen[0]
    assert seen.calls == [] and seen.outputs == []
    assert seen.last_user.startswith("Time in Paris?\n(Attempts that did not work:\n")
    assert '- convert_time({"source_timezone": "Paris"}): No time zone found with key Paris' in seen.last_user


async def test_the_note_keeps_whether_the_request_was_heard_or_typed() -> None:
    ctx = _ctx("Time in Paris?", ("convert_time", {"source_timezone": "Paris"}, "No time zone found", True))
    request = next(m for m in ctx.items if isinstance(m, ChatMessage) and m.role == "user")
    request.transcript_confidence = 0.8
    inner = ScriptedLLM(Reply(text=["Sorry."]))
    await _run(inner, ctx)
    noted = [m for m in inner.seen[0].chat_ctx.items if isinstance(m, ChatMessage) and m.role == "user"]
    assert noted[-1].text_content.startswith("Time in Paris?\n(") and noted[-1].transcript_confidence == 0.8


async def test_after_another_tool_worked_the_failed_call_may_be_made_right() -> None:
    ctx = _ctx(
        "Read my shopping list",
        ("add_note", {"text": "/home/shopping.txt"}, "Access denied - path outside allowed directories", True),
        ("get_weather", {"city": "dirs"}, "Allowed directories: /srv/sandbox", False),
    )
    inner = ScriptedLLM(Reply(calls=[("add_note", {"text": "/srv/sandbox/shopping.txt"})]))
    text, calls = await _run(inner, ctx)
    seen = inner.seen[0]
    assert [o.output for o in seen.outputs] == ["Allowed directories: /srv/sandbox"]
    assert "Access denied" in seen.last_user and "With the results so far" in seen.last_user
    assert text == "" and calls[0].name == "add_note"


async def test_repair_may_call_another_tool_first() -> None:
    inner = ScriptedLLM(Reply(calls=[("add_note", {"text": "list the allowed directories"})]))
    ctx = _ctx(
        "Read my file",
        ("convert_time", {"source_timezone": "x", "time": "y", "target_timezone": "z"}, "Access denied", True),
    )
    _, calls = await _run(inner, ctx)
    assert calls[0].name == "add_note"


async def test_after_the_repair_budget_the_failure_is_said_once_and_nothing_is_sent() -> None:
    ctx = _ctx(
        "Weather in Atlantis?",
        ("get_weather", {"city": "Atlantis"}, "That didn't work: I have no weather for 'Atlantis'.", True),
        ("get_weather", {"city": "Atlantis City"}, "That didn't work: I have no weather for 'Atlantis City'.", True),
    )
    inner = ScriptedLLM()
    text, calls = await _run(inner, ctx, max_repairs=1)
    assert text == "Sorry, that didn't work: I have no weather for 'Atlantis City'."
    assert calls == [] and inner.seen == []


async def test_a_lost_connection_is_never_repaired_at_most_once() -> None:
    lost = (
        "I lost the connection to the payments server while the charge tool was running, so I don't know whether "
        "it finished; please check before asking again."
    )
    ctx = _ctx("Charge the card", ("add_note", {"text": "charge"}, lost, True))
    inner = ScriptedLLM()
    text, calls = await _run(inner, ctx, outcome_of=lambda call, out: "lost")
    assert text == f"Sorry. {lost}" and calls == [] and inner.seen == []


async def test_the_same_failed_call_is_not_sent_again() -> None:
    ctx = _ctx("Weather in Atlantis?", ("get_weather", {"city": "Atlantis"}, "I have no weather for 'Atlantis'.", True))
    inner = ScriptedLLM(
        Reply(calls=[("get_weather", {"city": "Atlantis"})]), Reply(calls=[("get_weather", {"city": "Atlantis"})])
    )
    text, calls = await _run(inner, ctx, max_repairs=2)
    assert calls == []
    assert text == "Sorry. I have no weather for 'Atlantis'."


async def test_a_missing_required_value_is_asked_for_not_invented() -> None:
    inner = ScriptedLLM(Reply(calls=[("get_weather", {})]), Reply(calls=[("get_weather", {"units": "metric"})]))
    text, calls = await _run(inner, _ctx("What's the weather?"), max_repairs=1)
    assert calls == [] and text == "What city should I use?"


async def test_a_claim_without_a_call_is_asked_again_with_a_call_required() -> None:
    inner = ScriptedLLM(Reply(text=["I've saved ", "your note."]), Reply(calls=[("add_note", {"text": "buy milk"})]))
    text, calls = await _run(inner, _ctx("Note: buy milk"))
    assert "saved" not in text and text == "One moment. "
    assert calls[0].name == "add_note" and inner.seen[1].tool_choice == "required"


async def test_a_claim_the_model_will_not_back_with_a_call_is_not_said() -> None:
    inner = ScriptedLLM(Reply(text=["Sure, ", "I remember that ", "your sister is Anna."]), Reply(text=["Okay."]))
    text, calls = await _run(inner, _ctx("My sister is Anna"))
    assert calls == []
    assert text == "Sure, " + NOT_DONE


async def test_a_claim_made_before_its_call_ran_is_not_said() -> None:
    inner = ScriptedLLM(Reply(text=["Sure. ", "I've saved it."], calls=[("add_note", {"text": "milk"})]))
    text, calls = await _run(inner, _ctx("Save a note: milk"))
    assert text == "Sure. " and calls[0].name == "add_note"


async def test_claims_backed_by_a_successful_change_pass_and_read_only_ones_back_nothing() -> None:
    saved = _ctx("Note: milk", ("add_note", {"text": "milk"}, "Saved note 3.", False))
    text, _ = await _run(ScriptedLLM(Reply(text=["I've saved your note."])), saved)
    assert text == "I've saved your note."
    listed = _ctx("Delete my notes", ("get_weather", {"city": "x"}, "1: milk", False))
    text, _ = await _run(
        ScriptedLLM(Reply(text=["I deleted all your notes."])), listed, may_change_things=lambda t: t != "get_weather"
    )
    assert text == NOT_DONE


async def test_a_declined_call_backs_no_claim() -> None:
    declined = _ctx("Delete note 2", ("add_note", {"text": "x"}, "Okay, I won't.", False))
    text, _ = await _run(
        ScriptedLLM(Reply(text=["Your note was deleted."])), declined, outcome_of=lambda call, out: "declined"
    )
    assert text == NOT_DONE


async def test_plain_answers_stream_clause_by_clause_untouched() -> None:
    inner = ScriptedLLM(Reply(text=["The weather in Paris ", "is cloudy, ", "13 degrees."]))
    text, _ = await _run(inner, _ctx("Weather?", ("get_weather", {"city": "Paris"}, "cloudy 13", False)))
    assert text == "The weather in Paris is cloudy, 13 degrees."
    negated = ScriptedLLM(Reply(text=["I couldn't save it, ", "the server refused."]))
    text, _ = await _run(negated, _ctx("Save it"))
    assert text == "I couldn't save it, the server refused."


async def test_the_answer_is_made_from_what_worked_not_the_failed_attempts() -> None:
    wrong = {"source_timezone": "New York", "time": "15:00", "target_timezone": "London"}
    right = {"source_timezone": "America/New_York", "time": "15:00", "target_timezone": "Europe/London"}
    ctx = _ctx(
        "Time in London if 3 PM in New York?",
        ("convert_time", wrong, "Invalid timezone", True),
        ("convert_time", right, "20:00", False),
    )
    inner = ScriptedLLM(Reply(text=["It is 8 PM in London."]))
    text, _ = await _run(inner, ctx)
    assert text == "It is 8 PM in London."
    assert [o.output for o in inner.seen[0].outputs] == ["20:00"]


async def test_tool_choice_none_ends_a_failing_turn_with_the_failure() -> None:
    ctx = _ctx("Weather in Atlantis?", ("get_weather", {"city": "Atlantis"}, "No weather for Atlantis.", True))
    policy = TurnPolicyLLM(ScriptedLLM(), PolicyOptions())
    text, calls = await collect(policy.chat(chat_ctx=ctx, tools=list(TOOLS), tool_choice="none"))
    assert text == "Sorry. No weather for Atlantis." and calls == []


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_repairs"):
        TurnPolicyLLM(ScriptedLLM(), PolicyOptions(max_repairs=-1))
