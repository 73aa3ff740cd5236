"""WAV files in and out: any rate, channel count and sample format in; mono 16-bit PCM out.

The standard library's ``wave`` module (Python 3.11) reads neither float nor WAVE_FORMAT_EXTENSIBLE
files, which are common from audio editors, so the RIFF chunks are parsed here.
"""

from __future__ import annotations

import logging
import struct
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from livekit import rtc

logger = logging.getLogger(__name__)

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {0x0002: "ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0055: "MP3", 0x0011: "IMA ADPCM"}

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]


class AudioFileError(ValueError):
    """A file that can't be used as audio; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class MonoAudio:
    """Mono 16-bit PCM samples at a known rate."""

    samples: Int16Array
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def to_float(self) -> Float32Array:
        """Samples scaled to [-1, 1), the form speech models take."""
        return (self.samples.astype(np.float32) / 32768.0).astype(np.float32)

    def frames(self, frame_ms: int = 20) -> list[rtc.AudioFrame]:
        """Split into LiveKit frames of ``frame_ms``; the last one is zero-padded to full length."""
        if frame_ms <= 0:
            raise ValueError(f"frame_ms must be positive, got {frame_ms}")
        per_frame = self.sample_rate * frame_ms // 1000
        if per_frame <= 0:
            raise ValueError(f"a {frame_ms} ms frame at {self.sample_rate} Hz has no samples")
        out: list[rtc.AudioFrame] = []
        for start in range(0, len(self.samples), per_frame):
            chunk = self.samples[start : start + per_frame]
            if len(chunk) < per_frame:
                chunk = np.concatenate([chunk, np.zeros(per_frame - len(chunk), np.int16)])
            out.append(
                rtc.AudioFrame(
                    data=chunk.tobytes(),
                    sample_rate=self.sample_rate,
                    num_channels=1,
                    samples_per_channel=per_frame,
                )
            )
        return out


def read_wav(path: str | Path, *, sample_rate: int | None = None) -> MonoAudio:
    """Read a WAV file as mono int16, resampled to ``sample_rate`` when given.

    Accepts 8/16/24/32-bit integer PCM and 32/64-bit float, any channel count (channels are averaged).
    Raises AudioFileError naming the file when it is not a WAV file, uses an unsupported encoding,
    or holds no audio; FileNotFoundError when it does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such audio file")
    if p.is_dir():
        raise AudioFileError(f"{p} is a directory, not a WAV file")
    return decode_wav(p.read_bytes(), name=p.name, sample_rate=sample_rate)


