"""Text to speech behind LiveKit's TTS interface: hibari (default), espeak-ng, piper.

Each engine synthesizes sentence by sentence and pushes every sentence's audio as soon as it is ready,
so playback can start after the first sentence. Model inference runs in worker threads; the event loop
never blocks. Text is cleaned for speech first (markdown, JSON punctuation, units and symbols).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from livekit.agents import APIConnectionError, APIError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from voxmcp.audio.wav import AudioFileError, decode_wav, float_to_int16
from voxmcp.models import weights

logger = logging.getLogger(__name__)

HIBARI_SAMPLE_RATE = 24000
PIPER_INSTALL = "pip install 'voxmcp[piper]'"


class TTSModelError(APIError):
    """The voice could not be found or loaded; not retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# -- text cleanup ----------------------------------------------------------------------------------------

_UNITS: list[tuple[str, str]] = [
    (r"°\s?C\b", " degrees Celsius"),
    (r"°\s?F\b", " degrees Fahrenheit"),
    (r"°", " degrees"),
    (r"(?<=\d)\s?km/h\b", " kilometers per hour"),
    (r"(?<=\d)\s?mph\b", " miles per hour"),
    (r"(?<=\d)\s?m/s\b", " meters per second"),
    (r"(?<=\d)\s?km\b", " kilometers"),
    (r"(?<=\d)\s?cm\b", " centimeters"),
    (r"(?<=\d)\s?mm\b", " millimeters"),
    (r"(?<=\d)\s?kg\b", " kilograms"),
    (r"(?<=\d)\s?hPa\b", " hectopascals"),
    (r"(?<=\d)\s?%", " percent"),
    (r"%", " percent"),
]
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "→": " to ", "~": " about "}


def clean_text_for_speech(text: str) -> str:
    """Text as it should be spoken: no markdown, code fences, JSON punctuation or URLs; units spelled out."""
    t = re.sub(r"```[a-zA-Z0-9_-]*\n?", " ", text)
    t = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", t)  # images
    t = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", t)  # links keep their text
    t = re.sub(r"https?://\S+", "a link", t)
    t = re.sub(r"^\s{0,3}#{1,6}\s*", "", t, flags=re.MULTILINE)  # headings
    t = re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", t, flags=re.MULTILINE)  # list markers
    t = re.sub(r"(\*\*|__|\*|`|~~)", "", t)
    t = re.sub(r"(?<=\w)_(?=\w)", " ", t)  # snake_case names read as words
    t = re.sub(r"[{}\[\]<>\"|\\]", " ", t)
    t = re.sub(r"(?<![\w.])-(?=\d)", "minus ", t)
    for pattern, spoken in _UNITS:
        t = re.sub(pattern, spoken, t)
    for sym, spoken in _SYMBOLS.items():
        t = t.replace(sym, spoken)
    t = re.sub(r"[ \t]+", " ", t)
    t = re.sub(r"\s*\n\s*", "\n", t)
    t = re.sub(r"\s+([,.!?;:])", r"\1", t)
    t = re.sub(r"([,;:])\1+", r"\1", t)
    return t.strip(" \n,;:")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences (end punctuation or line breaks), for engines that have no splitter of their own."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# -- shared ChunkedStream --------------------------------------------------------------------------------

SentenceAudio = npt.NDArray[np.int16]

KEEP_LEADING_S = 0.03
KEEP_TRAILING_S = 0.15


