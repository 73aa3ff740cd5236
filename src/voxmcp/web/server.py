"""The `voxmcp web` HTTP side: one page, and a token endpoint that keeps the LiveKit secret server side.

A visitor gets a fresh random room (or, only if configured, a named one), a token for that room and a
random identity with a short TTL, and the agent is dispatched into the room before the token is returned.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from livekit import api
from voxmcp.livekit_tokens import (
    DEFAULT_TTL,
    LiveKitCredentials,
    TokenError,
    TokenRejected,
    check_room_name,
    mint_participant_token,
    new_identity,
    new_room_name,
    verify_participant_token,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096


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

    def __post_init__(self) -> None:
        for room in self.allowed_rooms:
            check_room_name(room)
        if self.sessions_per_minute < 1:
            raise TokenError("web sessions_per_minute must be at least 1")


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


def create_app(settings: WebSettings) -> Starlette:
    """The Starlette app: GET / (page), /static/*, POST /api/session, POST /api/session/refresh."""
    creds = settings.credentials
    limiter = _RateLimit(settings.sessions_per_minute)
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
            token = mint_participant_token(
                creds, room=verified.room, identity=verified.identity, ttl=settings.token_ttl
            )
        except TokenRejected as exc:
            return _error(401, f"token refused: {exc}")
        except TokenError as exc:
            return _error(400, str(exc))
        return secured(JSONResponse({"token": token, "expires_in": int(settings.token_ttl.total_seconds())}))

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index),
        Route("/api/session", new_session, methods=["POST"]),
        Route("/api/session/refresh", refresh_session, methods=["POST"]),
        Route("/api/health", health),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    return Starlette(routes=routes)
