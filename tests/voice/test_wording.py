"""One sentence per typed MCP failure, naming the server (and tool) and, where there is one, what to do."""

from __future__ import annotations

import typing

import pytest

from voxmcp.mcp.errors import CallErrorReason, ConnectErrorKind, MCPCallError, MCPConnectError, Request
from voxmcp.voice.wording import say

CALL = [
    ("closed", "closed", None, "The notes server connection is closed."),
    ("disconnected", "not_connected", None, "The notes server is not connected."),
    ("disconnected", "unreachable", None, "The notes server is not reachable right now."),
    ("disconnected", "lost", None, "I lost the connection to the notes server."),
    (
        "unknown_outcome",
        "unknown_outcome",
        None,
        "I lost the connection to the notes server while the add tool was running, so I don't know whether it "
        "finished; please check before asking again.",
    ),
    (
        "timeout",
        "may_have_finished",
        None,
        "The notes server took too long with the add tool; I stopped waiting, but it may have finished, so please "
        "check before asking again.",
    ),
    ("timeout", "timeout", None, "The notes server took too long with the add tool."),
    ("protocol", "malformed", None, "The notes server sent a malformed reply to the add tool."),
    (
        "protocol",
        "schema_mismatch",
        None,
        "The notes server returned data that does not match its own schema for the add tool.",
    ),
    ("protocol", "failed", "KeyError", "The notes server failed the add tool (KeyError)."),
    ("server", "refused", "Unknown tool", "The notes server refused the add tool: Unknown tool"),
]


@pytest.mark.parametrize(("kind", "reason", "detail", "sentence"), CALL)
def test_call_failures(kind: typing.Any, reason: CallErrorReason, detail: str | None, sentence: str) -> None:
    error = MCPCallError(kind, server="notes", request=Request("call_tool", "add"), reason=reason, detail=detail)
    assert say(error) == str(error) == sentence


def test_every_reason_and_kind_has_its_own_sentence() -> None:
    reasons = typing.get_args(CallErrorReason)
    assert {r for _, r, _, _ in CALL} == set(reasons)
    kinds = typing.get_args(ConnectErrorKind)
    sentences = {
        k: say(MCPConnectError(k, server="notes", target="127.0.0.1:9", command="srv", status=401, detail="why"))
        for k in kinds
    }
    assert len(set(sentences.values())) == len(kinds)
    assert sentences.pop("auth") == "why"  # the auth layer's own sentence, passed through
    assert all(("notes" in s and s[-1] in ".:") or s.endswith("why") for s in sentences.values()), sentences


def test_requests_other_than_tools_are_named() -> None:
    listing = MCPCallError("unknown_outcome", server="notes", request=Request("list_tools"))
    assert str(listing) == (
        "I lost the connection to the notes server during listing tools, so I don't know whether it finished; "
        "please check before asking again."
    )
    assert str(MCPCallError("timeout", server="docs", request=Request("read_resource", "docs://a"))) == (
        "The docs server took too long with reading docs://a."
    )


def test_not_connected_says_why_when_known() -> None:
    why = MCPConnectError("connection_refused", server="notes", target="127.0.0.1:9")
    error = MCPCallError("disconnected", server="notes", reason="unreachable", connect_error=why)
    assert str(error) == "I can't reach the notes server at 127.0.0.1:9: connection refused."
