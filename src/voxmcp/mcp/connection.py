"""One MCP server = one `MCPConnection`: transport choice, handshake, reconnects, calls with timeouts.

One asyncio task owns the SDK's transport and `Client` context managers (they are entered and exited in
that same task, as anyio requires); callers only send requests through the live session. A request that
fails because the connection dropped (server restart, session expired) triggers a reconnect. It is sent
again once only when that cannot repeat an effect: listings and reads, tools annotated read-only or
idempotent, and any request that provably never reached the server (no live session when it was sent, or
a server that answered "unknown session"). Any other tool call lost mid-flight may have run, so it is never
repeated: it fails with kind "unknown_outcome" and a sentence telling the user to check (at most once).
Every failure surfaces as an exception whose text is a short sentence a voice can say; the SDK's own
tracebacks about a server's bad output go to the debug log only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Literal, TextIO, TypeVar, cast
from urllib.parse import urlsplit

import anyio
import httpx2
import mcp.types as types
from mcp.client import Client
from mcp.client._transport import Transport, TransportStreams, WriteStream
from mcp.client.session import IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.shared.subscriptions import ToolsListChanged
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from voxmcp.mcp.auth.errors import AuthError
from voxmcp.mcp.config import MCPServerConfig, MissingEnvironmentVariable, interpolate_env
from voxmcp.mcp.deadline import CallDeadline
from voxmcp.mcp.errors import (
    CallErrorKind,
    CallErrorReason,
    ConnectErrorKind,
    MCPCallError,
    MCPConnectError,
    Request,
)
from voxmcp.mcp.interaction import (
    InteractionHandlers,
    elicitation_callback,
    logging_callback,
    report_progress,
    sampling_callback,
    to_elicit_result,
)

logger = logging.getLogger(__name__)

ConnectionState = Literal["idle", "connecting", "connected", "reconnecting", "failed", "closed"]
ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None] | None]
_ServerRequestFn = TypeVar("_ServerRequestFn", bound=Callable[..., Awaitable[Any]])

CLIENT_INFO = types.Implementation(name="voxmcp", version="0.1.0")
_MAX_PAGES = 50
"""Bound on list pagination, so a server whose cursor never ends cannot hang a listing."""
_CLOSE_GRACE_S = 5.0
PROGRESS_TIMEOUT_CAP = 4.0
"""Progress restarts a call's timeout, but never past this many times the timeout in total."""
SERVER_REQUEST_PAUSE_MAX_S = 600.0
"""The most time answering the server's own requests (a spoken form) may add to one call's timeout."""
_BACKOFF_START_S = 0.25
_BACKOFF_MAX_S = 15.0


def retry_safe(annotations: types.ToolAnnotations | None) -> bool:
    """May a call of this tool be sent again after a drop? Only when the server says a repeat has no effect
    (readOnlyHint or idempotentHint); unannotated tools are assumed to have effects."""
    if annotations is None:
        return False
    return bool(annotations.read_only_hint or annotations.idempotent_hint)


class _Outbound:
    """Whether the current request was handed to the transport (see `_WatchedWrites`)."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


_OUTBOUND: contextvars.ContextVar[_Outbound | None] = contextvars.ContextVar("voxmcp_mcp_outbound", default=None)


class _WatchedWrites:
    """The transport's write stream, noting when a request of the current task is handed over.

    The SDK raises the same "Connection closed" whether a request was never written (the session was
    already dead) or was lost after it reached the server; only the first is safe to send again.
    """

    def __init__(self, inner: WriteStream[SessionMessage]) -> None:
        self._inner = inner

    async def send(self, item: SessionMessage, /) -> None:
        watch = _OUTBOUND.get()
        if watch is None or not isinstance(item.message, types.JSONRPCRequest):
            await self._inner.send(item)
            return
        watch.sent = True
        try:
            await self._inner.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            watch.sent = False  # a closed memory stream did not take the item: nothing reached the server
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedWrites:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc_val, exc_tb)


@contextlib.asynccontextmanager
async def _watched(transport: Transport) -> AsyncIterator[TransportStreams]:
    async with transport as (read_stream, write_stream):
        yield read_stream, _WatchedWrites(write_stream)


_SDK_LOGGERS = (
    "mcp.client.auth.oauth2",  # "OAuth flow error" tracebacks: voxmcp.mcp.auth reports them as AuthError sentences
    "mcp.client.stdio",
    "mcp.client.streamable_http",
    "mcp.client.sse",
    "mcp.client.client",
    "mcp.client.caching",
    "client",  # mcp.client.session's logger name
    "mcp.shared.jsonrpc_dispatcher",
    "mcp.shared.dispatcher",
)


class _SDKTracebacksToDebug(logging.Filter):
    """The SDK logs a server's bad output with `logger.exception`: a pydantic traceback per garbage line or
    malformed reply, on stderr at the default level. voxmcp reports those failures as sentences, so such a
    record is kept only at DEBUG (traceback included) and dropped otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        has_traceback = bool(record.exc_info or record.exc_text)  # the redacting record factory keeps only the text
        if not has_traceback or record.levelno <= logging.DEBUG:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_SDK_FILTER = _SDKTracebacksToDebug()
