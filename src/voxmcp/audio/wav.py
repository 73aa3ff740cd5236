"""WAV files in and out: any rate, channel count and sample format in; mono 16-bit PCM out.

The standard library's ``wave`` module (Python 3.11) reads neither float nor WAVE_FORMAT_EXTENSIBLE
files, which are common from audio editors, so the RIFF chunks are parsed here.
"""

from __future__ import annotations

import io
import logging
import struct
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from livekit import rtc

logger = logging.getLogger(__name__)

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {0x0002: "ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0055: "MP3", 0x0011: "IMA ADPCM"}
_PCM_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
MAX_CHANNELS = 32
_STREAMING_SIZE = 0x7FFF0000
"""Data sizes from here up (and 0) are placeholders of writers that stream to a pipe: read to the end."""
_MAX_FLOAT_PEAK = 16.0
"""Float audio is within [-1, 1]; a little over is clipping, far over (24 dB) is not audio."""
_MAX_CHUNKS = 10000
"""Chunks walked before the data chunk; a file of empty chunks can't make the walk unbounded."""

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


def read_wav(path: str | Path, *, sample_rate: int | None = None, max_seconds: float | None = None) -> MonoAudio:
    """Read a WAV file as mono int16, resampled to ``sample_rate`` when given.

    Accepts 8/16/24/32-bit integer PCM and 32/64-bit float, any channel count up to 32 (averaged), at 8 to
    192 kHz. Raises AudioFileError naming the file when it is not a WAV file, uses an unsupported encoding,
    has an implausible header (see ``decode_wav``), holds no audio, or holds more than ``max_seconds``; the
    header is checked before the samples are read, so a huge or damaged file is rejected at once.
    FileNotFoundError when it does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such audio file")
    if p.is_dir():
        raise AudioFileError(f"{p} is a directory, not a WAV file")
    with p.open("rb") as f:
        header = parse_header(f, p.stat().st_size, name=p.name)
        if max_seconds is not None and header.duration > max_seconds:
            raise AudioFileError(
                f"{p.name} is {header.duration:.0f} s long, and at most {max_seconds:.0f} s is taken: "
                f"cut it, e.g. `sox {p.name} short.wav trim 0 {max_seconds:.0f}`"
            )
        f.seek(header.data_offset)
        pcm = f.read(header.data_bytes)
    return _decode(header, pcm, p.name, sample_rate)


def decode_wav(data: bytes, *, name: str = "audio", sample_rate: int | None = None) -> MonoAudio:
    """Decode WAV bytes (see read_wav); ``name`` is used in error messages."""
    header = parse_header(io.BytesIO(data), len(data), name=name)
    return _decode(header, data[header.data_offset : header.data_offset + header.data_bytes], name, sample_rate)


@dataclass(frozen=True)
class WavHeader:
    """What a WAV file's chunks say, checked for plausibility (see ``parse_header``)."""

    tag: int
    channels: int
    sample_rate: int
    bits: int
    data_offset: int
    data_bytes: int
    """Bytes of sample data present (a streaming writer's placeholder size resolved to the end of the file)."""

    @property
    def width(self) -> int:
        return self.bits // 8

    @property
    def duration(self) -> float:
        """Seconds of audio the data holds."""
        return self.data_bytes / (self.channels * self.width * self.sample_rate)


def parse_header(f: BinaryIO, size: int, *, name: str) -> WavHeader:
    """Walk the RIFF chunks of a file of ``size`` bytes up to the data chunk (the samples are not read).

    Rules, so that a damaged header fails here at once instead of making minutes of noise: sample rate 8 to
    192 kHz; 1 to 32 channels; integer PCM of 8, 16, 24 or 32 bits or float of 32 or 64 bits; a data chunk
    that holds what its size says (0 and sizes from 0x7FFF0000 up are streaming writers' "until the end of
    the file", as espeak-ng and ffmpeg write to a pipe).
    """
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise AudioFileError(f"{name} is not a WAV file (starts with {head!r})")
    fmt: bytes | None = None
    pos = 12
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > size:
            break
        f.seek(pos)
        chunk = f.read(8)
        chunk_id = chunk[:4]
        (chunk_size,) = struct.unpack("<I", chunk[4:8])
        if chunk_id == b"fmt ":
            fmt = f.read(min(chunk_size, 64))
        elif chunk_id == b"data":
            if fmt is None or len(fmt) < 16:
                break
            return _check(fmt, pos + 8, chunk_size, size - pos - 8, name)
        pos += 8 + chunk_size + (chunk_size & 1)
    if fmt is None or len(fmt) < 16:
        raise AudioFileError(f"{name} is not a usable WAV file (no 'fmt ' chunk)")
    raise AudioFileError(f"{name} is not a usable WAV file (no 'data' chunk)")


def _damaged(name: str, what: str) -> AudioFileError:
    return AudioFileError(f"{name} has a damaged or unsupported header ({what}); export it again as 16-bit PCM WAV")


def _check(fmt: bytes, data_offset: int, claimed: int, available: int, name: str) -> WavHeader:
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _FORMAT_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack("<H", fmt[24:26])
    if tag not in (_FORMAT_PCM, _FORMAT_FLOAT):
        kind = _FORMAT_NAMES.get(tag, f"format tag 0x{tag:04x}")
        raise AudioFileError(f"{name} is a compressed WAV ({kind}); convert it to PCM, e.g. `sox {name} -b 16 out.wav`")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise _damaged(name, f"{rate} Hz; a recording has {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} samples a second")
    if not 1 <= channels <= MAX_CHANNELS:
        raise _damaged(name, f"{channels} channels; 1 to {MAX_CHANNELS} are taken")
    allowed = _PCM_BITS if tag == _FORMAT_PCM else _FLOAT_BITS
    if bits not in allowed:
        kind = "integer PCM" if tag == _FORMAT_PCM else "float"
        taken = ", ".join(str(b) for b in allowed)
        raise _damaged(name, f"{bits}-bit {kind}; {taken}-bit {kind} is taken")
    block = channels * bits // 8
    if claimed == 0 or claimed >= _STREAMING_SIZE:
        data_bytes = available
    elif claimed > available + block:
        have, said = available / (block * rate), claimed / (block * rate)
        raise AudioFileError(
            f"{name} is cut short: its header says {_seconds(said)} of audio but the file holds {_seconds(have)}; "
            "export or record it again"
        )
    else:
        data_bytes = min(claimed, available)
    return WavHeader(tag, channels, rate, bits, data_offset, data_bytes - data_bytes % block)


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.0f} minutes" if s < 7200 else f"{s / 3600:.0f} hours"


def _decode(header: WavHeader, pcm: bytes, name: str, sample_rate: int | None) -> MonoAudio:
    samples = _decode_samples(pcm, header.tag, header.width, name)
    channels = header.channels
    usable = len(samples) - len(samples) % channels
    if usable == 0:
        raise AudioFileError(f"{name} has no audio (0 samples)")
    if header.tag == _FORMAT_FLOAT:
        peak = float(np.max(np.abs(samples[:usable])))  # NaN or inf propagate into the peak
        if not np.isfinite(peak) or peak > _MAX_FLOAT_PEAK:
            what = "NaN or infinite" if not np.isfinite(peak) else f"up to {peak:.3g}, where audio is within 1"
            raise AudioFileError(f"{name} is damaged: its float samples are {what}; export it again")
    mono = samples[:usable].reshape(-1, channels).mean(axis=1, dtype=np.float64)
    audio = MonoAudio(samples=_to_int16(mono), sample_rate=header.sample_rate)
    if sample_rate is not None and sample_rate != header.sample_rate:
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