def decode_wav(data: bytes, *, name: str = "audio", sample_rate: int | None = None) -> MonoAudio:
    """Decode WAV bytes (see read_wav); ``name`` is used in error messages."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioFileError(f"{name} is not a WAV file (starts with {data[:12]!r})")
    fmt: bytes | None = None
    pcm: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            # streaming writers leave size 0 or 0xFFFFFFFF: take everything to the end
            pcm = data[pos + 8 :] if size in (0, 0xFFFFFFFF) else body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise AudioFileError(f"{name} is not a usable WAV file (no 'fmt ' chunk)")
    if pcm is None:
        raise AudioFileError(f"{name} is not a usable WAV file (no 'data' chunk)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _FORMAT_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack("<H", fmt[24:26])
    if channels < 1 or rate < 1 or bits < 1:
        raise AudioFileError(f"{name} has an invalid header ({channels} channels, {rate} Hz, {bits} bits)")
    width = bits // 8
    if block_align != channels * width:
        block_align = channels * width
    samples = _decode_samples(pcm, tag, width, name)
    usable = len(samples) - len(samples) % channels
    if usable == 0:
        raise AudioFileError(f"{name} has no audio (0 samples)")
    mono = samples[:usable].reshape(-1, channels).mean(axis=1, dtype=np.float64)
    audio = MonoAudio(samples=_to_int16(mono), sample_rate=rate)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, sample_rate)
    return audio


def _decode_samples(pcm: bytes, tag: int, width: int, name: str) -> npt.NDArray[np.float64]:
    """Interleaved samples as float64 in [-1, 1]."""
    pcm = pcm[: len(pcm) - len(pcm) % width] if width else pcm
    if tag == _FORMAT_PCM:
        if width == 1:
            return (np.frombuffer(pcm, np.uint8).astype(np.float64) - 128.0) / 128.0
        if width == 2:
            return np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
        if width == 3:
            raw = np.frombuffer(pcm, np.uint8).reshape(-1, 3).astype(np.int32)
            val = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
            val = np.where(val >= 1 << 23, val - (1 << 24), val)
            return val.astype(np.float64) / float(1 << 23)
        if width == 4:
            return np.frombuffer(pcm, "<i4").astype(np.float64) / float(1 << 31)
        raise AudioFileError(f"{name} uses {width * 8}-bit integer PCM, which is not supported")
    if tag == _FORMAT_FLOAT:
        if width == 4:
            return np.frombuffer(pcm, "<f4").astype(np.float64)
        if width == 8:
            return np.frombuffer(pcm, "<f8").astype(np.float64)
        raise AudioFileError(f"{name} uses {width * 8}-bit float samples, which is not supported")
    kind = _FORMAT_NAMES.get(tag, f"format tag 0x{tag:04x}")
    raise AudioFileError(f"{name} is a compressed WAV ({kind}); convert it to PCM, e.g. `sox {name} -b 16 out.wav`")


def _to_int16(samples: npt.NDArray[np.float64] | Float32Array) -> Int16Array:
    clean = np.nan_to_num(np.asarray(samples, np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.round(clean * 32768.0), -32768, 32767).astype(np.int16)


def float_to_int16(samples: Float32Array) -> Int16Array:
    """Float samples in [-1, 1] (what TTS models produce) as 16-bit PCM, clipped."""
    return _to_int16(samples)


def resample(audio: MonoAudio, sample_rate: int) -> MonoAudio:
    """Resample with LiveKit's resampler (soxr inside the rtc library; no extra dependency)."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if sample_rate == audio.sample_rate:
        return audio
    if len(audio.samples) == 0:
        return MonoAudio(samples=audio.samples, sample_rate=sample_rate)
    resampler = rtc.AudioResampler(
        input_rate=audio.sample_rate,
        output_rate=sample_rate,
        num_channels=1,
        quality=rtc.AudioResamplerQuality.HIGH,
    )
    frame = rtc.AudioFrame(
        data=audio.samples.tobytes(),
        sample_rate=audio.sample_rate,
        num_channels=1,
        samples_per_channel=len(audio.samples),
    )
    out = [*resampler.push(frame), *resampler.flush()]
    parts = [np.frombuffer(f.data, np.int16) for f in out]
    samples = np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)
    return MonoAudio(samples=samples, sample_rate=sample_rate)


def frames_to_mono(frames: Iterable[rtc.AudioFrame], *, sample_rate: int | None = None) -> MonoAudio:
    """Join LiveKit frames into one mono buffer (channels averaged), resampled to ``sample_rate``.

    Frames at different rates are each resampled to the first frame's rate (or ``sample_rate``).
    """
    parts: list[Int16Array] = []
    rate = sample_rate
    for frame in frames:
        data = np.frombuffer(frame.data, np.int16)
        if frame.num_channels > 1:
            data = _to_int16(data.reshape(-1, frame.num_channels).mean(axis=1) / 32768.0)
        rate = rate or frame.sample_rate
        chunk = MonoAudio(samples=data.copy(), sample_rate=frame.sample_rate)
        if frame.sample_rate != rate:
            chunk = resample(chunk, rate)
        parts.append(chunk.samples)
    if rate is None:
        raise AudioFileError("no audio frames to join")
    samples = np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)
    return MonoAudio(samples=samples, sample_rate=rate)


def write_wav(path: str | Path, audio: MonoAudio) -> Path:
    """Write mono 16-bit PCM; creates the parent folder. Returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(audio.samples.astype("<i2").tobytes())
    logger.debug("wrote wav", extra={"path": str(p), "seconds": round(audio.duration, 3)})
    return p
