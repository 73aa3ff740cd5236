"""Spoken requests through the whole pipeline (VAD -> STT -> LLM + MCP tools -> TTS) on the default local models.

Each case asserts on the server side (the demo server's audit log) which tool got which arguments, and on the
agent's audio transcribed back that the answer carries the fact from the tool's result.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from voxmcp.demo.runner import DemoServerProcess, free_port

pytestmark = pytest.mark.e2e


def _new_calls(server: DemoServerProcess, before: int) -> list[dict[str, Any]]:
    return server.calls()[before:]


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", text)


def test_weather_answer_carries_the_tool_result(talk, demo_server, speak, transcribe, tmp_path) -> None:
    before = len(demo_server.calls())
    result = talk(demo_server.url, speak("What is the weather in Tokyo?"), tmp_path / "a.wav")
    calls = _new_calls(demo_server, before)
    assert [c["tool"] for c in calls] == ["get_weather"], result.tool_calls
    assert calls[0]["arguments"]["city"].lower() == "tokyo"
    assert calls[0]["ok"]
    # the temperature comes only from the tool: a silent turn, a repeated call or an invented answer fails here
    degrees = re.search(r"(minus )?(\d+) degrees", calls[0]["result"])
    assert degrees is not None
    heard = transcribe(result.output_wav)
    assert degrees.group(2) in _numbers(heard), heard
    assert len(result.tool_calls) == 1
    assert "{" not in result.agent_text


def test_unit_conversion_extracts_numbers_and_units(talk, demo_server, speak, transcribe, tmp_path) -> None:
    before = len(demo_server.calls())
    result = talk(demo_server.url, speak("Convert 10 kilometers to miles."), tmp_path / "a.wav")
    calls = _new_calls(demo_server, before)
    assert [c["tool"] for c in calls] == ["convert_units"], result.tool_calls
    args = calls[0]["arguments"]
    assert float(args["value"]) == 10
    assert args["from_unit"].lower().startswith("k") and args["to_unit"].lower().startswith("mi")
    heard = transcribe(result.output_wav)
    assert "6.2" in heard or "6 point 2" in heard.lower(), heard


def test_time_in_a_city(talk, demo_server, speak, transcribe, tmp_path) -> None:
    before = len(demo_server.calls())
    result = talk(demo_server.url, speak("What time is it in London?"), tmp_path / "a.wav")
    calls = _new_calls(demo_server, before)
    assert [c["tool"] for c in calls] == ["get_time"], result.tool_calls
    assert "london" in calls[0]["arguments"]["timezone"].lower()
    hour = re.search(r"it is (\d+):", calls[0]["result"])
    assert hour is not None
    heard = transcribe(result.output_wav)
    assert hour.group(1) in _numbers(heard) or hour.group(1) in heard, heard


def test_add_a_note(talk, demo_server, speak, transcribe, tmp_path) -> None:
    before = len(demo_server.calls())
    result = talk(demo_server.url, speak("Add a note: buy milk."), tmp_path / "a.wav")
    calls = _new_calls(demo_server, before)
    assert [c["tool"] for c in calls] == ["add_note"], result.tool_calls
    assert "milk" in calls[0]["arguments"]["text"].lower()
    assert result.agent_transcript, "the agent said nothing after the tool result"
    assert transcribe(result.output_wav).strip()


def test_chit_chat_calls_no_tool(talk, demo_server, speak, transcribe, tmp_path) -> None:
    before = len(demo_server.calls())
    result = talk(demo_server.url, speak("Hello! How are you today?"), tmp_path / "a.wav")
    assert _new_calls(demo_server, before) == []
    assert result.tool_calls == []
    heard = transcribe(result.output_wav)
    assert len(heard.split()) >= 2, heard


def test_server_down_is_said_out_loud(talk, speak, transcribe, tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there: connection refused
    t0 = time.monotonic()
    result = talk(url, speak("What is the weather in Paris?"), tmp_path / "a.wav")
    assert time.monotonic() - t0 < 150, "the turn must not hang"
    heard = transcribe(result.output_wav).lower()
    assert result.agent_transcript, result.errors
    assert any(w in heard for w in ("reach", "unavailable", "not available", "can't", "cannot", "connect")), heard
    assert not any(c.name == "get_weather" for c in result.tool_calls)


def test_llm_behind_an_openai_compatible_endpoint(models, demo_server, speak, transcribe, tmp_path) -> None:
    """Cloud or self-hosted providers are one setting away: the same pipeline with the LLM on a loopback endpoint."""
    import asyncio
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from voxmcp.app import Models
    from voxmcp.config import load_settings
    from voxmcp.models.providers import build_llm
    from voxmcp.talk import run_talk

    port = free_port()
    fake = Path(__file__).parents[1] / "livekit" / "fake_openai_llm.py"
    proc = subprocess.Popen([sys.executable, str(fake), "--port", str(port)])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        env = {
            "VOXMCP_MCP__SERVERS": f'{{"demo": {{"url": "{demo_server.url}"}}}}',
            "VOXMCP_MODELS__LLM": f'{{"provider": "openai", "model": "fake", "base_url": "http://127.0.0.1:{port}/v1"}}',
        }
        settings = load_settings(env=env, dotenv=False)
        remote = Models(
            vad=models.vad,
            stt=models.stt,
            llm=build_llm("openai", "fake", base_url=f"http://127.0.0.1:{port}/v1"),
            tts=models.tts,
        )
        before = len(demo_server.calls())
        result = asyncio.run(
            run_talk(settings, remote, speak("What is the weather in Paris?"), output_wav=tmp_path / "a.wav")
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    calls = demo_server.calls()[before:]
    assert [c["tool"] for c in calls] == ["get_weather"]
    degrees = re.search(r"(\d+) degrees", calls[0]["result"])
    assert degrees is not None
    assert degrees.group(1) in _numbers(transcribe(result.output_wav))
