"""The real agent in a real LiveKit room: a `voxmcp dev` worker, a spoken question, a spoken answer.

The question is synthesized with espeak-ng (not the agent's voice); the answer is checked three ways:
the demo MCP server's audit log (right tool, right arguments), the agent's audio transcribed by whisper,
and the agent's transcript as LiveKit text streams. A browser (headless chromium) does the same via
`voxmcp web`. Figures (join-to-greeting, voice-to-voice) are printed and recorded as test properties.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_worker import WorkerProcess, run_worker
from livekit_servers import LiveKitNode
from room_session import AGENT_NAME, ask_in_room, multi_worker_command, transcribe, write_agent_config
from web_harness import drive_page, serve_web

from voxmcp.livekit_tokens import LiveKitCredentials
from voxmcp.web.server import WebSettings

pytestmark = [pytest.mark.livekit, pytest.mark.e2e]

QUESTION = "What is the weather in Paris?"
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]  # fmt: skip
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0..99 in words, as a TTS/whisper round trip may spell it ('fifty-five')."""
    n = abs(n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    return str(n)


def weather_facts(result_text: str) -> list[str]:
    """What only the tool could have told: the condition and the temperature (C or F, digits or words).

    From a demo result like 'The weather in Paris is cloudy, 13 degrees Celsius, ...'.
    """
    match = re.search(r" is ([a-z ]+), (-?\d+) degrees", result_text)
    assert match, f"unexpected demo weather result: {result_text!r}"
    condition, celsius = match.group(1), int(match.group(2))
    fahrenheit = round(celsius * 9 / 5 + 32)
    facts = [condition]
    for value in (celsius, fahrenheit):
        facts += [str(value), number_words(value)]
    return facts


def mentions_any(text: str, facts: list[str]) -> bool:
    lowered = text.lower().replace("-", " ")
    return any(re.search(rf"\b{re.escape(f.lower().replace('-', ' '))}\b", lowered) for f in facts)


@pytest.fixture(scope="module")
def demo_server() -> Iterator[object]:
    from voxmcp.demo.runner import DemoServerProcess

    with DemoServerProcess() as demo:
        yield demo


@pytest.fixture(scope="module")
def node(livekit_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitNode]:
    from livekit_servers import run_livekit_node

    with run_livekit_node(tmp_path_factory.mktemp("lk")) as n:
        yield n


@pytest.fixture(scope="module")
def dev_worker(
    node: LiveKitNode, demo_server: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """`voxmcp dev` on the local models, registered with the node (timed: start to registration)."""
    workdir = tmp_path_factory.mktemp("worker")
    config = write_agent_config(workdir / "voxmcp.toml", mcp_url=demo_server.url)  # type: ignore[attr-defined]
    started = time.monotonic()
    # load = running jobs / 3 (worker_shim.py): with livekit-agents' default (host CPU) a busy shared box
    # reports load ~1.0 and LiveKit drops the dispatch ("no servers available")
    with run_worker(
        multi_worker_command("dev", config),
        name="dev",
        url=node.url,
        api_key=node.api_key,
        api_secret=node.api_secret,
        workdir=workdir,
        env={"VOXMCP_WORKER_MAX_JOBS": "3"},
    ) as worker:
        worker.wait_registered(timeout_s=120)
        print(f"\n[figure] worker registered {time.monotonic() - started:.1f}s after start")
        yield worker


def test_dev_worker_registers_with_livekit(dev_worker: WorkerProcess, node: LiveKitNode) -> None:
    """The server's own log records the registration, under the id the worker printed, for agent 'voxmcp'."""
    worker_id = dev_worker.worker_id()
    assert worker_id and worker_id.startswith("AW_")
    registered = [
        json.loads(line)
        for line in node.log_text().splitlines()
        if line.startswith("{") and '"worker registered"' in line
    ]
    assert any(r.get("workerID") == worker_id and r.get("agentName") == AGENT_NAME for r in registered), registered


async def test_spoken_question_is_answered_in_the_room(
    dev_worker: WorkerProcess,
    node: LiveKitNode,
    demo_server: object,
    espeak_wav: Callable[[str], Path],
    record_property: Callable[[str, object], None],
    tmp_path: Path,
) -> None:
    calls_before = len(demo_server.calls())  # type: ignore[attr-defined]
    exchange = await ask_in_room(
        url=node.url,
        http_url=node.http_url,
        api_key=node.api_key,
        api_secret=node.api_secret,
        room="e2e-weather",
        question_wav=espeak_wav(QUESTION),
        timeout_s=240,
    )
    calls = demo_server.calls()[calls_before:]  # type: ignore[attr-defined]
    heard = transcribe(exchange.answer_audio)
    (tmp_path / "exchange.json").write_text(
        json.dumps(
            {
                "greeting": exchange.greeting_text,
                "answer": exchange.answer_text,
                "heard": heard,
                "calls": calls,
                "tool_events": exchange.tool_calls,
            },
            indent=2,
        )
    )
    print(
        f"\n[figure] join-to-greeting {exchange.join_to_greeting_s:.2f}s, "
        f"voice-to-voice {exchange.voice_to_voice_s:.2f}s\n greeting: {exchange.greeting_text!r}\n"
        f" answer (text stream): {exchange.answer_text!r}\n answer (whisper): {heard!r}\n calls: {calls}"
    )
    record_property("join_to_greeting_s", exchange.join_to_greeting_s)
    record_property("voice_to_voice_s", exchange.voice_to_voice_s)

    weather = [c for c in calls if c["tool"] == "get_weather"]
    assert len(weather) == 1, f"expected exactly one get_weather call, got {calls}"
    assert weather[0]["arguments"]["city"].lower() == "paris"
    assert weather[0]["ok"], weather[0]
    facts = weather_facts(weather[0]["result"])
    assert exchange.greeting_text.strip(), "the greeting never arrived as a text stream"
    assert mentions_any(exchange.answer_text, facts), f"transcript stream lacks {facts}: {exchange.answer_text!r}"
    assert mentions_any(heard, facts), f"spoken answer lacks {facts}: {heard!r}"
    assert "{" not in exchange.answer_text, "raw JSON reached the transcript"
    assert exchange.tool_calls and exchange.tool_calls[0]["name"].endswith("get_weather")


async def test_browser_page_talks_to_the_real_agent(
    dev_worker: WorkerProcess,
    node: LiveKitNode,
    demo_server: object,
    browser_driver: Path,
    espeak_wav: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """`voxmcp web` in headless chromium, the WAV as its microphone: the answer shows in the page."""
    creds = LiveKitCredentials(node.url, node.api_key, node.api_secret)
    calls_before = len(demo_server.calls())  # type: ignore[attr-defined]
    with serve_web(WebSettings(credentials=creds, agent_name=AGENT_NAME)) as base:
        run = drive_page(
            browser_driver,
            page_url=base,
            wav=espeak_wav(QUESTION),
            expect=r"paris|degrees|celsius",
            workdir=tmp_path,
            timeout_s=240,
            wait_greeting=True,
        )
    calls = demo_server.calls()[calls_before:]  # type: ignore[attr-defined]
    print(f"\n[figure] browser timings (ms from start): {run.raw.get('timings')}\n page transcript: "
          f"{run.raw.get('transcript')}\n page tool calls: {run.raw.get('toolCalls')}")  # fmt: skip
    assert run.ok, f"{run.error}\n{json.dumps(run.raw, indent=1)[:4000]}"
    weather = [c for c in calls if c["tool"] == "get_weather"]
    assert weather, f"no get_weather call reached the demo server: {calls}"
    facts = weather_facts(weather[0]["result"])
    answer = " ".join(run.agent_lines()[1:])
    assert mentions_any(answer, facts), f"page transcript lacks {facts}: {run.agent_lines()}"
    assert any(c["name"].endswith("get_weather") for c in run.raw["toolCalls"]), run.raw["toolCalls"]
    states = {s for _, s in run.raw["states"]}
    assert {"listening", "thinking", "speaking"} <= states, states
