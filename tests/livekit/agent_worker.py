"""Run agent worker processes (`voxmcp dev|start`) against a LiveKit server, bounded and always torn down."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
VOXMCP = Path(sys.executable).with_name("voxmcp")
REGISTERED_RE = re.compile(r"registered worker.*?\"?id\"?[=:]\s*\"?(AW_[A-Za-z0-9]+)")


def voxmcp_command(mode: str, config: Path | None = None) -> list[str]:
    """`voxmcp <mode> [--config FILE]` from the same virtualenv as the tests."""
    command = [str(VOXMCP), mode] if VOXMCP.exists() else [sys.executable, "-m", "voxmcp", mode]
    if config is not None:
        command += ["--config", str(config)]
    return command


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def worker_id(self) -> str | None:
        match = REGISTERED_RE.search(self.log())
        return match.group(1) if match else None

    def wait_registered(self, timeout_s: float) -> str:
        """The worker id LiveKit gave this worker; fails with the log tail if it never registers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            worker_id = self.worker_id()
            if worker_id:
                return worker_id
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"worker {self.name} did not register within {timeout_s}s:\n{self.log()[-4000:]}")

    def tree(self) -> list[psutil.Process]:
        """The worker and its job/inference processes."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def terminate(self, timeout_s: float) -> int:
        """SIGTERM (LiveKit's drain signal) and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (a crash, not a shutdown)."""
        procs = self.tree()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@contextlib.contextmanager
def run_worker(
    command: Sequence[str],
    *,
    name: str,
    url: str,
    api_key: str,
    api_secret: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    stop_timeout_s: float = 20.0,
) -> Iterator[WorkerProcess]:
    """Start one worker process; on exit SIGTERM it, then SIGKILL its whole tree if it lingers."""
    log_path = workdir / f"worker-{name}.log"
    full_env = {
        **os.environ,
        "LIVEKIT_URL": url,
        "LIVEKIT_API_KEY": api_key,
        "LIVEKIT_API_SECRET": api_secret,
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        # explicit dispatch only, so a worker joins the rooms a test dispatches it to and no others
        "LIVEKIT_AGENT_NAME": "voxmcp",
        **(env or {}),
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=workdir, start_new_session=True
        )
    worker = WorkerProcess(name=name, process=proc, log_path=log_path)
    try:
        yield worker
    finally:
        leftovers = worker.tree()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                pass
        for child in leftovers:
            with contextlib.suppress(psutil.Error):
                if child.is_running():
                    child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
