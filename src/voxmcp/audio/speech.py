"""Where speech is in a recording, by loudness: its bounds and the pauses between utterances.

Cheap enough to run before any model loads (`voxmcp talk` refuses a silent file at once), and what `talk` uses to
find where, in a recording of a whole exchange, the user waited for the agent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .wav import AudioFileError, MonoAudio

SILENCE_DBFS = -45.0
MAX_RECORDING_S = 300.0
"""A spoken request (or a short exchange) is minutes at most; a longer file is refused before it is read."""


def speech_bounds(
    audio: MonoAudio, *, threshold_dbfs: float = SILENCE_DBFS, window_ms: int = 20
) -> tuple[float, float]:
    """(start, end) in seconds of the audible part of a recording; raises AudioFileError when it is all silence."""
    if len(audio.samples) < max(1, audio.sample_rate * window_ms // 1000):
        raise AudioFileError("the recording is empty")
    loud, n = _loud_windows(audio, threshold_dbfs, window_ms)
    if len(loud) == 0:
        raise AudioFileError("the recording is silent: there is no speech to answer")
    return loud[0] * n / audio.sample_rate, (loud[-1] + 1) * n / audio.sample_rate


def _loud_windows(audio: MonoAudio, threshold_dbfs: float, window_ms: int) -> tuple[npt.NDArray[np.intp], int]:
    n = max(1, audio.sample_rate * window_ms // 1000)
    samples = audio.samples.astype(np.float32) / 32768.0
    frames = len(samples) // n
    if frames == 0:
        return np.zeros(0, np.intp), n
    rms = np.sqrt(np.mean(samples[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    return np.nonzero(20 * np.log10(rms) > threshold_dbfs)[0], n


def pauses(
    audio: MonoAudio, *, min_gap_s: float, threshold_dbfs: float = SILENCE_DBFS, window_ms: int = 20
) -> list[tuple[float, float]]:
    """(start, end) in seconds of each quiet stretch of at least `min_gap_s` between two audible ones.

    In a recording of a whole exchange ("Delete note 3." ... "Yes."), these are where the user waited for the
    agent; `run_talk` holds the recording there until the agent has answered or asks something."""
    loud, n = _loud_windows(audio, threshold_dbfs, window_ms)
    if len(loud) < 2:
        return []
    quiet_s = (np.diff(loud) - 1) * n / audio.sample_rate
    rate = audio.sample_rate
    return [((loud[i] + 1) * n / rate, loud[i + 1] * n / rate) for i in np.nonzero(quiet_s >= min_gap_s)[0]]
