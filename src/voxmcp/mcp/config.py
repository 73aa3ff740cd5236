"""Typed configuration of one MCP server, as found in `voxmcp.toml` or an `mcpServers` JSON file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    allowed_tools: list[str] | None = None
    denied_tools: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=30.0, gt=0)
    tool_timeouts: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _url_xor_command(self) -> MCPServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of `url` (HTTP) or `command` (stdio)")
        return self
