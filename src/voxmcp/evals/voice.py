"""The scripted user's voice: espeak-ng (not the agent's voice), optional white noise at a given SNR."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

from voxmcp.audio.wav import MonoAudio, read_wav


class UserVoiceError(RuntimeError):
    """espeak-ng is missing or failed; the message says how to fix it."""


def synthesize(text: str, cache_dir: Path, *, voice: str = "en-us", words_per_minute: int = 150) -> MonoAudio:
    """`text` spoken by espeak-ng at 16 kHz (cached by content, so a suite re-run does not re-synthesize)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserVoiceError("espeak-ng is not installed (apt-get install espeak-ng); it speaks the user's turns")
    key = hashlib.sha256(f"{voice}|{words_per_minute}|{text}".encode()).hexdigest()[:16]
    path = cache_dir / f"user-{key}.wav"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        done = subprocess.run(
            [exe, "-v", voice, "-s", str(words_per_minute), "-w", str(tmp), text],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise UserVoiceError(f"espeak-ng failed for voice {voice!r}: {done.stderr.decode(errors='replace')[-300:]}")
        tmp.replace(path)
    return read_wav(path, sample_rate=16000)


def add_noise(audio: MonoAudio, snr_db: float, *, seed: int = 0, pad_s: float = 0.3) -> MonoAudio:
    """White noise at `snr_db` relative to the speech's power, also over `pad_s` of padding at both ends."""
    speech = audio.samples.astype(np.float64)
    power = float(np.mean(speech**2)) if len(speech) else 0.0
    pad = np.zeros(int(pad_s * audio.sample_rate))
    signal = np.concatenate([pad, speech, pad])
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, np.sqrt(power / (10 ** (snr_db / 10))) if power > 0 else 0.0, len(signal))
    mixed = np.clip(signal + noise, -32768, 32767).astype(np.int16)
    return MonoAudio(samples=mixed, sample_rate=audio.sample_rate)
