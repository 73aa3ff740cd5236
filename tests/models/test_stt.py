"""faster-whisper STT on real speech (espeak-ng, a voice unlike the agent's) and on silence."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from livekit.agents import APIError

from livekit import rtc
from voxmcp.audio.wav import MonoAudio, float_to_int16, read_wav
from voxmcp.evals.scoring import normalize
from voxmcp.models.providers import build_stt
from voxmcp.models.stt import STTModelError, WhisperSTT, load_whisper, max_new_tokens, resolve_whisper_model
from voxmcp.models.vocabulary import SpeechVocabulary, build_vocabulary

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


# ---- tool vocabulary (contextual biasing) --------------------------------------------------------------------------
# The fixtures are the eval's user voice (espeak-ng en-us, 150 wpm, 16 kHz); plain whisper-tiny.en mishears them.
FIXTURES = Path(__file__).parent / "fixtures"
GREETING = "Hi! What can I do for you?"  # the app's default greeting: what the user hears before speaking


def _fixture(name: str) -> np.ndarray:
    return read_wav(FIXTURES / name, sample_rate=16000).to_float()


def _server_tools(server: str) -> list[dict[str, object]]:
    tools: list[dict[str, object]] = json.loads((FIXTURES / "eval_tools.json").read_text())[server]
    return tools


@pytest.mark.parametrize(
    ("wav", "server", "wanted"),
    [("espeak_what_notes.wav", "demo", "notes"), ("espeak_trigger_elicitation.wav", "everything", "elicitation")],
)
def test_tool_vocabulary_fixes_a_real_mishearing(wav: str, server: str, wanted: str) -> None:
    audio = _fixture(wav)
    plain, _ = WhisperSTT().transcribe(audio)
    assert wanted not in plain.lower(), f"the fixture no longer shows the mishearing: {plain!r}"
    biased = WhisperSTT(initial_prompt=GREETING, vocabulary=build_vocabulary(_server_tools(server)))
    text, confidence = biased.transcribe(audio)
    assert wanted in text.lower(), text
    assert 0.0 < confidence <= 1.0


def test_tool_vocabulary_leaves_chit_chat_alone() -> None:
    biased = WhisperSTT(initial_prompt=GREETING, vocabulary=build_vocabulary(_server_tools("demo")))
    text, _ = biased.transcribe(_fixture("espeak_short_joke.wav"))
    assert normalize(text) == "tell me a short joke", text


async def test_set_vocabulary_biases_recognize_and_can_be_cleared() -> None:
    stt = WhisperSTT(initial_prompt=GREETING)
    speech = MonoAudio(samples=float_to_int16(_fixture("espeak_trigger_elicitation.wav")), sample_rate=16000)
    stt.set_vocabulary(build_vocabulary(_server_tools("everything")))
    assert "trigger elicitation request" in (stt.options.decode_kwargs()["hotwords"] or "")
    event = await stt.recognize(speech.frames(20))
    assert "elicitation" in event.alternatives[0].text.lower()
    stt.set_vocabulary(None)
    assert stt.options.vocabulary is None and stt.options.decode_kwargs()["hotwords"] is None
    stt.set_vocabulary(SpeechVocabulary(terms=()))
    assert stt.options.vocabulary is None


def test_with_context_copies_options_and_shares_the_model() -> None:
    shared = WhisperSTT(beam_size=3, hotwords=["Reykjavik"], temperatures=[0.0])
    vocab = build_vocabulary(_server_tools("time"))
    session = shared.with_context(vocabulary=vocab, initial_prompt=GREETING)
    assert session is not shared and shared.options.vocabulary is None and shared.options.initial_prompt is None
    assert session.options.vocabulary == vocab and session.options.initial_prompt == GREETING
    assert session.options.beam_size == 3 and session.options.temperatures == (0.0,)
    kwargs = session.options.decode_kwargs()
    assert kwargs["hotwords"].startswith("Reykjavik, current time")
    assert session._load() is shared._load()


def test_padding_and_decoding_options_reach_whisper() -> None:
    stt = WhisperSTT(pad_s=0.2, temperatures=[0.0], no_speech_threshold=None, length_penalty=0.8, patience=1.5)
    kwargs = stt.options.decode_kwargs()
    assert kwargs["temperature"] == [0.0] and kwargs["no_speech_threshold"] is None
    assert kwargs["length_penalty"] == 0.8 and kwargs["patience"] == 1.5
    text, _ = stt.transcribe(_fixture("espeak_short_joke.wav"))
    assert "joke" in text.lower()


def test_bad_decoding_options_and_audio_are_named() -> None:
    with pytest.raises(ValueError, match="pad_s"):
        WhisperSTT(pad_s=-1)
    with pytest.raises(ValueError, match="temperatures"):
        WhisperSTT(temperatures=[])
    with pytest.raises(ValueError, match="temperatures"):
        WhisperSTT(temperatures=[0.0, 1.5])
    with pytest.raises(ValueError, match="patience"):
        WhisperSTT(patience=0)
    with pytest.raises(ValueError, match="1-D float32"):
        WhisperSTT().transcribe(np.zeros(16000, np.int16))


def test_decoding_is_bounded_by_the_audio_length() -> None:
    """A decode may generate ~10 tokens a second of audio, within the room whisper's prompt leaves."""
    assert max_new_tokens(1.0) == 20 and max_new_tokens(10.0) == 110
    assert max_new_tokens(60.0, prompt_tokens=200) == 248  # the window's rest
    assert max_new_tokens(5.0, prompt_tokens=430) is None  # no room for a bound: whisper's own limit


def test_a_prompt_that_fills_half_the_window_still_decodes() -> None:
    """Hotwords of hundreds of tools take half of whisper's 448-token window: the bound must leave the prompt and
    the new tokens within it (faster-whisper raises when max_new_tokens overflows it)."""
    vocabulary = ", ".join(f"tool{i} term{i}" for i in range(400))
    stt = WhisperSTT(hotwords=[vocabulary], initial_prompt=GREETING)
    text, _ = stt.transcribe(_fixture("espeak_short_joke.wav"))
    assert "joke" in text.lower()
    noise = np.random.default_rng(3).normal(0, 0.2, 16000 * 28).astype(np.float32)
    assert isinstance(stt.transcribe(noise)[0], str)
