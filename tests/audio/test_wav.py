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


# ---- implausible headers are rejected at once, naming the file ---------------------------------------------------


def _with_data_size(wav: bytes, size: int) -> bytes:
    at = wav.index(b"data") + 4
    return wav[:at] + struct.pack("<I", size) + wav[at + 4 :]


@pytest.mark.parametrize(
    ("channels", "rate", "bits", "tag", "message"),
    [
        (1, 1, 16, 1, r"q\.wav has a damaged or unsupported header \(1 Hz; a recording has 8000 to 192000 samples"),
        (1, 4000, 16, 1, r"\(4000 Hz;"),
        (1, 384000, 16, 1, r"\(384000 Hz;"),
        (1, 16000, 12, 1, r"\(12-bit integer PCM; 8, 16, 24, 32-bit integer PCM is taken\)"),
        (1, 16000, 16, 3, r"\(16-bit float; 32, 64-bit float is taken\)"),
        (0, 16000, 16, 1, r"\(0 channels; 1 to 32 are taken\)"),
        (200, 16000, 16, 1, r"\(200 channels;"),
    ],
)
def test_implausible_header_is_rejected(channels: int, rate: int, bits: int, tag: int, message: str) -> None:
    data = b"\x01\x02" * 3200
    with pytest.raises(AudioFileError, match=message) as err:
        decode_wav(_riff(tag, channels, rate, bits, data), name="q.wav")
    assert str(err.value).endswith("; export it again as 16-bit PCM WAV")


def test_truncated_data_and_huge_claimed_length_are_cut_short() -> None:
    full = _riff(1, 1, 16000, 16, _encode(_sine(16000, seconds=2.0), 16, 1))
    cut = full[: len(full) // 2]
    with pytest.raises(
        AudioFileError, match=r"^t\.wav is cut short: its header says 2\.0 s of audio but the file holds 1\.0 s"
    ):
        decode_wav(cut, name="t.wav")
    huge = _with_data_size(_riff(1, 1, 16000, 16, _encode(_sine(16000), 16, 1)), 0x40000000)
    with pytest.raises(
        AudioFileError, match=r"header says 9 hours of audio but the file holds 0\.5 s; export or record"
    ):
        decode_wav(huge, name="h.wav")


@pytest.mark.parametrize("size", [0, 0x7FFFF000, 0xFFFFFFFF])
def test_streaming_writers_placeholder_size_reads_to_the_end(size: int) -> None:
    """espeak-ng --stdout writes 0x7FFFF000, other writers to a pipe 0 or 0xFFFFFFFF: the data runs to the end."""
    wav = _with_data_size(_riff(1, 1, 16000, 16, _encode(_sine(16000), 16, 1)), size)
    assert decode_wav(wav, name="s.wav").duration == pytest.approx(0.5)


def test_a_missing_pad_byte_is_not_truncation() -> None:
    wav = _riff(1, 1, 16000, 16, _encode(_sine(16000), 16, 1))
    assert decode_wav(wav[:-1], name="p.wav").duration == pytest.approx(0.5, abs=0.001)


@pytest.mark.parametrize(
    ("value", "what"), [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (1e30, "up to 1e\\+30")]
)
def test_float_samples_that_are_not_audio_are_rejected(value: float, what: str) -> None:
    x = _sine(16000).astype(np.float32)
    x[100] = value
    with pytest.raises(AudioFileError, match=rf"^f\.wav is damaged: its float samples are {what}"):
        decode_wav(_riff(3, 1, 16000, 32, _encode(x, 32, 3)), name="f.wav")
    x[100] = 1.5  # a little over full scale is clipping, not damage
    assert decode_wav(_riff(3, 1, 16000, 32, _encode(x, 32, 3)), name="f.wav").samples.max() == 32767


def test_max_seconds_is_checked_before_the_samples_are_read(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    path.write_bytes(_riff(1, 1, 8000, 16, b"\x00\x01" * 8000 * 12))
    assert read_wav(path, max_seconds=20).duration == pytest.approx(12.0)
    with pytest.raises(AudioFileError, match=r"^long\.wav is 12 s long, and at most 10 s is taken: cut it"):
        read_wav(path, max_seconds=10)


def test_a_file_of_empty_chunks_ends_the_walk(tmp_path: Path) -> None:
    chunks = (b"junk" + struct.pack("<I", 0)) * 20000
    wav = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
    with pytest.raises(AudioFileError, match=r"no 'fmt ' chunk"):
        decode_wav(wav, name="j.wav")
