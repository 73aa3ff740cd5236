"""The `voxmcp web` HTTP side: one page, and a token endpoint that keeps the LiveKit secret server side.

A visitor gets a fresh random room (or, only if configured, a named one), a token for that room and a
random identity with a short TTL, and the agent is dispatched into the room before the token is returned.
Every request must name this server in its Host header (DNS rebinding), token posts must be same-origin,
and a session renews its token only a few times a minute and never past `max_session` (see `guards`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from livekit import api
from voxmcp.livekit_tokens import (
    DEFAULT_TTL,
    MAX_TTL,
    MIN_TTL,
    LiveKitCredentials,
    TokenError,
    TokenRejected,
    check_room_name,
    mint_participant_token,
    new_identity,
    new_room_name,
    verify_participant_token,
)
from voxmcp.web.guards import HostPolicy, RefreshLedger, RefreshRefused

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
DEFAULT_MAX_SESSION = timedelta(hours=4)
MAX_MAX_SESSION = timedelta(hours=24)


@dataclass(frozen=True)
class WebSettings:
    """What the page server needs. `allowed_rooms`/`allow_any_room` open named rooms; default: none."""

    credentials: LiveKitCredentials
    agent_name: str = "voxmcp"
    token_ttl: timedelta = DEFAULT_TTL
    room_prefix: str = "voxmcp-web"
    allowed_rooms: frozenset[str] = field(default_factory=frozenset)
    allow_any_room: bool = False
    sessions_per_minute: int = 30
    dispatch_timeout_s: float = 10.0
    bind_host: str = "127.0.0.1"
    """The address served on: decides which Host headers are accepted (see `guards.HostPolicy`)."""
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    """Extra Host names (`--allow-host`), e.g. a reverse proxy's or this machine's DNS name."""
    max_session: timedelta = DEFAULT_MAX_SESSION
    """No token of a session outlives its start by more than this, however often it is refreshed."""
    refreshes_per_minute: int = 6

    def __post_init__(self) -> None:
        for room in self.allowed_rooms:
            check_room_name(room)
        if self.sessions_per_minute < 1:
            raise TokenError("web sessions_per_minute must be at least 1")
        if self.refreshes_per_minute < 1:
            raise TokenError("web refreshes_per_minute must be at least 1")
        check_lifetimes(self.token_ttl, self.max_session)
        try:
            HostPolicy.build(self.bind_host, self.allowed_hosts)
        except ValueError as exc:
            raise TokenError(str(exc)) from exc


def check_lifetimes(token_ttl: timedelta, max_session: timedelta) -> None:
    """`TokenError` naming the option when a lifetime is outside what the token minter accepts.

    Checked at start so a bad `--token-ttl` stops `voxmcp web` at once instead of failing every session.
    """
    ttl_s, low_s, high_s = (int(t.total_seconds()) for t in (token_ttl, MIN_TTL, MAX_TTL))
    if not MIN_TTL <= token_ttl <= MAX_TTL:
        raise TokenError(f"--token-ttl must be between {low_s} and {high_s} seconds (got {ttl_s})")
    if not token_ttl <= max_session <= MAX_MAX_SESSION:
        raise TokenError(
            f"--max-session must be between --token-ttl ({ttl_s}) and {int(MAX_MAX_SESSION.total_seconds())} "
            f"seconds (got {int(max_session.total_seconds())})"
        )


def static_dir() -> Path:
    return Path(str(resources.files("voxmcp.web") / "static"))


class _RateLimit:
    """At most `limit` events in any 60 s window, so a page left looping cannot flood LiveKit with rooms."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._events: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self._events and now - self._events[0] > 60:
            self._events.popleft()
        if len(self._events) >= self._limit:
            return False
        self._events.append(now)
        return True


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class HostGuard:
    """Refuse (403) any request whose Host header names something other than this server."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            server = scope.get("server")
            bound_port = int(server[1]) if server and server[1] is not None else None
            if not self.policy.accepts(host, bound_port):
                logger.warning("request refused: foreign Host header", extra={"host": (host or "")[:100]})
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _error(403, self.policy.refusal(host, bound_port))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on cross-site POSTs; refuse any whose host differs from the one we serve."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser cross-site request (curl, tests); the token is still scoped
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise TokenError("request body must be JSON (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise TokenError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TokenError(f"request body is not valid JSON: {exc.msg}") from exc
    if not isinstance(body, dict):
        raise TokenError("request body must be a JSON object")
    return body


def create_app(settings: WebSettings, *, clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The Starlette app: GET / (page), /static/*, POST /api/session, POST /api/session/refresh."""
    creds = settings.credentials
    limiter = _RateLimit(settings.sessions_per_minute)
    ledger = RefreshLedger(
        max_session=settings.max_session, refreshes_per_minute=settings.refreshes_per_minute, clock=clock
    )
    host_policy = HostPolicy.build(settings.bind_host, settings.allowed_hosts)
    lk_origin = urlsplit(creds.url)
    http_origin = urlsplit(creds.http_url)
    livekit_origins = f"{lk_origin.scheme}://{lk_origin.netloc} {http_origin.scheme}://{http_origin.netloc}"
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {livekit_origins}; "
        "media-src 'self' blob: mediastream:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )

    def secured(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def index(_: Request) -> Response:
        return secured(FileResponse(static_dir() / "index.html", media_type="text/html"))

    async def dispatch_agent(room: str, identity: str) -> None:
        timeout = aiohttp.ClientTimeout(total=settings.dispatch_timeout_s)
        lkapi = api.LiveKitAPI(creds.http_url, creds.api_key, creds.api_secret, timeout=timeout)
        try:
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=settings.agent_name, room=room, metadata=identity)
            )
        finally:
            await lkapi.aclose()

    async def new_session(request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "cross-origin request refused: open the page from this server")
        try:
            body = await _json_body(request)
            requested = body.get("room")
            if requested is None:
                room = new_room_name(settings.room_prefix)
            else:
                if not isinstance(requested, str):
                    raise TokenError("'room' must be a string")
                room = check_room_name(requested)
                if not settings.allow_any_room and room not in settings.allowed_rooms:
                    return _error(
                        403,
                        f"room {room!r} is not open to this page; the server picks a fresh room unless "
                        "named rooms are configured",
                    )
            identity = new_identity()
            if not limiter.allow():
                return _error(429, "too many sessions started in the last minute; try again shortly")
            token = mint_participant_token(creds, room=room, identity=identity, ttl=settings.token_ttl)
        except TokenError as exc:
            return _error(400, str(exc))
        if settings.agent_name:
            try:
                await dispatch_agent(room, identity)
            except (aiohttp.ClientError, TimeoutError, api.TwirpError) as exc:
                logger.warning("agent dispatch failed", extra={"room": room, "error": type(exc).__name__})
                return _error(502, f"could not dispatch the agent: LiveKit at {creds.http_url} did not accept it")
        ledger.started(identity, token)
        logger.info("web session", extra={"room": room, "identity": identity})
        return secured(
            JSONResponse(
                {
                    "url": creds.url,
                    "room": room,
                    "identity": identity,
                    "token": token,
                    "expires_in": int(settings.token_ttl.total_seconds()),
                    "agent_name": settings.agent_name,
                }
            )
        )

    async def refresh_session(request: Request) -> Response:
        """A new token for the same room and identity, only in exchange for a still-valid one."""
        if not _same_origin(request):
            return _error(403, "cross-origin request refused: open the page from this server")
        try:
            body = await _json_body(request)
            old = body.get("token")
            if not isinstance(old, str):
                raise TokenError("'token' (string) is required")
            verified = verify_participant_token(creds, old)
            remaining = ledger.allowance(verified.identity, old)
            if remaining < MIN_TTL:
                raise ledger.too_long()
            ttl = min(settings.token_ttl, timedelta(seconds=int(remaining.total_seconds())))
            token = mint_participant_token(creds, room=verified.room, identity=verified.identity, ttl=ttl)
        except TokenRejected as exc:
            return _error(401, f"token refused: {exc}")
        except RefreshRefused as exc:
            logger.info("token refresh refused", extra={"status": exc.status, "reason": str(exc)})
            return _error(exc.status, str(exc))
        except TokenError as exc:
            return _error(400, str(exc))
        ledger.refreshed(verified.identity, token)
        return secured(JSONResponse({"token": token, "expires_in": int(ttl.total_seconds())}))

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index),
        Route("/api/session", new_session, methods=["POST"]),
        Route("/api/session/refresh", refresh_session, methods=["POST"]),
        Route("/api/health", health),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(HostGuard, policy=host_policy)])
