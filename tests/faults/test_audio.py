"""Bad audio given to `voxmcp talk`: a damaged or implausible WAV is refused at once (before any model loads)
with one sentence naming the file; noise with no speech in it ends in a time bounded by its duration.

Each case runs the real command in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from voxmcp.talk import NOTHING_HEARD

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

    from voxmcp.demo.runner import DemoServerProcess

VOXMCP = str(Path(sys.executable).parent / "voxmcp")
REFUSED_WITHIN_S = 30.0
"""A refused file never reaches the models; this only guards against a hang (the old 1 Hz file hung 120 s)."""


def _wav(tag: int, channels: int, rate: int, bits: int, data: bytes, *, data_size: int | None = None) -> bytes:
    block = max(channels * bits // 8, 1)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    size = len(data) if data_size is None else data_size
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _speechlike(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.4 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))


def _pcm16(x: np.ndarray) -> bytes:
    return np.round(x * 32767).astype("<i2").tobytes()


def _run(
    fault: FaultRecord, tmp_path: Path, wav: Path, *, timeout_s: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXMCP_", "LIVEKIT_"))}
    env["HF_HUB_OFFLINE"] = "1"
    env["COLUMNS"] = "60"  # a narrow terminal: the sentence must still be one line (long temp paths wrapped it)
    t0 = time.monotonic()
    done = subprocess.run(
        [VOXMCP, "talk", "--input", str(wav)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    wall = time.monotonic() - t0
    fault.saw_output(done.stderr + done.stdout)
    return done, wall


def _refused(fault: FaultRecord, tmp_path: Path, name: str, content: bytes) -> str:
    """Run talk on a file that must be refused: exit 2, no traceback, fast; returns the sentence."""
    wav = tmp_path / name
    wav.write_bytes(content)
    done, wall = _run(fault, tmp_path, wav, timeout_s=REFUSED_WITHIN_S * 2)
    sentence = " ".join(done.stderr.split())
    prefix = f"cannot use {wav}: "
    fault.outcome = sentence.removeprefix(prefix)  # the table shows what is said about the file
    assert done.returncode == 2, done.stderr
    assert fault.tracebacks == 0
    assert wall < REFUSED_WITHIN_S
    assert sentence.startswith(prefix), sentence
    return sentence.removeprefix(prefix)


ONE_SECOND = _pcm16(_speechlike(1.0))


@pytest.mark.parametrize(
    ("name", "content", "sentence"),
    [
        pytest.param(
            "one_hz.wav",
            _wav(1, 1, 1, 16, ONE_SECOND),
            "one_hz.wav has a damaged or unsupported header (1 Hz; a recording has 8000 to 192000 samples a "
            "second); export it again as 16-bit PCM WAV",
            id="1-hz",
        ),
        pytest.param(
            "twelve_bit.wav",
            _wav(1, 1, 16000, 12, ONE_SECOND),
            "twelve_bit.wav has a damaged or unsupported header (12-bit integer PCM; 8, 16, 24, 32-bit integer PCM "
            "is taken); export it again as 16-bit PCM WAV",
            id="12-bit",
        ),
        pytest.param(
            "nan_float.wav",
            _wav(3, 1, 16000, 32, np.full(16000, np.nan, "<f4").tobytes()),
            "nan_float.wav is damaged: its float samples are NaN or infinite; export it again",
            id="nan-float",
        ),
        pytest.param(
            "zero_channels.wav",
            _wav(1, 0, 16000, 16, ONE_SECOND),
            "zero_channels.wav has a damaged or unsupported header (0 channels; 1 to 32 are taken); "
            "export it again as 16-bit PCM WAV",
            id="0-channels",
        ),
        pytest.param(
            "truncated.wav",
            _wav(1, 1, 16000, 16, ONE_SECOND, data_size=len(ONE_SECOND) * 3),
            "truncated.wav is cut short: its header says 3.0 s of audio but the file holds 1.0 s; "
            "export or record it again",
            id="truncated-data",
        ),
        pytest.param(
            "huge.wav",
            _wav(1, 1, 16000, 16, ONE_SECOND, data_size=0x40000000),
            "huge.wav is cut short: its header says 9 hours of audio but the file holds 1.0 s; "
            "export or record it again",
            id="huge-claimed-length",
        ),
        pytest.param(
            "long.wav",
            _wav(1, 1, 8000, 16, b"\x00\x10" * 8000 * 301),
            "long.wav is 301 s long, and at most 300 s is taken: cut it, e.g. `sox long.wav short.wav trim 0 300`",
            id="longer-than-a-request",
        ),
        pytest.param("empty.wav", b"", "empty.wav is not a WAV file (starts with b'')", id="empty-file"),
    ],
)
def test_a_bad_wav_is_refused_at_once(
    fault: FaultRecord, tmp_path: Path, name: str, content: bytes, sentence: str
) -> None:
    assert _refused(fault, tmp_path, name, content) == sentence


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoServerProcess]:
    from voxmcp.demo.runner import DemoServerProcess

    with DemoServerProcess(db_path=tmp_path / "notes.sqlite3", audit_log=tmp_path / "audit.jsonl") as server:
        yield server


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_ten_seconds_of_noise_end_in_a_time_bounded_by_their_length(
    fault: FaultRecord, tmp_path: Path, demo: DemoServerProcess
) -> None:
    """Noise loads the models and goes through the VAD; with no speech heard the run ends a few seconds after the
    recording does (it waited out the whole 90 s answer timeout before: 100 s on 10 s of noise)."""
    (tmp_path / "voxmcp.toml").write_text(f'[mcp.servers.demo]\nurl = "{demo.url}"\n')
    noise = np.random.default_rng(7).normal(0.0, 0.15, 10 * 16000).clip(-1, 1)
    wav = tmp_path / "noise.wav"
    wav.write_bytes(_wav(1, 1, 16000, 16, _pcm16(noise)))
    done, wall = _run(fault, tmp_path, wav, timeout_s=200)
    errors = [line for line in done.stdout.splitlines() if line.startswith("error: ")]
    fault.outcome = errors[0] if errors else done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert errors == [f"error: {NOTHING_HEARD}"], done.stdout
    assert fault.tracebacks == 0
    # 10 s of audio + model load + the 6 s idle end; well under the 100 s it took before
    assert wall < 10 + 60, wall
    assert demo.calls() == []
