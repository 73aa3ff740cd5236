"""Typed configuration of one MCP server, as found in `voxmcp.toml` or an `mcpServers` JSON file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voxmcp.mcp.auth.settings import OAuthSettings

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MCPConfigError(ValueError):
    """A server table or `mcpServers` file is malformed; the message names the file, server and key."""


class MissingEnvironmentVariable(MCPConfigError):
    """A `${NAME}` reference names a variable that is not set (and has no `${NAME:-default}`)."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"environment variable {variable} is not set")
        self.variable = variable


def interpolate_env(value: str, environ: dict[str, str] | None = None) -> str:
    """Replace `${NAME}` (or `${NAME:-default}`) with the environment's value: secrets stay out of files."""
    source = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = source.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise MissingEnvironmentVariable(name)

    return _ENV_REFERENCE.sub(replace, value)


class MCPServerConfig(BaseModel):
    """One MCP server: either a URL (HTTP transports) or a command (stdio)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    transport: Literal["auto", "streamable-http", "sse", "stdio"] = "auto"
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["none", "oauth", "client_credentials"] = "none"
    oauth: OAuthSettings | None = None
    """Client identity and flow options for `auth = "oauth"` / `"client_credentials"` (see auth.settings)."""
    allowed_tools: list[str] | None = None
    denied_tools: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0)
    tool_timeouts: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True
    # Beyond the contract's core fields (all optional, defaults keep the old behaviour).
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """Bound on one connect attempt (transport + initialize / server/discover)."""
    protocol: Literal["auto", "legacy"] = "auto"
    """`auto`: probe the 2026-07-28 stateless revision (server/discover), fall back to initialize;
    `legacy`: always the initialize handshake (for servers that mishandle the probe)."""
    reconnect: bool = True
    """Reconnect with backoff when the connection drops; a call that failed on a drop is retried once."""
    sampling: bool = False
    """Per-server sampling policy: only servers with `sampling = true` may ask the session's LLM."""
    expose_resources: bool = False
    """Offer this server's resources to the LLM through a `read_resource` tool."""
    expose_prompts: bool = False
    """Offer this server's prompts to the LLM through a `get_prompt` tool."""

    @model_validator(mode="after")
    def _url_xor_command(self) -> MCPServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of `url` (HTTP) or `command` (stdio)")
        if self.command is not None and self.transport not in ("auto", "stdio"):
            raise ValueError(f"`command` servers run over stdio; transport {self.transport!r} needs a `url`")
        if self.url is not None and self.transport == "stdio":
            raise ValueError("transport 'stdio' needs a `command`, not a `url`")
        for tool, seconds in self.tool_timeouts.items():
            if seconds <= 0:
                raise ValueError(f"tool_timeouts[{tool!r}] must be > 0 seconds, got {seconds}")
        return self

    @property
    def effective_transport(self) -> Literal["auto", "streamable-http", "sse", "stdio"]:
        """The transport to open: `stdio` for commands, else the configured HTTP flavour."""
        return "stdio" if self.command is not None else self.transport

    def timeout_for(self, tool: str) -> float:
        """Per-tool timeout if configured, else the server's."""
        return self.tool_timeouts.get(tool, self.timeout_s)

    def tool_allowed(self, tool: str) -> bool:
        """Allow list (if any) first, then the deny list."""
        if self.allowed_tools is not None and tool not in self.allowed_tools:
            return False
        return tool not in self.denied_tools


# Keys desktop MCP clients (Claude Desktop, Cursor, VS Code, Windsurf) use in an `mcpServers` entry.
_TRANSPORT_ALIASES: dict[str, Literal["auto", "streamable-http", "sse", "stdio"]] = {
    "stdio": "stdio",
    "sse": "sse",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable_http": "streamable-http",
}
_DESKTOP_KEYS_IGNORED = {"description", "disabledTools_comment", "autoApprove", "alwaysAllow", "icon"}


def _server_from_desktop_entry(name: str, entry: dict[str, Any]) -> MCPServerConfig:
    """Map one desktop-style entry (`url`/`serverUrl`, `command`, `args`, `env`, `headers`, `type`)."""
    data: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("type", "transport"):
            if not isinstance(value, str) or value.lower() not in _TRANSPORT_ALIASES:
                allowed = ", ".join(sorted(_TRANSPORT_ALIASES))
                raise MCPConfigError(f"server {name!r}: unknown {key} {value!r} (expected one of: {allowed})")
            data["transport"] = _TRANSPORT_ALIASES[value.lower()]
        elif key in ("url", "serverUrl"):
            data["url"] = value
        elif key == "disabled":
            data["enabled"] = not bool(value)
        elif key in ("disabledTools", "disabled_tools"):
            data["denied_tools"] = value
        elif key in ("timeout", "timeout_s"):
            # Desktop files give milliseconds under `timeout`; ours are seconds.
            data["timeout_s"] = float(value) / 1000.0 if key == "timeout" else float(value)
        elif key in _DESKTOP_KEYS_IGNORED:
            continue
        else:
            data[key] = value
    if data.get("transport") == "stdio" and "url" in data:
        raise MCPConfigError(f"server {name!r}: type 'stdio' needs a `command`, not a `url`")
    try:
        return MCPServerConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}" for err in exc.errors())
        raise MCPConfigError(f"server {name!r}: {problems}") from exc


def parse_mcp_servers(document: Any, *, source: str = "mcpServers") -> dict[str, MCPServerConfig]:
    """Read the `{"mcpServers": {name: entry}}` shape (a bare `{name: entry}` mapping is accepted too)."""
    if not isinstance(document, dict):
        raise MCPConfigError(f"{source}: expected a JSON object with an `mcpServers` key")
    servers = document.get("mcpServers", document.get("servers", document))
    if not isinstance(servers, dict):
        raise MCPConfigError(f"{source}: `mcpServers` must be an object mapping names to servers")
    result: dict[str, MCPServerConfig] = {}
    for name, entry in servers.items():
        if not isinstance(entry, dict):
            raise MCPConfigError(f"{source}: server {name!r} must be an object, got {type(entry).__name__}")
        try:
            result[str(name)] = _server_from_desktop_entry(str(name), entry)
        except MCPConfigError as exc:
            raise MCPConfigError(f"{source}: {exc}") from exc
    return result


def load_mcp_servers_json(path: str | Path) -> dict[str, MCPServerConfig]:
    """Load servers from a desktop-client style JSON file; errors name the file and the bad server/key."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise MCPConfigError(f"{file}: no such file") from exc
    except OSError as exc:
        raise MCPConfigError(f"{file}: cannot read ({exc.strerror})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MCPConfigError(f"{file}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    return parse_mcp_servers(document, source=str(file))
