"""Speech to text with faster-whisper behind LiveKit's STT interface.

Whisper decodes a whole utterance at once, so this STT is non-streaming: LiveKit wraps it in its
StreamAdapter, which cuts utterances with the VAD and calls ``recognize`` once per utterance.
The CTranslate2 model is loaded once per process and shared (prewarm and every session).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from livekit.agents import APIError, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer, is_given

from livekit import rtc
from voxmcp.audio.wav import MonoAudio, resample
from voxmcp.models import weights
from voxmcp.models.vocabulary import SpeechVocabulary

logger = logging.getLogger(__name__)

WHISPER_SAMPLE_RATE = 16000
WHISPER_MODELS = ("whisper-tiny.en", "whisper-base")
_MIN_SPEECH_S = 0.1
_SILENCE_PEAK = 0.003  # below this peak amplitude (-50 dBFS) a buffer is treated as silence


_TOKENS_PER_S = 10
_WHISPER_WINDOW = 448
_PROMPT_PART_MAX = _WHISPER_WINDOW // 2 - 1
"""faster-whisper keeps at most this many tokens of the hotwords, and as many of the initial prompt."""


def max_new_tokens(duration_s: float, prompt_tokens: int = 0) -> int | None:
    """What a decode may generate for `duration_s` of audio after a prompt of `prompt_tokens`.

    Speech is under ~6 tokens a second (spelled codes included), so a hallucination loop on noise ("I'm not going
    to do anything. I'm not going...") stops early, at each of whisper's fallback temperatures, instead of filling
    the window every time. None (whisper's own limit) when the prompt leaves too little room for a bound."""
    room = _WHISPER_WINDOW - prompt_tokens
    wanted = 10 + math.ceil(_TOKENS_PER_S * max(duration_s, 0.0))
    return min(room, wanted) if room >= 32 else None


class STTModelError(APIError):
    """The speech model could not be found or loaded; not retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class STTRecognitionError(APIError):
    """Whisper failed while decoding an utterance."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def resolve_whisper_model(model_id: str) -> Path:
    """Folder of a verified CTranslate2 whisper model, from voxmcp's weight registry."""
    if model_id not in WHISPER_MODELS:
        raise STTModelError(f"unknown whisper model {model_id!r}; choose one of {', '.join(WHISPER_MODELS)}")
    try:
        path = weights.resolve(model_id, progress=False)
    except weights.ModelError as e:
        raise STTModelError(str(e)) from e
    return path if path.is_dir() else path.parent


@dataclass(frozen=True)
class _ModelKey:
    path: str
    compute_type: str
    cpu_threads: int
    num_workers: int


_models: dict[_ModelKey, Any] = {}
_models_lock = threading.Lock()


def load_whisper(path: Path, *, compute_type: str = "int8", cpu_threads: int = 2, num_workers: int = 1) -> Any:
    """The process-wide faster-whisper model for these options (loaded on first use, then shared)."""
    key = _ModelKey(str(path), compute_type, cpu_threads, num_workers)
    with _models_lock:
        model = _models.get(key)
        if model is not None:
            return model
        if not (path / "model.bin").is_file():
            raise STTModelError(f"whisper model folder {path} has no model.bin (run `voxmcp models` to assemble it)")
        from faster_whisper import WhisperModel

        t0 = time.perf_counter()
        try:
            model = WhisperModel(
                str(path),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=num_workers,
                local_files_only=True,
            )
        except Exception as e:
            raise STTModelError(f"could not load whisper model from {path}: {e}") from e
        _models[key] = model
        logger.info(
            "whisper model loaded",
            extra={
                "path": str(path),
                "compute_type": compute_type,
                "seconds": round(time.perf_counter() - t0, 2),
            },
        )
        return model


@dataclass
class WhisperOptions:
    model_id: str = "whisper-tiny.en"
    language: str | None = "en"
    beam_size: int = 5
    compute_type: str = "int8"
    cpu_threads: int = 2
    num_workers: int = 1
    hotwords: tuple[str, ...] = ()
    initial_prompt: str | None = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    """Whisper's fallback: an utterance whose decode looks bad is decoded again at the next temperature."""
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    length_penalty: float = 1.0
    patience: float = 1.0
    pad_s: float = 0.0
    """Silence added at both ends of an utterance before decoding."""
    vocabulary: SpeechVocabulary | None = None
    """Terms from the connected tools (see vocabulary.py), given to whisper as hotwords (after `hotwords`).

    Whisper reads hotwords, then `initial_prompt`, as the transcript before the audio: with the agent's greeting
    as the prompt, the terms bias the words while the greeting keeps whisper's sentence style (see
    benchmarks/bench_stt_bias.py; terms alone make it write lowercase lists and hear "watch" for "what's")."""

    def decode_kwargs(self) -> dict[str, Any]:
        """faster-whisper `transcribe` arguments for one short utterance."""
        hotwords = list(self.hotwords)
        if self.vocabulary is not None:
            hotwords += [t for t in self.vocabulary.terms if t not in hotwords]
        return {
            "beam_size": self.beam_size,
            "patience": self.patience,
            "length_penalty": self.length_penalty,
            "temperature": list(self.temperatures),
            "no_speech_threshold": self.no_speech_threshold,
            "log_prob_threshold": self.log_prob_threshold,
            "without_timestamps": True,
            "condition_on_previous_text": False,
            "initial_prompt": self.initial_prompt,
            "hotwords": ", ".join(hotwords) if hotwords else None,
            "vad_filter": False,
        }


class WhisperSTT(stt.STT[Literal["metrics_collected", "error"]]):
    """faster-whisper STT (non-streaming; use with a VAD). Decoding runs in a worker thread."""

    def __init__(
        self,
        *,
        model: str = "whisper-tiny.en",
        model_path: str | Path | None = None,
        language: str | None = "en",
        beam_size: int = 5,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        num_workers: int = 1,
        hotwords: Sequence[str] = (),
        initial_prompt: str | None = None,
        temperatures: Sequence[float] | None = None,
        no_speech_threshold: float | None = 0.6,
        log_prob_threshold: float | None = -1.0,
        length_penalty: float = 1.0,
        patience: float = 1.0,
        pad_s: float = 0.0,
        vocabulary: SpeechVocabulary | None = None,
    ) -> None:
        """model: a registry id ("whisper-tiny.en", "whisper-base"); model_path overrides its location.
        hotwords: names to bias recognition toward (e.g. tool or city names), passed to whisper as a prompt.
        vocabulary: the connected tools' terms (`build_vocabulary`), also hotwords; replace with `set_vocabulary`.
        temperatures: decoding temperatures tried in turn (None: WhisperOptions' default).
        language: fixed to "en" for the English-only models; None lets a multilingual model detect it."""
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1, got {cpu_threads}")
        if patience <= 0:
            raise ValueError(f"patience must be > 0, got {patience}")
        if not 0.0 <= pad_s <= 2.0:
            raise ValueError(f"pad_s must be between 0 and 2 s, got {pad_s}")
        if temperatures is not None and (not temperatures or any(not 0.0 <= t <= 1.0 for t in temperatures)):
            raise ValueError(f"temperatures must be a non-empty list of values in [0, 1], got {list(temperatures)}")
        if model.endswith(".en"):
            language = "en"
        self._opts = WhisperOptions(
            model_id=model,
            language=language,
            beam_size=beam_size,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            hotwords=tuple(h.strip() for h in hotwords if h.strip()),
            initial_prompt=initial_prompt,
            no_speech_threshold=no_speech_threshold,
            log_prob_threshold=log_prob_threshold,
            length_penalty=length_penalty,
            patience=patience,
            pad_s=pad_s,
            vocabulary=vocabulary,
        )
        if temperatures is not None:
            self._opts.temperatures = tuple(float(t) for t in temperatures)
        self._model_path = Path(model_path) if model_path is not None else None

    @property
    def model(self) -> str:
        return self._opts.model_id

    @property
    def provider(self) -> str:
        return "faster-whisper"

    @property
    def options(self) -> WhisperOptions:
        return self._opts

    def prewarm(self) -> None:
        """Load the model now (blocking), e.g. in a LiveKit prewarm function."""
        self._load()

    def warm_up(self) -> None:
        """Load the model and decode one second of faint noise (blocking): the first decode is slower."""
        self._load()
        noise = np.random.default_rng(0).normal(0.0, 0.01, WHISPER_SAMPLE_RATE).astype(np.float32)
        self._transcribe(noise, self._opts.language)

    def _load(self) -> Any:
        path = self._model_path or resolve_whisper_model(self._opts.model_id)
        self._model_path = path
        o = self._opts
        return load_whisper(path, compute_type=o.compute_type, cpu_threads=o.cpu_threads, num_workers=o.num_workers)

    def update_options(self, *, hotwords: Sequence[str] | None = None, initial_prompt: str | None = None) -> None:
        if hotwords is not None:
            self._opts.hotwords = tuple(h.strip() for h in hotwords if h.strip())
        if initial_prompt is not None:
            self._opts.initial_prompt = initial_prompt or None

    def set_vocabulary(self, vocabulary: SpeechVocabulary | None) -> None:
        """Bias recognition toward these terms from now on (call when the tool list changes; None clears)."""
        self._opts.vocabulary = vocabulary if vocabulary is not None and vocabulary.terms else None
        logger.info(
            "whisper vocabulary set",
            extra={"terms": len(vocabulary.terms) if vocabulary is not None else 0},
        )

    def with_context(
        self, *, vocabulary: SpeechVocabulary | None = None, initial_prompt: str | None = None
    ) -> WhisperSTT:
        """A copy for one session, with its own vocabulary and prompt; it shares the process-wide model.

        Models are shared by every session of a worker while each session has its own tools, so bias a copy
        rather than the shared instance."""
        copy = WhisperSTT(model=self._opts.model_id, model_path=self._model_path)
        copy._opts = replace(self._opts, vocabulary=None, initial_prompt=initial_prompt or self._opts.initial_prompt)
        copy.set_vocabulary(vocabulary)
        return copy

    def transcribe(self, audio: npt.NDArray[np.float32]) -> tuple[str, float]:
        """(text, confidence) of mono float32 16 kHz audio, blocking; what `recognize` runs in a thread."""
        if audio.dtype != np.float32 or audio.ndim != 1:
            raise ValueError(f"audio must be 1-D float32 at 16 kHz, got {audio.dtype} with shape {audio.shape}")
        text, confidence, _ = self._transcribe(audio, self._opts.language)
        return text, confidence

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        audio = buffer_to_whisper_input(buffer)
        lang = self._opts.language
        if is_given(language) and language and not self._opts.model_id.endswith(".en"):
            lang = str(language)
        request_id = utils.shortuuid()
        duration = len(audio) / WHISPER_SAMPLE_RATE
        if duration < _MIN_SPEECH_S or float(np.max(np.abs(audio), initial=0.0)) < _SILENCE_PEAK:
            return _final_event(request_id, lang or "en", "", 0.0, duration)
        t0 = time.perf_counter()
        text, confidence, detected = await asyncio.to_thread(self._transcribe, audio, lang)
        logger.debug(
            "whisper transcribed",
            extra={
                "audio_s": round(duration, 2),
                "seconds": round(time.perf_counter() - t0, 3),
                "chars": len(text),
            },
        )
        return _final_event(request_id, detected or lang or "en", text, confidence, duration)

    def _transcribe(self, audio: npt.NDArray[np.float32], language: str | None) -> tuple[str, float, str | None]:
        model = self._load()
        o = self._opts
        if o.pad_s > 0:
            pad = np.zeros(int(o.pad_s * WHISPER_SAMPLE_RATE), np.float32)
            audio = np.concatenate([pad, audio, pad])
        try:
            kwargs = o.decode_kwargs()
            kwargs["max_new_tokens"] = max_new_tokens(len(audio) / WHISPER_SAMPLE_RATE, _prompt_tokens(model, kwargs))
            segments, info = model.transcribe(audio, language=language, **kwargs)
            parts = list(segments)
        except Exception as e:
            raise STTRecognitionError(f"whisper failed to transcribe {len(audio) / 16000:.2f} s of audio: {e}") from e
        text = " ".join(s.text.strip() for s in parts).strip()
        confidence = math.exp(sum(s.avg_logprob for s in parts) / len(parts)) if parts else 0.0
        return text, min(max(confidence, 0.0), 1.0), getattr(info, "language", None)


def _prompt_tokens(model: Any, kwargs: dict[str, Any]) -> int:
    """The most tokens faster-whisper's prompt takes for these hotwords and initial prompt (see its get_prompt)."""

    def count(text: str | None) -> int:
        if not text:
            return 0
        return min(len(model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids), _PROMPT_PART_MAX)

    return 1 + count(kwargs.get("hotwords")) + count(kwargs.get("initial_prompt")) + 8  # + sot, language, task...


def buffer_to_whisper_input(buffer: AudioBuffer) -> npt.NDArray[np.float32]:
    """LiveKit frames -> mono float32 at 16 kHz, the form whisper takes."""
    frames = buffer if isinstance(buffer, list) else [buffer]
    if not frames:
        return np.zeros(0, np.float32)
    frame: rtc.AudioFrame = utils.merge_frames(frames)
    data = np.frombuffer(frame.data, np.int16)
    if frame.num_channels > 1:
        data = data.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
    mono = MonoAudio(samples=data, sample_rate=frame.sample_rate)
    if frame.sample_rate != WHISPER_SAMPLE_RATE:
        mono = resample(mono, WHISPER_SAMPLE_RATE)
    return mono.to_float()


def _final_event(request_id: str, language: str, text: str, confidence: float, duration: float) -> stt.SpeechEvent:
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
        request_id=request_id,
        alternatives=[
            stt.SpeechData(
                language=LanguageCode(language),
                text=text,
                start_time=0.0,
                end_time=duration,
                confidence=confidence,
            )
        ],
    )