def trim_silence(
    samples: SentenceAudio,
    sample_rate: int,
    *,
    keep_leading_s: float = KEEP_LEADING_S,
    keep_trailing_s: float = KEEP_TRAILING_S,
) -> SentenceAudio:
    """A piece of speech without the silence an engine pads it with (hibari: ~0.3 s before, ~0.45 s after).

    Leading silence is heard as latency on every reply; trailing silence lengthens every pause between pieces and
    delays what comes after a short phrase ("One moment."). A little of each is kept so words don't run together.
    """
    if len(samples) == 0:
        return samples
    level = np.abs(samples.astype(np.int32))
    threshold = max(200, int(level.max()) // 50)
    loud = np.flatnonzero(level > threshold)
    if len(loud) == 0:
        return samples
    start = max(0, int(loud[0]) - int(keep_leading_s * sample_rate))
    end = min(len(samples), int(loud[-1]) + 1 + int(keep_trailing_s * sample_rate))
    return samples[start:end]


class _SentenceStream(tts.ChunkedStream):
    """Runs an engine's sentence iterator in a thread and pushes each sentence as it is ready."""

    def __init__(
        self,
        *,
        tts: _SentenceTTS,
        input_text: str,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._engine_tts = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine = self._engine_tts
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=engine.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        text = clean_text_for_speech(self.input_text)
        pushed = 0
        if text:
            sentences = await engine._sentences(text)
            while True:
                chunk = await asyncio.to_thread(engine._next_locked, sentences)
                if chunk is None:
                    break
                chunk = trim_silence(chunk, engine.sample_rate)
                if len(chunk):
                    output_emitter.push(chunk.tobytes())
                    pushed += len(chunk)
        if not pushed and self.input_text.strip():
            # nothing speakable (only markup or symbols): a short silence, not an error LiveKit would retry
            output_emitter.push(np.zeros(engine.sample_rate // 50, np.int16).tobytes())
        output_emitter.flush()


class _SentenceTTS(tts.TTS[Literal["metrics_collected", "error"]]):
    """A local engine: yields int16 audio per sentence; one synthesis at a time per engine."""

    cleans_markdown = True
    """Text goes through `clean_text_for_speech` first, so LiveKit's own markdown filter is not needed."""

    def __init__(self, *, sample_rate: int) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=sample_rate, num_channels=1)
        self._lock = threading.Lock()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _SentenceStream(tts=self, input_text=text, conn_options=conn_options)

    async def _sentences(self, text: str) -> Iterator[SentenceAudio]:
        """An iterator the stream advances in a worker thread, one sentence per step."""
        raise NotImplementedError

    def _next_locked(self, it: Iterator[SentenceAudio]) -> SentenceAudio | None:
        with self._lock:
            try:
                return next(it)
            except StopIteration:
                return None
            except APIError:
                raise
            except Exception as e:
                raise APIError(f"{self.label} failed to synthesize: {e}", retryable=False) from e


# -- hibari ----------------------------------------------------------------------------------------------

_hibari_engines: dict[tuple[str, int], Any] = {}
_hibari_lock = threading.Lock()


def load_hibari(model_path: Path, *, threads: int = 1) -> Any:
    """The process-wide hibari engine; default voice only (the others would download at run time)."""
    key = (str(model_path), threads)
    with _hibari_lock:
        engine = _hibari_engines.get(key)
        if engine is None:
            import onnxruntime as ort

            ort.disable_telemetry_events()
            from hibari import Hibari

            try:
                engine = Hibari(model=str(model_path), threads=threads)
            except Exception as e:
                raise TTSModelError(f"could not load hibari voice from {model_path}: {e}") from e
            _hibari_engines[key] = engine
            logger.info("hibari loaded", extra={"path": str(model_path)})
        return engine


class HibariTTS(_SentenceTTS):
    """hibari (24 kHz mono, voice 'heart'), sentence by sentence via its own splitter and G2P."""

    def __init__(self, *, speed: float = 1.0, threads: int = 1, model_path: str | Path | None = None) -> None:
        super().__init__(sample_rate=HIBARI_SAMPLE_RATE)
        if not 0.5 <= speed <= 2.0:
            raise ValueError(f"hibari speed must be between 0.5 and 2.0, got {speed}")
        self._speed = speed
        self._threads = threads
        self._model_path = Path(model_path) if model_path is not None else None

    @property
    def model(self) -> str:
        return "hibari"

    @property
    def provider(self) -> str:
        return "hibari"

    def _engine(self) -> Any:
        if self._model_path is None:
            try:
                self._model_path = weights.resolve("hibari", progress=False)
            except weights.ModelError as e:
                raise TTSModelError(str(e)) from e
        return load_hibari(self._model_path, threads=self._threads)

    def prewarm(self) -> None:
        """Load the model and run a tiny synthesis (G2P tables load lazily), blocking."""
        engine = self._engine()
        with self._lock:
            engine("Ready.")

    def warm_up(self) -> None:
        """Same as prewarm(); the name the app calls on every provider that has it."""
        self.prewarm()

    async def _sentences(self, text: str) -> Iterator[SentenceAudio]:
        engine = await asyncio.to_thread(self._engine)
        speed = self._speed

        def gen() -> Iterator[SentenceAudio]:
            for chunk in engine.stream(text, speed=speed):
                yield float_to_int16(np.asarray(chunk, np.float32))

        return gen()


# -- espeak-ng -------------------------------------------------------------------------------------------


@functools.cache
def espeak_voices(executable: str = "espeak-ng") -> frozenset[str]:
    """Lower-cased names espeak-ng accepts for -v (language codes, voice names, voice files)."""
    import subprocess

    try:
        out = subprocess.run([executable, "--voices"], capture_output=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names: set[str] = set()
    for line in out.decode(errors="replace").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            names.update(c.lower() for c in (cols[1], cols[3], cols[4]))
    return frozenset(names)


class EspeakTTS(_SentenceTTS):
    """Debian espeak-ng through a subprocess (robotic but tiny; useful as a second, distinct voice)."""

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 160, executable: str = "espeak-ng") -> None:
        super().__init__(sample_rate=22050)
        found = shutil.which(executable)
        if found is None:
            raise TTSModelError(f"{executable} not found; install it with `apt-get install espeak-ng`")
        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be between 80 and 450, got {words_per_minute}")
        self._exe = found
        known = espeak_voices(found)
        base = voice.split("+", 1)[0].lower()
        if known and base not in known:
            raise ValueError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`), e.g. 'en-us' or 'en-gb'")
        self._voice = voice
        self._wpm = words_per_minute

    @property
    def model(self) -> str:
        return f"espeak-ng/{self._voice}"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def synthesize_sentence(self, sentence: str) -> SentenceAudio:
        """One sentence -> int16 samples at 22.05 kHz (blocking)."""
        import subprocess

        try:
            proc = subprocess.run(
                [self._exe, "--stdout", "-v", self._voice, "-s", str(self._wpm)],
                input=sentence.encode(),
                capture_output=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise APIConnectionError("espeak-ng did not finish within 30 s", retryable=False) from e
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()[:200]
            raise APIError(f"espeak-ng failed (exit {proc.returncode}): {err}", retryable=False)
        try:
            audio = decode_wav(proc.stdout, name="espeak-ng output", sample_rate=self.sample_rate)
        except AudioFileError as e:
            raise APIError(f"espeak-ng produced no usable audio for voice {self._voice!r}: {e}") from e
        return audio.samples

    async def _sentences(self, text: str) -> Iterator[SentenceAudio]:
        return (self.synthesize_sentence(s) for s in split_sentences(text))


# -- piper (optional, GPL) -------------------------------------------------------------------------------


class PiperTTS(_SentenceTTS):
    """Piper with the 'joe' voice (22.05 kHz). piper-tts is GPL-3.0+, so it is an optional extra."""

    def __init__(self, *, model_path: str | Path | None = None, length_scale: float | None = None) -> None:
        try:
            import piper
        except ImportError as e:
            raise TTSModelError(f"piper TTS needs the optional piper extra: {PIPER_INSTALL}") from e
        if model_path is None:
            try:
                model_path = weights.resolve("piper-joe", progress=False)
            except weights.ModelError as e:
                raise TTSModelError(str(e)) from e
        path = Path(model_path)
        config = Path(f"{path}.json")
        try:
            rate = int(json.loads(config.read_text())["audio"]["sample_rate"])
        except (OSError, KeyError, ValueError) as e:
            raise TTSModelError(f"piper voice config {config} is missing or unreadable: {e}") from e
        super().__init__(sample_rate=rate)
        import onnxruntime as ort

        ort.disable_telemetry_events()
        self._voice: Any = piper.PiperVoice.load(str(path), config_path=str(config))
        self._syn_config: Any = piper.SynthesisConfig(length_scale=length_scale) if length_scale is not None else None
        self._path = path

    @property
    def model(self) -> str:
        return f"piper/{self._path.stem}"

    @property
    def provider(self) -> str:
        return "piper"

    async def _sentences(self, text: str) -> Iterator[SentenceAudio]:
        voice = self._voice
        syn_config = self._syn_config

        def gen() -> Iterator[SentenceAudio]:
            for chunk in voice.synthesize(text, syn_config=syn_config):
                yield np.frombuffer(chunk.audio_int16_bytes, np.int16)

        return gen()
