"""Tool results -> speakable text: never protocol JSON, braces or base64; structured preferred when valid."""

from __future__ import annotations

import base64
import json

import mcp.types as types
import pytest

from voxmcp.mcp.results import (
    MAX_FULL_CHARS,
    clean_text,
    cut_for_speech,
    humanize_key,
    prompt_to_text,
    resource_to_text,
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
    from voxmcp.mcp.results import render_value, spoken_datetime

    assert spoken_datetime("2026-11-30T20:00:00+00:00") == "8:00 PM on 30 November 2026"
    assert spoken_datetime("2026-11-30T00:05Z") == "12:05 AM on 30 November 2026"
    assert spoken_datetime("2026-01-02 09:30:15.25-05:00") == "9:30 AM on 2 January 2026"
    assert spoken_datetime("2026-13-40T20:00:00") is None  # shaped like one, but no date
    assert spoken_datetime("2026-11-30") is None and spoken_datetime("at 2026-11-30T20:00") is None
    converted = {"target": {"timezone": "Europe/London", "datetime": "2026-11-30T20:00:00+00:00"}}
    assert render_value(converted) == "target: timezone: Europe/London, datetime: 8:00 PM on 30 November 2026"
