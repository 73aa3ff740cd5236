"""faster-whisper STT on real speech (espeak-ng, a voice unlike the agent's) and on silence."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from livekit.agents import APIError

from livekit import rtc
from voxmcp.audio.wav import MonoAudio, read_wav
from voxmcp.models.providers import build_stt
from voxmcp.models.stt import STTModelError, WhisperSTT, load_whisper, resolve_whisper_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="apt-get install espeak-ng")


def _espeak(text: str, path: Path) -> MonoAudio:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, timeout=30)
    return read_wav(path)


@needs_espeak
async def test_transcribes_spoken_question(tmp_path: Path) -> None:
    stt = WhisperSTT(model="whisper-tiny.en", cpu_threads=2, beam_size=5)
    speech = _espeak("What is the weather in Paris today?", tmp_path / "q.wav")  # 22.05 kHz: resampled inside
    t0 = time.perf_counter()
    event = await stt.recognize(speech.frames(20))
    elapsed = time.perf_counter() - t0
    text = event.alternatives[0].text.lower()
    assert "weather" in text and "paris" in text, text
    assert event.alternatives[0].language == "en"
    assert 0.0 < event.alternatives[0].confidence <= 1.0
    assert elapsed < 30


@needs_espeak
async def test_hotwords_and_prompt_are_accepted(tmp_path: Path) -> None:
    stt = WhisperSTT(hotwords=["Reykjavik", "weather"], initial_prompt="Questions about cities.")
    speech = _espeak("What is the weather in Reykjavik?", tmp_path / "r.wav")
    text = (await stt.recognize(speech.frames(20))).alternatives[0].text.lower()
    assert "weather" in text, text


async def test_silence_gives_empty_transcript_quickly() -> None:
    stt = WhisperSTT()
    silence = MonoAudio(samples=np.zeros(16000 * 2, np.int16), sample_rate=16000)
    t0 = time.perf_counter()
    event = await stt.recognize(silence.frames(20))
    assert event.alternatives[0].text == ""
    assert time.perf_counter() - t0 < 0.1
    empty = await stt.recognize([])
    assert empty.alternatives[0].text == ""


async def test_stereo_48k_frame_is_accepted() -> None:
    stt = WhisperSTT()
    frame = rtc.AudioFrame.create(48000, 2, 4800)  # 0.1 s of silent stereo
    event = await stt.recognize(frame)
    assert event.alternatives[0].text == ""


def test_model_is_loaded_once_per_process() -> None:
    path = resolve_whisper_model("whisper-tiny.en")
    assert (path / "model.bin").is_file()
    assert load_whisper(path, cpu_threads=2) is load_whisper(path, cpu_threads=2)


def test_errors_are_clear() -> None:
    with pytest.raises(STTModelError, match="unknown whisper model 'whisper-large'"):
        resolve_whisper_model("whisper-large")
    assert issubclass(STTModelError, APIError)
    with pytest.raises(ValueError, match="beam_size"):
        WhisperSTT(beam_size=0)


async def test_missing_model_folder_raises_api_error(tmp_path: Path) -> None:
    stt = WhisperSTT(model_path=tmp_path)
    speech = MonoAudio(samples=(np.random.default_rng(0).normal(0, 3000, 16000)).astype(np.int16), sample_rate=16000)
    with pytest.raises(STTModelError, match=r"has no model\.bin"):
        await stt.recognize(speech.frames(20))


def test_factory() -> None:
    local = build_stt("local/whisper-tiny.en", hotwords=["Reykjavik"])
    assert isinstance(local, WhisperSTT) and local.options.hotwords == ("Reykjavik",)
    assert local.capabilities.streaming is False
    remote = build_stt("openai", "whisper-1", base_url="http://127.0.0.1:9/v1")
    assert remote.provider == "127.0.0.1:9"
    with pytest.raises(ValueError, match="unknown local STT model 'whisper-huge'"):
        build_stt("local", "whisper-huge")
    with pytest.raises(ValueError, match="unknown STT provider 'azure'"):
        build_stt("azure/whisper")
    with pytest.raises(ValueError, match=r"bad STT option for local/tiny\.en"):
        build_stt("local/tiny.en", beam=3)
