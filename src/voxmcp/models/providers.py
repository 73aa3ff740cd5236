"""Factories that turn a configured provider + model into LiveKit plugin objects.

Provider "local" means the bundled offline models; "openai" means any OpenAI-compatible endpoint
(OpenAI, Ollama, vLLM, llama.cpp server, speaches, ...) through livekit-plugins-openai, selected by
``base_url``. Heavy imports happen inside the factories so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from livekit.agents import llm, stt, tts, vad

logger = logging.getLogger(__name__)

LOCAL = "local"
OPENAI = "openai"
LOCAL_STT_MODELS = {
    "whisper-tiny.en": "whisper-tiny.en",
    "tiny.en": "whisper-tiny.en",
    "whisper-base": "whisper-base",
    "base": "whisper-base",
}
LOCAL_TTS_MODELS = ("hibari", "espeak-ng", "piper-joe")
_TTS_ALIASES = {"hibari": "hibari", "espeak": "espeak-ng", "espeak-ng": "espeak-ng", "piper": "piper-joe",
                "piper-joe": "piper-joe"}  # fmt: skip
# a local OpenAI-compatible server needs no key, but the openai client insists on one
_NO_KEY = "not-needed"


def split_spec(provider: str, model: str | None) -> tuple[str, str]:
    """Accept ("local", "whisper-tiny.en") or ("local/whisper-tiny.en", None)."""
    if not model and "/" in provider:
        provider, model = provider.split("/", 1)
    if not model:
        raise ValueError(f"no model given for provider {provider!r} (e.g. 'local/whisper-tiny.en')")
    return provider.strip().lower(), model.strip()


def _api_key(api_key: str | None, base_url: str | None, role: str) -> str:
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if key:
        return key
    if base_url:
        return _NO_KEY
    raise ValueError(f"{role} provider 'openai' needs base_url (a compatible server) or an API key (OPENAI_API_KEY)")


def _construct(kind: str, spec: str, cls: Any, opts: dict[str, Any]) -> Any:
    try:
        return cls(**opts)
    except TypeError as e:
        raise ValueError(f"bad {kind} option for {spec}: {e}") from e


# -- STT -------------------------------------------------------------------------------------------------


def build_stt(
    provider: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    language: str = "en",
    **opts: Any,
) -> stt.STT[Any]:
    """A LiveKit STT. local: faster-whisper (opts: beam_size, cpu_threads, hotwords, initial_prompt, ...);
    openai: livekit.plugins.openai.STT against ``base_url`` (non-realtime transcription API)."""
    provider, model = split_spec(provider, model)
    if provider == LOCAL:
        model_id = LOCAL_STT_MODELS.get(model)
        if model_id is None:
            raise ValueError(f"unknown local STT model {model!r}; choose one of {', '.join(sorted(LOCAL_STT_MODELS))}")
        from voxmcp.models.stt import WhisperSTT

        lang = language if not model_id.endswith(".en") else "en"
        return _construct("STT", f"local/{model}", WhisperSTT, {"model": model_id, "language": lang, **opts})  # type: ignore[no-any-return]
    if provider == OPENAI:
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": model, "language": language, "use_realtime": False,
                                  "api_key": _api_key(api_key, base_url, "STT"), **opts}  # fmt: skip
        if base_url:
            kwargs["base_url"] = base_url
        return _construct("STT", f"openai/{model}", openai.STT, kwargs)  # type: ignore[no-any-return]
    raise ValueError(f"unknown STT provider {provider!r}; choose 'local' or 'openai'")


# -- TTS -------------------------------------------------------------------------------------------------


def build_tts(
    provider: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    voice: str | None = None,
    **opts: Any,
) -> tts.TTS[Any]:
    """A LiveKit TTS. local: "hibari" (default voice only), "espeak-ng" (voice = espeak voice name),
    "piper-joe" (optional GPL extra); openai: livekit.plugins.openai.TTS against ``base_url``."""
    provider, model = split_spec(provider, model)
    if provider == LOCAL:
        from voxmcp.models import tts as local_tts

        name = _TTS_ALIASES.get(model)
        if name == "hibari":
            if voice not in (None, "", "heart", "default"):
                raise ValueError(f"hibari voice {voice!r} is not available offline; only the default voice 'heart' is")
            return _construct("TTS", "local/hibari", local_tts.HibariTTS, opts)  # type: ignore[no-any-return]
        if name == "espeak-ng":
            if voice:
                opts["voice"] = voice
            return _construct("TTS", "local/espeak-ng", local_tts.EspeakTTS, opts)  # type: ignore[no-any-return]
        if name == "piper-joe":
            if voice not in (None, "", "joe"):
                raise ValueError(f"piper voice {voice!r} is not bundled; only 'joe' is")
            return _construct("TTS", "local/piper-joe", local_tts.PiperTTS, opts)  # type: ignore[no-any-return]
        raise ValueError(f"unknown local TTS model {model!r}; choose one of {', '.join(LOCAL_TTS_MODELS)}")
    if provider == OPENAI:
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": model, "api_key": _api_key(api_key, base_url, "TTS"), **opts}
        if voice:
            kwargs["voice"] = voice
        if base_url:
            kwargs["base_url"] = base_url
        return _construct("TTS", f"openai/{model}", openai.TTS, kwargs)  # type: ignore[no-any-return]
    raise ValueError(f"unknown TTS provider {provider!r}; choose 'local' or 'openai'")


# -- VAD -------------------------------------------------------------------------------------------------


def build_vad(provider: str = "silero", **opts: Any) -> vad.VAD:
    """Silero VAD from the verified local model file (opts: min_silence_duration, activation_threshold)."""
    if provider.strip().lower() not in ("silero", "local", "local/silero", "local/silero-vad", "silero-vad"):
        raise ValueError(f"unknown VAD provider {provider!r}; only 'silero' is supported")
    from voxmcp.models.vad import build_silero_vad

    return _construct("VAD", "silero", build_silero_vad, opts)  # type: ignore[no-any-return]


# -- LLM -------------------------------------------------------------------------------------------------
# build_llm(provider, model, **opts) -> livekit.agents.llm.LLM is added here by the lead (voxmcp.models.llm).

LOCAL_LLM_MODELS = {"qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b": "qwen2.5-coder-1.5b"}


def build_llm(
    provider: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    **opts: Any,
) -> llm.LLM[Any]:
    """A LiveKit LLM. local: a pinned Qwen2.5 GGUF on llama.cpp (opts: n_ctx, threads, temperature,
    max_tokens, seed, instructions); openai: livekit.plugins.openai.LLM against ``base_url``."""
    provider, model = split_spec(provider, model)
    if provider == LOCAL:
        model_id = LOCAL_LLM_MODELS.get(model)
        if model_id is None:
            raise ValueError(f"unknown local LLM model {model!r}; choose one of {', '.join(sorted(LOCAL_LLM_MODELS))}")
        from voxmcp.models.llm import LocalLLM
        from voxmcp.models.weights import resolve

        path = resolve(model_id)
        local: llm.LLM[Any] = _construct(
            "LLM", f"local/{model}", LocalLLM, {"model_path": path, "model_name": model_id, **opts}
        )
        return local
    if provider == OPENAI:
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": model, "api_key": _api_key(api_key, base_url, "LLM"), **opts}
        if base_url:
            kwargs["base_url"] = base_url
        return _construct("LLM", f"openai/{model}", openai.LLM, kwargs)  # type: ignore[no-any-return]
    raise ValueError(f"unknown LLM provider {provider!r}; choose 'local' or 'openai'")
