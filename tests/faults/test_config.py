"""Bad configs and environments against the real `voxmcp` command: one sentence naming file and key, exit 2.

Each fault runs `voxmcp` as a subprocess (the way a user meets it), in an empty working directory, and checks the
exit code, the exact sentence, and that no Python traceback reached the terminal. Config errors are rendered by the
command's own error box; `_said` reads the sentence back out of it whatever its layout.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.faults.conftest import FaultRecord

VOXMCP = str(Path(sys.executable).parent / "voxmcp")
FAKE_SERVER = str(Path(__file__).resolve().parents[1] / "mcp" / "fake_stdio_server.py")
pytestmark = [pytest.mark.timeout(120), pytest.mark.fault_category("config")]


def _voxmcp(fault: FaultRecord, cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `voxmcp ARGS` in `cwd` with a clean environment (no VOXMCP_* or secrets from the test run)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VOXMCP_", "LIVEKIT_"))}
    base.update({"COLUMNS": "400", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", **(env or {})})
    done = subprocess.run([VOXMCP, *args], cwd=cwd, env=base, capture_output=True, text=True, timeout=90)
    fault.saw_output(done.stdout + done.stderr)
    return done.returncode, done.stdout, done.stderr


def _said(text: str) -> str:
    """The output as one line: box-drawing characters and line breaks of the error box removed."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text)).strip()


def _expect_config_error(fault: FaultRecord, cwd: Path, sentence: str, *args: str, **kw: dict[str, str]) -> None:
    code, out, err = _voxmcp(fault, cwd, *args, **kw)
    said = _said(out + err)
    fault.outcome = sentence
    assert code == 2, said
    assert sentence in said
    assert fault.tracebacks == 0


