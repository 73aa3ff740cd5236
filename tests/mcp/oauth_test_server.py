"""A tiny local OAuth authorization server + protected MCP server on 127.0.0.1, for the OAuth tests.

starlette under uvicorn in a thread: protected resource metadata, RFC 8414 metadata, dynamic registration,
an authorize endpoint that redirects at once, a token endpoint that checks PKCE and client authentication and
records every grant, and an MCP endpoint behind a bearer check. `AuthServerState` records what happened
(registrations, grants), so tests can assert which side effects a command caused.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class AuthServerState:
    base: str
    access_expires_in: int = 3600
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    grants: list[str] = field(default_factory=list)
    resources: list[str | None] = field(default_factory=list)
    registered_redirects: list[str] = field(default_factory=list)


def _issue(state: AuthServerState) -> dict[str, Any]:
    access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    state.access_tokens[access] = time.time() + state.access_expires_in
    state.refresh_tokens.add(refresh)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.access_expires_in,
        "refresh_token": refresh,
        "scope": "notes",
    }


def build_app(state: AuthServerState) -> ASGIApp:
    server = MCPServer("protected-notes")

    @server.tool()
    async def read_notes() -> str:
        """Read the notes."""
        return "two notes"

    async def prm(request: Request) -> Response:
        return JSONResponse(
            {"resource": f"{state.base}/mcp", "authorization_servers": [state.base], "scopes_supported": ["notes"]}
        )

    async def asm(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": state.base,
                "authorization_endpoint": f"{state.base}/authorize",
                "token_endpoint": f"{state.base}/token",
                "registration_endpoint": f"{state.base}/register",
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
                "scopes_supported": ["notes"],
            }
        )

    async def register(request: Request) -> Response:
        body = await request.json()
        client_id = f"dyn-{len(state.clients)}"
        state.clients[client_id] = {"secret": None, "redirect_uris": body.get("redirect_uris", [])}
        state.registered_redirects.extend(body.get("redirect_uris", []))
        return JSONResponse({"client_id": client_id, "token_endpoint_auth_method": "none", **body}, status_code=201)

    async def authorize(request: Request) -> Response:
        query = request.query_params
        client = state.clients.get(query["client_id"])
        if client is None or query["redirect_uri"] not in client["redirect_uris"]:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if query.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE S256 required"}, 400)
        code = secrets.token_urlsafe(8)
        state.codes[code] = {
            "client_id": query["client_id"],
            "challenge": query["code_challenge"],
            "redirect_uri": query["redirect_uri"],
        }
        state.resources.append(query.get("resource"))
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return RedirectResponse(target, status_code=302)

    async def token(request: Request) -> Response:
        form = await request.form()
        grant = str(form.get("grant_type"))
        state.grants.append(grant)
        state.resources.append(str(form.get("resource")) if form.get("resource") else None)
        if grant == "authorization_code":
            pending = state.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if pending is None or computed != pending["challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "bad code or PKCE"}, 400)
            return JSONResponse(_issue(state))
        if grant == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh not in state.refresh_tokens:
                return JSONResponse({"error": "invalid_grant"}, 400)
            state.refresh_tokens.discard(refresh)
            return JSONResponse(_issue(state))
        if grant == "client_credentials":
            expected = base64.b64encode(b"machine:s3cret").decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, 401)
            return JSONResponse(_issue(state))
        return JSONResponse({"error": "unsupported_grant_type"}, 400)

    inner = server.streamable_http_app()
    authorization_server = Starlette(
        routes=[
            Route("/.well-known/oauth-protected-resource/mcp", prm, methods=["GET"]),
            Route("/.well-known/oauth-authorization-server", asm, methods=["GET"]),
            Route("/register", register, methods=["POST"]),
            Route("/authorize", authorize, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
        ]
    )

    async def bearer_gate(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            headers = dict(scope["headers"])
            presented = headers.get(b"authorization", b"").decode()
            token = presented.removeprefix("Bearer ")
            if not presented.startswith("Bearer ") or state.access_tokens.get(token, 0) < time.time():
                challenge = f'Bearer resource_metadata="{state.base}/.well-known/oauth-protected-resource/mcp"'
                response = JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": challenge})
                await response(scope, receive, send)
                return
            await inner(scope, receive, send)
            return
        if scope["type"] == "http":
            await authorization_server(scope, receive, send)
            return
        await inner(scope, receive, send)  # lifespan belongs to the MCP app

    return bearer_gate


@contextlib.contextmanager
def run_auth_server() -> Iterator[AuthServerState]:
    """The authorization + MCP server on a free loopback port, stopped on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = AuthServerState(base=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("local authorization server did not start")
            time.sleep(0.02)
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=5)
