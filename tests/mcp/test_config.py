"""Server configuration: `${ENV}` interpolation, desktop `mcpServers` JSON, validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from voxmcp.mcp.config import (
    MCPConfigError,
    MCPServerConfig,
    MissingEnvironmentVariable,
    interpolate_env,
    load_mcp_servers_json,
    parse_mcp_servers,
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


def _json(tmp_path: Path, document: object, name: str = "mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _error(path: Path) -> str:
    with pytest.raises(MCPConfigError) as info:
        load_mcp_servers_json(path, {})
    return str(info.value)


def test_load_json_errors_name_file_and_key(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    assert (
        _error(bad_json)
        == f"{bad_json}: invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"
    )
    assert _error(tmp_path / "absent.json") == f"{tmp_path / 'absent.json'}: no such file"
    both = _json(tmp_path, {"mcpServers": {"x": {"url": "http://a", "command": "b"}}})
    assert _error(both) == f"{both}: mcpServers.x: give exactly one of `url` (HTTP) or `command` (stdio)"
    unknown = _json(tmp_path, {"mcpServers": {"y": {"type": "websocket", "url": "ws://a"}}})
    assert _error(unknown) == (
        f"{unknown}: mcpServers.y.type: unknown transport 'websocket' "
        "(expected one of: http, sse, stdio, streamable-http, streamable_http, streamablehttp)"
    )
    typo = _json(tmp_path, {"mcpServers": {"z": {"url": "http://a", "heders": {}, "args": "x"}}})
    assert _error(typo) == f"{typo}: mcpServers.z.args: Input should be a valid list; mcpServers.z.heders: unknown key"
    renamed = _json(tmp_path, {"mcpServers": {"v": {"serverUrl": 5}}})
    assert _error(renamed) == f"{renamed}: mcpServers.v.serverUrl: Input should be a valid string"


@pytest.mark.parametrize(
    ("timeout", "shown"), [("abc", '"abc"'), (None, "null"), (True, "true"), ([5], "[5]"), ({}, "{}")]
)
def test_timeout_that_is_not_milliseconds(tmp_path: Path, timeout: object, shown: str) -> None:
    path = _json(tmp_path, {"mcpServers": {"time": {"command": "t", "timeout": timeout}}})
    assert _error(path) == f"{path}: mcpServers.time.timeout: expected a number of milliseconds, got {shown}"


def test_timeout_bounds_use_the_model_messages(tmp_path: Path) -> None:
    zero = _json(tmp_path, {"mcpServers": {"time": {"command": "t", "timeout": 0}}})
    assert _error(zero) == f"{zero}: mcpServers.time.timeout: Input should be greater than 0"
    endless = tmp_path / "inf.json"
    endless.write_text('{"mcpServers": {"time": {"command": "t", "timeout_s": Infinity}}}')
    assert _error(endless) == f"{endless}: mcpServers.time.timeout_s: Input should be a finite number"
    as_text = _json(tmp_path, {"mcpServers": {"time": {"command": "t", "timeout": "2500"}}})
    assert load_mcp_servers_json(as_text, {})["time"].timeout_s == 2.5


@pytest.mark.parametrize(
    ("disabled", "enabled"), [("false", True), ("False", True), ("true", False), (0, True), (1, False), (False, True)]
)
def test_disabled_is_a_strict_boolean(tmp_path: Path, disabled: object, enabled: bool) -> None:
    path = _json(tmp_path, {"mcpServers": {"s": {"command": "s", "disabled": disabled}}})
    assert load_mcp_servers_json(path, {})["s"].enabled is enabled


@pytest.mark.parametrize("disabled", ["maybe", None, "", [True]])
def test_disabled_that_is_not_a_boolean(tmp_path: Path, disabled: object) -> None:
    path = _json(tmp_path, {"mcpServers": {"s": {"command": "s", "disabled": disabled}}})
    assert _error(path).startswith(f"{path}: mcpServers.s.disabled: Input should be a valid boolean")


def test_files_that_are_not_server_lists(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"mcpServers": {"caf\xe9": {"command": "x"}}}')
    assert _error(latin1) == f"{latin1}: not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8"
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000)
    assert _error(deep) == f"{deep}: nested too deeply to be a server list"
    array = _json(tmp_path, [1, 2])
    assert _error(array) == f'{array}: expected a JSON object like {{"mcpServers": {{...}}}}, got an array'
    not_a_map = _json(tmp_path, {"mcpServers": ["a"]})
    assert _error(not_a_map) == f"{not_a_map}: mcpServers: expected an object mapping names to servers, got an array"
    entry = _json(tmp_path, {"mcpServers": {"t": "uvx t"}})
    assert _error(entry) == f"{entry}: mcpServers.t: expected an object, got a string"
    assert _error(tmp_path) == f"{tmp_path}: is a directory, not a JSON file"
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"mcpServers": {"t": {"command": "t"}}}).encode())
    assert load_mcp_servers_json(with_bom, {})["t"].command == "t"


def test_json_references_resolve_when_set_and_wait_when_not(tmp_path: Path) -> None:
    path = _json(
        tmp_path,
        {"mcpServers": {"a": {"command": "${BIN}/a", "cwd": "${HOME_DIR:-/tmp}"}, "b": {"url": "http://${HOST}/mcp"}}},
    )
    servers = load_mcp_servers_json(path, {"BIN": "/opt"})
    assert servers["a"].command == "/opt/a" and servers["a"].cwd == "/tmp"
    assert servers["b"].url == "http://${HOST}/mcp"
    with pytest.raises(MissingEnvironmentVariable, match="HOST"):
        servers["b"].require_environment({})


def test_config_validation_and_helpers() -> None:
    with pytest.raises(ValidationError, match="needs a `url`"):
        MCPServerConfig(command="x", transport="sse")
    with pytest.raises(ValidationError, match="tool_timeouts"):
        MCPServerConfig(url="http://a", tool_timeouts={"slow": 0})
    config = MCPServerConfig(url="http://a", allowed_tools=["a", "b"], denied_tools=["b"], tool_timeouts={"a": 2})
    assert config.tool_allowed("a") and not config.tool_allowed("b") and not config.tool_allowed("c")
    assert config.timeout_for("a") == 2 and config.timeout_for("b") == config.timeout_s


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "url",
        "serverUrl",
        "command",
        "args",
        "env",
        "headers",
        "type",
        "transport",
        "disabled",
        "enabled",
        "timeout",
        "timeout_s",
        "tool_timeouts",
        "disabledTools",
        "allowed_tools",
        "cwd",
        "auth",
        "oauth",
        "description",
        "x",
    ]
)
_entries = st.dictionaries(_keys, _json_values | st.just("${UNSET_IN_FUZZ}"), max_size=6)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(st.text(max_size=6), _entries | _json_values, max_size=3) | _json_values)
def test_any_document_is_servers_or_one_named_error(document: object) -> None:
    """Whatever the JSON holds, the result is servers or MCPConfigError: never a TypeError or a traceback."""
    try:
        servers = parse_mcp_servers({"mcpServers": document}, source="mcp.json", environ={})
    except MCPConfigError as exc:
        assert str(exc).startswith("mcp.json: ") and "\n" not in str(exc)
    else:
        assert all(isinstance(config, MCPServerConfig) for config in servers.values())
