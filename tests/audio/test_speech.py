"""Where speech is in a recording: its bounds, and the pauses where a user waits for the agent."""

from __future__ import annotations

import numpy as np
import pytest

from voxmcp.audio.speech import pauses, speech_bounds
from voxmcp.audio.wav import AudioFileError, MonoAudio


def _tone(seconds: float, rate: int = 16000) -> MonoAudio:
    t = np.arange(int(seconds * rate)) / rate
    return MonoAudio(samples=(8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), sample_rate=rate)


def test_speech_bounds_and_silence() -> None:
    rate = 16000
    audio = MonoAudio(
        samples=np.concatenate([np.zeros(rate // 2, np.int16), _tone(1.0).samples, np.zeros(rate, np.int16)]),
        sample_rate=rate,
    )
    assert speech_bounds(audio) == (pytest.approx(0.5, abs=0.021), pytest.approx(1.5, abs=0.021))
    with pytest.raises(AudioFileError, match="the recording is silent"):
        speech_bounds(MonoAudio(samples=np.zeros(rate, np.int16), sample_rate=rate))
    with pytest.raises(AudioFileError, match="the recording is empty"):
        speech_bounds(MonoAudio(samples=np.zeros(10, np.int16), sample_rate=rate))


def test_pauses_are_the_quiet_stretches_long_enough_to_end_a_turn() -> None:
    rate = 16000
    parts = [_tone(0.5).samples, np.zeros(int(1.5 * rate), np.int16), _tone(0.3).samples]
    parts += [np.zeros(int(0.4 * rate), np.int16), _tone(0.3).samples, np.zeros(rate, np.int16)]
    audio = MonoAudio(samples=np.concatenate(parts), sample_rate=rate)
    gaps = pauses(audio, min_gap_s=1.2)
    assert len(gaps) == 1  # the 0.4 s pause is inside a turn; trailing silence is no pause between speech
    assert gaps[0] == (pytest.approx(0.5, abs=0.021), pytest.approx(2.0, abs=0.021))
    assert pauses(_tone(3.0), min_gap_s=1.2) == []
    noise = np.random.default_rng(1).normal(0, 3000, 10 * rate).astype(np.int16)
    assert pauses(MonoAudio(samples=noise, sample_rate=rate), min_gap_s=1.2) == []
