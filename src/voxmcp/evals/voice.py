"""The scripted user's voices (espeak-ng, piper or flite, never the agent's voice), optional white noise at an SNR.

A user voice is a spec string `engine:name`: `espeak:en-us` (any espeak-ng voice; a bare `en-us` means espeak),
`piper:joe` (the bundled piper voice), `piper:/path/model.onnx` (any piper voice file with its `.json` config) or
`flite:slt` (a voice built into Debian's flite: slt, kal, kal16, awb, rms). Three engines, three ways of making
speech (formant, neural, statistical parametric), so whisper's mistakes on one don't stand for all users.
Every utterance is cached as a WAV keyed by engine, name, rate and text, so a suite re-run does not re-synthesize.
A `[pause SECONDS]` marker in the text is that much silence mid-utterance (a user who stops to think), so a suite can
show whether the agent waits for the rest of the sentence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voxmcp.audio.speech import speech_bounds
from voxmcp.audio.wav import AudioFileError, Int16Array, MonoAudio, read_wav, resample, write_wav

logger = logging.getLogger(__name__)

USER_SAMPLE_RATE = 16000
ENGINES = ("espeak", "piper", "flite")
BUNDLED_PIPER = {"joe": "piper-joe"}
"""piper voice names that resolve through `voxmcp.models.weights` (as `PiperTTS` does)."""
PIPER_INSTALL = "pip install 'voxmcp[piper]'"

PIPER_NATURAL_WPM = 175.0
"""piper joe's natural pace (length_scale 1.0) in espeak-ng's `-s` units, so that `words_per_minute` means the same
pace for both engines. Measured on 12 user sentences of evals/public.yaml (speech start to end): piper joe speaks
206 written words per minute, espeak-ng en-us at `-s 150` speaks 176.5, so piper's natural pace is espeak's
150 * 206 / 176.5 = 175 (and at 150 wpm piper runs with length_scale 175 / 150 = 1.17)."""

FLITE_NATURAL_WPM = 163.0
"""flite slt's natural pace (duration_stretch 1.0) in espeak-ng's `-s` units, measured like PIPER_NATURAL_WPM on
the first 12 user sentences of evals/public.yaml (speech start to end): flite slt speaks 211.8 written words per
minute where espeak-ng en-us at `-s 150` speaks 194.4, so 150 * 211.8 / 194.4 = 163."""
FLITE_INSTALL = "apt-get install flite"
_FLITE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Engine = Literal["espeak", "piper", "flite"]

PAUSE_MARKER = re.compile(r"\[\s*pause\b([^\]]*)\]", re.IGNORECASE)
"""`[pause 1.2]`: 1.2 s of silence between two parts of one utterance."""
MIN_PAUSE_S, MAX_PAUSE_S = 0.1, 5.0
_UNCLOSED = re.compile(r"\[\s*pause", re.IGNORECASE)


class UserVoiceError(RuntimeError):
    """A user voice spec is invalid or its engine is missing or failed; the message says how to fix it."""


@dataclass(frozen=True)
class UserVoice:
    """One synthetic user speaker: `engine` and the engine's voice `name` (a piper name or voice file path)."""

    engine: Engine
    name: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def parse_voice(spec: str | UserVoice) -> UserVoice:
    """`espeak:en-us`, `en-us` (espeak), `piper:joe` or `piper:/path/model.onnx` -> UserVoice."""
    if isinstance(spec, UserVoice):
        return spec
    if not isinstance(spec, str):
        raise UserVoiceError(f"a user voice must be a string like 'espeak:en-us' or 'piper:joe', got {spec!r}")
    engine, sep, name = spec.strip().partition(":")
    if not sep:
        engine, name = "espeak", engine
    engine, name = engine.strip().lower(), name.strip()
    if engine == "espeak-ng":
        engine = "espeak"
    if engine not in ENGINES:
        raise UserVoiceError(
            f"user voice {spec!r}: unknown engine {engine!r}; use 'espeak:<voice>' (e.g. espeak:en-us), "
            "'piper:joe', 'piper:/path/model.onnx' or 'flite:<voice>' (e.g. flite:slt)"
        )
    if not name:
        raise UserVoiceError(f"user voice {spec!r}: the voice name after '{engine}:' is empty")
    if engine == "espeak":
        if any(c.isspace() for c in name) or name.startswith("-"):
            raise UserVoiceError(f"user voice {spec!r}: {name!r} is not an espeak-ng voice name (e.g. en-us, en-gb)")
        return UserVoice("espeak", name)
    if engine == "flite":
        # flite also takes a path or URL of a voice file; only its built-in voices are offline and reproducible
        if not _FLITE_NAME.match(name):
            raise UserVoiceError(f"user voice {spec!r}: {name!r} is not a built-in flite voice name (e.g. slt, kal16)")
        return UserVoice("flite", name)
    if name not in BUNDLED_PIPER and not name.endswith(".onnx"):
        raise UserVoiceError(
            f"user voice {spec!r}: piper voice {name!r} is not bundled; use one of "
            f"{', '.join(sorted(BUNDLED_PIPER))} or a path to a piper .onnx voice file"
        )
    return UserVoice("piper", name)