for _name in _SDK_LOGGERS:
    _sdk_logger = logging.getLogger(_name)
    if not any(isinstance(f, _SDKTracebacksToDebug) for f in _sdk_logger.filters):
        _sdk_logger.addFilter(_SDK_FILTER)


def _iter_leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """Flatten exception groups and `__cause__` chains into the errors that actually happened."""
    found: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack and len(found) < 32:
        current = stack.pop()
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
            continue
        found.append(current)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return found


def server_target(config: MCPServerConfig) -> str:
    """Where the server is, for speech: host:port for URLs, the command for stdio."""
    if config.url is not None:
        parts = urlsplit(config.url)
        return parts.netloc.rpartition("@")[2] or config.url
    return config.command or "?"


def connect_error(
    kind: ConnectErrorKind,
    name: str,
    config: MCPServerConfig,
    *,
    status: int | None = None,
    detail: str | None = None,
) -> MCPConnectError:
    """A typed connect failure of this server (its target and, for stdio, its command filled in)."""
    return MCPConnectError(
        kind,
        server=name,
        target=server_target(config),
        command=config.command if config.url is None else None,
        status=status,
        detail=detail,
    )


def not_answering(name: str, config: MCPServerConfig) -> MCPConnectError:
    """A server that took the connection but never finished the handshake."""
    return connect_error("not_answering", name, config)


def not_mcp_output(name: str, config: MCPServerConfig) -> MCPConnectError:
    """A stdio server whose output was not JSON-RPC and that never finished the handshake."""
    return connect_error("not_mcp_output", name, config)


async def probe_tcp(config: MCPServerConfig, timeout_s: float = 1.0) -> str | None:
    """Why a TCP connect to the server's host:port fails ("connection refused", ...), or None if it works.

    httpx reports only "All connection attempts failed"; one direct attempt recovers the reason.
    """
    if config.url is None:
        return None
    parts = urlsplit(config.url)
    host = parts.hostname
    if host is None:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return "no answer"
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            return "unknown host"
        return exc.strerror or type(exc).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def probe_http_status(url: str, headers: dict[str, str], timeout_s: float = 3.0) -> int | None:
    """The HTTP status an MCP POST gets, when the SDK reported only "Server returned an error response"."""
    body = {"jsonrpc": "2.0", "id": 0, "method": "ping"}
    try:
        async with httpx2.AsyncClient(timeout=timeout_s) as client:
            response = await client.post(
                url, json=body, headers={"accept": "application/json, text/event-stream", **headers}
            )
    except httpx2.HTTPError:
        return None
    return response.status_code


def describe_connect_error(
    name: str,
    config: MCPServerConfig,
    exc: BaseException,
    *,
    tcp_reason: str | None = None,
    http_status: int | None = None,
) -> MCPConnectError:
    """Classify whatever the transport raised into one typed connect failure (the voice layer words it)."""

    def failure(kind: ConnectErrorKind, *, status: int | None = None, detail: str | None = None) -> MCPConnectError:
        return connect_error(kind, name, config, status=status, detail=detail)

    if http_status in (401, 403):
        return failure("refused_access", status=http_status)
    leaves = _iter_leaf_exceptions(exc)
    for leaf in leaves:
        if isinstance(leaf, MissingEnvironmentVariable):
            return failure("missing_env", detail=leaf.variable)
        if isinstance(leaf, AuthError):  # its message is the sentence ("... log in with: voxmcp mcp login NAME.")
            return failure("auth", detail=str(leaf))
        if isinstance(leaf, FileNotFoundError) and config.command is not None:
            return failure("command_not_found")
        if isinstance(leaf, PermissionError) and config.command is not None:
            return failure("command_not_executable")
        if isinstance(leaf, httpx2.HTTPStatusError):
            status = leaf.response.status_code
            return failure("refused_access" if status in (401, 403) else "http_error", status=status)
    for leaf in leaves:
        if isinstance(leaf, httpx2.ConnectTimeout | TimeoutError):
            return failure("no_answer")
        if isinstance(leaf, httpx2.ConnectError | ConnectionRefusedError):
            text = str(leaf).lower()
            if "refused" in text or isinstance(leaf, ConnectionRefusedError):
                return failure("connection_refused")
            if "name or service not known" in text or "nodename nor servname" in text:
                return failure("unknown_host")
            return failure("unreachable", detail=tcp_reason)
        if isinstance(leaf, OSError) and leaf.errno == errno.ECONNREFUSED:
            return failure("connection_refused")
        if isinstance(leaf, MCPError):
            if leaf.code == types.CONNECTION_CLOSED:
                return failure("exited" if config.command is not None else "closed_handshake")
            if leaf.code == types.REQUEST_TIMEOUT:
                return not_answering(name, config)
            if leaf.code == types.PARSE_ERROR:
                return failure("malformed_handshake")
            if http_status is not None and http_status >= 400:
                return failure("http_error", status=http_status)
            if leaf.message.lower().startswith("unexpected content type:"):
                content_type = leaf.message.partition(":")[2].strip().split(";")[0] or "something else"
                return failure("not_mcp_endpoint", detail=_one_line(content_type, 60))
            return failure("handshake_rejected", detail=_one_line(leaf.message))
        if isinstance(leaf, httpx2.TransportError):
            return failure("unreachable")
    first = leaves[0] if leaves else exc
    return failure("other", detail=f"{type(first).__name__}: {_one_line(str(first))}")


