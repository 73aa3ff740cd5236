"""How many concurrent voice sessions one voxmcp worker holds, through a real LiveKit server on loopback.

For each LLM backend — (a) the local model (llama.cpp in every job process) and (b) an OpenAI-compatible
endpoint on loopback (tests/livekit/fake_openai_llm.py: a fixed answer streamed at a realistic token rate)
— it starts one `voxmcp start` worker and, level by level, N rooms at once: each caller hears the greeting,
asks "What is the weather in Paris?" (espeak-ng) and waits for the spoken answer. Per level: sessions that
got an answer, join-to-greeting and voice-to-voice (median, p95), worker CPU (sum over its processes, 100% =
one core) and RSS (total, and per session). Optionally the same question in-process (`voxmcp talk`) for
the room-vs-in-process comparison. Writes results.json, table.md and load.png under --out.

    .venv/bin/python benchmarks/livekit_load.py --llm both --local-levels 1,2 --remote-levels 1,2,4
Bounded: every level has a deadline (--level-timeout), every process is torn down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "livekit"))

from agent_worker import WorkerProcess, run_worker  # noqa: E402
from livekit_servers import free_port, pad_wav, run_livekit_node, scratch_dir, wait_http_ok  # noqa: E402
from room_session import ask_in_room, multi_worker_command, write_agent_config  # noqa: E402

logger = logging.getLogger("livekit_load")
QUESTION = "What is the weather in Paris?"
HOLD_P95_S = 6.0  # a level "holds": every session answered via the tool, voice-to-voice p95 under this


@dataclass
class LevelResult:
    backend: str
    sessions: int
    answered: int
    join_to_greeting_s: list[float] = field(default_factory=list)
    voice_to_voice_s: list[float] = field(default_factory=list)
    cpu_mean_pct: float = 0.0
    cpu_peak_pct: float = 0.0
    rss_peak_mb: float = 0.0
    rss_idle_mb: float = 0.0
    rss_process_mb: float = 0.0  # median RSS of one job process (each session runs in its own)
    processes_peak: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # what each caller's transcript stream said
    tool_calls: int = 0

    @property
    def rss_growth_per_session_mb(self) -> float:
        """Peak RSS over the idle worker's, per session (includes processes the pool refills meanwhile)."""
        return (self.rss_peak_mb - self.rss_idle_mb) / self.sessions if self.sessions else 0.0

    def p(self, values: list[float], q: float) -> float | None:
        return float(np.percentile(values, q)) if values else None

    @property
    def holds(self) -> bool:
        p95 = self.p(self.voice_to_voice_s, 95)
        grounded = self.tool_calls >= self.sessions  # each answer came through the weather tool
        return self.answered == self.sessions and grounded and p95 is not None and p95 <= HOLD_P95_S


