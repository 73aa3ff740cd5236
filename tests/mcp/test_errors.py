"""The MCP layer's failures are typed: kind, server, tool and detail are fields, not words in a sentence."""

from __future__ import annotations

import subprocess
import sys

from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import describe_connect_error, not_answering
from voxmcp.mcp.errors import MCPCallError, MCPConnectError, Request


def test_call_error_fields() -> None:
    error = MCPCallError("unknown_outcome", server="payments", request=Request("call_tool", "charge"))
    assert (error.kind, error.server, error.tool, error.detail) == ("unknown_outcome", "payments", "charge", None)
    refused = MCPCallError("server", server="notes", request=Request("list_tools"), detail="no such thing")
    assert (refused.kind, refused.reason, refused.tool, refused.detail) == ("server", "refused", None, "no such thing")


def test_connect_errors_are_classified_not_worded() -> None:
    http = MCPServerConfig(url="http://127.0.0.1:9/mcp")
    refused = describe_connect_error("demo", http, ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(refused, MCPConnectError)
    assert (refused.kind, refused.server, refused.target, refused.command) == (
        "connection_refused",
        "demo",
        "127.0.0.1:9",
        None,
    )
    stdio = MCPServerConfig(command="no-such-mcp-server")
    missing = describe_connect_error("tools", stdio, FileNotFoundError("no-such-mcp-server"))
    assert (missing.kind, missing.command) == ("command_not_found", "no-such-mcp-server")
    assert not_answering("tools", stdio).kind == "not_answering"


def test_without_the_voice_layer_str_is_the_plain_fields() -> None:
    """The MCP layer alone has no English: until voxmcp.voice.wording is loaded, str() lists the fields."""
    code = (
        "from voxmcp.mcp.errors import MCPCallError, Request\n"
        "import sys\n"
        "assert 'voxmcp.voice' not in sys.modules\n"
        "print(MCPCallError('timeout', server='notes', request=Request('call_tool', 'add'), detail='30 s'))\n"
        "import voxmcp.voice.wording\n"
        "print(MCPCallError('timeout', server='notes', request=Request('call_tool', 'add')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    plain, spoken = out.stdout.strip().splitlines()
    assert plain == "MCP server notes: timeout; tool add; 30 s"
    assert spoken == "The notes server took too long with the add tool."
