"""Scale-out: two LiveKit nodes sharing Redis, two `voxmcp start` workers, rooms spread, crashes contained.

The workers use the loopback OpenAI-compatible fake LLM (fake_openai_llm.py) so four sessions fit on two
shared cores in bounded time; STT, TTS, VAD and the MCP layer are the real local ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_worker import WorkerProcess, run_worker
from livekit_servers import LiveKitCluster, free_port, wait_http_ok
from participant import TestParticipant, mint_token
from room_session import (
    Exchange,
    ask,
    dispatch_agent,
    multi_worker_command,
    serving_worker_ids,
    wait_greeting,
    write_agent_config,
)

pytestmark = [pytest.mark.livekit, pytest.mark.e2e]

FAKE_LLM = Path(__file__).with_name("fake_openai_llm.py")
# sessions per worker as the load measure, one prewarmed process each (see worker_shim.py)
WORKER_ENV = {"VOXMCP_WORKER_MAX_JOBS": "3", "VOXMCP_WORKER_IDLE": "1"}


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    from voxmcp.demo.runner import DemoServerProcess

    with DemoServerProcess() as demo:
        yield demo.url


@pytest.fixture(scope="module")
def fake_llm_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(FAKE_LLM), "--port", str(port)])
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/v1/models", timeout_s=20, proc=proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def workers(
    livekit_cluster: LiveKitCluster, demo_url: str, fake_llm_url: str, tmp_path: Path
) -> Iterator[list[WorkerProcess]]:
    """One `voxmcp start` worker per node, both registered."""
    config = write_agent_config(tmp_path / "voxmcp.toml", mcp_url=demo_url, llm_base_url=fake_llm_url)
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                run_worker(
                    multi_worker_command("start", config),
                    name=f"w{i}",
                    url=node.url,
                    api_key=livekit_cluster.api_key,
                    api_secret=livekit_cluster.api_secret,
                    workdir=tmp_path,
                    env=WORKER_ENV,
                )
            )
            for i, node in enumerate(livekit_cluster.nodes)
        ]
        for worker in started:
            worker.wait_registered(timeout_s=120)
        yield started


class Caller:
    """A participant kept in a room across steps of a test."""

    def __init__(self, cluster: LiveKitCluster, node_index: int, room: str) -> None:
        self.cluster, self.room = cluster, room
        self.node = cluster.nodes[node_index]
        token = mint_token(cluster.api_key, cluster.api_secret, room=room, identity=f"caller-{room}")
        self.participant = TestParticipant(self.node.url, token)
        self.result = Exchange(room=room)

    async def open(self, *, timeout_s: float) -> Caller:
        await dispatch_agent(self.node.http_url, self.cluster.api_key, self.cluster.api_secret, self.room)
        await self.participant.__aenter__()
        joined = time.monotonic()
        await self.participant.publish_microphone()
        await self.participant.wait_for_agent(timeout_s=timeout_s)
        await wait_greeting(self.participant, self.result, joined=joined, timeout_s=timeout_s)
        return self

    async def worker_ids(self) -> list[str]:
        return await serving_worker_ids(self.node.http_url, self.cluster.api_key, self.cluster.api_secret, self.room)

    async def close(self) -> None:
        await self.participant.__aexit__(None, None, None)


async def _open_rooms(cluster: LiveKitCluster, names: list[str], *, stagger_s: float) -> list[Caller]:
    async def one(i: int, name: str) -> Caller:
        await asyncio.sleep(i * stagger_s)
        return await Caller(cluster, i % len(cluster.nodes), name).open(timeout_s=150)

    return list(await asyncio.gather(*(one(i, n) for i, n in enumerate(names))))


async def _serving(caller: Caller, *, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ids = await caller.worker_ids()
        if ids:
            return ids[-1]
        await asyncio.sleep(0.5)
    raise TimeoutError(f"LiveKit reports no worker for room {caller.room}")


async def test_concurrent_rooms_are_spread_across_both_workers(
    livekit_cluster: LiveKitCluster, workers: list[WorkerProcess]
) -> None:
    callers = await _open_rooms(livekit_cluster, [f"spread-{i}" for i in range(4)], stagger_s=2.0)
    try:
        serving = {c.room: await _serving(c) for c in callers}
        greetings = {c.room: round(c.result.join_to_greeting_s or -1, 2) for c in callers}
        print(f"\n[figure] rooms -> workers {serving}; join-to-greeting {greetings}")
        assert all(c.result.greeting_text for c in callers), [c.result.greeting_text for c in callers]
        ids = {w.worker_id() for w in workers}
        assert set(serving.values()) == ids, f"rooms were not spread over both workers: {serving} vs {ids}"
    finally:
        await asyncio.gather(*(c.close() for c in callers), return_exceptions=True)


async def test_killed_worker_leaves_other_sessions_and_next_room_to_the_survivor(
    livekit_cluster: LiveKitCluster,
    workers: list[WorkerProcess],
    espeak_wav: Callable[[str], Path],
) -> None:
    by_id = {w.worker_id(): w for w in workers}
    callers: list[Caller] = []
    try:
        # open rooms until both workers hold one (placement is LiveKit's choice, so at most six tries)
        for i in range(6):
            callers.append(await Caller(livekit_cluster, i % 2, f"crash-{i}").open(timeout_s=150))
            placed = {await _serving(c): c for c in callers}
            if len(placed) == 2:
                break
        assert len(placed) == 2, "LiveKit put six rooms on one worker"
        victim_id, survivor_id = list(placed)
        victim, survivor_room = by_id[victim_id], placed[survivor_id]
        victim.kill()
        assert victim.process.poll() is not None
        # the survivor's session still works end to end
        await ask(
            survivor_room.participant, survivor_room.result, espeak_wav("What time is it in Tokyo?"), timeout_s=150
        )
        assert survivor_room.result.answer_text.strip(), "the surviving session did not answer"
        assert by_id[survivor_id].process.poll() is None
        # the next room goes to the survivor
        fresh = await Caller(livekit_cluster, 0, "after-crash").open(timeout_s=150)
        callers.append(fresh)
        assert await _serving(fresh) == survivor_id
        print(f"\n[figure] after kill: survivor answered in {survivor_room.result.voice_to_voice_s:.2f}s; "
              f"new room greeted after {fresh.result.join_to_greeting_s:.2f}s")  # fmt: skip
    finally:
        await asyncio.gather(*(c.close() for c in callers), return_exceptions=True)


async def test_sigterm_drains_the_worker_gracefully(
    livekit_cluster: LiveKitCluster,
    workers: list[WorkerProcess],
    espeak_wav: Callable[[str], Path],
) -> None:
    """SIGTERM: no new jobs, the running session carries on to its end, then the worker exits cleanly."""
    by_id = {w.worker_id(): w for w in workers}
    caller = await Caller(livekit_cluster, 0, "drain-0").open(timeout_s=150)
    others: list[Caller] = []
    try:
        draining_id = await _serving(caller)
        draining = by_id[draining_id]
        draining.process.send_signal(15)
        await asyncio.sleep(2)
        assert draining.process.poll() is None, "worker exited at once instead of draining"
        assert "draining worker" in draining.log()
        # the running session still answers
        await ask(caller.participant, caller.result, espeak_wav("What is the weather in Paris?"), timeout_s=150)
        assert caller.result.answer_text.strip(), "the session stopped answering during the drain"
        # new rooms go to the other worker
        others.append(await Caller(livekit_cluster, 1, "drain-new").open(timeout_s=150))
        assert await _serving(others[0]) != draining_id
        # when the caller leaves, the job ends and the drained worker exits 0
        await caller.close()
        left_at = time.monotonic()
        code = await asyncio.to_thread(draining.process.wait, 60)
        print(f"\n[figure] drained worker exited {time.monotonic() - left_at:.1f}s after its last caller left")
        assert code == 0, draining.log()[-3000:]
    finally:
        await asyncio.gather(caller.close(), *(c.close() for c in others), return_exceptions=True)
