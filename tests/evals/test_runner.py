"""Runner pieces that need no models: settings per scenario, re-scoring a finished report, scenario selection."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from voxmcp.config import load_settings
from voxmcp.evals.cli import select
from voxmcp.evals.runner import ReplyLog, reclaim_barge_in_calls, rescore, scenario_settings
from voxmcp.evals.schema import parse_suite
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.talk import ToolCallRecord, TurnResult

SUITE: dict[str, Any] = {
    "servers": {"demo": {"kind": "demo"}},
    "scenarios": [
        {
            "name": "time-london",
            "category": "one-tool",
            "servers": ["demo"],
            "turns": ["What time is it in London?"],
            "expect": {
                "calls": [{"tool": "get_time", "args": {"timezone": {"contains": "london"}}}],
                "facts": [{"from_tool": {"tool": "get_time", "pattern": r"it is (\d+):"}}],
            },
        },
        {"name": "chat", "category": "chit-chat", "servers": ["demo"], "turns": ["Hi"], "expect": {"no_tools": True}},
    ],
}


def _turn(calls: list[dict[str, Any]], errors: list[str] | None = None) -> dict[str, Any]:
    return {
        "said": "What time is it in London?",
        "heard_by_agent": "What time is it in London?",
        "wer": 0.0,
        "agent_text": ["The time in London is 1:36 AM."],
        "tool_calls": calls,
        "timings": {"first_audible_s": 1.0},
        "interrupted": False,
        "barge_in": False,
        "noise_snr_db": None,
        "errors": errors or [],
    }


def _result(name: str, turns: list[dict[str, Any]], heard: str, failures: list[str]) -> dict[str, Any]:
    return {"name": name, "turns": turns, "heard_answer": heard, "failures": failures, "duration_s": 3.0}


def test_rescore_applies_current_rules_and_keeps_run_failures() -> None:
    call = {"name": "get_time", "arguments": '{"timezone": "Europe/London"}', "output": "In London it is 1:36 AM.",
            "is_error": False}  # fmt: skip
    report = {
        "results": [
            # failed when scored with older rules (Whisper's '1.36 AM'); passes now
            _result("time-london", [_turn([call])], "The time in London is 1.36 AM.", ["answer lacks ..."]),
            _result("chat", [_turn([], ["no complete answer within 120 s"])], "", ["scenario timed out after 300 s"]),
            _result("gone", [_turn([])], "", []),
        ]
    }
    results = rescore(parse_suite(SUITE), report)
    assert [r.name for r in results] == ["time-london", "chat"]
    assert results[0].success and results[0].true_positives == 1 and results[0].facts_held == 1
    assert not results[1].success
    assert results[1].failures[:2] == ["scenario timed out after 300 s", "no complete answer within 120 s"]


def test_scenario_settings_replace_servers() -> None:
    base = load_settings(env={}, dotenv=False)
    s = scenario_settings(base, {"x": MCPServerConfig(url="http://127.0.0.1:9/mcp")})
    assert list(s.mcp_servers()) == ["x"]
    assert not s.mcp.use_demo_server
    assert base.mcp.servers == {}  # the base settings are untouched


def test_select_by_name_category_and_limit() -> None:
    scenarios = list(parse_suite(SUITE).scenarios)
    assert [s.name for s in select(scenarios, [], None)] == ["time-london", "chat"]
    assert [s.name for s in select(scenarios, ["chit-*"], None)] == ["chat"]
    assert [s.name for s in select(scenarios, ["time-*", "chat"], 1)] == ["time-london"]
    assert select(scenarios, ["nothing"], None) == []


class _Handle:
    def __init__(self, interrupted: bool) -> None:
        self.interrupted = interrupted


class _Session:
    """Just the event hook ReplyLog uses."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        self.handlers[event] = handler

    def speech(self, handle: _Handle) -> None:
        self.handlers["speech_created"](SimpleNamespace(speech_handle=handle))


def test_a_reply_cut_before_it_was_heard_is_an_interruption() -> None:
    clock = iter([10.0, 12.0, 20.0])
    session = _Session()
    log = ReplyLog(session, clock=lambda: next(clock))
    session.speech(_Handle(interrupted=False))  # at 10: answered, not cut
    session.speech(_Handle(interrupted=True))  # at 12: the answer being prepared when the user barged in
    session.speech(_Handle(interrupted=True))  # at 20: later, another turn
    assert not log.interrupted_between(9.0, 11.0)
    assert log.interrupted_between(11.0, 15.0)
    assert not log.interrupted_between(12.0, 19.0)


def test_calls_that_finish_during_the_barge_in_stay_with_the_interrupted_turn() -> None:
    def call(name: str, at: float) -> ToolCallRecord:
        return ToolCallRecord(name=name, arguments="{}", output="", is_error=False, finished_at=at)

    before, during, after = call("get_weather", 11.0), call("get_weather", 13.0), call("get_time", 17.0)
    first = TurnResult(speech_end=10.0, tool_calls=[before])
    barge = TurnResult(speech_end=15.0, tool_calls=[after])
    reclaim_barge_in_calls([before, during, after], first, barge, barge_started=12.0)
    assert first.tool_calls == [before, during] and barge.tool_calls == [after]
    reclaim_barge_in_calls([before, during, after], first, barge, barge_started=12.0)  # nothing twice
    assert first.tool_calls == [before, during]