class TreeSampler:
    """Samples CPU% and RSS of a worker's process tree every `interval_s` in a thread."""

    def __init__(self, worker: WorkerProcess, interval_s: float = 0.5) -> None:
        self.worker, self.interval_s = worker, interval_s
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self.child_rss: list[list[int]] = []  # per sample: RSS of each process under the worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._procs: dict[int, psutil.Process] = {}

    def _run(self) -> None:
        while not self._stop.is_set():
            total_cpu, total_rss, children = 0.0, 0, []
            for proc in self.worker.tree():
                cached = self._procs.setdefault(proc.pid, proc)
                with contextlib.suppress(psutil.Error):
                    total_cpu += cached.cpu_percent(None)
                    rss = cached.memory_info().rss
                    total_rss += rss
                    if proc.pid != self.worker.process.pid:
                        children.append(rss)
            self.cpu.append(total_cpu)
            self.rss.append(total_rss)
            self.child_rss.append(children)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_idle_processes(worker: WorkerProcess, count: int, timeout_s: float) -> None:
    """Until the worker log shows `count` prewarmed processes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if worker.log().count("process initialized") >= count:
            return
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{worker.log()[-3000:]}")
        time.sleep(0.5)
    raise TimeoutError(f"{count} prewarmed processes not ready after {timeout_s}s")


async def run_level(
    backend: str, n: int, node: Any, worker: WorkerProcess, question: Path, level_timeout_s: float, greeting: bool
) -> LevelResult:
    result = LevelResult(backend=backend, sessions=n, answered=0)
    result.rss_idle_mb = worker.rss_bytes() / 2**20
    started = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(0.3 * i)
        room = f"load-{backend}-{n}-{i}-{int(started)}"
        try:
            ex = await ask_in_room(
                url=node.url,
                http_url=node.http_url,
                api_key=node.api_key,
                api_secret=node.api_secret,
                room=room,
                question_wav=question,
                wait_for_greeting=greeting,
                timeout_s=level_timeout_s - 5,
            )
        except Exception as exc:  # a session that fails is a data point, not a crash
            result.errors.append(f"{room}: {type(exc).__name__}: {exc}"[:300])
            return
        if ex.answer_text.strip():
            result.answered += 1
        result.answers.append(ex.answer_text[:200])
        result.tool_calls += len(ex.tool_calls)
        if ex.join_to_greeting_s is not None:
            result.join_to_greeting_s.append(round(ex.join_to_greeting_s, 3))
        if ex.voice_to_voice_s is not None:
            result.voice_to_voice_s.append(round(ex.voice_to_voice_s, 3))

    with TreeSampler(worker) as sampler:
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), level_timeout_s)
    result.wall_s = round(time.monotonic() - started, 1)
    busy = sampler.cpu[2:] or sampler.cpu
    result.cpu_mean_pct = round(statistics.fmean(busy), 1) if busy else 0.0
    result.cpu_peak_pct = round(max(busy), 1) if busy else 0.0
    if sampler.rss:
        peak = int(np.argmax(sampler.rss))
        result.rss_peak_mb = round(sampler.rss[peak] / 2**20, 1)
        children = sampler.child_rss[peak]
        result.processes_peak = len(children)
        result.rss_process_mb = round(float(np.median(children)) / 2**20, 1) if children else 0.0
    return result


def run_backend(
    backend: str, levels: list[int], workdir: Path, question: Path, level_timeout_s: float, greeting: bool
) -> list[LevelResult]:
    from voxmcp.demo.runner import DemoServerProcess

    results: list[LevelResult] = []
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(run_livekit_node(workdir))
        demo = stack.enter_context(DemoServerProcess())
        llm_url = None
        if backend == "remote":
            port = free_port()
            fake = subprocess.Popen(
                [sys.executable, str(REPO / "tests/livekit/fake_openai_llm.py"), "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(fake.wait, 10)
            stack.callback(fake.terminate)
            wait_http_ok(f"http://127.0.0.1:{port}/v1/models", timeout_s=20, proc=fake)
            llm_url = f"http://127.0.0.1:{port}/v1"
        idle = max(levels)
        config = write_agent_config(
            workdir / f"voxmcp-{backend}.toml",
            mcp_url=demo.url,
            llm_base_url=llm_url,
            idle_processes=idle,
            greeting=greeting,
        )
        worker = stack.enter_context(
            run_worker(
                multi_worker_command("start", config),
                name=f"bench-{backend}",
                url=node.url,
                api_key=node.api_key,
                api_secret=node.api_secret,
                workdir=workdir,
                env={"VOXMCP_WORKER_MAX_JOBS": "32", "VOXMCP_WORKER_IDLE": str(idle)},
            )
        )
        t0 = time.monotonic()
        worker.wait_registered(timeout_s=180)
        wait_idle_processes(worker, idle, timeout_s=120 + 60 * idle)
        logger.info("worker ready", extra={"backend": backend, "seconds": round(time.monotonic() - t0, 1)})
        for n in levels:
            # let the pool refill its prewarmed processes before each level
            with contextlib.suppress(TimeoutError):
                wait_idle_processes(worker, worker.log().count("initializing process"), timeout_s=90)
            res = asyncio.run(run_level(backend, n, node, worker, question, level_timeout_s, greeting))
            results.append(res)
            print(format_row(res), flush=True)
            if res.answered == 0:
                break  # higher levels will not do better
    return results


def in_process_voice_to_voice(question: Path, workdir: Path) -> float | None:
    """`voxmcp talk` on the same WAV: end of speech -> first audio, with no room in between."""
    from voxmcp.demo.runner import DemoServerProcess

    with DemoServerProcess() as demo:
        config = write_agent_config(workdir / "talk.toml", mcp_url=demo.url)
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("voxmcp")), "talk", "--input", str(question),
             "--output", str(workdir / "talk-answer.wav"), "--config", str(config)],
            capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
    match = re.search(r"end of speech -> first audio:\s*([\d.]+)\s*s", proc.stdout + proc.stderr)
    return float(match.group(1)) if match else None


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_row(r: LevelResult) -> str:
    return (
        f"| {r.backend} | {r.sessions} | {r.answered}/{r.sessions} | {r.tool_calls} | "
        f"{_fmt(r.p(r.join_to_greeting_s, 50))} | "
        f"{_fmt(r.p(r.voice_to_voice_s, 50))} | {_fmt(r.p(r.voice_to_voice_s, 95))} | {r.cpu_mean_pct:.0f} | "
        f"{r.cpu_peak_pct:.0f} | {r.rss_peak_mb:.0f} ({r.processes_peak} procs) | {r.rss_process_mb:.0f} | "
        f"{r.rss_growth_per_session_mb:.0f} | {'yes' if r.holds else 'no'} |"
    )


TABLE_HEAD = (
    "| LLM | sessions | answered | tool calls | join→greeting p50 s | voice→voice p50 s | voice→voice p95 s | "
    "CPU mean % | "
    "CPU peak % | RSS peak MB | RSS/session MB (its job process) | RSS growth/session MB | holds |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def write_report(results: list[LevelResult], in_process: float | None, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            {
                "levels": [
                    {**asdict(r), "rss_growth_per_session_mb": r.rss_growth_per_session_mb, "holds": r.holds}
                    for r in results
                ],
                "in_process_voice_to_voice_s": in_process,
                "hold_rule": f"all answered, one tool call each, p95 <= {HOLD_P95_S}s",
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    lines = [TABLE_HEAD, *(format_row(r) for r in results)]
    for backend in sorted({r.backend for r in results}):
        held = [r.sessions for r in results if r.backend == backend and r.holds]
        lines.append(f"\nSessions one worker holds ({backend} LLM, {os.cpu_count()} cores): {max(held) if held else 0}")
    if in_process is not None:
        lines.append(f"In-process voice→voice (`voxmcp talk`, local LLM): {in_process:.2f} s")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(results, out / "load.png")


def plot(results: list[LevelResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for backend in sorted({r.backend for r in results}):
        rs = [r for r in results if r.backend == backend]
        xs = [r.sessions for r in rs]
        axes[0].plot(xs, [r.p(r.voice_to_voice_s, 95) or np.nan for r in rs], "o-", label=f"{backend} p95")
        axes[0].plot(xs, [r.p(r.voice_to_voice_s, 50) or np.nan for r in rs], "x--", label=f"{backend} p50")
        axes[1].plot(xs, [r.cpu_mean_pct for r in rs], "o-", label=f"{backend} mean")
        axes[1].plot(xs, [r.cpu_peak_pct for r in rs], "x--", label=f"{backend} peak")
        axes[2].plot(xs, [r.rss_peak_mb for r in rs], "o-", label=f"{backend} total")
        axes[2].plot(xs, [r.rss_process_mb for r in rs], "x--", label=f"{backend} per session (process)")
    axes[0].axhline(HOLD_P95_S, color="grey", lw=0.8, ls=":")
    for ax, title, unit in zip(
        axes, ["voice-to-voice latency", "worker CPU", "worker RSS"], ["seconds", "% of one core", "MB"], strict=True
    ):
        ax.set_title(title)
        ax.set_xlabel("concurrent sessions")
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"voxmcp: one worker through LiveKit on {os.cpu_count()} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", choices=["local", "remote", "both"], default="both")
    parser.add_argument("--local-levels", default="1,2,3")
    parser.add_argument("--remote-levels", default="1,2,4,6")
    parser.add_argument("--level-timeout", type=float, default=240.0, help="seconds per level")
    parser.add_argument("--in-process", action="store_true", help="also time `voxmcp talk` on the same WAV")
    parser.add_argument("--no-greeting", action="store_true", help="agent.greeting = false (as `voxmcp talk`)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "livekit_load")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    results: list[LevelResult] = []
    in_process = None
    with scratch_dir("voxmcp-load-") as tmp:
        raw = tmp / "q-raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), QUESTION], check=True, timeout=30)
        question = pad_wav(raw, tmp / "q.wav", leading_silence_s=0.3, trailing_silence_s=0.5)
        print(TABLE_HEAD, flush=True)
        backends = ["local", "remote"] if args.llm == "both" else [args.llm]
        for backend in backends:
            spec = args.local_levels if backend == "local" else args.remote_levels
            levels = [int(x) for x in spec.split(",") if x.strip()]
            workdir = tmp / backend
            workdir.mkdir()
            results += run_backend(backend, levels, workdir, question, args.level_timeout, not args.no_greeting)
        if args.in_process:
            in_process = in_process_voice_to_voice(question, tmp)
    write_report(results, in_process, args.out)


if __name__ == "__main__":
    main()
