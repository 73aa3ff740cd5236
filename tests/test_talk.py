"""talk's building blocks without models: the first audible sample, the scripted microphone, played segments."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from livekit import rtc
from voxmcp.audio.file_io import PlayedSegment, RecordingAudioOutput
from voxmcp.audio.wav import MonoAudio
from voxmcp.evals.driver import ScriptedMicrophone, TurnResult
from voxmcp.talk import first_audible_at, first_audible_offset, segment_audio


def _tone(seconds: float, rate: int = 16000, *, lead_s: float = 0.0, amplitude: int = 8000) -> MonoAudio:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return MonoAudio(samples=np.concatenate([np.zeros(int(lead_s * rate), np.int16), tone]), sample_rate=rate)


def test_first_audible_offset_skips_leading_silence() -> None:
    assert first_audible_offset(_tone(0.5, lead_s=0.25)) == pytest.approx(0.25, abs=0.011)
    assert first_audible_offset(_tone(0.5)) == 0.0
    assert first_audible_offset(MonoAudio(samples=np.zeros(16000, np.int16), sample_rate=16000)) is None
    assert first_audible_offset(MonoAudio(samples=np.zeros(3, np.int16), sample_rate=16000)) is None


def _segment(audio: MonoAudio, start: float, frame_ms: int = 20, gap_after: int | None = None) -> PlayedSegment:
    frames = audio.frames(frame_ms)
    seg = PlayedSegment(index=0, first_frame_at=start, playout_started_at=start)
    t = start
    for i, f in enumerate(frames):
        seg.frames.append(f)
        seg._schedule.append((t, f.duration))
        t += f.duration + (1.0 if gap_after is not None and i == gap_after else 0.0)
        seg.captured_s += f.duration
    return seg


def test_first_audible_at_follows_the_speaker_schedule() -> None:
    seg = _segment(_tone(0.3, rate=24000, lead_s=0.1), start=100.0)
    assert first_audible_at(seg, 24000) == pytest.approx(100.1, abs=0.011)
    # a stall in playout before the audible part delays the audible sample too
    stalled = _segment(_tone(0.3, rate=24000, lead_s=0.1), start=100.0, gap_after=0)
    assert first_audible_at(stalled, 24000) == pytest.approx(101.1, abs=0.011)
    silent = _segment(MonoAudio(samples=np.zeros(2400, np.int16), sample_rate=24000), start=5.0)
    assert first_audible_at(silent, 24000) is None


def test_segment_audio_is_cut_where_playout_stopped() -> None:
    seg = _segment(_tone(1.0, rate=24000), start=0.0)
    seg.finished_at = 0.5
    seg.played_s = 0.5
    assert segment_audio(seg, 24000).duration == pytest.approx(0.5)
    assert segment_audio(PlayedSegment(index=1, first_frame_at=0, playout_started_at=0), 24000).duration == 0


async def test_scripted_microphone_plays_queued_speech_between_silence() -> None:
    mic = ScriptedMicrophone(sample_rate=16000, frame_ms=20)
    frames: list[rtc.AudioFrame] = [await mic.__anext__() for _ in range(3)]
    assert all(not np.any(np.frombuffer(f.data, np.int16)) for f in frames)
    speech = _tone(0.1)
    heard = mic.play(speech)
    assert mic.busy
    t0 = time.time()
    played = [await mic.__anext__() for _ in range(5)]
    assert heard.done() and t0 - 0.1 <= heard.result() <= time.time()
    assert all(np.any(np.frombuffer(f.data, np.int16)) for f in played)
    after = await mic.__anext__()
    assert not np.any(np.frombuffer(after.data, np.int16))
    assert not mic.busy
    mic.stop()
    with pytest.raises(StopAsyncIteration):
        await mic.__anext__()


async def test_scripted_microphone_is_paced_in_real_time() -> None:
    mic = ScriptedMicrophone(sample_rate=16000, frame_ms=20)
    t0 = time.monotonic()
    for _ in range(11):
        await mic.__anext__()
    assert time.monotonic() - t0 >= 0.19  # 10 frame periods of 20 ms after the first frame


async def test_scripted_microphone_ends_at_its_bound() -> None:
    mic = ScriptedMicrophone(sample_rate=16000, frame_ms=20, max_s=0.04)
    await mic.__anext__()
    await mic.__anext__()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(mic.__anext__(), timeout=1)


def test_turn_result_defaults() -> None:
    r = TurnResult()
    assert r.completed and not r.interrupted and r.agent_audio is None


async def test_output_after_interrupting_a_flushed_segment_plays_the_next_reply() -> None:
    out = RecordingAudioOutput(sample_rate=16000)
    speech = _tone(0.4).frames(20)
    for f in speech:
        await out.capture_frame(f)
    out.flush()  # all audio captured, still playing out on the simulated speaker
    out.clear_buffer()  # the user barges in
    await asyncio.wait_for(out.wait_for_playout(), timeout=1)
    for f in _tone(0.1).frames(20):
        await out.capture_frame(f)
    out.flush()
    ev = await asyncio.wait_for(out.wait_for_playout(), timeout=2)  # a barge-in used to leave this hanging
    assert not ev.interrupted
    assert len(out.segments) == 2 and out.segments[1].captured_s == pytest.approx(0.1)
