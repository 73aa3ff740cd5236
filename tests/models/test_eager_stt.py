"""The eager STT adapter decodes during the end-of-turn silence and keeps that result only if the silence lasts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
import pytest
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.vad import VADEvent, VADEventType

from livekit import rtc
from voxmcp.models.eager_stt import EagerSTTAdapter

RATE = 16000
WINDOW = 512  # samples per VAD window (32 ms)


def _frame(value: int) -> rtc.AudioFrame:
    data = np.full(WINDOW, value, np.int16)
    return rtc.AudioFrame(data=data.tobytes(), sample_rate=RATE, num_channels=1, samples_per_channel=WINDOW)


class CountingSTT(stt.STT[Literal["metrics_collected", "error"]]):
    """Transcribes a buffer as the distinct sample values in it (frame i holds the value i), after a delay."""

    def __init__(self, delay_s: float = 0.05) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self.delay_s = delay_s
        self.calls: list[list[int]] = []

    async def _recognize_impl(
        self, buffer: utils.AudioBuffer, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        frame = utils.merge_frames(buffer if isinstance(buffer, list) else [buffer])
        values = sorted({int(v) for v in np.frombuffer(frame.data, np.int16)})
        self.calls.append(values)
        await asyncio.sleep(self.delay_s)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=" ".join(map(str, values)))],
        )


class ScriptedVAD:
    """A VAD whose stream answers the i-th pushed frame with what `speech[i]` says (True: speech)."""

    def __init__(self, speech: list[bool], min_silence_windows: int) -> None:
        self.speech = speech
        self.min_silence_windows = min_silence_windows

    def stream(self) -> ScriptedVADStream:
        return ScriptedVADStream(self)


class ScriptedVADStream:
    def __init__(self, vad: ScriptedVAD) -> None:
        self._vad = vad
        self._events: asyncio.Queue[VADEvent | None] = asyncio.Queue()
        self._i = 0
        self._speaking = False
        self._silence = 0
        self._buffer: list[rtc.AudioFrame] = []

    def _event(self, type_: VADEventType, frames: list[rtc.AudioFrame], silence_windows: int) -> VADEvent:
        return VADEvent(
            type=type_, samples_index=self._i * WINDOW, timestamp=self._i * WINDOW / RATE,
            speech_duration=0.0, silence_duration=silence_windows * WINDOW / RATE, frames=frames,
            speaking=self._speaking, raw_accumulated_silence=silence_windows * WINDOW / RATE,
        )  # fmt: skip

    def push_frame(self, frame: rtc.AudioFrame) -> None:
        is_speech = self._vad.speech[self._i]
        self._i += 1
        if self._speaking:
            self._buffer.append(frame)
        self._events.put_nowait(self._event(VADEventType.INFERENCE_DONE, [frame], self._silence))
        if is_speech:
            self._silence = 0
            if not self._speaking:
                self._speaking = True
                self._buffer = [frame]
                self._events.put_nowait(self._event(VADEventType.START_OF_SPEECH, [frame], 0))
        elif self._speaking:
            self._silence += 1
            if self._silence >= self._vad.min_silence_windows:
                self._speaking = False
                self._events.put_nowait(self._event(VADEventType.END_OF_SPEECH, list(self._buffer), self._silence))
                self._silence = 0

    def flush(self) -> None:
        pass

    def end_input(self) -> None:
        self._events.put_nowait(None)

    async def aclose(self) -> None:
        pass

    def __aiter__(self) -> AsyncIterator[VADEvent]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[VADEvent]:
        while (ev := await self._events.get()) is not None:
            yield ev


async def _run(
    speech: list[bool], *, eager_after_windows: int, min_silence_windows: int = 10
) -> tuple[CountingSTT, list[stt.SpeechEvent]]:
    inner = CountingSTT()
    vad: Any = ScriptedVAD(speech, min_silence_windows)
    adapter = EagerSTTAdapter(stt=inner, vad=vad, eager_after_s=eager_after_windows * WINDOW / RATE)
    events: list[stt.SpeechEvent] = []
    async with adapter.stream() as stream:
        for i in range(len(speech)):
            stream.push_frame(_frame(i))
            await asyncio.sleep(0.01)  # the eager decode runs while later frames arrive, as in a live stream
        stream.end_input()
        events = [ev async for ev in stream]
    return inner, events


def _finals(events: list[stt.SpeechEvent]) -> list[str]:
    return [e.alternatives[0].text for e in events if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]


async def test_the_eager_decode_is_the_transcript_when_the_silence_lasts() -> None:
    speech = [False] * 2 + [True] * 5 + [False] * 14
    inner, events = await _run(speech, eager_after_windows=2)
    # one decode only, started two windows into the silence: the speech frames 2..6 plus that silence
    assert len(inner.calls) == 1
    assert inner.calls[0][:5] == [2, 3, 4, 5, 6] and max(inner.calls[0]) < 2 + 5 + 10
    types = [e.type for e in events]
    assert types == [
        stt.SpeechEventType.START_OF_SPEECH,
        stt.SpeechEventType.END_OF_SPEECH,
        stt.SpeechEventType.FINAL_TRANSCRIPT,
    ]
    assert _finals(events)[0].startswith("2 3 4 5 6")


async def test_a_pause_drops_the_eager_decode_and_the_whole_utterance_is_decoded() -> None:
    # speech, a 4-window pause (eager decode starts), more speech, then the real end
    speech = [True] * 4 + [False] * 4 + [True] * 3 + [False] * 12
    inner, events = await _run(speech, eager_after_windows=2)
    finals = _finals(events)
    assert len(finals) == 1
    heard = [int(v) for v in finals[0].split()]
    assert {0, 1, 2, 3, 8, 9, 10} <= set(heard), "the transcript must hold the speech after the pause"
    # two decodes: one eager at the pause (dropped when speech resumed), one eager at the real end (kept)
    assert len(inner.calls) == 2
    assert max(inner.calls[0]) < 8
    assert {0, 1, 2, 3, 8, 9, 10} <= set(inner.calls[1])


async def test_zero_disables_eager_decoding() -> None:
    speech = [True] * 4 + [False] * 12
    inner, events = await _run(speech, eager_after_windows=0)
    assert len(inner.calls) == 1
    assert max(inner.calls[0]) >= 4 + 10 - 1  # decoded at END_OF_SPEECH, with the whole silence
    assert len(_finals(events)) == 1


def test_negative_delay_is_refused() -> None:
    vad: Any = ScriptedVAD([], 1)
    with pytest.raises(ValueError, match="eager_after_s"):
        EagerSTTAdapter(stt=CountingSTT(), vad=vad, eager_after_s=-1)
