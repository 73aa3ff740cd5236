"""Silero VAD from the sha256-checked model file: `SileroVAD.load()`, like `livekit.plugins.silero.VAD.load()`."""

from __future__ import annotations

from livekit.agents import vad

from voxmcp.models import vad as _vad
from voxmcp.models import weights
from voxmcp.plugins._weights import ModelUnavailable, verified_model

__all__ = ["SileroVAD"]


class SileroVAD:
    """Where `silero.VAD.load()` was: the same LiveKit plugin, loaded from the verified ONNX file on the CPU."""

    @staticmethod
    def load(
        *,
        min_silence_duration: float = 0.55,
        min_speech_duration: float = 0.05,
        prefix_padding_duration: float = 0.5,
        activation_threshold: float = 0.5,
    ) -> vad.VAD:
        """Load the model (blocking: once per process, e.g. in a LiveKit prewarm / `setup_fnc`).
        min_silence_duration: seconds of silence that end an utterance."""
        path = verified_model("silero-vad", "voice activity")
        try:
            return _vad.build_silero_vad(
                min_silence_duration=min_silence_duration,
                min_speech_duration=min_speech_duration,
                prefix_padding_duration=prefix_padding_duration,
                activation_threshold=activation_threshold,
                onnx_file_path=path,
            )
        except weights.ModelError as e:
            raise ModelUnavailable(str(e)) from None
