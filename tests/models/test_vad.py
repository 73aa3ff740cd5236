"""Silero VAD from the local model file finds the start and end of real speech."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from livekit.agents import vad as lk_vad

from voxmcp.audio.wav import MonoAudio, read_wav
from voxmcp.models import weights
from voxmcp.models.providers import build_vad
from voxmcp.models.vad import build_silero_vad


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="apt-get install espeak-ng")
async def test_detects_start_and_end_of_speech(tmp_path: Path) -> None:
    path = tmp_path / "q.wav"
    cmd = ["espeak-ng", "-v", "en-us", "-w", str(path), "Turn on the kitchen lights."]
    await asyncio.to_thread(subprocess.run, cmd, check=True, timeout=30)
    speech = read_wav(path, sample_rate=16000)
    pad = np.zeros(16000, np.int16)
    audio = MonoAudio(samples=np.concatenate([pad, speech.samples, pad]), sample_rate=16000)
    vad = build_vad("silero", min_silence_duration=0.3)
    stream = vad.stream()
    for frame in audio.frames(20):
        stream.push_frame(frame)
    stream.end_input()
    kinds: list[lk_vad.VADEventType] = []
    end_event: lk_vad.VADEvent | None = None

    async def collect() -> None:
        nonlocal end_event
        async for ev in stream:
            if ev.type != lk_vad.VADEventType.INFERENCE_DONE:
                kinds.append(ev.type)
            if ev.type == lk_vad.VADEventType.END_OF_SPEECH:
                end_event = ev

    await asyncio.wait_for(collect(), 30)
    await stream.aclose()
    assert kinds == [lk_vad.VADEventType.START_OF_SPEECH, lk_vad.VADEventType.END_OF_SPEECH]
    assert end_event is not None
    assert abs(end_event.speech_duration - speech.duration) < 0.6


def test_uses_the_verified_local_file_and_validates_options(tmp_path: Path) -> None:
    assert weights.resolve("silero-vad", progress=False).is_file()
    with pytest.raises(ValueError, match="min_silence_duration"):
        build_silero_vad(min_silence_duration=0.0)
    with pytest.raises(weights.ModelError, match="does not exist"):
        build_silero_vad(onnx_file_path=tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="unknown VAD provider 'webrtc'"):
        build_vad("webrtc")
