"""Runner pieces that need no models: settings per scenario, re-scoring a finished report, scenario selection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from voxmcp.app import Models
from voxmcp.config import ModelRef, load_settings
from voxmcp.evals.cli import select
from voxmcp.evals.driver import TurnResult
from voxmcp.evals.runner import (
    AnswerTranscriber,
    EvalRunner,
    ReplyLog,
    ScenarioResult,
    TurnRecord,
    agent_voice_clash,
    check_user_voices,
    heard_transcripts,
    needs_speech,
    reclaim_barge_in_calls,
    rescore,
    scenario_settings,
    scored,
    suite_voices,
)
from voxmcp.evals.schema import Scenario, parse_suite
from voxmcp.evals.voice import UserVoice, UserVoiceError, parse_voice
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.talk import ToolCallRecord

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
    assert results[0].voice == "espeak:en-us" and results[0].display_name == "time-london"  # a report before voices


def test_rescore_keeps_each_runs_voice() -> None:
    runs = [
        {**_result("chat", [_turn([])], "Hi!", []), "voice": v, "display_name": f"chat@{v}"}
        for v in ("piper:joe", "espeak:en-us")
    ]
    results = rescore(parse_suite(SUITE), {"results": runs})
    assert [(r.voice, r.display_name) for r in results] == [
        ("piper:joe", "chat@piper:joe"),
        ("espeak:en-us", "chat@espeak:en-us"),
    ]


def test_rescore_keeps_the_agent_log() -> None:
    logged = ["llm: tool call not grounded in the user's words {'tool': 'get_weather'}"]
    run = {**_result("chat", [_turn([])], "Hi!", []), "agent_log": logged}
    assert rescore(parse_suite(SUITE), {"results": [run]})[0].agent_log == logged
    assert rescore(parse_suite(SUITE), {"results": [_result("chat", [_turn([])], "Hi!", [])]})[0].agent_log == []


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


def _tts(spec: str) -> ModelRef:
    return load_settings(env={"VOXMCP_MODELS__TTS": spec}, dotenv=False).models.tts


def test_user_voice_must_not_be_the_agents() -> None:
    hibari, piper, espeak = _tts("local/hibari"), _tts("local/piper-joe"), _tts("local/espeak-ng")
    assert agent_voice_clash(parse_voice("piper:joe"), hibari) is None
    assert agent_voice_clash(parse_voice("espeak:en-us"), hibari) is None
    assert agent_voice_clash(parse_voice("espeak:en-us"), piper) is None
    assert agent_voice_clash(parse_voice("piper:joe"), espeak) is None
    assert "piper joe" in (agent_voice_clash(parse_voice("piper:joe"), piper) or "")
    assert "espeak-ng" in (agent_voice_clash(parse_voice("espeak:en-gb"), espeak) or "")  # any espeak voice
    assert agent_voice_clash(parse_voice("piper:joe"), ModelRef.parse("openai/tts-1")) is None
    assert check_user_voices(["piper:joe", "en-us"], hibari) == [
        UserVoice("piper", "joe"),
        UserVoice("espeak", "en-us"),
    ]
    with pytest.raises(UserVoiceError, match="pick another user voice"):
        check_user_voices(["espeak:en-us", "piper:joe"], piper)


def test_a_piper_file_that_is_the_agents_joe_clashes() -> None:
    pytest.importorskip("piper")
    from voxmcp.evals.voice import piper_model_path

    try:
        joe = piper_model_path("joe")
    except UserVoiceError as e:
        pytest.skip(str(e))
    assert "same voice file" in (agent_voice_clash(parse_voice(f"piper:{joe}"), _tts("local/piper-joe")) or "")
    assert agent_voice_clash(parse_voice("piper:/elsewhere/amy.onnx"), _tts("local/piper-joe")) is None


def test_suite_voices_or_the_command_lines() -> None:
    data = {**SUITE, "defaults": {"voices": ["piper:joe", "espeak:en-us"]}}
    suite = parse_suite(data)
    assert suite_voices(suite) == [UserVoice("piper", "joe"), UserVoice("espeak", "en-us")]
    assert suite_voices(suite, ["en-gb", "espeak:en-gb"]) == [UserVoice("espeak", "en-gb")]  # replaces, deduplicated
    assert suite_voices(parse_suite(SUITE)) == [UserVoice("espeak", "en-us")]
    with pytest.raises(UserVoiceError, match="unknown engine"):
        suite_voices(suite, ["kokoro:x"])


class _ScriptedRunner(EvalRunner):
    """EvalRunner with the conversation replaced: records which scenario ran under which voice."""

    async def run_scenario(self, sc: Scenario, voice: UserVoice | None = None) -> ScenarioResult:
        assert voice is not None
        return scored(sc, [], "", [], 0.0, voice=str(voice), display_name=self.display_name(sc, voice))


def _runner(tmp_path: Path, voices: list[str] | None, tts: str = "local/hibari") -> _ScriptedRunner:
    settings = load_settings(env={"VOXMCP_MODELS__TTS": tts}, dotenv=False)
    suite = parse_suite({**SUITE, "defaults": {"voices": ["espeak:en-us"]}})
    return _ScriptedRunner(suite, settings, cast(Models, None), tmp_path, cast(AnswerTranscriber, None), voices)


async def test_every_selected_scenario_runs_once_per_voice(tmp_path: Path) -> None:
    runner = _runner(tmp_path, ["piper:joe", "espeak:en-us"])
    scenarios = select(list(runner.suite.scenarios), ["chat"], None)  # --only selects it under every voice
    seen: list[str] = []
    results = await runner.run(scenarios, on_done=lambda r: seen.append(r.display_name))
    assert seen == ["chat@piper:joe", "chat@espeak:en-us"]
    assert [(r.name, r.voice) for r in results] == [("chat", "piper:joe"), ("chat", "espeak:en-us")]
    everything = await runner.run(list(runner.suite.scenarios))
    assert [r.display_name for r in everything] == [
        "time-london@piper:joe", "time-london@espeak:en-us", "chat@piper:joe", "chat@espeak:en-us"
    ]  # fmt: skip


async def test_one_voice_keeps_plain_names(tmp_path: Path) -> None:
    results = await _runner(tmp_path, None).run(list(parse_suite(SUITE).scenarios))
    assert [(r.display_name, r.voice) for r in results] == [("time-london", "espeak:en-us"), ("chat", "espeak:en-us")]


def test_runner_refuses_the_agents_voice_before_running(tmp_path: Path) -> None:
    with pytest.raises(UserVoiceError, match="the agent speaks with espeak-ng"):
        _runner(tmp_path, None, tts="local/espeak-ng")  # the suite's espeak:en-us
    with pytest.raises(UserVoiceError, match="piper joe"):
        _runner(tmp_path, ["espeak:en-us", "piper:joe"], tts="local/piper-joe")
    suite = parse_suite({**SUITE, "scenarios": [{**SUITE["scenarios"][1], "turns": [{"say": "Hi", "voice": "en-gb"}]}]})
    settings = load_settings(env={"VOXMCP_MODELS__TTS": "local/espeak-ng"}, dotenv=False)
    with pytest.raises(UserVoiceError, match="espeak:en-gb"):  # a per-turn override counts too
        EvalRunner(suite, settings, cast(Models, None), tmp_path, cast(AnswerTranscriber, None), ["piper:joe"])


def test_calls_are_recorded_with_their_server_and_read_only_hint() -> None:
    from mcp_types import ToolAnnotations

    from voxmcp.evals.runner import _record, tool_facts
    from voxmcp.mcp.toolset import ToolInfo

    infos = [
        ToolInfo("memory", "create_entities", ToolAnnotations(read_only_hint=False), {}, "create_entities"),
        ToolInfo("memory", "read_graph", ToolAnnotations(read_only_hint=True), {}, exposed_name="read_graph"),
        ToolInfo("time", "get_current_time", None, {}, exposed_name="get_current_time"),
    ]
    runtime = SimpleNamespace(hub=SimpleNamespace(tool_infos=lambda: infos))
    facts = tool_facts(runtime)
    assert facts == {
        "create_entities": ("memory", False),
        "read_graph": ("memory", True),
        "get_current_time": ("time", None),
    }
    assert tool_facts(SimpleNamespace()) == {}  # a runtime without an MCP hub
    turn = TurnResult(
        tool_calls=[
            ToolCallRecord("read_graph", "{}", "entities: none.", False, 1.0),
            ToolCallRecord("call_tool", '{"name": "create_entities", "arguments": {}}', "ok", False, 1.0),
            ToolCallRecord("calendar_server", "{}", "The calendar server is down.", False, 1.0),
        ]
    )
    calls = _record(turn, "hi", barge_in=False, snr=None, facts=facts).tool_calls
    assert [(c["server"], c["read_only"]) for c in calls] == [("memory", True), ("memory", False), (None, None)]


def test_scoring_fails_an_unbacked_claim_and_counts_it() -> None:
    sc = parse_suite(SUITE).scenarios[1]  # chat: no tools expected
    turn = TurnRecord(**_turn([]))
    turn.agent_text = ["One moment.", "Sure, I'll remember that."]
    result = scored(sc, [turn], "Sure, I'll remember that.", [], 1.0)
    assert not result.success and result.unbacked_claims == ["i'll remember that"]
    assert "unbacked action claim" in result.failures[0]
    assert result.suite == "suite"  # the suite it was written in


def test_rescore_finds_each_runs_scenario_in_its_own_suite() -> None:
    a = parse_suite({**SUITE, "name": "tune"})
    b = parse_suite({**SUITE, "name": "heldout"})
    run = _result("chat", [_turn([])], "Hi!", [])
    results = rescore([a, b], {"results": [{**run, "suite": "heldout"}, run]})
    assert [r.suite for r in results] == ["heldout", "tune"]  # an old report (no suite): the first suite that has it


def test_typed_from_a_report_takes_what_each_voice_was_heard_as() -> None:
    misheard = {**_turn([]), "heard_by_agent": "What time is it in Lund?"}
    barge = {**_turn([]), "heard_by_agent": "Stop.", "barge_in": True}
    report = {
        "results": [
            {**_result("time-london", [misheard, barge], "", []), "voice": "piper:joe"},
            {**_result("time-london", [_turn([])], "", []), "voice": "espeak:en-us"},
        ]
    }
    assert heard_transcripts(report) == {
        ("time-london", "piper:joe"): ["What time is it in Lund?"],  # a barge-in is no turn of its own when typed
        ("time-london", "espeak:en-us"): ["What time is it in London?"],
    }


def test_barge_ins_and_spoken_forms_need_speech() -> None:
    suite = parse_suite(SUITE)
    assert not any(needs_speech(sc) for sc in suite.scenarios)
    barge = {**SUITE["scenarios"][0], "turns": [{"say": "Hi", "barge_in": {"say": "Stop", "after_s": 0.5}}]}
    assert needs_speech(parse_suite({**SUITE, "scenarios": [barge]}).scenarios[0])


def test_typed_runs_are_labelled_apart_from_spoken_ones(tmp_path: Path) -> None:
    settings = load_settings(env={}, dotenv=False)
    suite = parse_suite({**SUITE, "defaults": {"voices": ["espeak:en-us", "piper:joe"]}})
    none = cast(AnswerTranscriber, None)
    script = _ScriptedRunner(suite, settings, cast(Models, None), tmp_path, none, typed={})
    assert [script.voice_label(v) for v in script.voices] == ["typed"]  # the script is typed once, not per voice
    heard = {("chat", "piper:joe"): ["Hi"]}
    replay = _ScriptedRunner(suite, settings, cast(Models, None), tmp_path, none, typed=heard)
    assert [replay.voice_label(v) for v in replay.voices] == ["espeak:en-us typed", "piper:joe typed"]
