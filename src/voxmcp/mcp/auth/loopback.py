"""Catches the OAuth redirect on a loopback port (RFC 8252 section 7.3) for `voxmcp mcp login`.

A tiny asyncio HTTP listener on 127.0.0.1 (or localhost): it answers exactly one GET on the redirect
path, hands back the code/state/iss, and shows the user a page saying they can close the tab. Requests
are size-bounded; anything else gets a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from urllib.parse import parse_qs, urlsplit

from mcp.shared.auth import AuthorizationCodeResult

logger = logging.getLogger(__name__)

_MAX_REQUEST_BYTES = 16 * 1024
_READ_TIMEOUT_S = 10.0


class AuthorizationDenied(Exception):
    """The authorization server redirected back with an error (the user declined, or it refused)."""


class LoopbackRedirectReceiver:
    """Listens on a loopback port until the authorization redirect arrives (use as async context)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/callback") -> None:
        self.host = host
        self.requested_port = port
        self.path = path
        self.port = 0
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not listening yet")
        return f"http://{self.host}:{self.port}{self.path}"

    async def __aenter__(self) -> LoopbackRedirectReceiver:
        self._result = asyncio.get_running_loop().create_future()
        bind_host = "127.0.0.1" if self.host == "localhost" else self.host
        try:
            self._server = await asyncio.start_server(self._handle, bind_host, self.requested_port)
        except OSError as exc:
            raise OSError(
                f"cannot listen for the login redirect on {bind_host}:{self.requested_port}: {exc.strerror}"
            ) from exc
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        if self._result is not None and not self._result.done():
            self._result.cancel()

    async def wait(self, timeout_s: float) -> AuthorizationCodeResult:
        """The redirect's parameters; TimeoutError if the user does not finish within `timeout_s`."""
        if self._result is None:
            raise RuntimeError("the receiver is not listening yet")
        return await asyncio.wait_for(asyncio.shield(self._result), timeout_s)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        if len(head) > _MAX_REQUEST_BYTES:
            await self._respond(writer, 431, "Request too large.")
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            await self._respond(writer, 405, "Only the login redirect is served here.")
            return
        target = urlsplit(parts[1])
        if target.path != self.path:
            await self._respond(writer, 404, "Not found.")
            return
        query = parse_qs(target.query)
        result = self._result
        if result is None or result.done():
            await self._respond(writer, 409, "This login was already completed; you can close this tab.")
            return
        if "error" in query:
            reason = query.get("error_description", query["error"])[0]
            result.set_exception(AuthorizationDenied(f"the authorization server refused: {reason}"))
            await self._respond(writer, 400, f"Login failed: {reason}")
            return
        if "code" not in query:
            await self._respond(writer, 400, "The redirect carried no authorization code.")
            return
        result.set_result(
            AuthorizationCodeResult(
                code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
            )
        )
        logger.info("login redirect received", extra={"port": self.port})
        await self._respond(writer, 200, "voxmcp is now logged in. You can close this tab.")

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, message: str) -> None:
        body = f"<!doctype html><title>voxmcp login</title><p>{html.escape(message)}</p>".encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
