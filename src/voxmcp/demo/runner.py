"""Run the demo server as a child process: for tests, `voxmcp talk`, and anything that needs one briefly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from voxmcp.demo.audit import read_audit_log
from voxmcp.demo.notes import default_db_path
from voxmcp.demo.server import DEFAULT_HOST, MCP_PATH

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_POLL_INTERVAL_S = 0.1
_STOP_GRACE_S = 5.0


class DemoServerError(RuntimeError):
    """The demo server could not be started; the message says why and quotes its log."""


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def endpoint_answers(url: str, timeout_s: float = 1.0) -> bool:
    """True when an HTTP server answers at `url` with anything but 'not found' or a server error."""
    try:
        response = httpx.get(url, timeout=timeout_s, headers={"Accept": "application/json, text/event-stream"})
    except httpx.HTTPError:
        return False
    return response.status_code != 404 and response.status_code < 500


async def endpoint_answers_async(url: str, timeout_s: float = 1.0) -> bool:
    """`endpoint_answers` without blocking the event loop."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url, headers={"Accept": "application/json, text/event-stream"})
    except httpx.HTTPError:
        return False
    return response.status_code != 404 and response.status_code < 500


def _exit_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the parent dies, so no orphan is left."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


class DemoServerProcess:
    """`python -m voxmcp.demo` on loopback, started on enter and stopped (SIGTERM, then SIGKILL) on exit.

    Without `db_path`/`audit_log` both go to a temporary folder removed on stop, so read `calls()` before
    leaving the context. The child gets SIGTERM if the parent dies (Linux, started from the main thread).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = DEFAULT_HOST,
        db_path: Path | str | None = None,
        audit_log: Path | str | None = None,
        faults: bool = False,
        startup_timeout_s: float = 20.0,
        slow_step_s: float | None = None,
    ) -> None:
        self.host = host
        self.slow_step_s = slow_step_s
        self.port = port if port is not None else free_port(host)
        self.faults = faults
        self.startup_timeout_s = startup_timeout_s
        self._temp_dir: Path | None = None
        if db_path is None or audit_log is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="voxmcp-demo-"))
        scratch = self._temp_dir
        self.db_path = Path(db_path) if db_path is not None else _scratch(scratch) / "notes.sqlite3"
        self.audit_log = Path(audit_log) if audit_log is not None else _scratch(scratch) / "audit.jsonl"
        self.server_log = (self._temp_dir or self.audit_log.parent) / f"demo-server-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Streamable HTTP endpoint, e.g. http://127.0.0.1:8931/mcp."""
        return f"http://{self.host}:{self.port}{MCP_PATH}"

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def calls(self) -> list[dict[str, Any]]:
        """Every tool call the server recorded so far: {"ts","tool","arguments","ok","result"|"error"}."""
        return read_audit_log(self.audit_log)

    def wait_for_calls(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The audit entries once at least `count` exist (a cancellation is recorded a moment after the
        client gives up); whatever is there when `timeout_s` runs out."""
        deadline = time.monotonic() + timeout_s
        calls = self.calls()
        while len(calls) < count and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL_S / 2)
            calls = self.calls()
        return calls

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "voxmcp.demo", "--host", self.host, "--port", str(self.port)]
        command += ["--db", str(self.db_path), "--audit-log", str(self.audit_log)]
        if self.slow_step_s is not None:
            command += ["--slow-step-s", str(self.slow_step_s)]
        return [*command, "--faults"] if self.faults else command

    def _spawn(self) -> None:
        if self._process is not None:
            raise DemoServerError("This demo server was already started.")
        if _port_in_use(self.port, self.host):
            # checked first, so a server already there cannot pass for this one during the readiness poll
            raise DemoServerError(f"Port {self.port} on {self.host} is already in use; pick another port.")
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # the dir holding voxmcp/
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        in_main_thread = threading.current_thread() is threading.main_thread()
        with self.server_log.open("wb") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # tied to the parent's lifetime only from the main thread: Linux signals on the
                # death of the spawning *thread*, which for a worker thread may come early
                preexec_fn=_exit_with_parent if in_main_thread and sys.platform == "linux" else None,
            )
        logger.info("demo server spawned", extra={"pid": self._process.pid, "url": self.url})

    def _startup_failure(self, reason: str) -> DemoServerError:
        tail = ""
        with contextlib.suppress(OSError):
            tail = self.server_log.read_text(encoding="utf-8", errors="replace")[-1500:]
        self.stop()
        return DemoServerError(f"The demo MCP server at {self.url} {reason}. Its log ends with:\n{tail}")

    def start(self) -> DemoServerProcess:
        """Spawn and wait (bounded) until the MCP endpoint answers."""
        self._spawn()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.is_running():
                raise self._startup_failure("exited during startup")
            if endpoint_answers(self.url, timeout_s=1.0):
                return self
            time.sleep(_POLL_INTERVAL_S)
        raise self._startup_failure(f"did not answer within {self.startup_timeout_s:g} seconds")

    async def start_async(self) -> DemoServerProcess:
        """`start` without blocking the event loop."""
        self._spawn()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.is_running():
                raise self._startup_failure("exited during startup")
            if await endpoint_answers_async(self.url, timeout_s=1.0):
                return self
            await asyncio.sleep(_POLL_INTERVAL_S)
        raise self._startup_failure(f"did not answer within {self.startup_timeout_s:g} seconds")

    def stop(self) -> None:
        """SIGTERM, wait a few seconds, then SIGKILL; remove the temporary folder. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                logger.warning("demo server ignored SIGTERM; killing it", extra={"pid": process.pid})
                process.kill()
                process.wait(timeout=_STOP_GRACE_S)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    async def stop_async(self) -> None:
        """`stop` in a worker thread, so the event loop keeps running while the child exits."""
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> DemoServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> DemoServerProcess:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            process.kill()


def _scratch(folder: Path | None) -> Path:
    assert folder is not None, "a scratch folder exists whenever a path was not given"
    return folder


def ensure_demo_server(
    url: str,
    *,
    db_path: Path | str | None = None,
    audit_log: Path | str | None = None,
    faults: bool = False,
    startup_timeout_s: float = 20.0,
) -> DemoServerProcess | None:
    """Start a demo server for `url` unless something already answers there; the caller stops what it gets.

    Returns None when something answers on that port, or when `url` is not on this machine (nothing to
    start). Notes go to the user's default database unless `db_path` is given.
    """
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return None
    if parts.port is None:
        raise ValueError(f"The demo server URL {url!r} needs an explicit port, e.g. http://127.0.0.1:8931/mcp.")
    if (parts.path or "/") != MCP_PATH:
        raise ValueError(f"The demo server serves {MCP_PATH}, but the URL {url!r} asks for {parts.path!r}.")
    probe_url = f"http://{DEFAULT_HOST}:{parts.port}{MCP_PATH}"
    if endpoint_answers(probe_url):
        return None
    if _port_in_use(parts.port):
        logger.warning("port taken by something that is not an MCP server", extra={"port": parts.port})
        return None
    server = DemoServerProcess(
        port=parts.port,
        db_path=db_path if db_path is not None else default_db_path(),
        audit_log=audit_log,
        faults=faults,
        startup_timeout_s=startup_timeout_s,
    )
    return server.start()


def _port_in_use(port: int, host: str = DEFAULT_HOST) -> bool:
    """True when something accepts TCP connections on host:port (maybe not an MCP server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0
