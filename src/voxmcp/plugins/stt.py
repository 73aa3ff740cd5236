"""Whisper (faster-whisper, CTranslate2 int8) as a LiveKit STT plugin: `WhisperSTT(model="whisper-tiny.en")`."""

from __future__ import annotations

from collections.abc import Sequence

from voxmcp.models import stt as _stt
from voxmcp.plugins._weights import verified_model

__all__ = ["MODELS", "WhisperSTT"]

MODELS = {"whisper-tiny.en": "whisper-tiny.en", "tiny.en": "whisper-tiny.en", "whisper-base": "whisper-base",
          "base": "whisper-base"}  # fmt: skip
"""Accepted model names (LiveKit-style short names too) -> voxmcp's model ids."""


class WhisperSTT(_stt.WhisperSTT):
    """faster-whisper on the CPU; non-streaming, so `AgentSession` pairs it with its VAD (pass `vad=`).

    `whisper-base` needs the extra `pip install 'voxmcp[whisper-base]'`.
    """

    def __init__(
        self,
        *,
        model: str = "whisper-tiny.en",
        language: str | None = "en",
        beam_size: int = 5,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        hotwords: Sequence[str] = (),
        initial_prompt: str | None = None,
    ) -> None:
        """model: "whisper-tiny.en" (English, default) or "whisper-base" (multilingual; `language=None` detects).
        hotwords: words to bias recognition toward (your tools' or products' names)."""
        model_id = MODELS.get(model)
        if model_id is None:
            raise ValueError(f"unknown Whisper model {model!r}; choose one of {', '.join(sorted(MODELS))}")
        path = verified_model(model_id, "speech-to-text")
        super().__init__(
            model=model_id,
            model_path=path if path.is_dir() else path.parent,
            language=language,
            beam_size=beam_size,
            cpu_threads=cpu_threads,
            compute_type=compute_type,
            hotwords=hotwords,
            initial_prompt=initial_prompt,
        )
