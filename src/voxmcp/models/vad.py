"""Silero VAD from the verified local ONNX file (never a model hub)."""

from __future__ import annotations

import logging
from pathlib import Path

from livekit.agents import vad
from livekit.plugins import silero

from voxmcp.models import weights

logger = logging.getLogger(__name__)


def build_silero_vad(
    *,
    min_silence_duration: float = 0.55,
    min_speech_duration: float = 0.05,
    prefix_padding_duration: float = 0.5,
    activation_threshold: float = 0.5,
    onnx_file_path: str | Path | None = None,
) -> vad.VAD:
    """Load Silero VAD (blocking; call once per process, e.g. in prewarm).

    min_silence_duration: seconds of silence that end a user utterance; shorter answers sooner but
    may cut a speaker who pauses mid-sentence.
    """
    if not 0.05 <= min_silence_duration <= 5.0:
        raise ValueError(f"min_silence_duration must be between 0.05 and 5 s, got {min_silence_duration}")
    if not 0.0 < activation_threshold < 1.0:
        raise ValueError(f"activation_threshold must be between 0 and 1, got {activation_threshold}")
    path = Path(onnx_file_path) if onnx_file_path is not None else weights.resolve("silero-vad", progress=False)
    if not path.is_file():
        raise weights.ModelError(f"silero VAD model {path} does not exist (run `voxmcp models assemble silero-vad`)")
    import onnxruntime as ort

    ort.disable_telemetry_events()
    logger.info("loading silero vad", extra={"path": str(path), "min_silence_duration": min_silence_duration})
    return silero.VAD.load(
        onnx_file_path=path,
        min_silence_duration=min_silence_duration,
        min_speech_duration=min_speech_duration,
        prefix_padding_duration=prefix_padding_duration,
        activation_threshold=activation_threshold,
        force_cpu=True,
    )
