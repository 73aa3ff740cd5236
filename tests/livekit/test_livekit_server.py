"""The LiveKit server on loopback: tokens honoured or refused, media and text flow, Redis joins nodes."""

from __future__ import annotations

import asyncio
import math
import time
import wave
from pathlib import Path

import jwt
import numpy as np
import pytest
from livekit_servers import LiveKitCluster, LiveKitNode
from participant import TestParticipant, mint_token

from livekit import rtc
from voxmcp.livekit_tokens import LiveKitCredentials, mint_participant_token

pytestmark = pytest.mark.livekit


def _tone_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    samples = (8000 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


async def test_two_participants_exchange_audio_and_text(livekit_node: LiveKitNode, tmp_path: Path) -> None:
    """Audio one side publishes is heard by the other; a text stream on lk.transcription arrives."""
    url, key, secret = livekit_node.url, livekit_node.api_key, livekit_node.api_secret
    async with (
        TestParticipant(url, mint_token(key, secret, room="r1", identity="alice")) as alice,
        TestParticipant(url, mint_token(key, secret, room="r1", identity="bob")) as bob,
    ):
        frames: list[float] = []
        listeners: list[asyncio.Future[None]] = []
        heard = asyncio.Event()

        def on_track(track: rtc.Track, *_: object) -> None:
            async def listen() -> None:
                stream = rtc.AudioStream(track, sample_rate=16000, num_channels=1)
                async for ev in stream:
                    rms = float(np.sqrt(np.mean(np.frombuffer(ev.frame.data, np.int16).astype(float) ** 2)))
                    frames.append(rms)
                    if rms > 1000:
                        heard.set()
                        break
                await stream.aclose()

            listeners.append(asyncio.ensure_future(listen()))

        bob.room.on("track_subscribed", on_track)
        await alice.publish_microphone(48000)
        speak = asyncio.ensure_future(alice.speak_wav(_tone_wav(tmp_path / "tone.wav"), trailing_silence_s=0.2))
        await asyncio.wait_for(heard.wait(), 20)
        await speak
        await alice.room.local_participant.send_text("hello bob", topic="lk.transcription")
        await bob.wait_until(
            lambda: any(s.identity == "alice" and s.text == "hello bob" for s in bob.segments.values()),
            timeout_s=10,
            what="alice's text stream at bob",
        )


async def test_expired_token_is_refused_by_livekit(livekit_node: LiveKitNode) -> None:
    creds = LiveKitCredentials(livekit_node.url, livekit_node.api_key, livekit_node.api_secret)
    now = int(time.time())
    # five minutes past expiry: LiveKit allows a minute of clock skew
    claims = {
        "iss": creds.api_key,
        "sub": "late",
        "nbf": now - 600,
        "exp": now - 300,
        "video": {"roomJoin": True, "room": "r1"},
    }
    token = jwt.encode(claims, creds.api_secret, algorithm="HS256")
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError) as info:
        await asyncio.wait_for(room.connect(creds.url, token), 15)
    assert "401" in str(info.value) or "expired" in str(info.value).lower() or "unauthorized" in str(info.value).lower()


async def test_token_for_another_room_cannot_join_this_one(livekit_node: LiveKitNode) -> None:
    """A token names its room; LiveKit puts the participant there, not in a room of its choosing."""
    creds = LiveKitCredentials(livekit_node.url, livekit_node.api_key, livekit_node.api_secret)
    token = mint_participant_token(creds, room="mine", identity="u1")
    room = rtc.Room()
    await asyncio.wait_for(room.connect(creds.url, token), 15)
    try:
        assert room.name == "mine"
    finally:
        await room.disconnect()


async def test_badly_signed_token_is_refused(livekit_node: LiveKitNode) -> None:
    token = mint_token(livekit_node.api_key, "not-the-secret-" + "x" * 32, room="r1", identity="mallory")
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError):
        await asyncio.wait_for(room.connect(livekit_node.url, token), 15)


async def test_cluster_nodes_share_rooms_through_redis(livekit_cluster: LiveKitCluster) -> None:
    """Two participants joining the same room through different nodes see each other."""
    a, b = livekit_cluster.nodes
    key, secret = livekit_cluster.api_key, livekit_cluster.api_secret
    async with (
        TestParticipant(a.url, mint_token(key, secret, room="shared", identity="via-a")) as pa,
        TestParticipant(b.url, mint_token(key, secret, room="shared", identity="via-b")) as pb,
    ):
        await pa.wait_until(lambda: "via-b" in pa.room.remote_participants, timeout_s=15, what="via-b seen from node A")
        await pb.wait_until(lambda: "via-a" in pb.room.remote_participants, timeout_s=15, what="via-a seen from node B")
