"""OAuth side effects of the `voxmcp mcp` commands, run as a user runs them (subprocesses) on loopback.

Only `voxmcp mcp login` may register a client or write tokens. `mcp servers` and `mcp call` against a server
that needs a login leave the token directory untouched (not even created) and register nothing at the
authorization server; they say "... log in with: voxmcp mcp login NAME". After a login they use the stored
tokens, and a refresh replaces the stored token in place without registering again.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mcp"))

from oauth_test_server import AuthServerState, run_auth_server

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

pytestmark = [pytest.mark.timeout(180), pytest.mark.fault_category("oauth")]

RUN_TIMEOUT_S = 90.0
NEEDS_LOGIN = "The notes server needs a login first; log in with: voxmcp mcp login notes."


@pytest.fixture
def auth_server() -> Iterator[AuthServerState]:
    with run_auth_server() as state:
        yield state


@pytest.fixture
def setup(auth_server: AuthServerState, tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """(config file, token directory, environment) for one server `notes` behind OAuth."""
    config = tmp_path / "voxmcp.toml"
    config.write_text(f'[mcp.servers.notes]\nurl = "{auth_server.base}/mcp"\nauth = "oauth"\n')
    tokens = tmp_path / "tokens"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMCP_")}
    env.update(VOXMCP_TOKEN_DIR=str(tokens), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    return config, tokens, env


def _voxmcp(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxmcp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=RUN_TIMEOUT_S,
    )


def _snapshot(directory: Path) -> dict[str, str] | None:
    """Every file under the token directory with its content; None when the directory does not exist."""
    if not directory.exists():
        return None
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


def _login(config: Path, env: dict[str, str], cwd: Path) -> str:
    """`voxmcp mcp login notes`, with this test as the user's browser; returns its last stdout line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxmcp.cli", "mcp", "login", "notes", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        seen = b""
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            # the raw pipe, not readline(): a buffered reader can hold the line while select() sees nothing
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                seen += os.read(proc.stdout.fileno(), 65536)
                match = re.search(rb"http://\S+/authorize\?\S+", seen)
                url = match.group(0).decode() if match else None
        assert url is not None, "login printed no authorization URL"
        page = httpx.get(url, follow_redirects=True, timeout=30)  # the browser: authorize, then the redirect
        assert page.status_code == 200 and "logged in" in page.text
        rest, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        out = seen.decode() + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    return out.strip().splitlines()[-1]


def test_servers_without_login_registers_and_writes_nothing(
    setup: tuple[Path, Path, dict[str, str]], auth_server: AuthServerState, fault: FaultRecord
) -> None:
    config, tokens, env = setup
    done = _voxmcp("mcp", "servers", "--config", str(config), env=env, cwd=config.parent)
    fault.saw_output(done.stdout + done.stderr)
    fault.outcome = done.stdout.splitlines()[0]
    assert fault.outcome == f"notes: failed - {NEEDS_LOGIN}"
    assert fault.tracebacks == 0
    assert auth_server.clients == {} and auth_server.grants == []
    assert _snapshot(tokens) is None


def test_call_without_login_registers_and_writes_nothing(
    setup: tuple[Path, Path, dict[str, str]], auth_server: AuthServerState, fault: FaultRecord
) -> None:
    config, tokens, env = setup
    done = _voxmcp("mcp", "call", "notes", "read_notes", "--config", str(config), env=env, cwd=config.parent)
    fault.saw_output(done.stdout + done.stderr)
    fault.outcome = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2
    assert fault.outcome == f"notes: failed: {NEEDS_LOGIN}"
    assert fault.tracebacks == 0
    assert auth_server.clients == {} and auth_server.grants == []
    assert _snapshot(tokens) is None


def test_login_then_commands_use_and_refresh_the_stored_login(
    setup: tuple[Path, Path, dict[str, str]], auth_server: AuthServerState, fault: FaultRecord
) -> None:
    config, tokens, env = setup
    last = _login(config, env, config.parent)
    assert last == f"Logged in to notes: 1 tools; tokens saved to {tokens / 'notes.json'}"
    assert len(auth_server.clients) == 1 and auth_server.grants == ["authorization_code"]
    after_login = _snapshot(tokens)
    assert after_login is not None and list(after_login) == ["notes.json"]

    call = ["mcp", "call", "notes", "read_notes", "--config", str(config)]
    done = _voxmcp(*call, env=env, cwd=config.parent)
    fault.saw_output(done.stdout + done.stderr)
    assert done.returncode == 0 and done.stdout.strip() == "two notes."
    assert _snapshot(tokens) == after_login  # a valid stored token: nothing to write

    auth_server.access_tokens.clear()  # the server forgot the access token: the next command refreshes
    done = _voxmcp(*call, env=env, cwd=config.parent)
    fault.saw_output(done.stdout + done.stderr)
    fault.outcome = done.stdout.strip()
    assert done.returncode == 0 and fault.outcome == "two notes."
    assert auth_server.grants == ["authorization_code", "refresh_token"]
    assert len(auth_server.clients) == 1  # no second registration
    refreshed = _snapshot(tokens)
    assert refreshed is not None and list(refreshed) == ["notes.json"] and refreshed != after_login
    assert fault.tracebacks == 0


def test_wrong_client_secret_is_one_sentence(auth_server: AuthServerState, tmp_path: Path, fault: FaultRecord) -> None:
    config = tmp_path / "voxmcp.toml"
    config.write_text(
        f'[mcp.servers.machine]\nurl = "{auth_server.base}/mcp"\nauth = "client_credentials"\n'
        f'[mcp.servers.machine.oauth]\nclient_id = "machine"\nclient_secret = "wrong-secret"\n'
        f'issuer = "{auth_server.base}"\n'
    )
    tokens = tmp_path / "tokens"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMCP_")}
    env.update(VOXMCP_TOKEN_DIR=str(tokens), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    done = _voxmcp("mcp", "servers", "--config", str(config), env=env, cwd=tmp_path)
    fault.saw_output(done.stdout + done.stderr)
    fault.outcome = done.stdout.splitlines()[0]
    assert fault.outcome == (
        "machine: failed - The machine server's authorization server refused voxmcp's client credentials "
        "(invalid_client); check oauth.client_id and oauth.client_secret of the machine server."
    )
    assert fault.tracebacks == 0
    assert "wrong-secret" not in done.stdout + done.stderr
    assert _snapshot(tokens) is None
    assert auth_server.grants == ["client_credentials"]  # not asked again over the SSE fallback
