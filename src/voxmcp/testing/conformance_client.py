"""The client program the official MCP conformance suite drives, built on voxmcp's own MCP layer.

`python -m voxmcp.testing.conformance_client <server-url>`; the suite names the scenario in
`MCP_CONFORMANCE_SCENARIO` and passes scenario data (credentials, tool calls) in `MCP_CONFORMANCE_CONTEXT`.
Each scenario becomes an `MCPServerConfig` + `build_auth` + `MCPConnection` + `InteractionHandlers`, exactly
as a voice session would build them, so the suite judges voxmcp's layer rather than the bare SDK. The only
test-specific piece is `HeadlessBrowser`, which plays the user's browser in authorization-code flows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import mcp.types as types
from mcp.shared.auth import AuthorizationCodeResult

from voxmcp.mcp.auth.build import build_auth
from voxmcp.mcp.auth.token_store import MemoryTokenStore
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPConnection
from voxmcp.mcp.errors import MCPCallError
from voxmcp.mcp.interaction import ElicitReply, InteractionHandlers
from voxmcp.mcp.oauth_settings import OAuthSettings
from voxmcp.voice import wording  # noqa: F401  (failures print as sentences)

logger = logging.getLogger("voxmcp.testing.conformance_client")

CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
"""A client ID metadata document URL (CIMD); the suite's authorization servers never fetch it."""

ScenarioRunner = Callable[[MCPConnection, dict[str, Any]], Awaitable[None]]


class ConformanceError(Exception):
    """The scenario could not be completed; the message says what went wrong."""


class HeadlessBrowser:
    """Plays the user's browser: opens the authorization URL and catches the redirect back to us."""

    def __init__(self) -> None:
        self._result: AuthorizationCodeResult | None = None

    async def open(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=10.0, follow_redirects=False) as client:
            response = await client.get(authorization_url)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise ConformanceError(f"authorization endpoint answered {response.status_code} without a redirect")
        query = parse_qs(urlsplit(location).query)
        if "code" not in query:
            raise ConformanceError(f"authorization redirect carries no code: {query.get('error', ['?'])[0]}")
        self._result = AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],
        )

    async def callback(self) -> AuthorizationCodeResult:
        result, self._result = self._result, None
        if result is None:
            raise ConformanceError("no authorization redirect was received")
        return result


async def accept_with_defaults(server: str, message: str, schema: dict[str, Any]) -> ElicitReply:
    """Accept every form; the voxmcp layer fills the schema's defaults for fields left out (SEP-1034)."""
    logger.info("elicitation accepted", extra={"mcp_server": server, "elicit_message": message})
    return types.ElicitResult(action="accept", content={})


def server_config(url: str, scenario: str, context: dict[str, Any]) -> MCPServerConfig:
    """The voxmcp server configuration a user would write for this scenario's server."""
    # The defaults a user gets (transport "auto": Streamable HTTP, SSE fallback), with a roomier
    # connect bound because the suite's auth scenarios run whole OAuth flows inside the handshake.
    base: dict[str, Any] = {"url": url, "connect_timeout_s": 20.0}
    if not scenario.startswith("auth/"):
        return MCPServerConfig(**base)
    if scenario in ("auth/client-credentials-jwt", "auth/client-credentials-basic", "auth/wif-jwt-bearer"):
        oauth = OAuthSettings(
            client_id=context.get("client_id"),
            client_secret=context.get("client_secret"),
            private_key_pem=context.get("private_key_pem"),
            signing_algorithm=context.get("signing_algorithm", "ES256"),
            assertion=context.get("valid_jwt"),
            token_endpoint_auth_method="client_secret_basic" if context.get("client_secret") else None,
        )
        return MCPServerConfig(**base, auth="client_credentials", oauth=oauth)
    if "idp_token_endpoint" in context:
        oauth = OAuthSettings(
            client_id=context.get("client_id"),
            client_secret=context.get("client_secret"),
            idp_token_endpoint=context["idp_token_endpoint"],
            idp_id_token=context.get("idp_id_token"),
            idp_client_id=context.get("idp_client_id"),
        )
        return MCPServerConfig(**base, auth="oauth", oauth=oauth)
    oauth = OAuthSettings(
        client_id=context.get("client_id"),
        client_secret=context.get("client_secret"),
        client_name="voxmcp-conformance",
        client_metadata_url=CLIENT_METADATA_URL,
    )
    return MCPServerConfig(**base, auth="oauth", oauth=oauth)


