"""LiveKit audio I/O backed by files: a WAV played in as the user's microphone, the agent's voice recorded.

``WavAudioInput`` paces frames in real time (VAD and endpointing behave as with a live microphone) and
keeps sending silence after the file ends, so the end of speech is detected. ``RecordingAudioOutput``
accepts the agent's audio as fast as TTS makes it, simulates a speaker playing it out (playback events
at the times a real device would report them, interruptions cut at the played position) and records
when each segment's first audio arrived, for latency figures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from livekit.agents.voice import io

from livekit import rtc

from .wav import Int16Array, MonoAudio, frames_to_mono, read_wav, resample, write_wav

logger = logging.getLogger(__name__)


class WavAudioInput(io.AudioInput):
    """Plays a WAV file as microphone input: real-time paced frames, then silence until ``stop()``.

    ``finished`` is set once every frame of the file has been sent; ``speech_ended_at`` is then the
    wall-clock time (time.time()) the last file frame was due, i.e. when the user stopped talking.

    ``holds`` make the file a conversation: at each (hold_at_s, resume_from_s) the input sends silence
    instead of the file, as a user waits for an answer, until ``may_resume()`` says the other side is
    done (or ``max_hold_s`` passed), then goes on from ``resume_from_s``.
    """

    def __init__(
        self,
        audio: MonoAudio | str | Path,
        *,
        sample_rate: int = 16000,
        frame_ms: int = 20,
        speed: float = 1.0,
        leading_silence_s: float = 0.0,
        max_tail_s: float = 30.0,
        holds: Sequence[tuple[float, float]] = (),
        may_resume: Callable[[], bool] | None = None,
        max_hold_s: float = 60.0,
        label: str = "WavAudioInput",
    ) -> None:
        """speed: pacing factor (2.0 sends twice as fast as real time; 0 sends without waiting).
        max_tail_s: silence sent after the file before the input ends by itself (bounds every run).
        holds: (hold_at_s, resume_from_s) offsets into ``audio`` (before the leading silence), in order."""
        super().__init__(label=label)
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        if frame_ms not in (10, 20, 30, 40, 50, 60, 80, 100):
            raise ValueError(f"frame_ms must be a multiple of 10 up to 100, got {frame_ms}")
        mono = read_wav(audio, sample_rate=sample_rate) if isinstance(audio, str | Path) else audio
        if mono.sample_rate != sample_rate:
            mono = resample(mono, sample_rate)
        lead = np.zeros(int(sample_rate * leading_silence_s), np.int16)
        self._audio = MonoAudio(samples=np.concatenate([lead, mono.samples]), sample_rate=sample_rate)
        self._frames = self._audio.frames(frame_ms)
        self._frame_s = frame_ms / 1000
        self._silence = rtc.AudioFrame.create(sample_rate, 1, sample_rate * frame_ms // 1000)
        self._speed = speed
        self._max_tail_frames = int(max_tail_s / self._frame_s)
        self._holds: list[tuple[int, int]] = []
        for hold_at, resume_from in holds:
            if resume_from < hold_at:
                raise ValueError(f"a hold resumes before it starts: {hold_at} s -> {resume_from} s")
            at, back = (round((t + leading_silence_s) / self._frame_s) for t in (hold_at, resume_from))
            if self._holds and at < self._holds[-1][1]:
                raise ValueError("holds must be in order and must not overlap")
            self._holds.append((at, back))
        self._may_resume = may_resume or (lambda: True)
        self._max_hold_s = max_hold_s
        self._hold_deadline: float | None = None
        self._sent = 0  # frames returned: the pacing clock
        self._index = 0  # the next file frame
        self._tail = 0  # silence frames after the file
        self._started_at: float | None = None
        self._stopped = asyncio.Event()
        self.finished = asyncio.Event()
        self.started_at: float | None = None
        self.speech_ended_at: float | None = None
        self.hold_started_at: float | None = None
        """time.time() when the current hold began; None while the file is playing."""
        self.resumed_at: list[tuple[float, float]] = []
        """(file offset in seconds, time.time()) where playback (re)started: maps file offsets to wall time."""

    @property
    def duration(self) -> float:
        """Seconds of file audio (including any leading silence)."""
        return len(self._frames) * self._frame_s

    @property
    def frames_sent(self) -> int:
        return self._sent

    @property
    def holding(self) -> bool:
        return self.hold_started_at is not None

    def wall_time_at(self, offset_s: float) -> float | None:
        """time.time() when the file's ``offset_s`` (leading silence included) was played; None if not yet."""
        before = [(off, at) for off, at in self.resumed_at if off <= offset_s + 1e-9]
        if not before or offset_s > self._index * self._frame_s + 1e-9:
            return None
        off, at = before[-1]
        return at + (offset_s - off) / (self._speed or float("inf"))

    def stop(self) -> None:
        """End the input: the next read raises StopAsyncIteration."""
        self._stopped.set()

    async def __anext__(self) -> rtc.AudioFrame:
        if self._stopped.is_set():
            raise StopAsyncIteration
        now = time.monotonic()
        if self._started_at is None:
            self._started_at = now
            self.started_at = time.time()
            self.resumed_at.append((0.0, self.started_at))
        if self._speed > 0:
            due = self._started_at + self._sent * self._frame_s / self._speed
            if due > now:
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=due - now)
                except TimeoutError:
                    pass
                if self._stopped.is_set():
                    raise StopAsyncIteration
        self._sent += 1
        if self._holds and self._index >= self._holds[0][0] and self._held():
            return self._silence
        i = self._index
        if i < len(self._frames):
            self._index += 1
            if i == len(self._frames) - 1:
                self.speech_ended_at = time.time() + self._frame_s / (self._speed or 1.0)
                self.finished.set()
            return self._frames[i]
        if not self._frames and not self.finished.is_set():
            self.speech_ended_at = time.time()
            self.finished.set()
        self._tail += 1
        if self._tail > self._max_tail_frames:
            logger.info("wav input: silence tail reached its limit", extra={"frames": self._sent})
            raise StopAsyncIteration
        return self._silence

    def _held(self) -> bool:
        """At a hold point: True while still holding; on resuming, jump to where the file goes on."""
        if self.hold_started_at is None:
            self.hold_started_at = time.time()
            self._hold_deadline = time.monotonic() + self._max_hold_s
            logger.debug("wav input: holding for the answer", extra={"at_s": round(self._index * self._frame_s, 2)})
            return True
        timed_out = self._hold_deadline is not None and time.monotonic() >= self._hold_deadline
        if not (self._may_resume() or timed_out):
            return True
        _, back = self._holds.pop(0)
        self._index = max(self._index, back)
        self.hold_started_at = None
        self.resumed_at.append((self._index * self._frame_s, time.time()))
        logger.debug(
            "wav input: resuming", extra={"from_s": round(self._index * self._frame_s, 2), "timed_out": timed_out}
        )
        return False


