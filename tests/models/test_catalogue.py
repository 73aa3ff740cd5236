"""The tool catalogue: which mode fits the context is decided by token counts; tool search; history trimming."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from voxmcp.models import catalogue
from voxmcp.models.catalogue import (
    Catalogue,
    choose,
    compact_tools,
    fit_messages,
    one_line,
    prompt_tools,
    search,
    stable_header,
)

_TOPICS = [
    ("weather", "Get the current weather in a city", "city"),
    ("parcel", "Check the delivery status of a parcel by its tracking number", "tracking_number"),
    ("invoice", "Create an invoice for a customer", "customer"),
    ("calendar", "List the events in a calendar on a day", "day"),
    ("ticket", "Open a support ticket about a problem", "summary"),
]


def realistic_tools(n: int) -> list[dict[str, Any]]:
    """`n` tools shaped like real servers' (two-sentence descriptions, three described parameters)."""
    tools = []
    for i in range(n):
        topic, description, key = _TOPICS[i % len(_TOPICS)]
        verb = ["archive", "compare", "export", "list", "update"][(i // len(_TOPICS)) % 5]
        name = f"get_{topic}" if i < len(_TOPICS) else f"{verb}_{topic}_{i}"
        tools.append({"type": "function", "function": {
            "name": name,
            "description": f"{description}. Returns a short summary with the details the service knows, "
                           f"including timestamps and identifiers (variant {i}).",
            "parameters": {"type": "object", "title": "Args", "properties": {
                key: {"type": "string", "description": f"The {key.replace('_', ' ')} to look up", "title": key},
                "limit": {"type": "integer", "description": "How many results at most", "default": 5},
                "verbose": {"type": "boolean", "description": "Whether to include every detail"},
            }, "required": [key]},
        }})  # fmt: skip
    return tools


def chars_count(tools: Sequence[dict[str, Any]] | None) -> int:
    """A stand-in tokenizer: ~4 characters a token, plus a system prompt of 60 tokens."""
    return 60 + len(json.dumps(list(tools or []))) // 4


def test_the_mode_is_the_first_whose_prefix_fits_the_budget() -> None:
    tools = realistic_tools(40)
    full = chars_count(prompt_tools(tools))
    compact = chars_count(compact_tools(tools))
    assert compact < full / 2  # the compact catalogue is worth having

    assert choose(tools, chars_count, budget=full).mode == "full"
    at_compact = choose(tools, chars_count, budget=full - 1)
    assert (at_compact.mode, at_compact.tokens, at_compact.full_tokens) == ("compact", compact, full)
    assert at_compact.prompt == compact_tools(tools)
    at_search = choose(tools, chars_count, budget=compact - 1)
    assert (at_search.mode, at_search.prompt, at_search.tokens) == ("search", [], chars_count(None))


@pytest.mark.parametrize("n", [0, 5, 80, 200, 500, 2000])
def test_any_number_of_tools_gets_a_prefix_that_fits(n: int) -> None:
    budget = 3392  # the default: a 4,096-token context less a turn, a call and an answer
    chosen = choose(realistic_tools(n), chars_count, budget)
    assert chosen.tokens <= budget
    shown = chosen.shown("What is the weather in Paris?", [], chars_count)
    assert chars_count(shown) <= budget
    assert len(chosen.callable_schemas(shown)) == (n if chosen.mode != "search" else len(shown))
    expected = "full" if n <= 5 else "compact" if n <= 80 else "search"
    assert chosen.mode == expected


def test_search_finds_the_tools_the_request_names_among_many() -> None:
    tools = realistic_tools(500)
    found = [t["function"]["name"] for t in search(tools, "What is the weather in Paris?")]
    assert found[0] == "get_weather" and len(found) == catalogue.SEARCH_LIMIT  # the plainest name first
    assert all("weather" in name for name in found)
    found = [t["function"]["name"] for t in search(tools, "Where is my parcel?")]
    assert all("parcel" in name for name in found)
    assert search(tools, "Good morning!") == []


def test_search_keeps_the_tools_called_earlier_for_a_follow_up() -> None:
    tools = realistic_tools(500)
    found = [t["function"]["name"] for t in search(tools, "And in Rome?", called=["get_parcel", "get_weather"])]
    assert found == ["get_weather", "get_parcel"]  # the latest first


def test_search_mode_shows_the_best_matches_compact_as_many_as_fit() -> None:
    tools = realistic_tools(500)
    found = compact_tools(search(tools, "weather"))
    chosen = Catalogue("search", tools, [], chars_count(None), 10**6, budget=chars_count(found))
    assert chosen.shown("weather", [], chars_count) == found
    callable_names = [t["function"]["name"] for t in chosen.callable_schemas(found)]
    assert sorted(callable_names) == sorted(t["name"] for t in found)  # full schemas of exactly the tools shown
    chosen = Catalogue("search", tools, [], chars_count(None), 10**6, budget=chars_count(found[:2]))
    assert chosen.shown("weather", [], chars_count) == found[:2]
    chosen = Catalogue("search", tools, [], chars_count(None), 10**6, budget=chars_count(None))
    assert chosen.shown("weather", [], chars_count) == []


def test_compact_tools_keep_names_first_sentences_and_required_parameters() -> None:
    (tool,) = compact_tools(realistic_tools(1))
    assert tool == {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {"city": "string"},
    }
    assert one_line("word " * 100).endswith("...") and len(one_line("word " * 100)) <= catalogue.MAX_ONE_LINE
    assert one_line(None) == ""


def _conversation(turns: int, result: str = "Paris: rain, 14 degrees.") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a voice assistant."}]
    for i in range(turns):
        messages += [
            {"role": "user", "content": f"What is the weather in city number {i}?"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather"}}]},
            {"role": "tool", "content": result},
            {"role": "assistant", "content": f"It rains in city {i}."},
        ]
    messages.append({"role": "user", "content": "And tomorrow?"})
    return messages


def message_count(messages: list[dict[str, Any]]) -> int:
    return len(json.dumps(messages)) // 4


def test_a_conversation_that_fits_is_left_alone() -> None:
    messages = _conversation(3)
    assert fit_messages(messages, message_count, 10_000) == messages


def test_the_oldest_exchanges_go_first_and_the_request_stays() -> None:
    messages = _conversation(200)
    limit = 600
    fitted = fit_messages(messages, message_count, limit)
    assert fitted is not None and message_count(fitted) <= limit
    assert fitted[0] == messages[0] and fitted[-1] == messages[-1]
    assert fitted[1]["role"] == "user"  # whole exchanges dropped, never half of one
    assert fitted == [messages[0], *messages[-len(fitted) + 1 :]]  # the newest history is what is kept
    assert len(fitted) > 5


def test_a_huge_tool_result_in_the_current_turn_is_cut() -> None:
    messages = _conversation(1)
    messages[-1] = {"role": "user", "content": "Tool result: " + "lorem ipsum " * 20_000}
    fitted = fit_messages(messages, message_count, 1_000)
    assert fitted is not None and message_count(fitted) <= 1_000
    assert fitted[-1]["content"].startswith("Tool result: lorem ipsum") and fitted[-1]["content"].endswith(" ...")


def test_nothing_fits_when_the_system_prompt_alone_is_too_long() -> None:
    messages = [{"role": "system", "content": "x " * 10_000}, {"role": "user", "content": "Hello"}]
    assert fit_messages(messages, message_count, 1_000) is None


def test_the_stable_header_ends_where_the_tools_begin() -> None:
    def render(tools: list[dict[str, Any]] | None) -> str:
        body = "".join("\n" + json.dumps(t) for t in tools or [])
        return f"<|im_start|>system\nBe brief.\n\n# Tools\n<tools>{body}\n</tools><|im_end|>\n"

    assert stable_header(render) == "<|im_start|>system\nBe brief.\n\n# Tools\n<tools>\n"


def test_the_log_line_gives_counts_and_tokens() -> None:
    chosen = choose(realistic_tools(500), chars_count, budget=3392)
    line = catalogue.summary(chosen, n_ctx=4096, servers=4)
    assert line.startswith(f"500 tools from 4 servers need {chosen.full_tokens} prompt tokens")
    assert "4096-token context" in line and "tool search on" in line
