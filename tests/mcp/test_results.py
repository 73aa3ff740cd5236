"""Tool results -> speakable text: never protocol JSON, braces or base64; structured preferred when valid."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import mcp.types as types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxmcp.mcp.results import (
    CUT_NOTE,
    MAX_FULL_CHARS,
    MAX_READ_CHARS,
    clean_text,
    cut_for_speech,
    humanize_key,
    prompt_to_text,
    render_value,
    resource_to_text,
    spoken_datetime,
    to_speakable,
)

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperatureC": {"type": "number"}},
    "required": ["city", "temperatureC"],
}
WEATHER_TOOL = types.Tool(name="weather", input_schema={"type": "object"}, output_schema=WEATHER_SCHEMA)


def text_result(text: str, **kwargs: object) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], **kwargs)  # type: ignore[arg-type]


def assert_speakable(text: str) -> None:
    assert "{" not in text and "}" not in text, text
    assert '"type"' not in text, text


def test_structured_content_preferred_when_valid() -> None:
    structured = {"city": "Oslo", "temperatureC": 21.5}
    result = text_result(json.dumps(structured), structured_content=structured)
    spoken = to_speakable(result, WEATHER_TOOL)
    assert spoken.text == "city: Oslo; temperature c: 21.5."
    assert not spoken.is_error
    assert_speakable(spoken.text)


def test_invalid_structured_content_falls_back_to_text() -> None:
    result = text_result("It is warm in Oslo.", structured_content={"city": "Oslo", "temperatureC": "warm"})
    assert to_speakable(result, WEATHER_TOOL).text == "It is warm in Oslo."


def test_json_text_rendered_as_phrases() -> None:
    payload = {
        "items": [{"id": 1, "title": "Milk"}, {"id": 2, "title": "Bread"}],
        "done": False,
        "tags": ["a", "b", "c"],
    }
    spoken = to_speakable(text_result(json.dumps(payload)))
    assert spoken.text == "items: 1: id: 1, title: Milk. 2: id: 2, title: Bread; done: no; tags: a, b and c."
    assert_speakable(spoken.text)


def test_image_and_audio_described_never_base64() -> None:
    data = base64.b64encode(b"\x00" * 3000).decode()
    result = types.CallToolResult(
        content=[
            types.ImageContent(type="image", data=data, mime_type="image/png"),
            types.AudioContent(type="audio", data=data, mime_type="audio/wav"),
        ]
    )
    spoken = to_speakable(result)
    assert spoken.text == "An image (image/png, 3 KB). An audio clip (audio/wav, 3 KB)."
    assert data[:20] not in spoken.full_text


def test_resource_links_and_embedded_resources_summarized() -> None:
    blob = base64.b64encode(b"%PDF" + b"\x00" * 5000).decode()
    result = types.CallToolResult(
        content=[
            types.ResourceLink(
                type="resource_link", uri="file:///a/report.txt", name="report.txt", mime_type="text/plain"
            ),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri="mem://notes/today", mime_type="text/plain", text="Buy milk"),
            ),
            types.EmbeddedResource(
                type="resource",
                resource=types.BlobResourceContents(uri="file:///x/doc.pdf", mime_type="application/pdf", blob=blob),
            ),
        ]
    )
    spoken = to_speakable(result, max_chars=400)
    assert spoken.text == (
        "A link to report.txt (text/plain). The resource today (text/plain): Buy milk. "
        "The resource doc.pdf (application/pdf), binary data of 5 KB."
    )
    assert blob[:20] not in spoken.full_text


def test_is_error_becomes_short_spoken_failure() -> None:
    result = text_result("Database locked. Retry after the backup finishes at 3 am. Code 55.", is_error=True)
    spoken = to_speakable(result)
    assert spoken.is_error
    assert spoken.text == "That didn't work: Database locked."
    assert "Code 55" in spoken.full_text


def test_long_results_cut_at_sentence_with_full_text_kept() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    spoken = to_speakable(text_result(text), max_chars=400)
    assert len(spoken.text) <= 400
    assert spoken.text.endswith("There is more; ask me for the rest.")
    assert "is here. There is more" in spoken.text  # cut at a sentence boundary
    assert spoken.truncated and spoken.full_text == text


def test_oversized_result_bounded() -> None:
    spoken = to_speakable(text_result("word " * 200_000))
    assert len(spoken.full_text) <= MAX_FULL_CHARS + 50
    assert len(spoken.text) <= 400


def test_markdown_and_blobs_cleaned() -> None:
    cleaned = clean_text("# Title\n**Bold** and `code` [link](http://x)\n- item one\ndata:image/png;base64,AAAA")
    assert cleaned == "Title. Bold and code link. item one. (embedded data)."


def test_tables_become_sentences_and_link_targets_may_hold_parentheses() -> None:
    table = "| City | Temp |\n|---|:---:|\n| Oslo | 21 |\n| Rome | 30 |"
    assert clean_text(table) == "City, Temp. Oslo, 21. Rome, 30."
    assert clean_text("See [the page](https://en.wiki.org/wiki/Oslo_(city)) now.") == "See the page now."
    assert clean_text("2 * 3 * 4 = 24 and a*b*c") == "2 * 3 * 4 = 24 and a*b*c"


def test_empty_result_and_bad_max_chars() -> None:
    assert to_speakable(types.CallToolResult(content=[])).text == "Done; the tool returned nothing."
    with pytest.raises(ValueError, match="max_chars"):
        to_speakable(types.CallToolResult(content=[]), max_chars=10)


def test_helpers() -> None:
    assert humanize_key("wind_speedKmh") == "wind speed kmh"
    assert cut_for_speech("short", 100) == "short"
    resource = types.ReadResourceResult(
        contents=[types.TextResourceContents(uri="mem://a", mime_type="application/json", text='{"k": 1}')]
    )
    assert resource_to_text(resource) == "a (application/json): k: 1."
    prompt = types.GetPromptResult(
        description="Briefing",
        messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text="Be brief"))],
    )
    assert prompt_to_text(prompt) == "Briefing\nuser: Be brief"


def test_json_inside_prose_rendered() -> None:
    text = 'Done.\nRaw result: {\n  "action": "accept",\n  "content": {"name": "Ada"}\n}'
    spoken = to_speakable(text_result(text))
    assert spoken.text == "Done. Raw result: action: accept; content: name: Ada."
    assert_speakable(spoken.text)


def test_iso_datetimes_are_rendered_as_spoken_times() -> None:
    assert spoken_datetime("2026-11-30T20:00:00+00:00") == "8:00 PM on 30 November 2026"
    assert spoken_datetime("2026-11-30T00:05Z") == "12:05 AM on 30 November 2026"
    assert spoken_datetime("2026-01-02 09:30:15.25-05:00") == "9:30 AM on 2 January 2026"
    assert spoken_datetime("2026-13-40T20:00:00") is None  # shaped like one, but no date
    assert spoken_datetime("2026-11-30") is None and spoken_datetime("at 2026-11-30T20:00") is None
    converted = {"target": {"timezone": "Europe/London", "datetime": "2026-11-30T20:00:00+00:00"}}
    assert render_value(converted) == "target: timezone: Europe/London, datetime: 8:00 PM on 30 November 2026"


# ---- bounded, linear handling of hostile results ----------------------------------------------------------

HANG_BOUND_S = 5.0
"""A hang guard, not a performance assertion: the old rules took minutes to hours on these inputs."""
MEGABYTE = 1_000_000
BACKTRACK_UNITS = {
    "italic": " *a*b",  # the old italic rule rescanned to the end of the line from every "*"
    "blank line of tabs": "\t \t ",  # the old table-rule pattern was cubic on one long blank line
    "spaces": " ",
    "newlines": "\n",
    "spaces and newlines": " \n",
    "unclosed links": "[a](",
    "unclosed images": "![a](",
    "nested brackets": "[[[(",
    "links with parentheses": "[a]((x)",
    "links with unclosed parentheses": "[a](x(y",
    "bold": "**a",
    "underline bold": "__a**",
    "backticks": "`a",
    "table cells": "a |  ",
    "bullets": "- \n",
    "headings": "#\n",
    "base64 just short of a blob": "QUJD" * 49 + "QUJ!",
    "data uri without base64": "data:" + "a" * 99,
    "digits": "1234567890",
    "iso datetimes": "2026-11-30T20:00:00+00:00 ",
    "urls": "see https://example.com/a?b=c&d=e ",
    "json-ish braces": '{"a": [',
    "unterminated strings": '{"\\"',
    "closing braces": "}]",
    "colons": ": ",
}


def backtrack_text(unit: str, size: int = MEGABYTE) -> str:
    return (unit * (size // len(unit) + 1))[:size] + "x"


def timed(function: Callable[[], object]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


@pytest.mark.parametrize("unit", list(BACKTRACK_UNITS.values()), ids=list(BACKTRACK_UNITS))
def test_every_shaping_entry_point_is_linear_on_1mb_built_to_backtrack(unit: str) -> None:
    text = backtrack_text(unit)
    result = text_result(text)
    entry_points: dict[str, Callable[[], object]] = {
        "clean_text (no size cap)": lambda: clean_text(text),
        "to_speakable": lambda: to_speakable(result),
        "to_speakable error": lambda: to_speakable(text_result(text, is_error=True)),
        "render_value": lambda: render_value({text: [text, {"k": text}]}),
        "spoken_datetime": lambda: spoken_datetime(text),
        "humanize_key": lambda: humanize_key(text),
        "cut_for_speech": lambda: cut_for_speech(text, 400),
        "resource_to_text": lambda: resource_to_text(
            types.ReadResourceResult(contents=[types.TextResourceContents(uri="mem://" + text, text=text)])
        ),
        "prompt_to_text": lambda: prompt_to_text(
            types.GetPromptResult(
                description=text,
                messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
            )
        ),
    }
    for name, call in entry_points.items():
        assert timed(call) < HANG_BOUND_S, name


TOO_DEEP_SPOKEN = "level: level: level: level: level, and more, nested too deeply to read out."


def test_json_text_nested_10000_levels_is_described_not_parsed() -> None:
    deep = '{"level": ' * 10_000 + "0" + "}" * 10_000
    assert to_speakable(text_result(deep)).text == TOO_DEEP_SPOKEN
    assert to_speakable(text_result("[" * 10_000 + "]" * 10_000)).text == "The result is nested too deeply to read out."
    embedded = to_speakable(text_result("Raw result: " + "[" * 5_000))
    assert embedded.text == "Raw result... There is more; ask me for the rest."


def deep_value(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"level": 0}
    for _ in range(depth - 1):
        value = {"level": value}
    return value


RECURSIVE_SCHEMA: dict[str, Any] = {
    "$defs": {"node": {"type": ["object", "integer"], "properties": {"level": {"$ref": "#/$defs/node"}}}},
    "$ref": "#/$defs/node",
}


def test_deep_structured_content_rendered_shallow_and_never_validated_deep() -> None:
    tool = types.Tool(name="deep", input_schema={"type": "object"}, output_schema=RECURSIVE_SCHEMA)
    shallow = text_result("x", structured_content=deep_value(8))
    assert to_speakable(shallow, tool).text == "level: level: level: level: level: more details."
    # Too deep to validate safely (jsonschema recurses per level): the text content is used instead.
    deep = text_result('{"level": ' * 10_000 + "0" + "}" * 10_000, structured_content=deep_value(10_000))
    assert to_speakable(deep, tool).text == TOO_DEEP_SPOKEN
    # Without an output schema, or without text to fall back on, the structure is rendered (four levels shown).
    assert to_speakable(deep).text == "level: level: level: level: level: more details."
    only_structured = types.CallToolResult(content=[], structured_content=deep_value(10_000))
    assert to_speakable(only_structured, tool).text == "level: level: level: level: level: more details."


def test_a_servers_own_pattern_is_not_run_on_its_output() -> None:
    """`^(a+)+$` is exponential on "aaaa…!"; a server could hang us with its own schema and data."""
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    tool = types.Tool(name="evil", input_schema={"type": "object"}, output_schema=schema)
    result = text_result("fallback", structured_content={"s": "a" * 64 + "!"})
    assert timed(lambda: to_speakable(result, tool)) < HANG_BOUND_S
    assert to_speakable(result, tool).text == "s: " + "a" * 64 + "!"


def test_wide_and_many_part_results_are_capped_and_say_so() -> None:
    wide = types.CallToolResult(content=[], structured_content={f"k{i}": i for i in range(1_000_000)})
    assert to_speakable(wide, max_chars=1000).text.endswith("k19: 19; and 999980 more fields.")
    parts = types.CallToolResult(content=[types.TextContent(type="text", text=f"Part {i}.") for i in range(10_000)])
    spoken = to_speakable(parts)
    assert spoken.full_text.endswith("Part 63. And 9936 more parts.")
    assert spoken.text.endswith("There is more; ask me for the rest.")


def test_structured_strings_are_read_within_the_read_cap() -> None:
    """8,000 references to one 1 MB blank string: cleaning shrinks each to nothing, so only a read budget bounds it."""
    blank = " " * MEGABYTE
    result = types.CallToolResult(content=[], structured_content={"x": [[[blank] * 20] * 20] * 20})
    assert timed(lambda: to_speakable(result)) < HANG_BOUND_S
    assert to_speakable(result).full_text.endswith("and more and more and more.")


def test_text_past_the_read_cap_is_cut_before_parsing_and_said() -> None:
    spoken = to_speakable(text_result("Start." + " " * (MAX_READ_CHARS + 10) + "End."))
    assert spoken.text == "Start." + CUT_NOTE
    assert to_speakable(text_result(" " * (MAX_READ_CHARS + 10) + "End.")).text == "The result was too large to read."
    # Prose past what the markdown rules are given (twice what full_text keeps) is cut, and said so, too.
    blank_prose = text_result(" " * (2 * MAX_FULL_CHARS + 10) + "End.")
    assert to_speakable(blank_prose).text == "The result was too large to read."


def test_json_cut_short_is_read_without_braces_or_quotes() -> None:
    items = ", ".join(f'{{"id": {i}, "title": "Item {i}"}}' for i in range(40_000))
    spoken = to_speakable(text_result(f'{{"items": [{items}]}}'))  # > MAX_READ_CHARS: cut, so not valid JSON
    assert spoken.text.startswith("items: id: 0, title: Item 0, id: 1, title: Item 1, id: 2")
    assert spoken.full_text.endswith(CUT_NOTE)
    assert_speakable(spoken.full_text)
    assert to_speakable(text_result('{"type": "text", "text": "hi", "more": [1, 2')).text == (
        "type: text, text: hi, more: 1, 2."
    )
    prose = "[Draft] The meeting moved to Friday."  # starts with a bracket, but it is a sentence: kept as is
    assert to_speakable(text_result(prose)).text == prose


def test_large_numbers_labels_and_mime_types_are_bounded() -> None:
    assert render_value({"n": 10**2000}) == "n: a very large number"
    link = types.ResourceLink(type="resource_link", uri="file:///" + "d/" * 100_000 + "x.txt", name="n" * 1000)
    spoken = to_speakable(types.CallToolResult(content=[link]))
    assert spoken.text == "A link to " + "n" * 120 + "."
    image = types.ImageContent(type="image", data="AAAA", mime_type="image/" + "p" * 10_000)
    assert len(to_speakable(types.CallToolResult(content=[image])).full_text) < 200


# ---- fuzz: any result shape, however hostile, becomes a bounded plain string ------------------------------

MARKUP = " \t\n\r{}[]()\"'\\:,;.!?*_`#|-+=/<>~@$%^&0123456789abcXYZéß"
texts = st.one_of(
    st.text(alphabet=MARKUP, max_size=300),
    st.text(max_size=100),
    st.builds(backtrack_text, st.sampled_from(sorted(BACKTRACK_UNITS.values())), st.integers(1, MEGABYTE)),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(alphabet=MARKUP, max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(alphabet=MARKUP, max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)


def nest(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


nested_values = st.builds(nest, json_values, st.integers(0, 20_000), st.booleans())
structured = st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_values, max_size=5), nested_values)
base64_data = st.builds(lambda n: base64.b64encode(b"\x07" * n).decode(), st.integers(0, 3 * MEGABYTE))
uris = st.builds(lambda tail: "file:///" + tail, st.text(alphabet=MARKUP, max_size=200))


def json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):  # deeper than json.dumps goes: written by hand like a server would
        return "[" * 5_000 + "]" * 5_000


blocks = st.one_of(
    st.builds(lambda text: types.TextContent(type="text", text=text), texts),
    st.builds(
        lambda value: types.TextContent(type="text", text=json_text(value)), st.one_of(json_values, nested_values)
    ),
    st.builds(lambda data: types.ImageContent(type="image", data=data, mime_type="image/png"), base64_data),
    st.builds(lambda data: types.AudioContent(type="audio", data=data, mime_type="audio/wav"), base64_data),
    st.builds(
        lambda uri, name, title, description: types.ResourceLink(
            type="resource_link", uri=uri, name=name, title=title, description=description
        ),
        uris,
        st.text(alphabet=MARKUP, max_size=200),
        st.none() | st.text(alphabet=MARKUP, max_size=50),
        st.none() | texts,
    ),
    st.builds(
        lambda uri, text: types.EmbeddedResource(
            type="resource", resource=types.TextResourceContents(uri=uri, mime_type="text/plain", text=text)
        ),
        uris,
        texts,
    ),
    st.builds(
        lambda uri, blob: types.EmbeddedResource(
            type="resource", resource=types.BlobResourceContents(uri=uri, mime_type="application/pdf", blob=blob)
        ),
        uris,
        base64_data,
    ),
)
schemas = st.sampled_from(
    [None, {"type": "object"}, RECURSIVE_SCHEMA, {"type": "object", "patternProperties": {"^(a+)+$": {}}}]
)
BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{200,}")


@settings(
    max_examples=150,
    deadline=timedelta(seconds=HANG_BOUND_S),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(
    content=st.lists(blocks, max_size=4) | st.builds(lambda block, n: [block] * n, blocks, st.integers(65, 5_000)),
    structured_content=structured,
    is_error=st.booleans(),
    schema=schemas,
    max_chars=st.integers(40, 2_000),
)
def test_fuzz_any_result_shape_becomes_bounded_plain_text(
    content: list[types.ContentBlock], structured_content: Any, is_error: bool, schema: Any, max_chars: int
) -> None:
    structured_dict = structured_content if isinstance(structured_content, dict) else None
    if structured_content is not None and structured_dict is None:
        structured_dict = {"result": structured_content}
    result = types.CallToolResult(content=content, structured_content=structured_dict, is_error=is_error)
    tool = types.Tool(name="fuzz", input_schema={"type": "object"}, output_schema=schema)
    spoken = to_speakable(result, tool, max_chars=max_chars)
    assert isinstance(spoken.text, str) and isinstance(spoken.full_text, str)
    assert len(spoken.text) <= max_chars
    assert len(spoken.full_text) <= MAX_FULL_CHARS + len(CUT_NOTE)
    for said in (spoken.text, spoken.full_text):
        assert "{" not in said and "}" not in said, said[:300]  # no JSON or protocol dump
        assert not BASE64_RUN.search(said), said[:300]  # no raw base64
    assert spoken.is_error == is_error


def test_is_complete_tells_a_cut_preview_from_a_whole_result() -> None:
    from voxmcp.mcp.results import cut_for_speech, is_complete

    whole = "Saved note 1: buy milk."
    assert is_complete(cut_for_speech(whole, 400))
    assert not is_complete(cut_for_speech("A long line. " * 100, 200))
