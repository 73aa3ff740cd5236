"""`voxmcp mcp servers|tools|call` against an in-process-free stdio server and a refused URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp_test_support import free_port
from typer.testing import CliRunner

from voxmcp.mcp.cli import app

FAKE = str(Path(__file__).parent / "fake_stdio_server.py")
pytestmark = pytest.mark.timeout(60)
runner = CliRunner()


@pytest.fixture
def mcp_json(tmp_path: Path) -> Path:
    path = tmp_path / "mcp.json"
    servers = {
        "fake": {"command": sys.executable, "args": [FAKE, "garbage"]},
        "down": {"type": "http", "url": f"http://127.0.0.1:{free_port()}/mcp"},
    }
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def test_servers_lists_states(mcp_json: Path) -> None:
    result = runner.invoke(app, ["servers", "--mcp-json", str(mcp_json)])
    assert result.exit_code == 0, result.output
    assert "fake: connected (stdio, protocol 2025-11-25), 1 tools" in result.output
    assert "down: failed - I can't reach the down server" in result.output


def test_tools_and_call(mcp_json: Path) -> None:
    tools = runner.invoke(app, ["tools", "fake", "--mcp-json", str(mcp_json)])
    assert tools.exit_code == 0 and "answer: Answers." in tools.output
    called = runner.invoke(app, ["call", "fake", "answer", "--args", "{}", "--mcp-json", str(mcp_json)])
    assert called.exit_code == 0 and "All good here." in called.output


def test_bad_input_is_named(mcp_json: Path) -> None:
    bad_args = runner.invoke(app, ["call", "fake", "answer", "--args", "{oops", "--mcp-json", str(mcp_json)])
    assert bad_args.exit_code == 2 and "not valid JSON" in bad_args.output
    unknown = runner.invoke(app, ["tools", "nope", "--mcp-json", str(mcp_json)])
    assert unknown.exit_code == 2 and "no server named 'nope'" in unknown.output
    down = runner.invoke(app, ["tools", "down", "--mcp-json", str(mcp_json)])
    assert down.exit_code == 2
    missing = runner.invoke(app, ["servers", "--mcp-json", "/nonexistent/mcp.json"])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_call_that_may_have_run_exits_3_with_one_sentence(tmp_path: Path) -> None:
    """The server dies during the call: not repeated (it is not annotated safe to repeat), and the user is told."""
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"fake": {"command": sys.executable, "args": [FAKE, "exit"]}}}))
    called = runner.invoke(app, ["call", "fake", "answer", "--mcp-json", str(path)])
    assert called.exit_code == 3
    assert called.output.strip() == (
        "I lost the connection to the fake server while the answer tool was running, so I don't know whether it "
        "finished; please check before asking again."
    )
