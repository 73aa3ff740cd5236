"""Suite validation: good suites load, and every mistake is reported with the scenario and key it is in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voxmcp.evals.schema import ArgMatcher, SuiteError, load_suite, parse_suite

REPO = Path(__file__).resolve().parents[2]


def _suite(**scenario: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "s1", "servers": ["demo"], "turns": ["What is the weather in Tokyo?"]}
    base.update(scenario)
    return {"servers": {"demo": {"kind": "demo"}}, "scenarios": [base]}


def _error(data: Any) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(data, source="t.yaml")
    return str(info.value)


def test_shorthands_expand() -> None:
    suite = parse_suite(
        _suite(
            expect={
                "calls": ["list_notes", {"tool": "get_weather", "args": {"city": "Tokyo", "days": 2}}],
                "facts": ["15", ["6.2", "6 point 2"]],
            }
        )
    )
    expect = suite.scenarios[0].expect
    assert expect.calls[0].tool == "list_notes"
    assert expect.calls[1].args["city"] == ArgMatcher(equals="Tokyo")
    assert expect.calls[1].args["days"] == ArgMatcher(equals=2)
    assert expect.facts[0].any == ["15"]
    assert expect.facts[1].any == ["6.2", "6 point 2"]
    assert suite.scenarios[0].turns[0].say == "What is the weather in Tokyo?"


def test_unknown_key_names_scenario_and_path() -> None:
    msg = _error(_suite(expect={"calls": [{"tool": "x", "args": {"city": {"equal": "Tokyo"}}}]}))
    assert "t.yaml" in msg
    assert "scenarios[0] (s1).expect.calls[0].args.city.equal: unknown key" in msg


def test_matcher_needs_exactly_one_rule() -> None:
    msg = _error(_suite(expect={"calls": [{"tool": "x", "args": {"v": {"number": 1, "regex": "1"}}}]}))
    assert "exactly one of" in msg and "(got regex, number)" in msg


def test_bad_regex_is_named() -> None:
    msg = _error(_suite(expect={"facts": [{"regex": "(unclosed"}]}))
    assert "'(unclosed' does not compile" in msg


def test_from_tool_pattern_needs_a_group() -> None:
    msg = _error(_suite(expect={"facts": [{"from_tool": {"tool": "get_weather", "pattern": r"\d+"}}]}))
    assert "capture group" in msg


def test_unknown_server_reference() -> None:
    msg = _error(_suite(servers=["dmeo"]))
    assert "unknown server 'dmeo'" in msg and "defined: demo" in msg


def test_unknown_server_kind_and_key() -> None:
    assert "servers.demo" in _error({"servers": {"demo": {"kind": "nope"}}, "scenarios": []})
    data = _suite()
    data["servers"]["demo"]["fault"] = True
    assert "servers.demo.fault: unknown key" in _error(data)


def test_duplicate_names_and_bad_values() -> None:
    data = _suite()
    data["scenarios"].append(dict(data["scenarios"][0]))
    assert "duplicate scenario name 's1'" in _error(data)
    assert "noise_snr_db" in _error(_suite(turns=[{"say": "hi", "noise_snr_db": 200}]))
    assert "name" in _error(_suite(name="Has Spaces"))


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    assert "must be a mapping" in _error(["a", "b"])
    with pytest.raises(SuiteError, match="does not exist"):
        load_suite(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("servers: [unclosed\n")
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(bad)


def test_public_suite_is_valid_and_covers_the_issue() -> None:
    suite = load_suite(REPO / "evals" / "public.yaml")
    assert len(suite.scenarios) >= 40
    categories = {s.category for s in suite.scenarios}
    for needed in ("one-tool", "chit-chat", "two-step", "tool-error", "slow-progress", "elicitation", "barge-in",
                   "server-down", "noise"):  # fmt: skip
        assert needed in categories, needed
    kinds = {spec.kind for spec in suite.servers.values()}
    assert kinds == {"demo", "everything", "stdio", "down"}
    assert any(t.barge_in is not None for s in suite.scenarios for t in s.turns)


def test_voices_default_old_key_and_canonical_specs() -> None:
    assert parse_suite(_suite()).defaults.voices == ["espeak:en-us"]
    old = _suite()
    old["defaults"] = {"voice": "en-gb"}  # the old single-voice key
    assert parse_suite(old).defaults.voices == ["espeak:en-gb"]
    new = _suite(turns=[{"say": "hi", "voice": "en-gb"}])
    new["defaults"] = {"voices": ["piper:joe", "en-us", "piper:/v/amy.onnx"]}
    suite = parse_suite(new)
    assert suite.defaults.voices == ["piper:joe", "espeak:en-us", "piper:/v/amy.onnx"]
    assert suite.scenarios[0].turns[0].voice == "espeak:en-gb"


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"voices": ["kokoro:af"]}, "defaults.voices: user voice 'kokoro:af': unknown engine 'kokoro'"),
        ({"voices": ["piper:amy"]}, "piper voice 'amy' is not bundled"),
        ({"voices": []}, "defaults.voices"),
        ({"voices": ["en-us", "espeak:en-us"]}, "'espeak:en-us' is listed twice"),
        ({"voice": "en-us", "voices": ["piper:joe"]}, "either `voice`"),
    ],
)
def test_bad_voices_are_named(defaults: dict[str, Any], message: str) -> None:
    data = _suite()
    data["defaults"] = defaults
    assert message in _error(data)


def test_bad_turn_voice_is_named() -> None:
    msg = _error(_suite(turns=[{"say": "hi", "voice": "piper:"}]))
    assert "scenarios[0] (s1).turns[0].voice" in msg and "empty" in msg


def _write(path: Path, data: dict[str, Any]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_include_merges_servers_and_tags_each_scenario_with_its_suite(tmp_path: Path) -> None:
    a = _suite()
    a["name"] = "part-a"
    b = _suite(name="s2")
    b["name"] = "part-b"
    b["servers"]["time"] = {"kind": "stdio", "command": "python"}
    _write(tmp_path / "a.yaml", a)
    _write(tmp_path / "b.yaml", b)
    whole = _write(tmp_path / "all.yaml", {"name": "all", "include": ["a.yaml", "b.yaml"]})
    suite = load_suite(whole)
    assert [(s.name, s.suite) for s in suite.scenarios] == [("s1", "part-a"), ("s2", "part-b")]
    assert sorted(suite.servers) == ["demo", "time"]
    assert load_suite(tmp_path / "a.yaml").scenarios[0].suite == "part-a"  # a suite's own scenarios are its own


def test_include_errors_name_the_file(tmp_path: Path) -> None:
    bad = _suite(expect={"facts": [{"regex": "(unclosed"}]})
    _write(tmp_path / "bad.yaml", bad)
    with pytest.raises(SuiteError, match=r"bad\.yaml"):
        load_suite(_write(tmp_path / "all.yaml", {"include": ["bad.yaml"]}))
    other = _suite(name="s2")
    other["servers"]["demo"] = {"kind": "demo", "faults": True}
    _write(tmp_path / "a.yaml", _suite())
    _write(tmp_path / "b.yaml", other)
    with pytest.raises(SuiteError, match="server 'demo' is defined differently"):
        load_suite(_write(tmp_path / "all.yaml", {"include": ["a.yaml", "b.yaml"]}))
    with pytest.raises(SuiteError, match="cycle"):
        load_suite(_write(tmp_path / "loop.yaml", {"include": ["loop.yaml"]}))
    with pytest.raises(SuiteError, match="does not exist"):
        load_suite(_write(tmp_path / "all.yaml", {"include": ["none.yaml"]}))


def test_memory_and_filesystem_servers() -> None:
    data = _suite(servers=["memory", "files"])
    data["servers"] = {
        "memory": {
            "kind": "memory",
            "entities": [{"name": "Anna", "entityType": "person", "observations": ["likes tea"]}],
            "relations": [{"from": "Anna", "to": "Ben", "relationType": "sister of"}],
        },
        "files": {"kind": "filesystem", "files": {"notes/todo.txt": "buy milk"}},
    }
    suite = parse_suite(data)
    memory = suite.servers["memory"]
    assert memory.kind == "memory" and memory.entities[0].entity_type == "person"
    assert memory.relations[0].source == "Anna"
    assert suite.servers["files"].kind == "filesystem"
    data["servers"]["files"]["files"] = {"../escape.txt": "x"}
    msg = _error(data)
    assert "servers.files.files: file '../escape.txt' must be a relative path inside the sandbox" in msg
    data["servers"]["files"]["files"] = {"ok.txt": "x"}
    data["servers"]["memory"]["entities"][0]["type"] = "person"
    assert "servers.memory.entities[0].type: unknown key" in _error(data)


def test_one_of_calls() -> None:
    suite = parse_suite(
        _suite(expect={"calls": [{"one_of": ["read_graph", {"tool": "search_nodes", "args": {"query": "Anna"}}]}]})
    )
    alternatives = suite.scenarios[0].expect.calls[0].one_of
    assert alternatives is not None and [a.tool for a in alternatives] == ["read_graph", "search_nodes"]
    assert "give either `tool`" in _error(_suite(expect={"calls": [{"tool": "x", "one_of": ["a", "b"]}]}))
    assert "give either `tool`" in _error(_suite(expect={"calls": [{"args": {"a": 1}}]}))
    assert "inside each alternative" in _error(_suite(expect={"calls": [{"one_of": ["a", "b"], "args": {"a": 1}}]}))


def test_state_checks_name_a_memory_or_filesystem_server_of_the_scenario() -> None:
    data = _suite(servers=["demo", "files"], expect={"state": [{"server": "files", "file": "a.txt", "regex": "x"}]})
    data["servers"]["files"] = {"kind": "filesystem"}
    assert parse_suite(data).scenarios[0].expect.state[0].key == "files:a.txt"
    data["scenarios"][0]["expect"]["state"] = [{"server": "demo", "regex": "x"}]
    assert "state check on 'demo', which is not one of the scenario's memory or filesystem servers" in _error(data)
    data["scenarios"][0]["expect"]["state"] = [{"server": "files", "regex": "x"}]
    assert "names a `file` for a filesystem server" in _error(data)
    data["scenarios"][0]["expect"]["state"] = [{"server": "files", "file": "a.txt"}]
    assert "give `regex`" in _error(data)