async def _call(connection: MCPConnection, name: str, arguments: dict[str, Any]) -> types.CallToolResult | None:
    try:
        result = await connection.call_tool(name, arguments)
    except MCPCallError as exc:
        logger.info("tool call failed: %s", exc, extra={"tool": name})
        return None
    logger.info("tool called", extra={"tool": name, "is_error": result.is_error})
    return result


async def run_first_tool(connection: MCPConnection, context: dict[str, Any]) -> None:
    """List tools and call the first (the auth scenarios' protected operation)."""
    tools = await connection.list_tools()
    if tools:
        await _call(connection, tools[0].name, {})


async def run_context_tool_calls(connection: MCPConnection, context: dict[str, Any]) -> None:
    """Call exactly the tools, with the arguments, the scenario put in its context."""
    await connection.list_tools()
    for call in context.get("toolCalls", []):
        await _call(connection, str(call["name"]), dict(call.get("arguments") or {}))


async def run_every_tool(connection: MCPConnection, context: dict[str, Any]) -> None:
    """Call each listed tool in order (multi-round-trip scenarios drive elicitation inside them)."""
    for tool in await connection.list_tools():
        await _call(connection, tool.name, {})


async def run_schema_echo(connection: MCPConnection, context: dict[str, Any]) -> None:
    """Send the focal tool's inputSchema back verbatim through the echo tool."""
    tools = {tool.name: tool for tool in await connection.list_tools()}
    focal = next((tool for name, tool in tools.items() if name != "json_schema_echo"), None)
    if focal is None or "json_schema_echo" not in tools:
        raise ConformanceError(f"expected a focal tool and json_schema_echo, got {sorted(tools)}")
    await _call(connection, "json_schema_echo", {"schema": focal.input_schema})


def _fixed_call(name: str, arguments: dict[str, Any]) -> ScenarioRunner:
    async def run(connection: MCPConnection, context: dict[str, Any]) -> None:
        await connection.list_tools()
        await _call(connection, name, arguments)

    return run


async def run_list_only(connection: MCPConnection, context: dict[str, Any]) -> None:
    await connection.list_tools()


SCENARIOS: dict[str, ScenarioRunner] = {
    "initialize": run_list_only,
    "tools_call": _fixed_call("add_numbers", {"a": 5, "b": 3}),
    "sse-retry": _fixed_call("test_reconnection", {}),
    "elicitation-sep1034-client-defaults": _fixed_call("test_client_elicitation_defaults", {}),
    "sep-2322-client-request-state": run_every_tool,
    "json-schema-2020-12-preservation": run_schema_echo,
}


def runner_for(scenario: str, context: dict[str, Any]) -> ScenarioRunner:
    if scenario in SCENARIOS:
        return SCENARIOS[scenario]
    if context.get("toolCalls"):
        return run_context_tool_calls
    return run_first_tool


async def run_scenario(url: str, scenario: str, context: dict[str, Any]) -> None:
    config = server_config(url, scenario, context)
    browser = HeadlessBrowser()
    auth = build_auth(
        "conformance",
        config,
        store=MemoryTokenStore(),
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    handlers = InteractionHandlers(elicit=accept_with_defaults)
    async with MCPConnection("conformance", config, handlers=handlers, auth=auth) as connection:
        logger.info("connected", extra={"protocol_version": connection.protocol_version})
        await runner_for(scenario, context)(connection, context)


def _context() -> dict[str, Any]:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"MCP_CONFORMANCE_CONTEXT is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SystemExit("MCP_CONFORMANCE_CONTEXT must be a JSON object")
    return value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m voxmcp.testing.conformance_client <server-url>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    try:
        asyncio.run(run_scenario(args[-1], scenario, _context()))
    except Exception as exc:  # boundary: report and exit non-zero for the harness
        logger.error("scenario %s failed: %s", scenario or "(none)", exc, exc_info=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
