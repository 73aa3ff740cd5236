"""One side of the benchmark (voxmcp or the baseline) in its own process, so that its cold start and peak RSS are
its own. Writes a JSON file of raw per-run figures; `voxmcp bench` summarizes both sides.

    python -m voxmcp.bench.worker --side ours|baseline --runs N --mcp-url URL --plain-wav A --tool-wav B --out F
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from voxmcp.audio.wav import MonoAudio, read_wav
from voxmcp.evals.driver import ConversationDriver, TalkSession, TurnResult
from voxmcp.logs import LogLevelError, setup_logging

logger = logging.getLogger(__name__)

KINDS = ("plain", "tool")


def _turn_record(kind: str, turn: TurnResult) -> dict[str, Any]:
    return {
        "kind": kind,
        "timings": turn.timings,
        "tool_calls": [c.name for c in turn.tool_calls],
        "tool_errors": [c.is_error for c in turn.tool_calls],
        "answered": "first_audible_s" in turn.timings,
        "agent_text": turn.agent_text,
        "completed": turn.completed,
    }


class _Side:
    """Builds a fresh conversation per run on models loaded once."""

    def __init__(self, side: str, mcp_url: str, config: Path | None, llm_model: str | None) -> None:
        self.side = side
        self.mcp_url = mcp_url
        t0 = time.perf_counter()
        if side == "ours":
            from voxmcp.app import load_models
            from voxmcp.config import load_settings
            from voxmcp.evals.runner import scenario_settings
            from voxmcp.mcp.config import MCPServerConfig

            base = load_settings(config, dotenv=False)
            self.settings = scenario_settings(base, {"demo": MCPServerConfig(url=mcp_url)})
            self.models: Any = load_models(self.settings)
        else:
            from voxmcp.bench.baseline import BaselineModels

            self.models = BaselineModels(llm_model or "qwen2.5-coder-0.5b")
        self.load_s = time.perf_counter() - t0

    async def ready(self) -> float:
        """Seconds until a fresh conversation is ready to listen (MCP connected, the LLM prefix prefilled)."""
        t0 = time.perf_counter()
        if self.side == "ours":
            async with TalkSession(self.settings, self.models):
                return time.perf_counter() - t0
        from voxmcp.bench.baseline import baseline_session

        session, agent = baseline_session(self.models, self.mcp_url)
        driver = ConversationDriver(session, agent, output_sample_rate=int(self.models.tts.sample_rate))
        try:
            await driver.start()
            return time.perf_counter() - t0
        finally:
            await driver.aclose()
            await session.aclose()

    async def turn(self, audio: MonoAudio, timeout_s: float) -> tuple[TurnResult, float]:
        """One fresh conversation, one turn; returns it and the seconds until the agent was ready to listen."""
        t0 = time.perf_counter()
        if self.side == "ours":
            async with TalkSession(self.settings, self.models) as driver:
                ready = time.perf_counter() - t0
                return (await driver.turn(audio, timeout_s=timeout_s))[-1], ready
        from voxmcp.bench.baseline import baseline_session

        session, agent = baseline_session(self.models, self.mcp_url)
        driver = ConversationDriver(session, agent, output_sample_rate=int(self.models.tts.sample_rate))
        try:
            await driver.start()
            ready = time.perf_counter() - t0
            return (await driver.turn(audio, timeout_s=timeout_s))[-1], ready
        finally:
            await driver.aclose()
            await session.aclose()


async def run_side(
    side: str,
    runs: int,
    mcp_url: str,
    audio: dict[str, MonoAudio],
    *,
    config: Path | None = None,
    llm_model: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    process_start = psutil.Process().create_time()
    runner = _Side(side, mcp_url, config, llm_model)
    t_first = time.time()
    warm, ready_s = await runner.turn(audio["plain"], timeout_s)  # the first turn pays any cold prompt: kept apart
    out: dict[str, Any] = {
        "side": side,
        "models_load_s": round(runner.load_s, 3),
        "first_session_ready_s": round(ready_s, 3),
        # process start -> models loaded -> first conversation ready to listen (MCP connected, any prefill done)
        "cold_start_s": round(t_first + ready_s - process_start, 3),
        "first_turn": _turn_record("plain", warm),
        "runs": [],
    }
    for i in range(runs):
        for kind in KINDS:
            turn, _ = await runner.turn(audio[kind], timeout_s)
            out["runs"].append(_turn_record(kind, turn) | {"run": i})
            logger.info("bench turn", extra={"side": side, "kind": kind, "run": i, "timings": turn.timings})
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


async def start_only(side: str, mcp_url: str, *, config: Path | None, llm_model: str | None) -> dict[str, Any]:
    """A process start to the first conversation ready to listen, and nothing else (the restart figure)."""
    process_start = psutil.Process().create_time()
    runner = _Side(side, mcp_url, config, llm_model)
    ready_s = await runner.ready()
    return {"side": side, "models_load_s": round(runner.load_s, 3), "first_session_ready_s": round(ready_s, 3),
            "cold_start_s": round(time.time() - process_start, 3)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--side", choices=("ours", "baseline"), required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--mcp-url", required=True)
    p.add_argument("--plain-wav", type=Path, required=True)
    p.add_argument("--tool-wav", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path)
    p.add_argument("--llm-model")
    p.add_argument("--timeout-s", type=float, default=60.0)
    p.add_argument("--start-only", action="store_true", help="measure the start only (no turns)")
    a = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        setup_logging()
    except LogLevelError as e:
        sys.exit(f"config error: {e}")
    if a.start_only:
        started = asyncio.run(start_only(a.side, a.mcp_url, config=a.config, llm_model=a.llm_model))
        a.out.write_text(json.dumps(started, indent=2) + "\n", encoding="utf-8")
        return
    audio = {"plain": read_wav(a.plain_wav, sample_rate=16000), "tool": read_wav(a.tool_wav, sample_rate=16000)}
    result = asyncio.run(
        run_side(a.side, a.runs, a.mcp_url, audio, config=a.config, llm_model=a.llm_model, timeout_s=a.timeout_s)
    )
    a.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