def _mcp_json(path: Path, servers: dict[str, object]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def _fake(mode: str = "garbage", **extra: object) -> dict[str, object]:
    return {"command": sys.executable, "args": [FAKE_SERVER, mode], **extra}


def test_mcp_json_named_by_the_toml_is_missing(fault: FaultRecord, tmp_path: Path) -> None:
    (tmp_path / "voxmcp.toml").write_text('[mcp]\nmcp_json = "servers.json"\n')
    _expect_config_error(
        fault, tmp_path, f"{tmp_path / 'servers.json'}: no such file; check mcp.mcp_json", "mcp", "servers"
    )


def test_mcp_json_is_not_utf8(fault: FaultRecord, tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_bytes(b'{"mcpServers": {"caf\xe9": {"command": "x"}}}')
    _expect_config_error(
        fault,
        tmp_path,
        "mcp.json: not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8",
        "mcp",
        "servers",
        "--mcp-json",
        "mcp.json",
    )


@pytest.mark.parametrize(("timeout", "shown"), [("abc", '"abc"'), (None, "null")])
def test_mcp_json_timeout_of_the_wrong_type(fault: FaultRecord, tmp_path: Path, timeout: object, shown: str) -> None:
    mcp_json = _mcp_json(tmp_path / "mcp.json", {"time": _fake(timeout=timeout)})
    (tmp_path / "voxmcp.toml").write_text('[mcp]\nmcp_json = "mcp.json"\n')
    _expect_config_error(
        fault,
        tmp_path,
        f"{mcp_json}: mcpServers.time.timeout: expected a number of milliseconds, got {shown}",
        "mcp",
        "servers",
    )


def test_toml_value_of_the_wrong_type_stops_a_livekit_verb(fault: FaultRecord, tmp_path: Path) -> None:
    (tmp_path / "voxmcp.toml").write_text("[mcp.servers.time]\ncommand = 'uvx'\ntimeout_s = 'soon'\n")
    _expect_config_error(
        fault,
        tmp_path,
        "config error: voxmcp.toml: mcp.servers.time.timeout_s: Input should be a valid number, "
        "unable to parse string as a number",
        "dev",
        "--config",
        "voxmcp.toml",
    )


def test_disabled_false_is_not_disabled(fault: FaultRecord, tmp_path: Path) -> None:
    _mcp_json(tmp_path / "mcp.json", {"fake": _fake(disabled="false"), "off": _fake(disabled="true")})
    code, out, _ = _voxmcp(fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json")
    fault.outcome = out.splitlines()[0] if out else ""
    assert code == 0
    assert out.splitlines()[0] == "fake: connected (stdio, protocol 2025-11-25), 1 tools"
    assert not any(line.startswith("off: connected") for line in out.splitlines())  # "disabled": "true" is off
    assert fault.tracebacks == 0


def test_disabled_that_is_not_a_boolean(fault: FaultRecord, tmp_path: Path) -> None:
    _mcp_json(tmp_path / "mcp.json", {"fake": _fake(disabled="maybe")})
    _expect_config_error(
        fault,
        tmp_path,
        "mcp.json: mcpServers.fake.disabled: Input should be a valid boolean, unable to interpret input",
        "mcp",
        "servers",
        "--mcp-json",
        "mcp.json",
    )


def test_unset_variable_fails_only_its_server(fault: FaultRecord, tmp_path: Path) -> None:
    remote = {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer ${VOXTEST_TOKEN}"}}
    (tmp_path / "voxmcp.toml").write_text(
        f"[mcp.servers.fake]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(FAKE_SERVER)}, 'garbage']\n"
        "[mcp]\nmcp_json = 'mcp.json'\n"
    )
    _mcp_json(tmp_path / "mcp.json", {"remote": remote})
    code, out, _ = _voxmcp(fault, tmp_path, "mcp", "servers")
    fault.outcome = "remote: failed - The remote server needs the environment variable VOXTEST_TOKEN, which is not set."
    assert code == 0
    assert "fake: connected (stdio, protocol 2025-11-25), 1 tools" in out.splitlines()
    assert fault.outcome in out.splitlines()
    assert fault.tracebacks == 0


def test_dotenv_in_the_working_directory_is_read(fault: FaultRecord, tmp_path: Path) -> None:
    _mcp_json(tmp_path / "mcp.json", {"fake": {"command": sys.executable, "args": [FAKE_SERVER, "${VOXTEST_MODE}"]}})
    code, out, _ = _voxmcp(fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json")
    assert "fake: failed - The fake server needs the environment variable VOXTEST_MODE, which is not set." in out
    (tmp_path / ".env").write_text("VOXTEST_MODE=garbage\n")
    code, out, _ = _voxmcp(fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json")
    fault.outcome = out.splitlines()[0] if out else ""
    assert code == 0
    assert out.splitlines()[0] == "fake: connected (stdio, protocol 2025-11-25), 1 tools"
    # a real environment variable wins over .env: "exit" makes the fake server quit on a call, not on connect
    code, out, _ = _voxmcp(fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json", env={"VOXTEST_MODE": "exit"})
    assert code == 0 and "fake: connected" in out
    assert fault.tracebacks == 0


def test_log_level_in_lower_case(fault: FaultRecord, tmp_path: Path) -> None:
    _mcp_json(tmp_path / "mcp.json", {"fake": _fake()})
    code, out, err = _voxmcp(
        fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json", env={"VOXMCP_LOG_LEVEL": "debug"}
    )
    fault.outcome = out.splitlines()[0] if out else err[:160]
    assert code == 0, err
    assert "fake: connected" in out
    assert "INFO voxmcp.mcp.toolset: MCP hub started" in err.splitlines()
    assert fault.tracebacks == 0


def test_unknown_log_level(fault: FaultRecord, tmp_path: Path) -> None:
    _expect_config_error(
        fault,
        tmp_path,
        "config error: VOXMCP_LOG_LEVEL='loud' is not a log level; use one of debug, info, warning, error, critical.",
        "mcp",
        "servers",
        env={"VOXMCP_LOG_LEVEL": "loud"},
    )


class _NotMCP(http.server.BaseHTTPRequestHandler):
    """Answers 404 to everything, so the client logs each request it makes (URL included)."""

    def _answer(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_mcp() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotMCP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join(5)


@pytest.mark.fault_category("secrets")
@pytest.mark.parametrize("level", ["debug", "info"])
def test_no_secret_in_logs(fault: FaultRecord, tmp_path: Path, not_mcp: int, level: str) -> None:
    url = f"http://alice:S3CRET_PASSWORD@127.0.0.1:{not_mcp}/mcp?api_key=S3CRET_KEY"
    _mcp_json(
        tmp_path / "mcp.json",
        {"remote": {"type": "http", "url": url, "headers": {"Authorization": "Bearer ${VOXTEST_TOKEN}"}}},
    )
    env = {"VOXMCP_LOG_LEVEL": level, "VOXTEST_TOKEN": "S3CRET_TOKEN"}
    code, out, err = _voxmcp(fault, tmp_path, "mcp", "servers", "--mcp-json", "mcp.json", "--timeout", "5", env=env)
    fault.outcome = out.splitlines()[0] if out else err[:160]
    assert code == 0, err
    # the server never connects, and the sentence names it by host and port only
    assert out.splitlines()[0].startswith(f"remote: failed - The remote server at 127.0.0.1:{not_mcp} ")
    assert f'HTTP Request: POST http://***@127.0.0.1:{not_mcp}/mcp?api_key=*** "HTTP/1.0 404 Not Found"' in err
    if level == "debug":
        assert f"Connecting to StreamableHTTP endpoint: http://***@127.0.0.1:{not_mcp}/mcp?api_key=***" in err
    assert "S3CRET" not in out + err
    assert fault.tracebacks == 0


def test_error_text_that_looks_like_markup(fault: FaultRecord, tmp_path: Path) -> None:
    """A value such as "[/b]" in the sentence is printed as it is, not taken for terminal markup (MarkupError)."""
    _mcp_json(tmp_path / "mcp.json", {"time": _fake(timeout="[/b]")})
    (tmp_path / "voxmcp.toml").write_text('[mcp]\nmcp_json = "mcp.json"\n')
    _expect_config_error(
        fault,
        tmp_path,
        f"config error: {tmp_path / 'mcp.json'}: mcpServers.time.timeout: expected a number of milliseconds, "
        'got "[/b]"',
        "dev",
        "--config",
        "voxmcp.toml",
    )