def split_pauses(text: str) -> tuple[list[str], list[float]]:
    """`"Weather in [pause 1.0] Paris?"` -> (["Weather in", "Paris?"], [1.0]). ValueError for a marker that is
    malformed, out of range, or not between two parts of speech (a typo must not be spoken as words)."""
    parts: list[str] = []
    gaps: list[float] = []
    pos = 0
    for m in PAUSE_MARKER.finditer(text):
        parts.append(text[pos : m.start()].strip())
        try:
            seconds = float(m.group(1))
        except ValueError:
            raise ValueError(f"{m.group()!r}: write a pause as [pause SECONDS], e.g. [pause 1.2]") from None
        if not MIN_PAUSE_S <= seconds <= MAX_PAUSE_S:  # also refuses nan
            raise ValueError(f"{m.group()!r}: a pause is {MIN_PAUSE_S:g} to {MAX_PAUSE_S:g} seconds")
        gaps.append(seconds)
        pos = m.end()
    parts.append(text[pos:].strip())
    if any(_UNCLOSED.search(p) for p in parts):
        raise ValueError(f"{text!r}: a pause marker is not closed; write [pause SECONDS]")
    if gaps and not all(parts):
        raise ValueError(f"{text!r}: a [pause ...] must stand between two parts of what is said")
    return parts, gaps


def spoken_text(text: str) -> str:
    """What the user says, without pause markers (the reference for WER, the text of a typed run)."""
    return " ".join(split_pauses(text)[0])


def synthesize(
    text: str, cache_dir: Path, *, voice: UserVoice | str = "espeak:en-us", words_per_minute: int = 150
) -> MonoAudio:
    """`text` spoken by `voice` at 16 kHz mono int16, cached by engine, name, rate and text (pause markers
    included)."""
    user = parse_voice(voice)
    if not 80 <= words_per_minute <= 450:
        raise UserVoiceError(f"words_per_minute must be between 80 and 450, got {words_per_minute}")
    try:
        parts, gaps = split_pauses(text)
    except ValueError as e:
        raise UserVoiceError(str(e)) from None
    key = hashlib.sha256(f"{user.engine}|{user.name}|{words_per_minute}|{text}".encode()).hexdigest()[:16]
    path = cache_dir / f"user-{user.engine}-{key}.wav"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        if gaps:
            audio = _with_pauses(parts, gaps, cache_dir, user, words_per_minute)
        elif user.engine == "espeak":
            _espeak_to_file(text, user.name, words_per_minute, tmp)
            audio = read_wav(tmp)
        elif user.engine == "flite":
            _flite_to_file(text, user.name, words_per_minute, tmp)
            audio = read_wav(tmp)
        else:
            audio = _piper(text, user.name, words_per_minute)
        # stored at 16 kHz: resampled once, so every run of a suite hears exactly the same samples
        write_wav(tmp, resample(audio, USER_SAMPLE_RATE))
        tmp.replace(path)
    return read_wav(path, sample_rate=USER_SAMPLE_RATE)


def _with_pauses(
    parts: list[str], gaps: list[float], cache_dir: Path, user: UserVoice, words_per_minute: int
) -> MonoAudio:
    """The parts spoken one by one and joined with exactly `gaps` seconds of silence between their audible ends.

    A part before a pause is spoken as an unfinished clause (a comma, not a full stop, ends it), the way someone
    who stops mid-sentence sounds, rather than as a finished sentence."""
    pieces: list[Int16Array] = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        said = part + "," if i < last and part[-1].isalnum() else part
        audio = synthesize(said, cache_dir, voice=user, words_per_minute=words_per_minute)
        try:
            start, end = speech_bounds(audio)
        except AudioFileError as e:
            raise UserVoiceError(f"{user} said nothing audible for {part!r}: {e}") from None
        rate = audio.sample_rate
        pieces.append(audio.samples[(round(start * rate) if i else 0) : (round(end * rate) if i < last else None)])
        if i < last:
            pieces.append(np.zeros(round(gaps[i] * rate), np.int16))
    return MonoAudio(samples=np.concatenate(pieces), sample_rate=USER_SAMPLE_RATE)


