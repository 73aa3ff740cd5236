"""How the MCP layer's failures sound: one sentence per typed error, naming the server, tool or file and what to do.

The MCP layer raises `MCPConnectError` / `MCPCallError` with fields (kind, server, tool, detail); this is the only
place they become English. Importing it hands `say` to the MCP layer (`use_wording`), so `str(exc)` anywhere is
the sentence said here.
"""

from __future__ import annotations

from voxmcp.mcp import MCPCallError, MCPConnectError, MCPFailure, Request, use_wording


def say(error: MCPFailure) -> str:
    """The sentence for any MCP failure."""
    if isinstance(error, MCPConnectError):
        return connect_sentence(error)
    if isinstance(error, MCPCallError):
        return call_sentence(error)
    return f"The {error.server} server failed."


def request_phrase(request: Request | None) -> str:
    """What was asked, as said inside a sentence: "the weather tool", "listing tools", "reading notes://1"."""
    if request is None:
        return "the request"
    name = request.name or ""
    phrases = {
        "call_tool": f"the {name} tool",
        "list_tools": "listing tools",
        "list_resources": "listing resources",
        "read_resource": f"reading {name}",
        "list_prompts": "listing prompts",
        "get_prompt": f"the {name} prompt",
    }
    return phrases[request.op]


def call_sentence(error: MCPCallError) -> str:
    server, what = error.server, request_phrase(error.request)
    connect = str(error.connect_error) if error.connect_error is not None else None
    match error.reason:
        case "closed":
            return f"The {server} server connection is closed."
        case "not_connected":
            return connect or f"The {server} server is not connected."
        case "unreachable":
            return connect or f"The {server} server is not reachable right now."
        case "lost":
            return f"I lost the connection to the {server} server."
        case "unknown_outcome" if error.tool is not None:
            return (
                f"I lost the connection to the {server} server while the {error.tool} tool was running, so I don't "
                "know whether it finished; please check before asking again."
            )
        case "unknown_outcome":
            return (
                f"I lost the connection to the {server} server during {what}, so I don't know whether "
                "it finished; please check before asking again."
            )
        case "may_have_finished":
            return (
                f"The {server} server took too long with {what}; I stopped waiting, but it may have "
                "finished, so please check before asking again."
            )
        case "timeout":
            return f"The {server} server took too long with {what}."
        case "malformed":
            return f"The {server} server sent a malformed reply to {what}."
        case "schema_mismatch":
            return f"The {server} server returned data that does not match its own schema for {what}."
        case "refused":
            return f"The {server} server refused {what}: {error.detail}"
        case _:
            return f"The {server} server failed {what} ({error.detail})."


def connect_sentence(error: MCPConnectError) -> str:
    name, target, detail = error.server, error.target, error.detail
    match error.kind:
        case "refused_access":
            return (
                f"The {name} server at {target} refused access ({error.status}); log in with: voxmcp mcp login {name}."
            )
        case "missing_env":
            return f"The {name} server needs the environment variable {detail}, which is not set."
        case "auth":
            return detail or f"The {name} server needs authorization; log in with: voxmcp mcp login {name}."
        case "command_not_found":
            return f"I can't start the {name} server: the command {error.command!r} was not found."
        case "command_not_executable":
            return f"I can't start the {name} server: the command {error.command!r} is not executable."
        case "http_error":
            return f"The {name} server at {target} answered with HTTP error {error.status}."
        case "no_answer":
            return f"The {name} server at {target} did not answer in time."
        case "connection_refused":
            return f"I can't reach the {name} server at {target}: connection refused."
        case "unknown_host":
            return f"I can't reach the {name} server: the host in {target} is unknown."
        case "unreachable" if detail:
            return f"I can't reach the {name} server at {target}: {detail}."
        case "unreachable":
            return f"I can't reach the {name} server at {target}."
        case "exited":
            return f"The {name} server ({error.command}) exited before it was ready."
        case "closed_handshake":
            return f"The {name} server at {target} closed the connection during the handshake."
        case "not_answering" if error.command is not None:
            return f"The {name} server ({error.command}) did not answer in time."
        case "not_answering":
            return f"The {name} server at {target} did not answer in time."
        case "not_mcp_output":
            return (
                f"The {name} server ({error.command}) printed output that is not MCP and never finished connecting; "
                "check that the command starts an MCP server on stdio."
            )
        case "malformed_handshake":
            return f"The {name} server at {target} sent a malformed reply to the MCP handshake (not JSON-RPC)."
        case "not_mcp_endpoint":
            return (
                f"The {name} server at {target} answered with {detail} instead of MCP; "
                "check that the URL is the server's MCP endpoint."
            )
        case "handshake_rejected":
            return f"The {name} server at {target} rejected the MCP handshake: {detail}."
        case "auth_setup":
            return f"I can't set up sign-in for the {name} server: {detail}"
        case "start_failed":
            return f"The {name} server failed to start ({detail})."
        case _:
            return f"I can't connect to the {name} server at {target} ({detail})."


use_wording(say)
