"""A prefix's KV state saved by one process is loaded by the next, and a bad file only costs a recomputation."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxmcp.models.kv_state import KVStateCache, state_key

PROMPT = (
    "<|im_start|>system\nYou are a helpful voice assistant. You can check the weather and convert units.<|im_end|>\n"
)
NEXT = PROMPT + "<|im_start|>user\nWhat is the weather in Oslo?<|im_end|>\n<|im_start|>assistant\n"


def _runtime(cache: Path) -> object:
    from voxmcp.models import weights
    from voxmcp.models.llm import LlamaRuntime

    rt = LlamaRuntime(weights.resolve("qwen2.5-coder-0.5b", progress=False), n_ctx=512, threads=2)
    rt.kv_cache = KVStateCache(cache)
    return rt


def test_state_key_names_model_context_and_tokens(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    assert state_key(model, 512, [1, 2, 3]) == state_key(model, 512, [1, 2, 3])
    assert state_key(model, 512, [1, 2, 3]) != state_key(model, 512, [1, 2, 4])
    assert state_key(model, 512, [1, 2, 3]) != state_key(model, 1024, [1, 2, 3])


@pytest.mark.e2e
def test_a_new_process_loads_the_prefix_instead_of_evaluating_it(tmp_path: Path) -> None:
    from voxmcp.models.llm import LlamaRuntime

    first: LlamaRuntime = _runtime(tmp_path)  # type: ignore[assignment]
    evaluated = first.prefill(PROMPT)
    assert evaluated > 10
    files = list(tmp_path.glob("*.kv"))
    assert len(files) == 1 and files[0].stat().st_size < 20_000_000

    second: LlamaRuntime = _runtime(tmp_path)  # type: ignore[assignment]
    assert second.prefill(PROMPT) == 0  # loaded, not evaluated
    assert second.cached_prefix_len(second.llama.tokenize(PROMPT.encode(), add_bos=False, special=True)) == evaluated
    # the loaded state gives the same next-token distribution as the evaluated one
    assert second.tool_start_probability(NEXT) == pytest.approx(first.tool_start_probability(NEXT), abs=1e-3)

    # a corrupt file is ignored, recomputed and replaced
    files[0].write_bytes(b"not a state")
    third: LlamaRuntime = _runtime(tmp_path)  # type: ignore[assignment]
    assert third.prefill(PROMPT) == evaluated
    fourth: LlamaRuntime = _runtime(tmp_path)  # type: ignore[assignment]
    assert fourth.prefill(PROMPT) == 0


def test_old_states_are_pruned(tmp_path: Path) -> None:
    import os

    cache = KVStateCache(tmp_path, max_files=2)
    for i in range(4):
        f = tmp_path / f"{i}.kv"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    cache._prune()
    assert sorted(f.name for f in tmp_path.glob("*.kv")) == ["2.kv", "3.kv"]


def test_old_states_are_pruned_by_total_size_but_the_newest_stays(tmp_path: Path) -> None:
    import os

    cache = KVStateCache(tmp_path, max_files=16, max_bytes=2500)
    for i in range(4):
        f = tmp_path / f"{i}.kv"
        f.write_bytes(b"x" * 1000)
        os.utime(f, (1000 + i, 1000 + i))
    cache._prune()
    assert sorted(f.name for f in tmp_path.glob("*.kv")) == ["2.kv", "3.kv"]
    (tmp_path / "big.kv").write_bytes(b"x" * 5000)  # newest, larger than the whole budget: kept alone
    cache._prune()
    assert sorted(f.name for f in tmp_path.glob("*.kv")) == ["big.kv"]