def _espeak_to_file(text: str, name: str, words_per_minute: int, out: Path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserVoiceError("espeak-ng is not installed (apt-get install espeak-ng); it speaks the user's turns")
    done = subprocess.run(
        [exe, "-v", name, "-s", str(words_per_minute), "-w", str(out), text],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise UserVoiceError(f"espeak-ng failed for voice {name!r}: {done.stderr.decode(errors='replace')[-300:]}")


def flite_voices(exe: str) -> list[str]:
    """The voices this flite build has (`flite -lv`: "Voices available: kal awb_time kal16 awb rms slt")."""
    done = subprocess.run([exe, "-lv"], capture_output=True, timeout=30, check=False)
    listing = done.stdout.decode(errors="replace")
    return listing.split(":", 1)[1].split() if ":" in listing else []


def _flite_to_file(text: str, name: str, words_per_minute: int, out: Path) -> None:
    exe = shutil.which("flite")
    if exe is None:
        raise UserVoiceError(f"flite is not installed ({FLITE_INSTALL}); it speaks the user voice flite:{name}")
    known = flite_voices(exe)
    if name not in known:  # flite would silently fall back to its default voice
        raise UserVoiceError(f"flite has no voice {name!r}; it has: {', '.join(known) or 'none listed'}")
    stretch = FLITE_NATURAL_WPM / words_per_minute
    done = subprocess.run(
        [exe, "-voice", name, "--setf", f"duration_stretch={stretch:.3f}", "-o", str(out), "-t", text],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 or not out.is_file():
        raise UserVoiceError(f"flite failed for voice {name!r}: {done.stderr.decode(errors='replace')[-300:]}")


_piper_voices: dict[str, Any] = {}
_piper_lock = threading.Lock()


def piper_model_path(name: str) -> Path:
    """The .onnx file of a piper voice: a bundled name resolves like `PiperTTS` does, anything else is a path."""
    bundled = BUNDLED_PIPER.get(name)
    if bundled is None:
        return Path(name).expanduser()
    from voxmcp.models import weights

    try:
        return weights.resolve(bundled, progress=False)
    except weights.ModelError as e:
        raise UserVoiceError(f"piper voice {name!r} is not available: {e}") from e


def load_piper_voice(name: str) -> Any:
    """The process-wide PiperVoice for `name` (loaded once; loading takes ~0.5 s)."""
    with _piper_lock:
        cached = _piper_voices.get(name)
        if cached is not None:
            return cached
        try:
            import onnxruntime as ort

            ort.disable_telemetry_events()
            import piper
        except ImportError as e:
            raise UserVoiceError(f"the piper user voice needs the optional piper extra: {PIPER_INSTALL}") from e
        path = piper_model_path(name)
        config = Path(f"{path}.json")
        if not path.is_file():
            raise UserVoiceError(f"piper voice file {path} does not exist")
        try:
            json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise UserVoiceError(f"piper voice config {config} is missing or unreadable: {e}") from e
        try:
            loaded = piper.PiperVoice.load(str(path), config_path=str(config))
        except Exception as e:  # onnxruntime's errors for a corrupt model have no common base class
            raise UserVoiceError(f"could not load piper voice {path}: {type(e).__name__}: {e}") from e
        _piper_voices[name] = loaded
        logger.info("piper user voice loaded", extra={"voice": name, "path": str(path)})
        return loaded


def _piper(text: str, name: str, words_per_minute: int) -> MonoAudio:
    """`text` by piper at its own rate (22.05 kHz for joe), sentences joined."""
    voice = load_piper_voice(name)
    import piper

    syn = piper.SynthesisConfig(length_scale=PIPER_NATURAL_WPM / words_per_minute)
    try:
        chunks = list(voice.synthesize(text, syn_config=syn))
    except Exception as e:
        raise UserVoiceError(f"piper voice {name!r} failed to synthesize {text[:60]!r}: {e}") from e
    if not chunks:
        raise UserVoiceError(f"piper voice {name!r} produced no audio for {text[:60]!r}")
    rate = int(chunks[0].sample_rate)
    samples = np.concatenate([np.frombuffer(c.audio_int16_bytes, np.int16) for c in chunks])
    if len(samples) == 0:
        raise UserVoiceError(f"piper voice {name!r} produced no samples for {text[:60]!r}")
    return MonoAudio(samples=samples.copy(), sample_rate=rate)


def add_noise(audio: MonoAudio, snr_db: float, *, seed: int = 0, pad_s: float = 0.3) -> MonoAudio:
    """White noise at `snr_db` relative to the speech's power, also over `pad_s` of padding at both ends."""
    speech = audio.samples.astype(np.float64)
    power = float(np.mean(speech**2)) if len(speech) else 0.0
    pad = np.zeros(int(pad_s * audio.sample_rate))
    signal = np.concatenate([pad, speech, pad])
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, np.sqrt(power / (10 ** (snr_db / 10))) if power > 0 else 0.0, len(signal))
    mixed = np.clip(signal + noise, -32768, 32767).astype(np.int16)
    return MonoAudio(samples=mixed, sample_rate=audio.sample_rate)
