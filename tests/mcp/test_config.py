"""Server configuration: `${ENV}` interpolation, desktop `mcpServers` JSON, validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from voxmcp.mcp.config import (
    MCPConfigError,
    MCPServerConfig,
    MissingEnvironmentVariable,
    interpolate_env,
    load_mcp_servers_json,
)


def test_interpolate_env_replaces_and_defaults() -> None:
    env = {"TOKEN": "s3cret", "HOST": "example.com"}
    assert interpolate_env("Bearer ${TOKEN}", env) == "Bearer s3cret"
    assert interpolate_env("https://${HOST}/mcp", env) == "https://example.com/mcp"
    assert interpolate_env("${MISSING:-fallback}", env) == "fallback"
    assert interpolate_env("no references", env) == "no references"


def test_interpolate_env_missing_names_the_variable() -> None:
    with pytest.raises(MissingEnvironmentVariable, match="API_KEY") as info:
        interpolate_env("${API_KEY}", {})
    assert info.value.variable == "API_KEY"


def test_load_desktop_json(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "files": {"command": "npx", "args": ["-y", "server-filesystem", "."], "env": {"A": "1"}},
                    "remote": {"type": "http", "url": "https://x/mcp", "headers": {"Authorization": "Bearer ${T}"}},
                    "legacy": {"type": "sse", "url": "https://x/sse", "disabled": True},
                    "vscode": {"serverUrl": "https://y/mcp", "timeout": 5000},
                }
            }
        )
    )
    servers = load_mcp_servers_json(path)
    assert servers["files"].effective_transport == "stdio"
    assert servers["files"].args == ["-y", "server-filesystem", "."]
    assert servers["remote"].transport == "streamable-http"
    assert servers["remote"].headers == {"Authorization": "Bearer ${T}"}  # interpolated at connect time
    assert servers["legacy"].transport == "sse" and servers["legacy"].enabled is False
    assert servers["vscode"].url == "https://y/mcp" and servers["vscode"].timeout_s == 5.0


def test_load_json_errors_name_file_server_and_key(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(MCPConfigError, match=r"bad\.json: invalid JSON at line 1"):
        load_mcp_servers_json(bad_json)
    with pytest.raises(MCPConfigError, match="no such file"):
        load_mcp_servers_json(tmp_path / "absent.json")
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"mcpServers": {"x": {"url": "http://a", "command": "b"}}}))
    with pytest.raises(MCPConfigError, match=r"server 'x'.*exactly one of"):
        load_mcp_servers_json(both)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"mcpServers": {"y": {"type": "websocket", "url": "ws://a"}}}))
    with pytest.raises(MCPConfigError, match="server 'y': unknown type 'websocket'"):
        load_mcp_servers_json(unknown)
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"mcpServers": {"z": {"url": "http://a", "heders": {}}}}))
    with pytest.raises(MCPConfigError, match="server 'z': heders"):
        load_mcp_servers_json(typo)


def test_config_validation_and_helpers() -> None:
    with pytest.raises(ValidationError, match="needs a `url`"):
        MCPServerConfig(command="x", transport="sse")
    with pytest.raises(ValidationError, match="tool_timeouts"):
        MCPServerConfig(url="http://a", tool_timeouts={"slow": 0})
    config = MCPServerConfig(url="http://a", allowed_tools=["a", "b"], denied_tools=["b"], tool_timeouts={"a": 2})
    assert config.tool_allowed("a") and not config.tool_allowed("b") and not config.tool_allowed("c")
    assert config.timeout_for("a") == 2 and config.timeout_for("b") == config.timeout_s