def _one_line(text: str, limit: int = 160) -> str:
    """A server's or library's message, cut to one short line (pydantic errors span many)."""
    line = " ".join(text.split("\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _server_forgot_session(exc: BaseException) -> bool:
    """Streamable HTTP 404 on a request with a session id: the server refused it unprocessed (MCP spec)."""
    return any(
        isinstance(leaf, MCPError)
        and leaf.code == types.INVALID_REQUEST
        and "session terminated" in leaf.message.lower()
        for leaf in _iter_leaf_exceptions(exc)
    )


def _is_connection_lost(exc: BaseException) -> bool:
    """True when an error means the connection (not the request) is gone, so reconnect + retry is right."""
    for leaf in _iter_leaf_exceptions(exc):
        if isinstance(leaf, MCPError):
            if leaf.code == types.CONNECTION_CLOSED:
                return True
            # Streamable HTTP: 404 on a request with a session id = the server forgot our session.
            if leaf.code == types.INVALID_REQUEST and "session terminated" in leaf.message.lower():
                return True
        if isinstance(
            leaf,
            httpx2.TransportError | anyio.ClosedResourceError | anyio.BrokenResourceError | ConnectionError,
        ):
            return True
    return False


class _StderrToLog:
    """A pipe whose write end a stdio server inherits as stderr; a thread forwards lines into our log."""

    def __init__(self, server: str) -> None:
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self.writer: TextIO = os.fdopen(write_fd, "w", encoding="utf-8")
        self._server = server
        self._thread = threading.Thread(target=self._pump, name=f"mcp-stderr-{server}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with self._reader:
            for line in self._reader:
                text = line.rstrip()
                if text:
                    logger.info("server stderr: %s", text, extra={"mcp_server": self._server})

    def close(self) -> None:
        """Close our copy of the write end; the thread ends when the child's copy closes too."""
        with contextlib.suppress(OSError):
            self.writer.close()


class MCPConnection:
    """A persistent connection to one MCP server, owned by one task, reconnecting after drops."""

    def __init__(
        self,
        name: str,
        config: MCPServerConfig,
        *,
        handlers: InteractionHandlers | None = None,
        auth: httpx2.Auth | None = None,
        on_tools_changed: Callable[[], None] | None = None,
        transport_factory: Callable[[], Transport] | None = None,
    ) -> None:
        """`auth` is an httpx2 auth flow (the SDK's HTTP stack is httpx2; its OAuth providers are too).

        `transport_factory` replaces the configured transport (a fresh one per connect): in-process servers
        in tests, or embedding a server.
        """
        self.name = name
        self.config = config
        self.handlers = handlers or InteractionHandlers()
        self.auth = auth
        self._transport_factory = transport_factory
        self.on_tools_changed = on_tools_changed
        """Called (no arguments, in the event loop) when the server says its tool list changed."""
        self._state: ConnectionState = "idle"
        self._last_error: MCPConnectError | None = None
        self._client: Client | None = None
        self._transport_used: str | None = None
        self._owner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = asyncio.Event()
        self._drop_current = asyncio.Event()
        self._wake_reconnect = asyncio.Event()
        self._connect_failed = asyncio.Event()
        self._first_attempt: asyncio.Future[None] | None = None
        self._generation = 0
        self._deadlines: set[CallDeadline] = set()
        """The running calls' deadlines, stopped while we answer a request the server sent (see deadline.py)."""
        self.tools_ttl_ms: int | None = None
        """The server's ttlMs on its last tools/list (2026-07-28 caching hint), if it sent one."""
        self._retry_safe: dict[str, bool] = {}
        """Per tool from the last listing: may a call be sent again after a drop (see `retry_safe`)."""
        self._unreadable_lines = 0

    # ---- status -------------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def last_error(self) -> str | None:
        """The last connect failure as the sentence a user hears (None once connected)."""
        return str(self._last_error) if self._last_error is not None else None

    @property
    def last_connect_error(self) -> MCPConnectError | None:
        """The last connect failure, typed (None once connected)."""
        return self._last_error

    def stalled_reason(self) -> MCPConnectError:
        """Why a handshake that is taking too long has not finished."""
        if self._unreadable_lines and self.config.command is not None and self.config.url is None:
            return not_mcp_output(self.name, self.config)
        return not_answering(self.name, self.config)

    @property
    def transport(self) -> str | None:
        """The transport that actually connected: streamable-http, sse or stdio."""
        return self._transport_used

    @property
    def protocol_version(self) -> str | None:
        client = self._client
        return client.protocol_version if client is not None else None

    @property
    def server_info(self) -> types.Implementation | None:
        client = self._client
        return client.server_info if client is not None else None

    @property
    def server_capabilities(self) -> types.ServerCapabilities | None:
        client = self._client
        return client.server_capabilities if client is not None else None

    @property
    def instructions(self) -> str | None:
        client = self._client
        return client.instructions if client is not None else None

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (bounded by `config.connect_timeout_s`); raise MCPConnectError with a speakable reason.

        After a successful start the connection keeps itself up: drops are reconnected with backoff.
        """
        if self._owner is not None:
            raise RuntimeError(f"MCPConnection {self.name!r} was already started")
        self._first_attempt = asyncio.get_running_loop().create_future()
        self._state = "connecting"
        self._owner = asyncio.create_task(self._own_session(), name=f"mcp-connection-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._first_attempt), self.config.connect_timeout_s + 1.0)
        except TimeoutError:
            await self.aclose()
            self._state = "failed"
            self._last_error = self.stalled_reason()
            raise self._last_error from None
        except MCPConnectError:
            await self.aclose()
            self._state = "failed"
            raise

    async def aclose(self) -> None:
        """Close the session (DELETE for HTTP sessions, stop the process for stdio); idempotent, bounded."""
        self._closing.set()
        self._wake_reconnect.set()
        owner = self._owner
        if owner is not None and not owner.done() and self._client is None:
            # Still connecting (or backing off): nothing to close politely, so don't wait for a handshake.
            owner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(owner, _CLOSE_GRACE_S)
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(asyncio.shield(owner), _CLOSE_GRACE_S)
            except TimeoutError:
                logger.warning("MCP connection did not close in time; cancelling", extra={"mcp_server": self.name})
                owner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await owner
            except Exception:
                logger.debug("MCP connection owner ended with an error", exc_info=True)
        self._state = "closed"

    async def __aenter__(self) -> MCPConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _own_session(self) -> None:
        """The owner task: open, publish, wait for close or a drop, tear down, back off, repeat."""
        backoff = _BACKOFF_START_S
        while not self._closing.is_set():
            opened = False
            self._unreadable_lines = 0
            try:
                async with AsyncExitStack() as stack:
                    # Bounded by the handshake's read timeout and the HTTP connect timeout; no cancel
                    # scope here, because the transport's task groups must exit in the scope they entered.
                    client = await self._open(stack)
                    opened = True
                    self._client = client
                    self._generation += 1
                    self._state = "connected"
                    self._last_error = None
                    self._drop_current.clear()
                    self._connected.set()
                    backoff = _BACKOFF_START_S
                    logger.info(
                        "MCP server connected",
                        extra={
                            "mcp_server": self.name,
                            "transport": self._transport_used,
                            "protocol_version": client.protocol_version,
                        },
                    )
                    if self._first_attempt is not None and not self._first_attempt.done():
                        self._first_attempt.set_result(None)
                    listener = self._start_change_listener(client)
                    try:
                        await self._wait_for_close_or_drop()
                    finally:
                        if listener is not None:
                            listener.cancel()
                            with contextlib.suppress(asyncio.CancelledError, Exception):
                                await listener
                    self._connected.clear()
                    self._client = None
            except Exception as exc:
                self._connected.clear()
                self._client = None
                tcp_reason = None
                if any(isinstance(leaf, httpx2.ConnectError) for leaf in _iter_leaf_exceptions(exc)):
                    tcp_reason = await probe_tcp(self.config)
                http_status = None
                if self.config.url is not None and any(
                    isinstance(leaf, MCPError) and leaf.code == types.INTERNAL_ERROR
                    for leaf in _iter_leaf_exceptions(exc)
                ):
                    with contextlib.suppress(MissingEnvironmentVariable):
                        url = interpolate_env(self.config.url)
                        http_status = await probe_http_status(url, self._resolved_headers())
                reason = describe_connect_error(
                    self.name, self.config, exc, tcp_reason=tcp_reason, http_status=http_status
                )
                if reason.kind == "not_answering":
                    reason = self.stalled_reason()
                if opened:
                    logger.warning("MCP connection dropped", extra={"mcp_server": self.name, "error": repr(exc)[:300]})
                else:
                    self._last_error = reason
                    self._connect_failed.set()  # wakes callers waiting for this attempt: fail fast
                    logger.warning("MCP connect failed: %s", reason, extra={"mcp_server": self.name})
                    if self._first_attempt is not None and not self._first_attempt.done():
                        self._first_attempt.set_exception(reason)
                        return
            finally:
                self._connected.clear()
                self._client = None
            if self._closing.is_set() or not self.config.reconnect:
                break
            self._state = "reconnecting"
            if not self._wake_reconnect.is_set():  # a waiting call skips the backoff
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_reconnect.wait(), backoff)
            self._wake_reconnect.clear()
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
        self._state = "closed" if self._closing.is_set() else "failed"

    def _start_change_listener(self, client: Client) -> asyncio.Task[None] | None:
        """On 2026-07-28 sessions list_changed arrives only through `subscriptions/listen`: open one."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS or self.on_tools_changed is None:
            return None
        capabilities = client.server_capabilities
        if capabilities.tools is None or not capabilities.tools.list_changed:
            return None
        return asyncio.create_task(self._listen_for_tool_changes(client), name=f"mcp-listen-{self.name}")

    async def _listen_for_tool_changes(self, client: Client) -> None:
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for event in subscription:
                    if isinstance(event, ToolsListChanged) and self.on_tools_changed is not None:
                        self.on_tools_changed()
        except (ListenNotSupportedError, SubscriptionLost, MCPError, TimeoutError) as exc:
            logger.info("no tool change subscription", extra={"mcp_server": self.name, "error": repr(exc)[:200]})

    async def _wait_for_close_or_drop(self) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        dropped = asyncio.ensure_future(self._drop_current.wait())
        try:
            await asyncio.wait({closing, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            dropped.cancel()

    async def _open(self, stack: AsyncExitStack) -> Client:
        """Open the configured transport and handshake; `auto` falls back from Streamable HTTP to SSE."""
        if self._transport_factory is not None:
            return await self._enter_client(stack, self._transport_factory(), "custom")
        self.config.require_environment()  # an unset ${VAR} anywhere in this server's table fails this server only
        transport = self.config.effective_transport
        if transport == "stdio":
            return await self._enter_client(stack, self._stdio_transport(stack), "stdio")
        if transport in ("streamable-http", "sse"):
            return await self._enter_client(stack, self._http_transport(transport), transport)
        order: Sequence[Literal["streamable-http", "sse"]] = (
            ("sse", "streamable-http")
            if urlsplit(self.config.url or "").path.rstrip("/").endswith("/sse")
            else ("streamable-http", "sse")
        )
        first_error: Exception | None = None
        for candidate in order:
            attempt = AsyncExitStack()
            try:
                client = await self._enter_client(attempt, self._http_transport(candidate), candidate)
            except Exception as exc:
                await attempt.aclose()
                if first_error is None:
                    first_error = exc
                if not _worth_other_http_transport(exc):
                    raise
                logger.info(
                    "transport %s failed, trying the other HTTP transport",
                    candidate,
                    extra={"mcp_server": self.name, "error": repr(exc)[:200]},
                )
                continue
            stack.push_async_exit(attempt)
            return client
        assert first_error is not None
        raise first_error

    async def _enter_client(self, stack: AsyncExitStack, transport: Transport, label: str) -> Client:
        client = Client(
            _watched(transport),
            mode=self.config.protocol,
            client_info=CLIENT_INFO,
            # Default for requests without their own timeout (the handshake); calls pass theirs.
            read_timeout_seconds=self.config.connect_timeout_s,
            elicitation_callback=self._off_the_clock(elicitation_callback(self.name, self.handlers)),
            sampling_callback=self._off_the_clock(
                sampling_callback(self.name, self.handlers, allowed=self.config.sampling)
            ),
            logging_callback=logging_callback(self.name, self.handlers),
            message_handler=self._on_message,
        )
        entered = await stack.enter_async_context(client)
        self._transport_used = label
        return entered

    def _resolved_headers(self) -> dict[str, str]:
        return {key: interpolate_env(value) for key, value in self.config.headers.items()}

    def _http_transport(self, kind: Literal["streamable-http", "sse"]) -> Transport:
        url = interpolate_env(self.config.url or "")
        headers = self._resolved_headers()
        if kind == "sse":
            return sse_client(
                url,
                headers=headers or None,
                timeout=self.config.connect_timeout_s,
                auth=self.auth,
            )
        return _owned_streamable_http(
            url,
            create_mcp_http_client(
                headers=headers or None,
                timeout=httpx2.Timeout(self.config.connect_timeout_s, read=300.0),
                auth=self.auth,
            ),
        )

    def _stdio_transport(self, stack: AsyncExitStack) -> Transport:
        stderr = _StderrToLog(self.name)
        stack.callback(stderr.close)
        params = StdioServerParameters(
            command=interpolate_env(self.config.command or ""),
            args=[interpolate_env(arg) for arg in self.config.args],
            env={key: interpolate_env(value) for key, value in self.config.env.items()} or None,
            cwd=self.config.cwd,
        )
        return stdio_client(params, errlog=stderr.writer)

    def _off_the_clock(self, callback: _ServerRequestFn | None) -> _ServerRequestFn | None:
        """`callback` with this connection's running calls' deadlines stopped while it runs.

        The SDK does not say which call a server request belongs to, so every call on this connection waits:
        they all wait for the same user (or model) anyway.
        """
        if callback is None:
            return None
        inner = callback

        async def off_the_clock(context: Any, params: Any) -> Any:
            paused = list(self._deadlines)
            for deadline in paused:
                deadline.pause()
            try:
                return await inner(context, params)
            finally:
                for deadline in paused:
                    deadline.resume()

        return cast(_ServerRequestFn, off_the_clock)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            # Banners and stray prints on a stdio server's stdout are common and harmless: the first one is
            # noted, the rest go to the debug log. A reply that never comes is caught by the call's timeout.
            self._unreadable_lines += 1
            logger.log(
                logging.INFO if self._unreadable_lines == 1 else logging.DEBUG,
                "MCP server sent something unreadable (ignored): %s",
                _one_line(str(message), 200),
                extra={"mcp_server": self.name, "error_type": type(message).__name__},
            )
            return
        if isinstance(message, types.ToolListChangedNotification) and self.on_tools_changed is not None:
            try:
                self.on_tools_changed()
            except Exception:  # boundary: the app's hook must not break message delivery
                logger.exception("on_tools_changed hook failed", extra={"mcp_server": self.name})

    # ---- requests -----------------------------------------------------------------------------------

    def request_reconnect(self) -> None:
        """Drop the current session and reconnect now (skipping backoff)."""
        self._connected.clear()  # callers wait for the new session instead of reusing the dead one
        self._drop_current.set()
        self._wake_reconnect.set()

    async def _live_client(self, wait_s: float) -> Client:
        if self._closing.is_set() or self._owner is None:
            raise MCPCallError("closed", server=self.name)
        if self._owner.done() and not self._connected.is_set():
            raise MCPCallError("disconnected", server=self.name, reason="not_connected", connect_error=self._last_error)
        if not self._connected.is_set():
            self._connect_failed.clear()
            self._wake_reconnect.set()
            connected = asyncio.ensure_future(self._connected.wait())
            failed = asyncio.ensure_future(self._connect_failed.wait())
            try:
                await asyncio.wait({connected, failed}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                connected.cancel()
                failed.cancel()
            if not self._connected.is_set():
                raise MCPCallError(
                    "disconnected", server=self.name, reason="unreachable", connect_error=self._last_error
                )
        client = self._client
        if client is None:
            raise MCPCallError("disconnected", server=self.name, reason="unreachable")
        return client

    async def _request(
        self,
        request: Request,
        op: Callable[[Client], Awaitable[Any]],
        *,
        wait_s: float,
        repeatable: bool = True,
    ) -> Any:
        """Run one request; after a dropped connection reconnect, and send it again once if that is safe.

        Safe: `repeatable` (no effect to repeat), or the request never reached the server. Otherwise the
        drop raises MCPCallError(kind="unknown_outcome"). Errors become MCPCallError.
        """
        what = f"{request.op} {request.name or ''}".strip()  # for the log
        for attempt in (1, 2):
            client = await self._live_client(wait_s)
            generation = self._generation
            outbound = _Outbound()
            token = _OUTBOUND.set(outbound)
            try:
                return await op(client)
            except MCPCallError:
                raise
            except Exception as exc:
                if not _is_connection_lost(exc):
                    raise self._call_error(request, exc) from exc
                if generation == self._generation:
                    self.request_reconnect()  # the session is gone: the next request gets a fresh one
                    await asyncio.sleep(0)
                unsent = not outbound.sent or _server_forgot_session(exc)
                if not (repeatable or unsent):
                    logger.warning(
                        "connection lost after %s was sent; not repeating it (its tool is not read-only or idempotent)",
                        what,
                        extra={"mcp_server": self.name, "error": repr(exc)[:200]},
                    )
                    raise MCPCallError("unknown_outcome", server=self.name, request=request) from exc
                if attempt == 1 and self.config.reconnect:
                    logger.info(
                        "connection lost during %s; reconnecting and sending it again (%s)",
                        what,
                        "it never reached the server" if unsent else "repeating it is safe",
                        extra={"mcp_server": self.name, "error": repr(exc)[:200]},
                    )
                    continue
                raise self._call_error(request, exc) from exc
            finally:
                _OUTBOUND.reset(token)
        raise AssertionError("unreachable")

    def _call_error(self, request: Request, exc: BaseException) -> MCPCallError:
        def failure(kind: CallErrorKind, reason: CallErrorReason, detail: str | None = None) -> MCPCallError:
            return MCPCallError(kind, server=self.name, request=request, reason=reason, detail=detail)

        for leaf in _iter_leaf_exceptions(exc):
            if isinstance(leaf, MCPError):
                if leaf.code == types.REQUEST_TIMEOUT:
                    return failure("timeout", "timeout")
                if leaf.code == types.PARSE_ERROR:
                    return failure("protocol", "malformed")
                if _is_connection_lost(leaf):
                    return failure("disconnected", "lost")
                return failure("server", "refused", leaf.message)
            if isinstance(leaf, TimeoutError):
                return failure("timeout", "timeout")
            if isinstance(leaf, RuntimeError) and "structured content" in str(leaf):
                return failure("protocol", "schema_mismatch")
        if _is_connection_lost(exc):
            return failure("disconnected", "lost")
        return failure("protocol", "failed", type(exc).__name__)

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        repeatable: bool | None = None,
    ) -> types.CallToolResult:
        """Call a tool within its timeout; a timeout or cancellation sends `notifications/cancelled`.

        `repeatable`: may the call be sent again after a drop? None: as the tool's annotations from the last
        listing say (`retry_safe`); a tool never listed counts as having effects. A call that is not
        repeatable and is lost after it was sent raises MCPCallError(kind="unknown_outcome").

        The timeout is an idle bound: each progress notification restarts it (a long operation that keeps
        reporting is not killed), up to `PROGRESS_TIMEOUT_CAP` times the timeout in total. Time spent answering
        the server's own requests (elicitation, sampling) does not count (see deadline.py).
        Raises MCPCallError (speakable) on timeouts, drops that a retry could not fix, and protocol errors.
        """
        timeout = timeout_s if timeout_s is not None else self.config.timeout_for(name)
        if repeatable is None:
            repeatable = self._retry_safe.get(name, False)
        handlers = self.handlers
        deadline: list[CallDeadline] = []

        async def forward_progress(progress: float, total: float | None, message: str | None) -> None:
            if deadline:
                deadline[0].activity()
            await report_progress(handlers, self.name, name, progress, total, message)
            if on_progress is not None:
                maybe = on_progress(progress, total, message)
                if maybe is not None:
                    await maybe

        async def send(client: Client) -> types.CallToolResult:
            current = CallDeadline(timeout, cap_factor=PROGRESS_TIMEOUT_CAP, max_pause_s=SERVER_REQUEST_PAUSE_MAX_S)
            deadline[:] = [current]
            self._deadlines.add(current)
            try:
                # Our deadline cancels the request (the SDK then sends notifications/cancelled); the SDK's own
                # read timeout is only a backstop past the cap and the pause credit.
                async with asyncio.timeout(timeout) as timer:
                    current.attach(timer)
                    return await client.call_tool(
                        name,
                        arguments or {},
                        read_timeout_seconds=timeout * PROGRESS_TIMEOUT_CAP + SERVER_REQUEST_PAUSE_MAX_S + 1.0,
                        progress_callback=forward_progress,
                    )
            finally:
                self._deadlines.discard(current)

        async def op(client: Client) -> types.CallToolResult:
            try:
                return await send(client)
            except MCPError as exc:
                if exc.code != types.URL_ELICITATION_REQUIRED or not await self._complete_url_elicitations(exc):
                    raise
            # The user completed the out-of-band step(s): the server expects the same call again.
            return await send(client)

        try:
            result: types.CallToolResult = await self._request(
                Request("call_tool", name),
                op,
                wait_s=min(timeout, self.config.connect_timeout_s),
                repeatable=repeatable,
            )
        except MCPCallError as exc:
            if exc.kind != "timeout" or repeatable:
                raise
            # The server may have done it after all: "try again" must not be the obvious next step.
            raise MCPCallError(
                "timeout", server=self.name, request=Request("call_tool", name), reason="may_have_finished"
            ) from exc
        return result

    async def _complete_url_elicitations(self, error: MCPError) -> bool:
        """Handle a -32042 "URL elicitation required" error: ask the user via `elicit_url` for each link.

        True when every elicitation was accepted, so the call is worth repeating once.
        """
        try:
            data = types.ElicitationRequiredErrorData.model_validate(error.data)
        except ValueError:
            return False
        if not data.elicitations or self.handlers.elicit_url is None:
            return False
        for params in data.elicitations:
            logger.info(
                "server requires the user to open a link first",
                extra={"mcp_server": self.name, "url": params.url, "elicitation_id": params.elicitation_id},
            )
            reply = to_elicit_result(await self.handlers.elicit_url(self.name, params.message, params.url), None)
            if reply.action != "accept":
                return False
        return True

    async def _list_all(
        self, request: Request, fetch: Callable[[Client, str | None], Awaitable[Any]], field: str
    ) -> list[Any]:
        """Every item of a paginated list request (at most _MAX_PAGES pages, one timeout for all of them)."""

        async def op(client: Client) -> list[Any]:
            items: list[Any] = []
            cursor: str | None = None
            async with asyncio.timeout(self.config.timeout_s):
                for _ in range(_MAX_PAGES):
                    page = await fetch(client, cursor)
                    items.extend(getattr(page, field))
                    cursor = page.next_cursor
                    if cursor is None:
                        break
            return items

        result: list[Any] = await self._request(request, op, wait_s=self.config.connect_timeout_s)
        return result

    async def list_tools(self, *, refresh: bool = False) -> list[types.Tool]:
        """All tools, following pagination; cached by the SDK per the server's ttlMs unless `refresh`."""

        async def fetch(client: Client, cursor: str | None) -> types.ListToolsResult:
            page = await client.list_tools(cursor=cursor, cache_mode="refresh" if refresh else "use")
            if cursor is None:
                # Only a server that sent ttlMs gets an expiry; otherwise list_changed refreshes.
                self.tools_ttl_ms = page.ttl_ms if "ttl_ms" in page.model_fields_set else None
            return page

        tools: list[types.Tool] = await self._list_all(Request("list_tools"), fetch, "tools")
        for tool in tools:
            if tool.output_schema is not None:
                _drop_regex_keywords(tool.output_schema)
        self._retry_safe = {tool.name: retry_safe(tool.annotations) for tool in tools}
        return tools

    async def list_resources(self) -> list[types.Resource]:
        return await self._list_all(
            Request("list_resources"), lambda client, cursor: client.list_resources(cursor=cursor), "resources"
        )

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        async def op(client: Client) -> types.ReadResourceResult:
            async with asyncio.timeout(self.config.timeout_s):
                return await client.read_resource(uri)

        result: types.ReadResourceResult = await self._request(
            Request("read_resource", uri), op, wait_s=self.config.connect_timeout_s
        )
        return result

    async def list_prompts(self) -> list[types.Prompt]:
        return await self._list_all(
            Request("list_prompts"), lambda client, cursor: client.list_prompts(cursor=cursor), "prompts"
        )

    async def get_prompt(self, name: str, arguments: dict[str, str] | None = None) -> types.GetPromptResult:
        async def op(client: Client) -> types.GetPromptResult:
            async with asyncio.timeout(self.config.timeout_s):
                return await client.get_prompt(name, arguments)

        result: types.GetPromptResult = await self._request(
            Request("get_prompt", name), op, wait_s=self.config.connect_timeout_s
        )
        return result

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        """The live SDK client, for requests this class does not wrap (e.g. completion, subscriptions)."""
        yield await self._live_client(self.config.connect_timeout_s)


_REGEX_KEYWORDS = ("pattern", "patternProperties")
_MAX_SCHEMA_NODES = 100_000


def _drop_regex_keywords(schema: dict[str, Any]) -> None:
    """Remove `pattern`/`patternProperties` from a tool's output schema, in place, before any result is checked.

    The SDK checks every result against the schema it cached from the listing (this same dict) with Python's
    backtracking `re`, synchronously: a server's `^(a+)+$` over its own output would stall the event loop, where
    no timeout can stop it. Patterns say nothing about whether a result can be read out. Iterative and bounded.
    """
    stack: list[Any] = [schema]
    seen = 0
    while stack and seen < _MAX_SCHEMA_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for key in _REGEX_KEYWORDS:
                node.pop(key, None)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _worth_other_http_transport(exc: BaseException) -> bool:
    """Only protocol-level rejections (404/405, bad handshake) suggest the other HTTP transport."""
    for leaf in _iter_leaf_exceptions(exc):
        if isinstance(leaf, httpx2.ConnectError | ConnectionRefusedError | MissingEnvironmentVariable | AuthError):
            return False  # an auth failure is the same on the other transport (and would ask for a token again)
        if isinstance(leaf, httpx2.HTTPStatusError) and leaf.response.status_code in (401, 403):
            return False
    return True


@contextlib.asynccontextmanager
async def _owned_streamable_http(url: str, http_client: httpx2.AsyncClient) -> AsyncIterator[tuple[Any, Any]]:
    """Streamable HTTP over our own httpx2 client (headers, auth, timeouts), closed with the transport."""
    async with (
        http_client,
        streamable_http_client(url, http_client=http_client, terminate_on_close=True) as streams,
    ):
        yield streams
