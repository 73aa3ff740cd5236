"""voxmcp.plugins.tts: hibari, espeak-ng and piper as LiveKit TTS plugins."""

from __future__ import annotations

import shutil

import pytest
from livekit.agents import tts

from voxmcp.plugins import ModelUnavailable
from voxmcp.plugins.tts import EspeakTTS, HibariTTS


async def _audio_seconds(engine: tts.TTS, text: str) -> float:
    samples = 0
    async with engine.synthesize(text) as stream:
        async for event in stream:
            samples += event.frame.samples_per_channel
    return samples / engine.sample_rate


async def test_hibari_speaks() -> None:
    engine = HibariTTS()
    assert isinstance(engine, tts.TTS) and engine.sample_rate == 24000
    assert 0.3 < await _audio_seconds(engine, "Hello there, the weather is fine.") < 10


async def test_hibari_rejects_a_bad_speed() -> None:
    with pytest.raises(ValueError, match=r"hibari speed must be between 0\.5 and 2\.0"):
        HibariTTS(speed=5)


async def test_espeak_speaks_or_says_how_to_install_it() -> None:
    if shutil.which("espeak-ng") is None:
        with pytest.raises(ModelUnavailable, match="apt-get install espeak-ng"):
            EspeakTTS()
        return
    engine = EspeakTTS(voice="en-us")
    assert await _audio_seconds(engine, "Hello.") > 0.2


def test_piper_without_its_extra_names_the_extra() -> None:
    try:
        import piper  # noqa: F401
    except ImportError:
        from voxmcp.plugins.tts import PiperTTS

        with pytest.raises(ModelUnavailable, match=r"voxmcp\[piper\]"):
            PiperTTS()
        return
    from voxmcp.plugins.tts import PiperTTS

    assert PiperTTS().sample_rate == 22050
