"""Faults against `voxmcp web` as a user (and an attacker's page) meets it: the real command, on loopback.

A DNS-rebinding page, a page that refreshes its token forever, an old token replayed, bad `--token-ttl`
values and a taken port: each gets one clear sentence (HTTP body or stderr line), never a token it should
not have and never a traceback.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = [pytest.mark.timeout(120), pytest.mark.fault_category("web")]

START_TIMEOUT_S = 60.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "VOXMCP_"))}
    env.update(PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    return env


def _config(tmp: Path) -> Path:
    config = tmp / "voxmcp.toml"
    config.write_text('[livekit]\nurl = "ws://127.0.0.1:7880"\n')  # loopback: dev keys, no agent dispatch
    return config


def _web(tmp: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "voxmcp.cli", "web", "--config", str(_config(tmp)), *args]


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`voxmcp web --port 0` in a subprocess; yields the page URL it printed."""
    tmp = tmp_path_factory.mktemp("web")
    proc = subprocess.Popen(
        _web(tmp, "--port", "0", "--token-ttl", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=tmp,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        seen = b""
        while time.monotonic() < deadline and proc.poll() is None:
            # the raw pipe, not readline(): a buffered reader can hold the line while select() sees nothing
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                seen += os.read(proc.stdout.fileno(), 65536)
                match = re.search(rb"voxmcp web: (http://127\.0\.0\.1:\d+/)", seen)
                if match:
                    yield match.group(1).decode()
                    return
        raise RuntimeError(f"voxmcp web did not start: {seen!r}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def test_dns_rebinding_page_gets_no_token(web_url: str, fault: FaultRecord) -> None:
    port = _port(web_url)
    with httpx.Client(base_url=web_url, timeout=10) as client:
        resp = client.post(
            "/api/session",
            json={},
            headers={"host": f"evil.example:{port}", "origin": f"http://evil.example:{port}"},
        )
    fault.outcome = resp.json().get("error", "")
    fault.saw_output(resp.text)
    assert resp.status_code == 403
    assert "token" not in resp.json()
    assert fault.outcome == (
        f"Host 'evil.example:{port}' is not a name this voxmcp web server answers to (DNS rebinding guard): "
        f"open the page at http://127.0.0.1:{port}/, or start voxmcp web with --allow-host NAME."
    )


def test_page_refreshing_forever_is_stopped(web_url: str, fault: FaultRecord) -> None:
    with httpx.Client(base_url=web_url, timeout=10) as client:
        session = client.post("/api/session", json={})
        assert session.status_code == 200, session.text
        token = session.json()["token"]
        codes = []
        last = None
        for _ in range(20):  # far more than the 6 a minute a session may have
            last = client.post("/api/session/refresh", json={"token": token})
            codes.append(last.status_code)
            if last.status_code != 200:
                break
            token = last.json()["token"]
    assert last is not None
    fault.outcome = last.json()["error"]
    fault.saw_output(last.text)
    assert codes == [200] * 6 + [429]
    assert fault.outcome == "too many token refreshes for this session (at most 6 a minute); try again shortly"


def test_replayed_old_token_gets_no_new_one(web_url: str, fault: FaultRecord) -> None:
    with httpx.Client(base_url=web_url, timeout=10) as client:
        first = client.post("/api/session", json={}).json()["token"]
        time.sleep(1.1)  # tokens carry whole-second times: a renewal in the same second is the same token
        assert client.post("/api/session/refresh", json={"token": first}).status_code == 200
        replay = client.post("/api/session/refresh", json={"token": first})
    fault.outcome = replay.json()["error"]
    assert replay.status_code == 401
    assert fault.outcome == "token refused: it was already exchanged for a newer one"


@pytest.mark.parametrize("ttl", ["5", "99999"])
def test_bad_token_ttl_stops_at_start(ttl: str, tmp_path: Path, fault: FaultRecord) -> None:
    done = subprocess.run(
        _web(tmp_path, "--port", "0", "--token-ttl", ttl),
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=START_TIMEOUT_S,
    )
    fault.outcome = done.stderr.strip()
    fault.saw_output(done.stderr + done.stdout)
    assert done.returncode == 2
    assert fault.outcome == f"error: --token-ttl must be between 10 and 3600 seconds (got {ttl})"
    assert done.stdout == ""


def test_taken_port_is_one_sentence(web_url: str, tmp_path: Path, fault: FaultRecord) -> None:
    port = _port(web_url)
    done = subprocess.run(
        _web(tmp_path, "--port", str(port)),
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=START_TIMEOUT_S,
    )
    fault.outcome = done.stderr.strip()
    fault.saw_output(done.stderr + done.stdout)
    assert done.returncode == 1
    assert fault.outcome == f"error: cannot serve on 127.0.0.1:{port}: Address already in use; pick another --port"
