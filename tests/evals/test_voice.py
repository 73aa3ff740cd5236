"""User voices: spec parsing, espeak and piper synthesis at 16 kHz, the cache, and clear errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from voxmcp.audio.speech import speech_bounds
from voxmcp.evals import voice as voice_mod
from voxmcp.evals.voice import UserVoice, UserVoiceError, parse_voice, synthesize

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (apt-get install flite)")


def test_specs_parse() -> None:
    assert parse_voice("espeak:en-us") == UserVoice("espeak", "en-us")
    assert parse_voice("en-gb") == UserVoice("espeak", "en-gb")  # the old bare form means espeak
    assert parse_voice("espeak-ng:en-us+f3") == UserVoice("espeak", "en-us+f3")
    assert parse_voice("piper:joe") == UserVoice("piper", "joe")
    assert parse_voice("piper:/voices/amy.onnx") == UserVoice("piper", "/voices/amy.onnx")
    assert str(parse_voice(" Piper:joe ")) == "piper:joe"
    assert parse_voice("flite:slt") == UserVoice("flite", "slt")
    assert str(parse_voice("FLITE: kal16 ")) == "flite:kal16"
    v = UserVoice("piper", "joe")
    assert parse_voice(v) is v
    with pytest.raises(AttributeError):
        v.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kokoro:af", "unknown engine 'kokoro'"),
        ("piper:", "voice name after 'piper:' is empty"),
        ("espeak:", "voice name after 'espeak:' is empty"),
        ("", "voice name after 'espeak:' is empty"),
        ("piper:amy", "piper voice 'amy' is not bundled"),
        ("espeak:en us", "not an espeak-ng voice name"),
        ("flite:", "voice name after 'flite:' is empty"),
        ("flite:/tmp/x.flitevox", "not a built-in flite voice name"),  # flite loads paths and URLs: not offline
        ("flite:Slt-1", "not a built-in flite voice name"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(UserVoiceError, match=message):
        parse_voice(spec)


def _speech_s(audio_samples: np.ndarray, rate: int) -> float:
    from voxmcp.audio.wav import MonoAudio

    start, end = speech_bounds(MonoAudio(samples=audio_samples, sample_rate=rate))
    return float(end - start)


@needs_espeak
def test_espeak_synth_is_16k_and_cached(tmp_path: Path) -> None:
    audio = synthesize("What is the weather in Tokyo?", tmp_path, voice="espeak:en-us")
    assert audio.sample_rate == 16000 and audio.samples.dtype == np.int16
    assert 1.0 < audio.duration < 4.0
    files = list(tmp_path.glob("user-espeak-*.wav"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    again = synthesize("What is the weather in Tokyo?", tmp_path, voice=UserVoice("espeak", "en-us"))
    assert np.array_equal(again.samples, audio.samples) and files[0].stat().st_mtime_ns == mtime  # a cache hit
    synthesize("What is the weather in Tokyo?", tmp_path, voice="en-gb")  # another voice: another file
    synthesize("What is the weather in Tokyo?", tmp_path, voice="en-us", words_per_minute=200)  # another rate
    assert len(list(tmp_path.glob("user-*.wav"))) == 3


@needs_espeak
def test_espeak_unknown_voice_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(UserVoiceError, match="espeak-ng failed for voice 'xx-nope'"):
        synthesize("Hello", tmp_path, voice="espeak:xx-nope")


def test_rate_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(UserVoiceError, match="words_per_minute"):
        synthesize("Hello", tmp_path, voice="espeak:en-us", words_per_minute=20)


def test_piper_synth_is_16k_rate_scaled_and_loaded_once(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    try:
        voice_mod.piper_model_path("joe")
    except UserVoiceError as e:
        pytest.skip(str(e))
    audio = synthesize("What is the weather in Tokyo?", tmp_path, voice="piper:joe")
    assert audio.sample_rate == 16000 and audio.samples.dtype == np.int16
    assert 1.0 < audio.duration < 4.0
    assert list(tmp_path.glob("user-piper-*.wav"))
    loaded = voice_mod.load_piper_voice("joe")
    assert voice_mod.load_piper_voice("joe") is loaded  # one PiperVoice per process
    slow = synthesize("What is the weather in Tokyo?", tmp_path, voice="piper:joe", words_per_minute=100)
    fast = synthesize("What is the weather in Tokyo?", tmp_path, voice="piper:joe", words_per_minute=200)
    ratio = _speech_s(slow.samples, 16000) / _speech_s(fast.samples, 16000)
    # length_scale 2x the other: the speech runs ~1.6x as long (piper's pauses and onsets scale less; its duration
    # noise spreads single runs over 1.55-1.72 here), so the band only proves the rate reaches piper.
    assert 1.35 < ratio < 2.4


def test_missing_piper_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` raises ImportError
    monkeypatch.setattr(voice_mod, "_piper_voices", {})
    with pytest.raises(UserVoiceError, match=r"pip install 'voxmcp\[piper\]'"):
        synthesize("Hello", tmp_path, voice="piper:joe")


def test_missing_or_corrupt_piper_voice_file(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    with pytest.raises(UserVoiceError, match="does not exist"):
        synthesize("Hello", tmp_path, voice=f"piper:{tmp_path / 'none.onnx'}")
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx model")
    with pytest.raises(UserVoiceError, match=r"config .* is missing or unreadable"):
        synthesize("Hello", tmp_path, voice=f"piper:{model}")
    Path(f"{model}.json").write_text('{"audio": {"sample_rate": 22050}}')
    with pytest.raises(UserVoiceError, match="could not load piper voice"):
        synthesize("Hello", tmp_path, voice=f"piper:{model}")


@needs_flite
def test_flite_synth_is_16k_rate_scaled_and_cached(tmp_path: Path) -> None:
    audio = synthesize("What is the weather in Tokyo?", tmp_path, voice="flite:slt")
    assert audio.sample_rate == 16000 and audio.samples.dtype == np.int16
    assert 1.0 < audio.duration < 4.0
    assert len(list(tmp_path.glob("user-flite-*.wav"))) == 1
    slow = synthesize("What is the weather in Tokyo?", tmp_path, voice="flite:slt", words_per_minute=100)
    fast = synthesize("What is the weather in Tokyo?", tmp_path, voice="flite:slt", words_per_minute=200)
    assert 1.5 < _speech_s(slow.samples, 16000) / _speech_s(fast.samples, 16000) < 2.5  # duration_stretch reached
    other = synthesize("What is the weather in Tokyo?", tmp_path, voice="flite:kal16")
    assert not np.array_equal(other.samples[:4000], audio.samples[:4000])  # another voice, another file
    assert len(list(tmp_path.glob("user-flite-*.wav"))) == 4


@needs_flite
def test_flite_unknown_voice_is_refused_not_replaced(tmp_path: Path) -> None:
    # flite itself would speak an unknown name with its default voice and exit 0
    with pytest.raises(UserVoiceError, match=r"flite has no voice 'nobody'; it has: .*slt"):
        synthesize("Hello", tmp_path, voice="flite:nobody")


def test_missing_flite_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voice_mod.shutil, "which", lambda _exe: None)
    with pytest.raises(UserVoiceError, match="apt-get install flite"):
        synthesize("Hello", tmp_path, voice="flite:slt")


# ---- [pause N] markers: a user who stops mid-sentence ------------------------------------------------------------


def test_pause_markers_split_the_text() -> None:
    from voxmcp.evals.voice import split_pauses, spoken_text

    assert split_pauses("What's the weather in [pause 1.0] Paris?") == (["What's the weather in", "Paris?"], [1.0])
    assert split_pauses("a [PAUSE 0.8] b [ pause 1.5 ] c") == (["a", "b", "c"], [0.8, 1.5])
    assert split_pauses("No pause here.") == (["No pause here."], [])
    assert spoken_text("Add a note that says [pause 1.2] buy milk.") == "Add a note that says buy milk."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("in [pause] Paris", "write a pause as"),
        ("in [pause 1,2] Paris", "write a pause as"),
        ("in [pause 1.2s] Paris", "write a pause as"),
        ("in [pause 9] Paris", "0.1 to 5 seconds"),
        ("in [pause nan] Paris", "0.1 to 5 seconds"),
        ("[pause 1] Paris", "between two parts"),
        ("Paris [pause 1]", "between two parts"),
        ("in [pause 1 Paris", "not closed"),
    ],
)
def test_bad_pause_markers_are_refused_not_spoken(tmp_path: Path, text: str, message: str) -> None:
    from voxmcp.evals.schema import SuiteError, parse_suite

    with pytest.raises(UserVoiceError, match=message):
        synthesize(text, tmp_path, voice="espeak:en-us")
    suite = {"name": "t", "servers": {"demo": {"kind": "demo"}}}
    turn = {"name": "a", "servers": ["demo"], "turns": [text]}
    with pytest.raises(SuiteError, match=rf"\(a\)\.turns\[0\]\.say: .*{message}"):
        parse_suite({**suite, "scenarios": [turn]}, source="t.yaml")
    barge = {"name": "a", "servers": ["demo"], "turns": [{"say": "Hi.", "barge_in": {"say": text}}]}
    with pytest.raises(SuiteError, match=rf"barge_in\.say: .*{message}"):
        parse_suite({**suite, "scenarios": [barge]}, source="t.yaml")


@needs_espeak
def test_a_pause_marker_is_that_much_silence_mid_utterance(tmp_path: Path) -> None:
    from voxmcp.audio.speech import pauses

    plain = synthesize("What's the weather in Paris?", tmp_path, voice="espeak:en-us")
    paused = synthesize("What's the weather in [pause 1.2] Paris?", tmp_path, voice="espeak:en-us")
    assert paused.sample_rate == 16000 and paused.samples.dtype == np.int16
    assert pauses(plain, min_gap_s=0.3) == []
    [(start, end)] = pauses(paused, min_gap_s=0.3)
    assert end - start == pytest.approx(1.2, abs=0.04)  # 20 ms loudness windows on each side
    shorter = synthesize("What's the weather in [pause 0.8] Paris?", tmp_path, voice="espeak:en-us")
    [(start, end)] = pauses(shorter, min_gap_s=0.3)  # the marker is in the cache key: not the 1.2 s file again
    assert end - start == pytest.approx(0.8, abs=0.04)
    twice = synthesize("Call the plumber [pause 0.8] about the leak [pause 1.0] today.", tmp_path)
    assert [round(b - a, 1) for a, b in pauses(twice, min_gap_s=0.5)] == [0.8, 1.0]
    # the words before a pause are spoken as an unfinished clause, each part cached on its own
    part = _key("espeak", "en-us", 150, "What's the weather in,")
    assert (tmp_path / f"user-espeak-{part}.wav").is_file()


def _key(engine: str, name: str, wpm: int, text: str) -> str:
    import hashlib

    return hashlib.sha256(f"{engine}|{name}|{wpm}|{text}".encode()).hexdigest()[:16]
