"""Every demo tool through the SDK's own client, in process: schemas, results, errors, progress, audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_types import CallToolResult, TextContent

from mcp import Client
from voxmcp.demo.server import build_server

TOOLS = {
    "add_note",
    "list_notes",
    "delete_note",
    "get_weather",
    "get_time",
    "convert_units",
    "check_package_status",
}


@asynccontextmanager
async def connected(tmp_path: Path) -> AsyncIterator[Client]:
    """An in-process client on a fresh server with fault tools; entered and exited in the test's own task."""
    server = build_server(tmp_path / "notes.sqlite3", True, audit_log=tmp_path / "audit.jsonl", slow_step_s=0.05)
    async with Client(server) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(10):
        return await client.call_tool(tool, arguments)


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


async def test_tools_have_descriptions_schemas_and_annotations(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert TOOLS | {"fail_tool", "hang_tool"} == set(tools)
        for name in TOOLS:
            tool = tools[name]
            assert tool.description and len(tool.description) < 100
            assert tool.output_schema is not None
            assert tool.annotations is not None
            for spec in tool.input_schema.get("properties", {}).values():
                assert spec.get("description")
        assert tools["delete_note"].annotations is not None
        assert tools["delete_note"].annotations.destructive_hint is True
        assert tools["get_weather"].annotations is not None
        assert tools["get_weather"].annotations.read_only_hint is True
        assert tools["convert_units"].input_schema["required"] == ["value", "from_unit", "to_unit"]


async def test_tools_without_faults_flag_exclude_fault_tools(tmp_path: Path) -> None:
    with anyio.fail_after(10):
        async with Client(build_server(tmp_path / "n.sqlite3", False)) as plain:
            names = {tool.name for tool in (await plain.list_tools()).tools}
    assert names == TOOLS


async def test_weather_structured_and_spoken(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "get_weather", {"city": "tokyo"})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["city"] == "Tokyo"
        assert result.structured_content["temperature_c"] == 15
        assert text_of(result).startswith("The weather in Tokyo is clear, 15 degrees Celsius")


async def test_unknown_city_is_a_speakable_error(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "get_weather", {"city": "Atlantis"})
        assert result.is_error
        assert text_of(result) == (
            "I have no weather for 'Atlantis'. Try a major city such as London, Paris, Tokyo, New York or Sydney."
        )


async def test_missing_argument_names_it(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "get_weather", {"location": "Paris"})
        assert result.is_error
        assert text_of(result) == "get_weather needs the argument city (City name, e.g. Paris). It got: location."


async def test_wrong_type_and_empty_string_are_named(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "convert_units", {"value": "ten", "from_unit": "km", "to_unit": "mi"})
        assert text_of(result) == "The argument value for convert_units must be a number, not 'ten'."
        result = await call(client, "get_weather", {"city": ""})
        assert text_of(result) == "The argument city for get_weather must not be empty."
        result = await call(client, "delete_note", {"note_id": 0})
        assert text_of(result) == "The argument note_id for delete_note must be at least 1."


async def test_convert_units_accepts_numeric_strings(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "convert_units", {"value": "10", "from_unit": "km", "to_unit": "miles"})
        assert not result.is_error
        assert text_of(result) == "10 kilometers is 6.214 miles."
        assert result.structured_content is not None
        assert result.structured_content["result"] == pytest.approx(6.214)


async def test_incompatible_units(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "convert_units", {"value": 5, "from_unit": "liters", "to_unit": "meters"})
        assert result.is_error
        assert text_of(result) == "I can't convert liters, a volume, to meters, a length."


async def test_get_time_in_words(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "get_time", {"timezone": "Europe/Paris"})
        assert not result.is_error
        assert result.structured_content is not None
        spoken = result.structured_content["spoken"]
        assert text_of(result) == f"In Paris it is {spoken}."
        assert spoken.split(" on ")[1] in {
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        }
        bad = await call(client, "get_time", {"timezone": "Narnia"})
        assert bad.is_error and "don't know the time zone 'Narnia'" in text_of(bad)


async def test_notes_round_trip(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        added = await call(client, "add_note", {"text": "buy oat milk"})
        assert text_of(added) == "Saved note 1: buy oat milk"
        await call(client, "add_note", {"text": "call the plumber"})
        listed = await call(client, "list_notes", {})
        assert text_of(listed) == "You have 2 notes. Note 1: buy oat milk. Note 2: call the plumber."
        assert listed.structured_content is not None and listed.structured_content["count"] == 2
        deleted = await call(client, "delete_note", {"note_id": 1})
        assert text_of(deleted) == "Deleted note 1: buy oat milk"
        missing = await call(client, "delete_note", {"note_id": 1})
        assert missing.is_error and text_of(missing) == "There is no note number 1. Ask me to list your notes first."


async def test_slow_tool_sends_progress(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        with anyio.fail_after(10):
            result = await client.call_tool(
                "check_package_status", {"tracking_id": "AB1234"}, progress_callback=on_progress
            )
        assert not result.is_error
        assert [step[0] for step in seen] == [1.0, 2.0, 3.0, 4.0]
        assert seen[0][1] == 4.0 and seen[0][2] == "Looking up the tracking number"
        assert result.structured_content is not None and result.structured_content["tracking_id"] == "AB1234"
        assert text_of(result).startswith("Package A B 1 2 3 4 ")


async def test_fail_tool_gives_a_plain_sentence(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "fail_tool", {})
        assert result.is_error
        assert text_of(result) == "The fail_tool tool failed unexpectedly."


async def test_hang_tool_can_be_cancelled(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        with anyio.move_on_after(0.5) as scope:
            await client.call_tool("hang_tool", {})
        assert scope.cancelled_caught
        after = await call(client, "get_weather", {"city": "Lima"})
        assert not after.is_error


async def test_unknown_tool(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        result = await call(client, "launch_rocket", {})
        assert result.is_error and text_of(result) == "There is no tool named launch_rocket."


async def test_audit_log_records_each_call(tmp_path: Path) -> None:
    async with connected(tmp_path) as client:
        await call(client, "get_weather", {"city": "Rome"})
        await call(client, "convert_units", {"value": 2, "from_unit": "kg", "to_unit": "pounds"})
        await call(client, "get_weather", {"city": "Atlantis"})
        await call(client, "get_weather", {})
        entries = audit(tmp_path)
        assert [(entry["tool"], entry["arguments"], entry["ok"]) for entry in entries] == [
            ("get_weather", {"city": "Rome"}, True),
            ("convert_units", {"value": 2, "from_unit": "kg", "to_unit": "pounds"}, True),
            ("get_weather", {"city": "Atlantis"}, False),
            ("get_weather", {}, False),
        ]
        assert entries[0]["result"].startswith("The weather in Rome is sunny")
        assert "error" not in entries[0]
        assert "no weather for 'Atlantis'" in entries[2]["error"]
        assert all(
            set(entry) == {"ts", "tool", "arguments", "ok", "result" if entry["ok"] else "error"} for entry in entries
        )
