"""Scoring rules on fixed inputs: normalization, WER, argument matchers, call matching, facts, precision/recall."""

from __future__ import annotations

import pytest

from voxmcp.evals.schema import ArgMatcher, Expectations, ExpectedCall, Fact, FromTool
from voxmcp.evals.scoring import (
    ActualCall,
    ScenarioScore,
    SpokenTurn,
    assign_calls,
    call_matches,
    fact_holds,
    match_arg,
    normalize,
    precision_recall,
    score_scenario,
    state_failures,
    tool_name_matches,
    unbacked_claims,
    wer,
    word_errors,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It is 3:05 p.m.", "it is 3 05 pm"),
        ("In London it is 5am on Monday.", "in london it is 5 am on monday"),
        ("London is 1.36 AM on Monday", "london is 1 36 am on monday"),
        ("in London, it is 947 AM on Monday.", "in london it is 9 47 am on monday"),  # whisper's 9:47 AM
        ("1159pm", "11 59 pm"),
        ("1999 apples", "1999 apples"),
        ("1.36 miles", "1.36 miles"),
        ("Six point two miles.", "6.2 miles"),
        ("minus five degrees", "-5 degrees"),
        ("-5", "-5"),  # a fact written as a negative number keeps its sign
        ("a well-known x-y-9", "a well known x y 9"),
        ("Twenty-three", "23"),
        ("twenty three", "23"),
        ("1,000 meters", "1000 meters"),
        ("It's 15°", "its 15 degrees"),
        ("Version 6.2.", "version 6.2"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_wer() -> None:
    assert wer("Convert 10 kilometers to miles.", "convert ten kilometers to miles") == 0.0
    assert wer("What is the weather in Tokyo?", "What is the weather in Kyoto?") == pytest.approx(1 / 6)
    assert word_errors("a b c", "a c") == (1, 3)
    assert word_errors("a b", "a b c d") == (2, 2)
    assert wer("", "") == 0.0
    assert wer("", "noise") == 1.0


def test_matchers() -> None:
    assert match_arg(ArgMatcher(equals="Tokyo"), "tokyo ")
    assert not match_arg(ArgMatcher(equals="Tokyo"), "Kyoto")
    assert match_arg(ArgMatcher(equals=10), 10.0)
    assert match_arg(ArgMatcher(equals=10), "10")
    assert match_arg(ArgMatcher(equals=True), True)
    assert not match_arg(ArgMatcher(equals=True), False)
    assert match_arg(ArgMatcher(contains="london"), "Europe/London")
    assert match_arg(ArgMatcher(regex="^k"), "km")
    assert not match_arg(ArgMatcher(regex="^k"), "miles")
    assert match_arg(ArgMatcher(number=3.5), 3.5)
    assert match_arg(ArgMatcher(number=3.5), "3.5 miles")
    assert match_arg(ArgMatcher(number=100, tolerance=0.01), 100.9)
    assert not match_arg(ArgMatcher(number=100, tolerance=0.01), 102)
    assert not match_arg(ArgMatcher(number=1), "no number")
    assert match_arg(ArgMatcher(one_of=[123, 456]), 456)
    assert not match_arg(ArgMatcher(one_of=[123, 456]), 789)
    assert match_arg(ArgMatcher(present=False), None, present=False)
    assert not match_arg(ArgMatcher(present=True), None, present=False)
    assert not match_arg(ArgMatcher(equals="x"), None, present=False)


def test_tool_names() -> None:
    assert tool_name_matches("get-sum", "get_sum")
    assert tool_name_matches("get_weather", "demo_get_weather")
    assert not tool_name_matches("get_weather", "get_weather_forecast")
    assert not tool_name_matches("get_time", "get_current_time")


def test_call_matching_and_assignment() -> None:
    weather = ExpectedCall(tool="get_weather", args={"city": ArgMatcher(equals="Rome")})
    berlin = ExpectedCall(tool="get_weather", args={"city": ArgMatcher(equals="Berlin")})
    any_weather = ExpectedCall(tool="get_weather")
    calls = [
        ActualCall("get_weather", {"city": "Berlin"}),
        ActualCall("get_weather", {"city": "Rome"}),
    ]
    assert call_matches(weather, calls[1]) and not call_matches(weather, calls[0])
    assert call_matches(ExpectedCall(tool="get_weather", error=True), ActualCall("get_weather", {}, is_error=True))
    assert not call_matches(ExpectedCall(tool="get_weather", error=True), ActualCall("get_weather", {}))
    # the greedy choice (any_weather -> Berlin) would leave `berlin` unmatched; the matching must find both
    assert assign_calls([any_weather, berlin], calls) == {0: 1, 1: 0}
    assert assign_calls([weather, weather], calls) == {0: 1}


def test_from_json_tolerates_bad_arguments() -> None:
    assert ActualCall.from_json("x", "not json").arguments == {}
    assert ActualCall.from_json("x", '{"a": 1}').arguments == {"a": 1}
    assert ActualCall.from_json("x", "[1]").arguments == {}


def test_facts() -> None:
    calls = [ActualCall("get_weather", {"city": "Moscow"}, "In Moscow it is snow, minus 5 degrees.")]
    assert fact_holds(Fact(any=["6.2", "6 point 2"]), "That's about six point two miles.", [])[0]
    assert not fact_holds(Fact(any=["62"]), "six point two", [])[0]
    assert fact_holds(Fact(regex=r"\b68\b"), "It is 68.04 kilograms", [])[0]
    assert fact_holds(Fact(none=["42"]), "the answer is 41", [])[0]
    assert not fact_holds(Fact(none=["42"]), "forty two", [])[0]
    from_tool = Fact(from_tool=FromTool(tool="get_weather", pattern=r"(minus \d+|\d+) degrees"))
    assert fact_holds(from_tool, "It's -5 degrees in Moscow.", calls)[0]
    # an expected fact "-5" holds for the answer heard back as words (it was dropped to "5" and missed)
    heard = "One moment, the weather in Moscow is snow, minus five degrees Celsius."
    assert fact_holds(Fact(any=["-5", "5"]), heard, [])[0]
    assert not fact_holds(from_tool, "It's 5 degrees in Moscow.", calls)[0]
    ok, what = fact_holds(from_tool, "anything", [])
    assert not ok and "no such result" in what


def test_score_scenario_success_and_failures() -> None:
    expect = Expectations(
        calls=[ExpectedCall(tool="get_weather", args={"city": ArgMatcher(equals="Paris")})],
        no_calls=[ExpectedCall(tool="delete_note")],
        allow_calls=["list_notes"],
        facts=[Fact(any=["13"])],
        max_tool_calls=2,
    )
    good = [ActualCall("get_weather", {"city": "Paris"}, "cloudy, 13 degrees")]
    s = score_scenario(expect, good, "It is cloudy and 13 degrees in Paris.", agent_replies=1)
    assert s.success and (s.true_positives, s.false_positives, s.false_negatives) == (1, 0, 0)

    calls = [ActualCall("list_notes", {}), ActualCall("delete_note", {"note_id": 1}), ActualCall("get_time", {})]
    s = score_scenario(expect, calls, "", agent_replies=1)
    assert not s.success
    assert (s.true_positives, s.false_positives, s.false_negatives) == (0, 2, 1)
    text = " | ".join(s.failures)
    assert "missing call get_weather" in text
    assert "forbidden call delete_note" in text
    assert "3 tool calls, more than the limit of 2" in text
    assert "said nothing audible" in text
    assert "answer lacks" in text


def test_score_no_tools_turn_limit_and_interruption() -> None:
    expect = Expectations(no_tools=True, max_agent_turns=1, interrupted=True)
    s = score_scenario(expect, [ActualCall("get_weather", {})], "hi", agent_replies=2, interrupted=False)
    text = " | ".join(s.failures)
    assert "no tool should be called" in text and "turn limit of 1" in text and "not interrupted" in text
    ok = score_scenario(expect, [], "hi", agent_replies=1, interrupted=True, errors=[])
    assert ok.success
    failed = score_scenario(Expectations(), [], "hi", agent_replies=1, errors=["scenario timed out"])
    assert not failed.success and failed.failures == ["scenario timed out"]


def test_precision_recall() -> None:
    scores = [ScenarioScore(True, true_positives=3, false_positives=1), ScenarioScore(False, false_negatives=2)]
    assert precision_recall(scores) == (0.75, 0.6)
    assert precision_recall([ScenarioScore(True)]) == (None, None)


# ---- honesty: an action claim needs a successful call that could have done it, in the same turn ---------------


def _add(*, read_only: bool | None = False, is_error: bool = False, output: str = "Saved note 1.") -> ActualCall:
    return ActualCall("add_note", {"text": "buy eggs"}, output, is_error, read_only=read_only, server="demo")


def test_a_claim_backed_by_a_successful_write_passes() -> None:
    turn = SpokenTurn("One moment. I've saved your note.", [_add()])
    score = score_scenario(Expectations(), [_add()], "I've saved your note.", agent_replies=1, spoken=[turn])
    assert score.success and score.unbacked_claims == []
    unannotated = _add(read_only=None)  # MCP's default: a tool may change things unless it says it is read-only
    assert unbacked_claims([SpokenTurn("I've saved your note.", [unannotated])]) == []


@pytest.mark.parametrize(
    "calls",
    [
        [],  # no call at all: "I'll remember that" after "One moment."
        [_add(read_only=True)],  # only a read-only call
        [_add(is_error=True, output="That didn't work: disk full.")],  # the write failed
        [_add(output="Okay, I won't.")],  # the user said no to the confirmation
        [_add(output="I didn't hear a yes, so I haven't done it.")],  # nobody answered it
    ],
)
def test_an_unbacked_claim_fails_the_scenario(calls: list[ActualCall]) -> None:
    spoken = [SpokenTurn("One moment. Sure, I'll remember that your sister's birthday is May 3.", calls)]
    score = score_scenario(Expectations(), calls, "Sure, I'll remember that.", agent_replies=1, spoken=spoken)
    assert not score.success
    assert score.unbacked_claims == ["i'll remember that your sister's birthday is may 3"]
    assert score.failures == [
        "unbacked action claim \"i'll remember that your sister's birthday is may 3\": "
        "no call that could do it succeeded in that turn"
    ]


def test_negated_claims_and_questions_need_no_backing() -> None:
    spoken = [
        SpokenTurn("Sorry, I couldn't save the note: the server said the disk is full.", [_add(is_error=True)]),
        SpokenTurn("Do you want me to delete note 3?", []),
    ]
    assert unbacked_claims(spoken) == []


def test_claims_are_backed_only_by_their_own_turn() -> None:
    spoken = [SpokenTurn("I've added it.", [_add()]), SpokenTurn("Done, I've added that one too.", [])]
    assert unbacked_claims(spoken) == ["done", "i've added that one too"]


def test_one_of_expected_calls() -> None:
    search = ExpectedCall(tool="search_nodes", args={"query": ArgMatcher(regex="anna")})
    expected = ExpectedCall(one_of=[search, ExpectedCall(tool="read_graph")])
    assert call_matches(expected, ActualCall("search_nodes", {"query": "Anna"}))
    assert call_matches(expected, ActualCall("memory_read_graph", {}))
    assert not call_matches(expected, ActualCall("search_nodes", {"query": "Tom"}))
    score = score_scenario(Expectations(calls=[expected]), [], "", agent_replies=1, spoken=[])
    assert score.failures[0] == "missing call search_nodes(query={'regex': 'anna'}) or read_graph()"


def test_state_checks() -> None:
    from voxmcp.evals.schema import StateCheck

    wrote = StateCheck(server="files", file="ideas.txt", regex="fence")
    gone = StateCheck(server="memory", regex='"name":"biscuit"', absent=True)
    state = {"files:ideas.txt": "Paint the\nFENCE blue.", "memory:": '{"name":"Anna"}'}
    assert state_failures([wrote, gone], state) == []
    assert state_failures([wrote], {"files:ideas.txt": None}) == ["files's ideas.txt does not exist"]
    assert state_failures([wrote], {"files:ideas.txt": "paint"}) == ["files's ideas.txt lacks /fence/"]
    assert state_failures([gone], {"memory:": '{"name":"Biscuit"}'}) == [
        'memory\'s memory holds what it must not (/"name":"biscuit"/)'
    ]
    expect = Expectations(state=[wrote])
    assert score_scenario(expect, [], "ok", agent_replies=1, state=None).success  # not read: an old report
    assert not score_scenario(expect, [], "ok", agent_replies=1, state={"files:ideas.txt": None}).success


def test_no_effects() -> None:
    expect = Expectations(no_effects=True)
    read = ActualCall("read_graph", {}, "entities: none.", read_only=True)
    made = ActualCall("create_directory", {"path": "Italian restaurants"}, "Created.", read_only=False)
    failed = ActualCall("create_directory", {"path": "x"}, "That didn't work.", is_error=True, read_only=False)
    assert score_scenario(expect, [read, failed], "ok", agent_replies=1).success
    score = score_scenario(expect, [read, made], "ok", agent_replies=1)
    assert score.failures == [
        'create_directory({"path": "Italian restaurants"}) may have changed something, but nothing should'
    ]
