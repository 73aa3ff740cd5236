"""Local voices as LiveKit TTS plugins: `HibariTTS()` (default), `EspeakTTS(voice="en-us")`, `PiperTTS()` (GPL extra).

All are non-streaming (a sentence at a time); `AgentSession` streams them sentence by sentence on its own.
"""

from __future__ import annotations

from voxmcp.models import tts as _tts
from voxmcp.plugins._weights import ModelUnavailable, verified_model

__all__ = ["EspeakTTS", "HibariTTS", "PiperTTS"]


class HibariTTS(_tts.HibariTTS):
    """hibari: 24 kHz, voice "heart", about 10 ms per clause on a CPU."""

    def __init__(self, *, speed: float = 1.0, threads: int = 1) -> None:
        super().__init__(speed=speed, threads=threads, model_path=verified_model("hibari", "text-to-speech"))


class EspeakTTS(_tts.EspeakTTS):
    """espeak-ng (the system package) through a subprocess: tiny and robotic; no model files."""

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 160) -> None:
        try:
            super().__init__(voice=voice, words_per_minute=words_per_minute)
        except _tts.TTSModelError as e:
            raise ModelUnavailable(str(e)) from None


class PiperTTS(_tts.PiperTTS):
    """Piper with the "joe" voice, 22.05 kHz. piper-tts is GPL-3.0+: `pip install 'voxmcp[piper]'`."""

    def __init__(self, *, length_scale: float | None = None) -> None:
        try:
            super().__init__(length_scale=length_scale)
        except _tts.TTSModelError as e:
            raise ModelUnavailable(str(e)) from None
