"""Local TTS engines: audible, intelligible (checked with whisper), streamed sentence by sentence."""

from __future__ import annotations

import builtins
import shutil
import time
from typing import Any

import pytest
from livekit.agents import tts as lk_tts

from livekit import rtc
from voxmcp.audio.wav import frames_to_mono
from voxmcp.models.providers import build_tts
from voxmcp.models.stt import WhisperSTT
from voxmcp.models.tts import (
    PIPER_INSTALL,
    EspeakTTS,
    HibariTTS,
    PiperTTS,
    TTSModelError,
    clean_text_for_speech,
    split_sentences,
)

THREE_SENTENCES = "The weather in Paris is sunny today. The temperature is twenty one degrees. Tomorrow it will rain."


async def _synthesize(engine: lk_tts.TTS[Any], text: str) -> tuple[list[rtc.AudioFrame], float, float]:
    t0 = time.perf_counter()
    first: float | None = None
    frames: list[rtc.AudioFrame] = []
    async with engine.synthesize(text) as stream:
        async for ev in stream:
            if first is None:
                first = time.perf_counter() - t0
            frames.append(ev.frame)
    assert first is not None, "no audio"
    return frames, first, time.perf_counter() - t0


async def _transcribe(frames: list[rtc.AudioFrame]) -> str:
    event = await WhisperSTT().recognize(frames)
    return event.alternatives[0].text.lower()


async def test_hibari_is_24k_and_intelligible() -> None:
    engine = HibariTTS()
    frames, _first, total = await _synthesize(engine, "Your note about the dentist has been saved.")
    assert {f.sample_rate for f in frames} == {24000} and {f.num_channels for f in frames} == {1}
    audio = frames_to_mono(frames)
    assert 1.0 < audio.duration < 8.0
    assert total < audio.duration  # faster than real time even cold
    text = await _transcribe(frames)
    assert "note" in text and "dentist" in text and "saved" in text, text


async def test_hibari_first_chunk_before_full_synthesis() -> None:
    engine = HibariTTS()
    engine.prewarm()
    frames, first, total = await _synthesize(engine, THREE_SENTENCES)
    assert first < total
    # the first audio is out after one sentence: far less than the whole reply's audio
    assert first < frames_to_mono(frames).duration / 3


async def test_first_sentence_audio_arrives_before_the_rest_is_synthesized() -> None:
    engine = HibariTTS()
    engine.prewarm()
    calls: list[float] = []
    original = engine._next_locked

    def slow_next(it: Any) -> Any:
        calls.append(time.perf_counter())
        if len(calls) > 1:
            time.sleep(0.3)  # make later sentences visibly slow
        return original(it)

    engine._next_locked = slow_next  # type: ignore[method-assign]
    _frames, first, total = await _synthesize(engine, THREE_SENTENCES)
    assert len(calls) == 4  # three sentences + end
    assert first < 0.3 < total


async def test_hibari_text_cleanup_is_applied() -> None:
    frames, _, _ = await _synthesize(HibariTTS(), '{"city": "Oslo", "temp": "-3°C"}')
    text = await _transcribe(frames)
    assert "oslo" in text and "degrees" in text, text


async def test_unspeakable_text_gives_silence_not_an_error() -> None:
    async with HibariTTS().synthesize("  ** ``` ") as stream:
        events = [ev async for ev in stream]
    assert frames_to_mono([e.frame for e in events]).samples.any() == False  # noqa: E712


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="apt-get install espeak-ng")
async def test_espeak_works() -> None:
    engine = EspeakTTS(voice="en-us")
    frames, _, _ = await _synthesize(engine, "Add milk to my shopping list. Thank you.")
    assert {f.sample_rate for f in frames} == {22050}
    text = await _transcribe(frames)
    assert "milk" in text and "shopping" in text, text


def test_espeak_unknown_voice_is_a_clear_error() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    with pytest.raises(ValueError, match="espeak-ng has no voice 'no-such-voice-xx'"):
        EspeakTTS(voice="no-such-voice-xx")
    assert EspeakTTS(voice="en-gb+f3").model == "espeak-ng/en-gb+f3"


async def test_piper_joe_or_clear_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import piper  # noqa: F401
    except ImportError:
        with pytest.raises(TTSModelError, match=r"pip install 'voxmcp\[piper\]'"):
            PiperTTS()
        return
    engine = PiperTTS()
    frames, _, _ = await _synthesize(engine, "The meeting starts at nine.")
    assert engine.sample_rate == 22050
    assert "meeting" in await _transcribe(frames)

    real_import = builtins.__import__

    def no_piper(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "piper":
            raise ImportError("No module named 'piper'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_piper)
    with pytest.raises(TTSModelError, match=PIPER_INSTALL.replace("[", r"\[").replace("]", r"\]")):
        PiperTTS()


def test_clean_text_for_speech() -> None:
    assert clean_text_for_speech("**Paris**: 21°C, humidity 40%, wind 12 km/h.") == (
        "Paris: 21 degrees Celsius, humidity 40 percent, wind 12 kilometers per hour."
    )
    assert clean_text_for_speech("# Notes\n- buy milk\n- call [Bob](http://x.y)") == "Notes\nbuy milk\ncall Bob"
    assert "minus 3" in clean_text_for_speech('{"temp_c": -3}')
    assert clean_text_for_speech("`get_weather` & more") == "get weather and more"
    assert split_sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


def test_factory() -> None:
    assert isinstance(build_tts("local/hibari"), HibariTTS)
    assert isinstance(build_tts("local", "espeak", voice="en-gb"), EspeakTTS)
    remote = build_tts("openai", "tts-1", base_url="http://127.0.0.1:9/v1", voice="alloy")
    assert remote.provider == "127.0.0.1:9"
    with pytest.raises(ValueError, match="hibari voice 'emma' is not available offline"):
        build_tts("local/hibari", voice="emma")
    with pytest.raises(ValueError, match="unknown local TTS model 'kokoro'"):
        build_tts("local/kokoro")
    with pytest.raises(ValueError, match="speed"):
        build_tts("local/hibari", speed=5.0)


def test_trim_silence_keeps_the_speech_and_a_little_padding() -> None:
    import numpy as np

    from voxmcp.models.tts import trim_silence

    rate = 24000
    speech = np.where(np.arange(rate // 2) % 2 == 0, 8000, -8000).astype(np.int16)
    padded = np.concatenate([np.zeros(rate // 3, np.int16), speech, np.zeros(rate // 2, np.int16)])
    out = trim_silence(padded, rate, keep_leading_s=0.03, keep_trailing_s=0.15)
    assert len(out) == int(0.03 * rate) + len(speech) + int(0.15 * rate)
    assert np.array_equal(out[int(0.03 * rate) : int(0.03 * rate) + len(speech)], speech)
    silent = np.zeros(1000, np.int16)
    assert len(trim_silence(silent, rate)) == 1000  # nothing audible: left as it is


async def test_hibari_replies_start_audibly_at_once() -> None:
    import numpy as np

    engine = HibariTTS()
    frames, _, _ = await _synthesize(engine, "One moment.")
    mono = frames_to_mono(frames)
    loud = np.flatnonzero(np.abs(mono.samples.astype(np.int32)) > 300)
    assert loud[0] / mono.sample_rate < 0.06, "hibari's ~0.3 s of leading silence must be trimmed"
    assert (len(mono.samples) - loud[-1]) / mono.sample_rate < 0.2
