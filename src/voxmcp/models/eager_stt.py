"""A non-streaming STT made streaming with a VAD, that starts decoding while the end-of-turn silence is still running.

LiveKit's `stt.StreamAdapter` waits for the VAD's END_OF_SPEECH (the full `min_silence_duration`) and only then
decodes the utterance, so the user waits for the silence timeout *plus* the whole decode. Whisper costs about the same
for any short utterance (~0.3 s on 2 cores), and the silence timeout is there only to tell a pause from the end of a
turn. This adapter decodes eagerly once `eager_after_s` of silence has passed, and keeps that result if the silence
goes on to END_OF_SPEECH; when the user speaks again the eager result is dropped and the whole utterance is decoded
at the real end, so a pause never cuts a transcript. Events are the same as the StreamAdapter's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

from livekit.agents import stt, utils
from livekit.agents.stt.stream_adapter import DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.vad import VAD, VADEvent, VADEventType

from livekit import rtc

logger = logging.getLogger(__name__)


class EagerSTTAdapter(stt.STT[Literal["metrics_collected", "error"]]):
    """Wraps a non-streaming `stt.STT` with a VAD, like `stt.StreamAdapter`, decoding during the end-of-turn silence."""

    def __init__(self, *, stt: stt.STT[Any], vad: VAD, eager_after_s: float = 0.08) -> None:
        super().__init__(capabilities=stt_capabilities(stt))
        if eager_after_s < 0:
            raise ValueError(f"eager_after_s must be >= 0, got {eager_after_s}")
        self._stt = stt
        self._vad = vad
        self.eager_after_s = eager_after_s
        self._stt.on("metrics_collected", self._on_metrics_collected)

    @property
    def wrapped_stt(self) -> stt.STT[Any]:
        return self._stt

    @property
    def model(self) -> str:
        return self._stt.model

    @property
    def provider(self) -> str:
        return self._stt.provider

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        return await self._stt.recognize(buffer=buffer, language=language, conn_options=conn_options)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return EagerRecognizeStream(self, language=language, conn_options=conn_options)

    def prewarm(self) -> None:
        self._stt.prewarm()

    def _on_metrics_collected(self, *args: Any, **kwargs: Any) -> None:
        self.emit("metrics_collected", *args, **kwargs)

    async def aclose(self) -> None:
        self._stt.off("metrics_collected", self._on_metrics_collected)


def stt_capabilities(inner: stt.STT[Any]) -> stt.STTCapabilities:
    return stt.STTCapabilities(
        streaming=True,
        interim_results=False,
        diarization=False,
        keyterms=inner.capabilities.keyterms,
        chat_context=inner.capabilities.chat_context,
    )


class _Utterance:
    """The audio of the utterance in progress, and the eager decode of it, if one was started."""

    def __init__(self, first: list[rtc.AudioFrame]) -> None:
        self.frames: list[rtc.AudioFrame] = list(first)
        self.eager: asyncio.Task[stt.SpeechEvent] | None = None

    def drop_eager(self) -> None:
        if self.eager is not None:
            self.eager.cancel()
            self.eager = None


class EagerRecognizeStream(stt.RecognizeStream):
    def __init__(self, adapter: EagerSTTAdapter, *, language: NotGivenOr[str], conn_options: APIConnectOptions) -> None:
        super().__init__(stt=adapter, conn_options=DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS)
        self._adapter = adapter
        self._language = language
        self._inner_conn_options = conn_options
        self.eager_hits = 0
        self.eager_misses = 0

    async def _metrics_monitor_task(self, event_aiter: Any) -> None:
        async for _ in event_aiter:
            pass

    def _decode(self, frames: list[rtc.AudioFrame]) -> asyncio.Task[stt.SpeechEvent]:
        merged = utils.merge_frames(frames)
        return asyncio.create_task(
            self._adapter.wrapped_stt.recognize(
                buffer=merged, language=self._language, conn_options=self._inner_conn_options
            )
        )

    async def _run(self) -> None:
        vad_stream = self._adapter._vad.stream()

        async def forward_input() -> None:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    vad_stream.flush()
                    continue
                vad_stream.push_frame(item)
            vad_stream.end_input()

        async def recognize() -> None:
            current: _Utterance | None = None
            try:
                async for event in vad_stream:
                    if event.type == VADEventType.START_OF_SPEECH:
                        if current is not None:
                            current.drop_eager()
                        current = _Utterance(event.frames)
                        self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.START_OF_SPEECH))
                    elif event.type == VADEventType.INFERENCE_DONE and current is not None and event.speaking:
                        current.frames.extend(event.frames)
                        self._on_inference(current, event)
                    elif event.type == VADEventType.END_OF_SPEECH:
                        utterance, current = current, None
                        await self._finish(utterance, event)
            finally:
                if current is not None:
                    current.drop_eager()

        tasks = [
            asyncio.create_task(forward_input(), name="eager_stt_forward_input"),
            asyncio.create_task(recognize(), name="eager_stt_recognize"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            await utils.aio.cancel_and_wait(*tasks)
            await vad_stream.aclose()

    def _on_inference(self, current: _Utterance, event: VADEvent) -> None:
        silence = event.raw_accumulated_silence
        if silence <= 0.0:
            if current.eager is not None:
                # the user went on speaking: what was decoded is only part of the utterance
                self.eager_misses += 1
                current.drop_eager()
            return
        eager_after = self._adapter.eager_after_s
        if current.eager is None and eager_after > 0 and silence >= eager_after:
            current.eager = self._decode(current.frames)

    async def _finish(self, utterance: _Utterance | None, event: VADEvent) -> None:
        speech_end_time = time.time() - event.silence_duration - event.inference_duration
        self._event_ch.send_nowait(
            stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH, speech_end_time=speech_end_time)
        )
        task = utterance.eager if utterance is not None else None
        eager = task is not None
        if task is not None:
            self.eager_hits += 1
        else:
            task = self._decode(event.frames)
        waited_from = time.perf_counter()
        try:
            result = await task
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception:
            if utterance is None or utterance.eager is None:
                raise
            # the eager decode failed (e.g. a transient error): decode the whole utterance once more
            logger.warning("eager decode failed; decoding the whole utterance", exc_info=True)
            result = await self._decode(event.frames)
        logger.debug(
            "utterance decoded",
            extra={"eager": eager, "waited_s": round(time.perf_counter() - waited_from, 3),
                   "silence_s": round(event.silence_duration, 3)},
        )  # fmt: skip
        if not result.alternatives or not result.alternatives[0].text:
            return
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                alternatives=[result.alternatives[0]],
                speech_end_time=result.speech_end_time if result.speech_end_time is not None else speech_end_time,
            )
        )
