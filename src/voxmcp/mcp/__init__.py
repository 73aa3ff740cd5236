"""voxmcp's MCP client layer on the official `mcp` SDK.

config (server table, `mcpServers` JSON, `${ENV}`) -> connection (one server: transport, handshake, reconnect,
timeouts, cancellation) -> toolset (`MCPHub`: every server as LiveKit tools) -> results (speakable text);
interaction bridges elicitation, sampling, progress and logs to the voice session; auth holds OAuth.

The names below are the layer's public API: the layers above (voice, app) import them from `voxmcp.mcp`, never
from its modules (an import-linter contract in pyproject.toml says so). They load on first use, so
`import voxmcp.mcp.config` does not load the SDK's client or LiveKit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxmcp.mcp.config import MCPConfigError, MCPServerConfig, load_mcp_servers_json
    from voxmcp.mcp.errors import (
        CallErrorKind,
        ConnectErrorKind,
        MCPCallError,
        MCPConnectError,
        MCPFailure,
        Request,
        use_wording,
    )
    from voxmcp.mcp.interaction import (
        ElicitReply,
        InteractionHandlers,
        LogFn,
        ProgressThrottle,
        SampleFn,
        apply_schema_defaults,
    )
    from voxmcp.mcp.results import SpeakableResult, is_complete
    from voxmcp.mcp.toolset import MCPHub, ServerStatus, ToolInfo

_EXPORTS: dict[str, str] = {
    "MCPConfigError": "voxmcp.mcp.config",
    "MCPServerConfig": "voxmcp.mcp.config",
    "load_mcp_servers_json": "voxmcp.mcp.config",
    "CallErrorKind": "voxmcp.mcp.errors",
    "ConnectErrorKind": "voxmcp.mcp.errors",
    "MCPCallError": "voxmcp.mcp.errors",
    "MCPConnectError": "voxmcp.mcp.errors",
    "MCPFailure": "voxmcp.mcp.errors",
    "Request": "voxmcp.mcp.errors",
    "use_wording": "voxmcp.mcp.errors",
    "ElicitReply": "voxmcp.mcp.interaction",
    "InteractionHandlers": "voxmcp.mcp.interaction",
    "LogFn": "voxmcp.mcp.interaction",
    "ProgressThrottle": "voxmcp.mcp.interaction",
    "SampleFn": "voxmcp.mcp.interaction",
    "apply_schema_defaults": "voxmcp.mcp.interaction",
    "SpeakableResult": "voxmcp.mcp.results",
    "is_complete": "voxmcp.mcp.results",
    "MCPHub": "voxmcp.mcp.toolset",
    "ServerStatus": "voxmcp.mcp.toolset",
    "ToolInfo": "voxmcp.mcp.toolset",
}
"""Public name -> the module that defines it."""

__all__ = [
    "CallErrorKind",
    "ConnectErrorKind",
    "ElicitReply",
    "InteractionHandlers",
    "LogFn",
    "MCPCallError",
    "MCPConfigError",
    "MCPConnectError",
    "MCPFailure",
    "MCPHub",
    "MCPServerConfig",
    "ProgressThrottle",
    "Request",
    "SampleFn",
    "ServerStatus",
    "SpeakableResult",
    "ToolInfo",
    "apply_schema_defaults",
    "is_complete",
    "load_mcp_servers_json",
    "use_wording",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
