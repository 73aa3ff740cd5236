"""WAV reading in every common layout, resampling, and the errors for files that are not usable audio."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from voxmcp.audio.wav import AudioFileError, MonoAudio, decode_wav, read_wav, resample, write_wav


def _riff(tag: int, channels: int, rate: int, bits: int, data: bytes, *, extensible: bool = False) -> bytes:
    block = channels * bits // 8
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + guid_tail
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 4) + b"INFO"  # an extra chunk readers must skip
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _sine(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def _encode(x: np.ndarray, bits: int, tag: int) -> bytes:
    if tag == 3:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.round(x * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    if bits == 16:
        return np.round(x * 32767).astype("<i2").tobytes()
    if bits == 24:
        v = np.round(x * (2**23 - 1)).astype("<i4")
        return b"".join(int(s).to_bytes(3, "little", signed=True) for s in v)
    return np.round(x * (2**31 - 1)).astype("<i4").tobytes()


def _dominant_freq(audio: MonoAudio) -> float:
    spec = np.abs(np.fft.rfft(audio.samples.astype(np.float64)))
    return float(np.argmax(spec) * audio.sample_rate / len(audio.samples))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_any_rate_resamples_to_16k(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "tone.wav"
    path.write_bytes(_riff(1, 1, rate, 16, _encode(_sine(rate), 16, 1)))
    audio = read_wav(path, sample_rate=16000)
    assert audio.sample_rate == 16000
    assert abs(audio.duration - 0.5) < 0.01
    assert abs(_dominant_freq(audio) - 440) < 5
    assert 0.4 < np.abs(audio.samples).max() / 32768 < 0.55


@pytest.mark.parametrize(
    ("bits", "tag", "extensible"),
    [
        (8, 1, False),
        (16, 1, False),
        (24, 1, False),
        (32, 1, False),
        (32, 3, False),
        (64, 3, False),
        (16, 1, True),
        (32, 3, True),
    ],
)
def test_sample_formats(bits: int, tag: int, extensible: bool) -> None:
    x = _sine(22050)
    audio = decode_wav(_riff(tag, 1, 22050, bits, _encode(x, bits, tag), extensible=extensible), name="t.wav")
    assert audio.sample_rate == 22050
    assert len(audio.samples) == len(x)
    expected = np.round(x * 32768)
    tolerance = 300 if bits == 8 else 2
    assert np.abs(audio.samples.astype(np.float64) - expected).max() <= tolerance


def test_stereo_is_mixed_to_mono() -> None:
    left = _sine(16000, freq=440.0)
    right = np.zeros_like(left)
    inter = np.stack([left, right], axis=1).reshape(-1)
    audio = decode_wav(_riff(1, 2, 16000, 16, _encode(inter, 16, 1)), name="s.wav")
    assert len(audio.samples) == len(left)
    assert abs(np.abs(audio.samples).max() / 32768 - 0.25) < 0.01


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    samples = (np.arange(-1000, 1000, dtype=np.int16) * 7).astype(np.int16)
    path = write_wav(tmp_path / "sub" / "out.wav", MonoAudio(samples=samples, sample_rate=24000))
    back = read_wav(path)
    assert back.sample_rate == 24000
    assert np.array_equal(back.samples, samples)


def test_not_a_wav_names_the_file_and_its_start(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    path.write_text("this is a text file, not audio")
    with pytest.raises(AudioFileError, match=r"question\.wav is not a WAV file \(starts with b'this is a te"):
        read_wav(path)


def test_empty_file_and_zero_length_audio(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.wav is not a WAV file"):
        read_wav(empty)
    silent = tmp_path / "nothing.wav"
    silent.write_bytes(_riff(1, 1, 16000, 16, b""))
    with pytest.raises(AudioFileError, match=r"nothing\.wav has no audio \(0 samples\)"):
        read_wav(silent)


def test_missing_file_and_compressed_wav(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such audio file"):
        read_wav(tmp_path / "absent.wav")
    with pytest.raises(AudioFileError, match=r"mu-law"):
        decode_wav(_riff(7, 1, 8000, 8, b"\x00" * 100), name="ulaw.wav")


def test_resample_keeps_duration() -> None:
    audio = MonoAudio(samples=np.zeros(48000, np.int16), sample_rate=48000)
    out = resample(audio, 16000)
    assert out.sample_rate == 16000 and len(out.samples) == 16000
