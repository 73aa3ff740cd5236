"""voxmcp.plugins.stt.WhisperSTT: LiveKit-style construction, weights checked up front, real recognition."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from livekit.agents import stt

from livekit import rtc
from voxmcp.audio.wav import read_wav
from voxmcp.models import weights
from voxmcp.plugins import ModelUnavailable
from voxmcp.plugins.stt import WhisperSTT


def test_short_names_map_to_the_pinned_models() -> None:
    assert WhisperSTT(model="tiny.en").model == "whisper-tiny.en"
    assert isinstance(WhisperSTT(), stt.STT) and WhisperSTT().provider == "faster-whisper"


def test_unknown_model_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown Whisper model 'large'; choose one of base, tiny\.en"):
        WhisperSTT(model="large")


def test_a_model_whose_package_is_missing_says_how_to_install_it() -> None:
    if not weights.status("whisper-base").missing:
        pytest.skip("whisper-base is installed here")
    with pytest.raises(ModelUnavailable) as err:
        WhisperSTT(model="whisper-base")  # raised when built, not at the first utterance
    message = str(err.value)
    assert "speech-to-text model 'whisper-base' is not available" in message
    assert "pip install 'voxmcp[whisper-base]'" in message and "\n" not in message


@pytest.fixture
def question_wav(tmp_path: Path) -> Path:
    """The user's words synthesized by espeak-ng (a voice other than the agent's)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it)")
    wav = tmp_path / "q.wav"
    words = "What is the weather in Tokyo?"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), words], check=True)
    return wav


async def test_recognizes_speech(question_wav: Path) -> None:
    audio = read_wav(question_wav, sample_rate=16000)
    pcm = audio.samples.tobytes()
    frame = rtc.AudioFrame(data=pcm, sample_rate=16000, num_channels=1, samples_per_channel=len(audio.samples))
    event = await WhisperSTT(cpu_threads=1).recognize([frame])
    assert "weather" in event.alternatives[0].text.lower() and "tokyo" in event.alternatives[0].text.lower()
