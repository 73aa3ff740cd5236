"""The MCP layer's failures, typed: `kind` (what went wrong), `server`, `tool` and `detail` (the server's or the
transport's own words), so the layers above decide what to do from fields, never by parsing a sentence.

connection.py only classifies what the transport raised into these; `voxmcp.voice.wording` is the one module that
turns them into the sentence a user hears. `str(exc)` is that same sentence: the wording is handed to this module
once (`use_wording`) by the voice layer, and until then a plain rendering of the fields stands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CallErrorKind = Literal["timeout", "disconnected", "unknown_outcome", "protocol", "server", "closed"]
"""Why a request failed. "unknown_outcome": the connection dropped after a call with effects was sent, and it
was not repeated: it may or may not have run."""

CallErrorReason = Literal[
    "closed",
    "not_connected",
    "unreachable",
    "lost",
    "timeout",
    "may_have_finished",
    "malformed",
    "schema_mismatch",
    "failed",
    "refused",
    "unknown_outcome",
]
"""The finer reason within a kind (for the wording): e.g. a timeout of a call with effects "may_have_finished"."""

ConnectErrorKind = Literal[
    "refused_access",
    "missing_env",
    "auth",
    "command_not_found",
    "command_not_executable",
    "http_error",
    "no_answer",
    "connection_refused",
    "unknown_host",
    "unreachable",
    "exited",
    "closed_handshake",
    "not_answering",
    "not_mcp_output",
    "malformed_handshake",
    "not_mcp_endpoint",
    "handshake_rejected",
    "auth_setup",
    "start_failed",
    "other",
]
"""Why connecting to a server failed."""

RequestOp = Literal["call_tool", "list_tools", "list_resources", "read_resource", "list_prompts", "get_prompt"]


@dataclass(frozen=True)
class Request:
    """What was asked of the server: the operation and the tool, resource URI or prompt it named."""

    op: RequestOp
    name: str | None = None


class MCPFailure(Exception):
    """A failure of the MCP layer; `str(exc)` is the sentence the voice layer's wording makes of it."""

    kind: str
    server: str
    tool: str | None
    detail: str | None

    def __str__(self) -> str:
        return _wording(self)


class MCPConnectError(MCPFailure):
    """Connecting to `server` failed. `target` is where it is (host:port or the command), `command` the stdio
    command, `status` an HTTP status, `detail` the variable, content type, server message or reason involved."""

    def __init__(
        self,
        kind: ConnectErrorKind,
        *,
        server: str,
        target: str,
        command: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(kind, server)
        self.kind: ConnectErrorKind = kind
        self.server = server
        self.tool = None
        self.target = target
        self.command = command
        self.status = status
        self.detail = detail


class MCPCallError(MCPFailure):
    """A request to `server` failed; `kind` says why (see CallErrorKind), `request` what it was, `tool` the tool
    called (None for listings, reads and prompts), `detail` the server's message or the exception's type, and
    `connect_error` why the server is not connected, when that is the reason."""

    def __init__(
        self,
        kind: CallErrorKind,
        *,
        server: str,
        request: Request | None = None,
        reason: CallErrorReason | None = None,
        detail: str | None = None,
        connect_error: MCPConnectError | None = None,
    ) -> None:
        super().__init__(kind, server)
        self.kind: CallErrorKind = kind
        self.server = server
        self.request = request
        self.tool = request.name if request is not None and request.op == "call_tool" else None
        self.reason: CallErrorReason = reason or _DEFAULT_REASON[kind]
        self.detail = detail
        self.connect_error = connect_error


_DEFAULT_REASON: dict[CallErrorKind, CallErrorReason] = {
    "timeout": "timeout",
    "disconnected": "lost",
    "unknown_outcome": "unknown_outcome",
    "protocol": "failed",
    "server": "refused",
    "closed": "closed",
}

Wording = Callable[[MCPFailure], str]


def _plain(error: MCPFailure) -> str:
    """The fields as they are, for a process that never loaded the voice layer's wording."""
    parts = [f"MCP server {error.server}: {error.kind}"]
    if error.tool:
        parts.append(f"tool {error.tool}")
    if error.detail:
        parts.append(error.detail)
    return "; ".join(parts)


_wording: Wording = _plain


def use_wording(wording: Wording) -> None:
    """Make `wording` what `str()` of every MCP failure says (the voice layer calls this when it loads)."""
    global _wording
    _wording = wording