@dataclass
class PlayedSegment:
    """One agent speech segment as the simulated speaker played it."""

    index: int
    first_frame_at: float
    """time.time() when the segment's first frame reached the output (latency metrics start here)"""
    playout_started_at: float
    """time.time() when the simulated speaker began playing it"""
    captured_s: float = 0.0
    played_s: float = 0.0
    interrupted: bool = False
    finished_at: float | None = None
    frames: list[rtc.AudioFrame] = field(default_factory=list)
    # (start time, duration) of each frame on the simulated speaker's clock
    _schedule: list[tuple[float, float]] = field(default_factory=list, repr=False)

    def played_at(self, t: float) -> float:
        """Seconds of this segment played by wall-clock time ``t``."""
        return sum(min(max(t - start, 0.0), dur) for start, dur in self._schedule)


class RecordingAudioOutput(io.AudioOutput):
    """An agent audio sink that records instead of playing, with real playout timing simulated.

    Frames are accepted faster than real time. Each frame is scheduled on a virtual speaker at
    max(arrival, end of the previous frame); ``playback_started`` fires when the first frame of a segment
    starts playing and ``playback_finished`` when its last one ends. ``clear_buffer()`` stops playout at
    once and reports the position played so far as interrupted; the recording keeps only what played.
    """

    def __init__(self, *, sample_rate: int = 24000, label: str = "RecordingAudioOutput") -> None:
        super().__init__(
            label=label,
            next_in_chain=None,
            sample_rate=sample_rate,
            capabilities=io.AudioOutputCapabilities(pause=False),
        )
        self.segments: list[PlayedSegment] = []
        self._current: PlayedSegment | None = None  # being captured (not flushed yet)
        self._started: dict[int, asyncio.TimerHandle] = {}  # segment index -> pending playback_started
        self._finishing: dict[int, tuple[PlayedSegment, asyncio.TimerHandle]] = {}  # flushed, still playing
        self._speaker_free_at = 0.0
        self._dropping = False
        self.opened_at = time.time()

    @property
    def playing(self) -> bool:
        """A segment has been captured and has not yet reported playback_finished."""
        return self._current is not None or bool(self._finishing)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._dropping:
            return  # after clear_buffer() and before flush(): discarded like a real sink's queue
        now = time.time()
        seg = self._current
        if seg is None:
            # every flush ends a segment (LiveKit counts one per capture after a flush, and waits for each)
            start = max(now, self._speaker_free_at)
            seg = PlayedSegment(index=len(self.segments), first_frame_at=now, playout_started_at=start)
            self.segments.append(seg)
            self._current = seg
            if start <= now:
                self.on_playback_started(created_at=start)
            else:
                self._started[seg.index] = asyncio.get_running_loop().call_later(start - now, self._emit_started, seg)
        start = max(now, self._speaker_free_at)
        seg._schedule.append((start, frame.duration))
        seg.frames.append(frame)
        seg.captured_s += frame.duration
        self._speaker_free_at = start + frame.duration

    def _emit_started(self, seg: PlayedSegment) -> None:
        self._started.pop(seg.index, None)
        self.on_playback_started(created_at=seg.playout_started_at)

    def flush(self) -> None:
        super().flush()
        self._dropping = False
        seg = self._current
        if seg is None:
            return
        self._current = None
        delay = max(self._speaker_free_at - time.time(), 0.0)
        handle = asyncio.get_running_loop().call_later(delay, self._finish, seg, False)
        self._finishing[seg.index] = (seg, handle)

    def clear_buffer(self) -> None:
        """Stop playout now: every segment still playing (flushed or not) finishes as interrupted."""
        now = time.time()
        for seg, handle in sorted(self._finishing.values(), key=lambda item: item[0].index):
            handle.cancel()
            self._finish(seg, True, at=now)
        if self._current is not None:
            seg, self._current = self._current, None
            self._dropping = True  # frames of this segment still in flight are dropped until its flush
            self._finish(seg, True, at=now)
        self._speaker_free_at = now

    def _finish(self, seg: PlayedSegment, interrupted: bool, at: float | None = None) -> None:
        self._finishing.pop(seg.index, None)
        t = time.time() if at is None else at
        started = self._started.pop(seg.index, None)
        if started is not None:
            # the speaker never reached this segment's first frame
            started.cancel()
            if seg.played_at(t) > 0:
                self.on_playback_started(created_at=seg.playout_started_at)
        seg.played_s = seg.captured_s if not interrupted else min(seg.played_at(t), seg.captured_s)
        seg.interrupted = interrupted
        seg.finished_at = t
        logger.debug(
            "segment played",
            extra={"segment": seg.index, "played_s": round(seg.played_s, 3), "interrupted": interrupted},
        )
        self.on_playback_finished(playback_position=seg.played_s, interrupted=interrupted)

    async def aclose(self) -> None:
        """Cancel pending timers (a segment still playing is reported as finished now)."""
        if self.playing:
            self.clear_buffer()

    def played_audio(self, *, with_gaps: bool = False) -> MonoAudio:
        """Everything the speaker played, at the output rate; interrupted segments cut where they stopped.

        with_gaps: put segments on the wall-clock timeline (silence between them, from ``opened_at``).
        """
        rate = self.sample_rate or 24000
        parts: list[Int16Array] = []
        cursor = self.opened_at
        for seg in self.segments:
            if not seg.frames:
                continue
            audio = frames_to_mono(seg.frames, sample_rate=rate)
            played = audio.samples
            if seg.finished_at is not None:
                played = audio.samples[: round(seg.played_s * rate)]
            if with_gaps:
                gap = max(seg.playout_started_at - cursor, 0.0)
                parts.append(np.zeros(int(gap * rate), np.int16))
                cursor = seg.playout_started_at + len(played) / rate
            parts.append(played)
        samples = np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)
        return MonoAudio(samples=samples, sample_rate=rate)

    def write_wav(self, path: str | Path, *, with_gaps: bool = False) -> Path:
        """Write the played agent audio (see played_audio) as a mono 16-bit WAV."""
        return write_wav(path, self.played_audio(with_gaps=with_gaps))
