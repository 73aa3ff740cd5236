"""Start and stop real LiveKit server nodes and Redis on loopback, for tests and benchmarks.

Every process started here is owned by a context manager and killed on exit; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LIVEKIT_VERSION = os.environ.get("LIVEKIT_VERSION", "v1.13.5")
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"


def livekit_binary() -> Path | None:
    """The cached `livekit-server` built by scripts/livekit/install.sh, or $LIVEKIT_SERVER_BIN, or None."""
    explicit = os.environ.get("LIVEKIT_SERVER_BIN")
    if explicit:
        path = Path(explicit)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    cache = Path(
        os.environ.get("VOXMCP_LIVEKIT_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voxmcp" / "bin"
    )
    path = cache / f"livekit-server-{LIVEKIT_VERSION}"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def redis_binary() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the kernel says is free right now on 127.0.0.1 (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes], *, grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_redis(workdir: Path, *, startup_timeout_s: float = 10.0) -> Iterator[RedisServer]:
    """A throwaway redis-server on loopback: no persistence, killed on exit."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server not found; run scripts/livekit/install.sh")
    for attempt in range(3):
        port = free_port()
        log = workdir / f"redis-{port}.log"
        argv = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(workdir)]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_redis(proc, port, log, startup_timeout_s)
        except (RuntimeError, TimeoutError):
            _stop(proc)
            if "in use" in _tail(log) and attempt < 2:
                continue  # the free port was taken before redis bound it
            raise
        break
    try:
        yield RedisServer(port=port, process=proc)
    finally:
        _stop(proc)


def _wait_redis(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"redis-server not ready on port {port} after {timeout_s}s")
        time.sleep(0.1)


@dataclass
class LiveKitNode:
    """One running LiveKit server node."""

    port: int
    api_key: str
    api_secret: str
    process: subprocess.Popen[bytes]
    log_path: Path
    config_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return _tail(self.log_path, 200_000)

    def stop(self) -> None:
        _stop(self.process)


def _node_config(port: int, api_key: str, api_secret: str, redis_address: str | None) -> str:
    lines = [
        f"port: {port}",
        "bind_addresses: [127.0.0.1]",
        "rtc:",
        "  tcp_port: 0",  # no ICE-TCP listener (it would bind every interface); UDP on loopback suffices
        f"  udp_port: {free_port(socket.SOCK_DGRAM)}",
        "  use_external_ip: false",
        "  node_ip: 127.0.0.1",
        "  enable_loopback_candidate: true",
        "keys:",
        f"  {api_key}: {api_secret}",
        "logging:",
        "  level: info",
        "  json: true",
        "room:",
        "  empty_timeout: 20",
        "  departure_timeout: 5",
    ]
    if redis_address:
        lines += ["redis:", f"  address: {redis_address}"]
    return "\n".join(lines) + "\n"


def wait_http_ok(url: str, *, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last_error = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s (last error: {last_error})")


@contextlib.contextmanager
def run_livekit_node(
    workdir: Path,
    *,
    dev: bool = True,
    redis_address: str | None = None,
    api_key: str = DEV_API_KEY,
    api_secret: str = DEV_API_SECRET,
    startup_timeout_s: float = 30.0,
) -> Iterator[LiveKitNode]:
    """A LiveKit server node on 127.0.0.1 with free ports; with `redis_address`, part of a cluster."""
    binary = livekit_binary()
    if binary is None:
        raise FileNotFoundError("livekit-server not built; run scripts/livekit/install.sh")
    node: LiveKitNode | None = None
    # free ports are only free when checked: another process may take one first, so retry with new ones
    for attempt in range(3):
        port = free_port()
        config_path = workdir / f"livekit-{port}.yaml"
        config_path.write_text(_node_config(port, api_key, api_secret, redis_address))
        log_path = workdir / f"livekit-{port}.log"
        argv = [str(binary), "--config", str(config_path), "--bind", "127.0.0.1", "--node-ip", "127.0.0.1"]
        if dev:
            argv.append("--dev")
        with log_path.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        candidate = LiveKitNode(port, api_key, api_secret, proc, log_path, config_path)
        try:
            wait_http_ok(candidate.http_url, timeout_s=startup_timeout_s, proc=proc)
        except (TimeoutError, RuntimeError) as exc:
            candidate.stop()
            if "address already in use" in _tail(log_path) and attempt < 2:
                continue
            raise RuntimeError(f"LiveKit node did not start: {exc}\n{_tail(log_path)}") from exc
        node = candidate
        break
    assert node is not None
    try:
        yield node
    finally:
        node.stop()


@dataclass
class LiveKitCluster:
    """Nodes sharing one Redis: a room opened through any node is reachable from all."""

    redis: RedisServer
    nodes: list[LiveKitNode] = field(default_factory=list)

    @property
    def api_key(self) -> str:
        return self.nodes[0].api_key

    @property
    def api_secret(self) -> str:
        return self.nodes[0].api_secret


@contextlib.contextmanager
def run_livekit_cluster(workdir: Path, *, node_count: int = 2) -> Iterator[LiveKitCluster]:
    """`node_count` non-dev nodes with one random 48-char secret, sharing a throwaway Redis."""
    api_key = "voxmcp-test"
    api_secret = secrets.token_urlsafe(36)
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(run_redis(workdir))
        cluster = LiveKitCluster(redis=redis)
        for _ in range(node_count):
            node = stack.enter_context(
                run_livekit_node(
                    workdir, dev=False, redis_address=redis.address, api_key=api_key, api_secret=api_secret
                )
            )
            cluster.nodes.append(node)
        yield cluster


@contextlib.contextmanager
def scratch_dir(prefix: str = "voxmcp-livekit-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def pad_wav(src: Path, dst: Path, *, leading_silence_s: float, trailing_silence_s: float) -> Path:
    """Copy a 16-bit WAV with silence around it (VAD must hear the speech end; browsers need a lead-in)."""
    import wave

    with wave.open(str(src), "rb") as r:
        params = r.getparams()
        frames = r.readframes(r.getnframes())
    width = params.sampwidth * params.nchannels
    lead = b"\0" * int(params.framerate * leading_silence_s) * width
    tail = b"\0" * int(params.framerate * trailing_silence_s) * width
    with wave.open(str(dst), "wb") as w:
        w.setparams(params)
        w.writeframes(lead + frames + tail)
    return dst
