"""WavAudioInput pacing and silence tail; RecordingAudioOutput's simulated playout and interruption."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from livekit.agents.voice.io import PlaybackFinishedEvent, PlaybackStartedEvent

from livekit import rtc
from voxmcp.audio.file_io import RecordingAudioOutput, WavAudioInput
from voxmcp.audio.wav import MonoAudio, read_wav


def _tone(seconds: float, rate: int = 16000) -> MonoAudio:
    t = np.arange(int(rate * seconds)) / rate
    return MonoAudio(samples=(8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16), sample_rate=rate)


def _frames(seconds: float, rate: int = 24000, frame_ms: int = 20) -> list[rtc.AudioFrame]:
    return MonoAudio(samples=np.full(int(rate * seconds), 1000, np.int16), sample_rate=rate).frames(frame_ms)


async def test_input_paces_in_real_time_then_sends_silence() -> None:
    source = WavAudioInput(_tone(0.3), sample_rate=16000, frame_ms=20)
    t0 = time.monotonic()
    frames: list[rtc.AudioFrame] = []
    while not source.finished.is_set():
        frames.append(await asyncio.wait_for(source.__anext__(), 1.0))
    elapsed = time.monotonic() - t0
    assert len(frames) == 15
    assert all(f.samples_per_channel == 320 and f.sample_rate == 16000 for f in frames)
    assert 0.25 <= elapsed < 1.0  # 14 frame intervals of 20 ms after the first
    assert source.speech_ended_at is not None
    tail = [await asyncio.wait_for(source.__anext__(), 1.0) for _ in range(5)]
    assert all(not np.frombuffer(f.data, np.int16).any() for f in tail)
    source.stop()
    try:
        await source.__anext__()
    except StopAsyncIteration:
        pass
    else:
        raise AssertionError("input kept going after stop()")


async def test_input_speed_factor_and_resampling(tmp_path: Path) -> None:
    from voxmcp.audio.wav import write_wav

    path = write_wav(tmp_path / "q.wav", _tone(1.0, rate=48000))
    source = WavAudioInput(path, sample_rate=16000, frame_ms=10, speed=10.0)
    t0 = time.monotonic()
    count = 0
    async for _frame in source:
        count += 1
        if source.finished.is_set():
            break
    assert count == 100
    assert time.monotonic() - t0 < 0.5  # one second of audio at 10x


async def test_input_tail_is_bounded() -> None:
    source = WavAudioInput(_tone(0.02), sample_rate=16000, frame_ms=20, speed=0, max_tail_s=0.1)
    frames = [f async for f in source]
    assert len(frames) == 1 + 5


async def test_output_simulates_playout_and_records_first_audio(tmp_path: Path) -> None:
    out = RecordingAudioOutput(sample_rate=24000)
    started: list[PlaybackStartedEvent] = []
    finished: list[PlaybackFinishedEvent] = []
    out.on("playback_started", started.append)
    out.on("playback_finished", finished.append)
    t0 = time.time()
    for frame in _frames(0.3):
        await out.capture_frame(frame)
    out.flush()
    assert len(started) == 1 and not finished  # accepted faster than real time, still "playing"
    ev = await asyncio.wait_for(out.wait_for_playout(), 2.0)
    elapsed = time.time() - t0
    assert 0.28 <= elapsed < 1.0
    assert not ev.interrupted and abs(ev.playback_position - 0.3) < 1e-6
    seg = out.segments[0]
    assert seg.first_frame_at - t0 < 0.05 and seg.played_s == seg.captured_s
    wav = read_wav(out.write_wav(tmp_path / "agent.wav"))
    assert wav.sample_rate == 24000 and abs(wav.duration - 0.3) < 0.01


async def test_output_clear_buffer_reports_played_position() -> None:
    out = RecordingAudioOutput(sample_rate=24000)
    finished: list[PlaybackFinishedEvent] = []
    out.on("playback_finished", finished.append)
    for frame in _frames(1.0):
        await out.capture_frame(frame)
    out.flush()
    await asyncio.sleep(0.2)
    out.clear_buffer()
    assert len(finished) == 1
    ev = finished[0]
    assert ev.interrupted and 0.15 <= ev.playback_position <= 0.7
    ev2 = await asyncio.wait_for(out.wait_for_playout(), 0.5)
    assert ev2 is ev
    await asyncio.sleep(1.0)
    assert len(finished) == 1  # the cancelled timer never fires a second event
    assert abs(out.played_audio().duration - ev.playback_position) < 0.01


async def test_output_segments_queue_behind_each_other_and_gaps_are_optional() -> None:
    out = RecordingAudioOutput(sample_rate=24000)
    for frame in _frames(0.2):
        await out.capture_frame(frame)
    out.flush()
    await asyncio.wait_for(out.wait_for_playout(), 1.0)
    await asyncio.sleep(0.1)
    for frame in _frames(0.2):
        await out.capture_frame(frame)
    out.flush()
    ev = await asyncio.wait_for(out.wait_for_playout(), 1.0)
    assert not ev.interrupted and len(out.segments) == 2
    assert out.segments[1].playout_started_at - out.segments[0].playout_started_at >= 0.29
    assert abs(out.played_audio().duration - 0.4) < 0.01
    assert out.played_audio(with_gaps=True).duration >= 0.49


async def test_output_interrupt_before_flush_discards_the_rest() -> None:
    out = RecordingAudioOutput(sample_rate=24000)
    frames = _frames(0.4)
    for frame in frames[:10]:
        await out.capture_frame(frame)
    out.clear_buffer()
    for frame in frames[10:]:
        await out.capture_frame(frame)
    out.flush()
    ev = await asyncio.wait_for(out.wait_for_playout(), 0.5)
    assert ev.interrupted and ev.playback_position < 0.1
    assert out.segments[0].captured_s <= 0.2 + 1e-9


async def test_each_flush_is_its_own_segment_and_interruption_finishes_all() -> None:
    """LiveKit flushes early when audio generation is slow and keeps capturing: two segments, two finishes."""
    import numpy as np

    from livekit import rtc
    from voxmcp.audio.file_io import RecordingAudioOutput

    out = RecordingAudioOutput(sample_rate=24000)
    finished: list[bool] = []
    out.on("playback_finished", lambda ev: finished.append(ev.interrupted))
    frame = rtc.AudioFrame(np.zeros(4800, np.int16).tobytes(), 24000, 1, 4800)  # 0.2 s
    await out.capture_frame(frame)
    out.flush()
    await out.capture_frame(frame)
    out.clear_buffer()
    out.flush()
    assert finished == [True, True]
    assert out.captured_playout_segments == 2
    await asyncio.wait_for(out.wait_for_playout(), 1.0)


def _speech_pause_speech(rate: int = 16000) -> MonoAudio:
    """0.2 s tone, 1.0 s silence, 0.2 s tone."""
    tone = _tone(0.2, rate).samples
    return MonoAudio(samples=np.concatenate([tone, np.zeros(rate, np.int16), tone]), sample_rate=rate)


def _loud(frame: rtc.AudioFrame) -> bool:
    return bool(np.frombuffer(frame.data, np.int16).any())


async def test_input_holds_at_a_pause_until_it_may_resume() -> None:
    ready = {"now": False}
    source = WavAudioInput(
        _speech_pause_speech(), frame_ms=20, speed=0, holds=[(0.2, 1.0)], may_resume=lambda: ready["now"]
    )
    first = [await source.__anext__() for _ in range(10)]
    assert all(_loud(f) for f in first)
    held = [await source.__anext__() for _ in range(200)]  # as long as it is held: silence, file not advancing
    assert not any(_loud(f) for f in held) and source.holding and not source.finished.is_set()
    assert source.wall_time_at(0.5) is None  # not played yet
    ready["now"] = True
    rest = [await source.__anext__() for _ in range(20)]
    assert not source.holding
    # it went on 0.2 s before the second tone (the rest of the pause is skipped), then the tone
    assert [_loud(f) for f in rest] == [False] * 10 + [True] * 10
    assert source.finished.is_set()
    assert source.resumed_at[-1][0] == pytest.approx(1.0)
    assert source.wall_time_at(1.0) == pytest.approx(source.resumed_at[-1][1])
    assert source.frames_sent == 230


async def test_a_hold_ends_by_itself_after_max_hold_s() -> None:
    source = WavAudioInput(
        _speech_pause_speech(), frame_ms=20, speed=1.0, holds=[(0.2, 1.0)], may_resume=lambda: False, max_hold_s=0.2
    )
    t0 = time.monotonic()
    while not source.finished.is_set():
        await asyncio.wait_for(source.__anext__(), 1.0)
    assert 0.6 < time.monotonic() - t0 < 2.0  # 0.2 s tone + 0.2 s hold + 0.4 s rest, paced
    assert len(source.resumed_at) == 2


def test_holds_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="resumes before it starts"):
        WavAudioInput(_speech_pause_speech(), holds=[(1.0, 0.5)])
    with pytest.raises(ValueError, match="in order"):
        WavAudioInput(_speech_pause_speech(), holds=[(0.2, 1.0), (0.5, 1.1)])
