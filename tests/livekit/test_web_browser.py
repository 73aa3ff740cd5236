"""`voxmcp web` in headless Debian chromium with a WAV as the microphone, through a real LiveKit server.

The first test puts a scripted agent participant in the room (it speaks the LiveKit agent protocol: the
`lk.agent.state` attribute, `lk.transcription` text streams, `lk.agent.session` events), so the page's
plumbing is checked without models. The real agent is tested in test_agent_room.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from livekit.protocol.agent_pb import agent_session as agent_pb
from livekit_servers import LiveKitNode
from web_harness import drive_page, serve_web

from livekit import api, rtc
from voxmcp.livekit_tokens import LiveKitCredentials
from voxmcp.web.server import WebSettings

pytestmark = pytest.mark.livekit

ANSWER = "In Paris it is 18 degrees and sunny."


class ScriptedAgent:
    """Waits for the visitor to speak and stop, then answers the way a LiveKit agent does on the wire."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.heard_speech_s = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._user_done = asyncio.Event()

    async def run(self, url: str, token: str, *, timeout_s: float) -> None:
        self.room.on("track_subscribed", self._on_track)
        await self.room.connect(url, token)
        await self.room.local_participant.set_attributes({"lk.agent.state": "listening"})
        await asyncio.wait_for(self._user_done.wait(), timeout_s)
        await self.room.local_participant.set_attributes({"lk.agent.state": "thinking"})
        event = agent_pb.AgentSessionEvent(
            function_tools_executed=agent_pb.AgentSessionEvent.FunctionToolsExecuted(
                function_calls=[agent_pb.FunctionCall(call_id="c1", name="get_weather", arguments='{"city":"Paris"}')],
                function_call_outputs=[
                    agent_pb.FunctionCallOutput(call_id="c1", name="get_weather", output="18 C, sunny", is_error=False)
                ],
            )
        )
        await self.room.local_participant.send_bytes(
            agent_pb.AgentSessionMessage(event=event).SerializeToString(),
            topic="lk.agent.session",
            name="AS_1",
        )
        await self.room.local_participant.set_attributes({"lk.agent.state": "speaking"})
        writer = await self.room.local_participant.stream_text(
            topic="lk.transcription",
            attributes={"lk.segment_id": "SG_test", "lk.transcription_final": "false"},
        )
        for word in ANSWER.split(" "):
            await writer.write(word + " ")
            await asyncio.sleep(0.05)
        await writer.aclose(attributes={"lk.segment_id": "SG_test", "lk.transcription_final": "true"})
        await self.room.local_participant.set_attributes({"lk.agent.state": "listening"})

    def _on_track(self, track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: rtc.Track) -> None:
        """Speech = 10 ms frames above an RMS floor; 'done' = 0.8 s quiet after at least 0.5 s of speech."""
        stream = rtc.AudioStream(track, sample_rate=16000, num_channels=1)
        quiet = 0.0
        async for ev in stream:
            samples = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
            dur = ev.frame.samples_per_channel / ev.frame.sample_rate
            if samples.size and np.sqrt(np.mean(samples**2)) > 300:
                self.heard_speech_s += dur
                quiet = 0.0
            else:
                quiet += dur
            if self.heard_speech_s > 0.5 and quiet > 0.8:
                self._user_done.set()
                break
        await stream.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.room.disconnect()


async def test_page_shows_transcript_tool_calls_and_state_from_the_room(
    livekit_node: LiveKitNode, browser_driver: Path, espeak_wav: Callable[[str], Path], tmp_path: Path
) -> None:
    creds = LiveKitCredentials(livekit_node.url, livekit_node.api_key, livekit_node.api_secret)
    settings = WebSettings(credentials=creds, agent_name="", allowed_rooms=frozenset({"browser-room"}))
    wav = espeak_wav("What is the weather in Paris?")
    agent_token = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity("agent-scripted")
        .with_kind("agent")
        .with_grants(
            api.VideoGrants(room_join=True, room="browser-room", can_publish_data=True, can_update_own_metadata=True)
        )
        .to_jwt()
    )
    agent = ScriptedAgent()
    agent_task = asyncio.ensure_future(agent.run(creds.url, agent_token, timeout_s=90))
    try:
        with serve_web(settings) as base:
            started = time.monotonic()
            run = await asyncio.to_thread(
                drive_page,
                browser_driver,
                page_url=f"{base}?room=browser-room",
                wav=wav,
                expect="18 degrees and sunny",
                workdir=tmp_path,
                timeout_s=90,
                wait_greeting=False,
            )
        elapsed = time.monotonic() - started
        assert run.ok, f"{run.error}\n{run.raw}"
        await asyncio.wait_for(agent_task, 10)
    finally:
        agent_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await agent_task
        await agent.aclose()
    assert agent.heard_speech_s > 0.5, "the page's fake microphone did not reach the room"
    assert any(ANSWER.strip() == line.strip() for line in run.agent_lines()), run.raw["transcript"]
    assert run.raw["toolCalls"] == [
        {"name": "get_weather", "arguments": '{"city":"Paris"}', "output": "18 C, sunny", "isError": False}
    ]
    states = [s for _, s in run.raw["states"]]
    # the page followed lk.agent.state through the scripted turn, in order
    assert [s for s in states if s in ("thinking", "speaking")][:2] == ["thinking", "speaking"], states
    assert states[-1] == "listening", states
    assert elapsed < 90
