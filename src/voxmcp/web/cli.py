"""`voxmcp web`: serve the talk-to-the-agent page on loopback, with tokens minted server side."""

from __future__ import annotations

import errno
import logging
import socket
import warnings
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from jwt.warnings import InsecureKeyLengthWarning

from voxmcp.livekit_tokens import LiveKitCredentials, TokenError
from voxmcp.web.guards import HostPolicy, url_host
from voxmcp.web.server import DEFAULT_MAX_SESSION, WebSettings, check_lifetimes

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEV_KEY, DEV_SECRET = "devkey", "secret"


DEFAULT_LIVEKIT_URL = "ws://127.0.0.1:7880"  # a local `livekit-server --dev`


def web_settings_from_config(
    config: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    token_ttl_s: int = 300,
    allowed_rooms: list[str] | None = None,
    allow_any_room: bool = False,
    bind_host: str = "127.0.0.1",
    allowed_hosts: list[str] | None = None,
    max_session_s: int = int(DEFAULT_MAX_SESSION.total_seconds()),
) -> WebSettings:
    """WebSettings from voxmcp's [livekit] table; a loopback dev server falls back to devkey/secret."""
    from voxmcp.config import load_settings

    lk = load_settings(config, env=env, dotenv=env is None).livekit
    url = lk.url or DEFAULT_LIVEKIT_URL
    key = (lk.api_key.get_secret_value() if lk.api_key else None) or None
    secret = (lk.api_secret.get_secret_value() if lk.api_secret else None) or None
    if key is None or secret is None:
        if urlsplit(url).hostname not in LOOPBACK_HOSTS:
            raise TokenError(
                f"livekit.api_key and livekit.api_secret (or LIVEKIT_API_KEY/LIVEKIT_API_SECRET) are required for {url}"
            )
        logger.info("using LiveKit dev-mode keys for a loopback server", extra={"host": urlsplit(url).hostname})
        key, secret = key or DEV_KEY, secret or DEV_SECRET
        if secret == DEV_SECRET:
            # LiveKit's well-known dev secret is short by design; don't warn on every token for it
            warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    return WebSettings(
        credentials=LiveKitCredentials(url, key, secret),
        agent_name=lk.agent_name,
        token_ttl=timedelta(seconds=token_ttl_s),
        allowed_rooms=frozenset(allowed_rooms or ()),
        allow_any_room=allow_any_room,
        bind_host=bind_host,
        allowed_hosts=frozenset(allowed_hosts or ()),
        max_session=timedelta(seconds=max_session_s),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or OSError with one sentence naming the address and what to do.

    Bound here (not inside uvicorn) so a busy port is one clear line, and the port really bound (for
    `--port 0`) is known for the start-up line and the Host check.
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"cannot serve on {host}: the address does not resolve ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; pick another --port" if exc.errno == errno.EADDRINUSE else ""
        raise OSError(f"cannot serve on {url_host(host)}:{port}: {exc.strerror}{hint}") from exc
    sock.set_inheritable(True)
    return sock


def web(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="voxmcp.toml (its livekit table: url, keys, agent_name)")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to serve on; keep it on loopback.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port for the page.")] = 8787,
    token_ttl: Annotated[int, typer.Option(help="Seconds a participant token stays valid (10-3600).")] = 300,
    max_session: Annotated[
        int,
        typer.Option(help="Seconds a conversation may last, refreshes included (--token-ttl to 86400)."),
    ] = int(DEFAULT_MAX_SESSION.total_seconds()),
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another Host name the page is opened by, e.g. this machine's DNS name or a proxy's "
            "(NAME or NAME:PORT, repeatable). Loopback names and the bind address always work.",
        ),
    ] = None,
    allow_room: Annotated[
        list[str] | None, typer.Option("--allow-room", help="A named room the page may ask for (repeatable).")
    ] = None,
    allow_any_room: Annotated[
        bool, typer.Option(help="Let the page name any room (off: the server picks a fresh room).")
    ] = False,
) -> None:
    """Serve a page to talk to the agent from a browser; the API secret stays on this server."""
    import uvicorn

    from voxmcp.web.server import create_app

    try:
        # Options first: a bad lifetime must stop the server now, not fail every session later with a 400.
        check_lifetimes(timedelta(seconds=token_ttl), timedelta(seconds=max_session))
        if not 0 <= port <= 65535:
            raise TokenError(f"--port must be between 0 and 65535 (got {port})")
        settings = web_settings_from_config(
            config,
            token_ttl_s=token_ttl,
            allowed_rooms=allow_room,
            allow_any_room=allow_any_room,
            bind_host=host,
            allowed_hosts=allow_host,
            max_session_s=max_session,
        )
    except (TokenError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    bound_port = int(sock.getsockname()[1])
    policy = HostPolicy.build(host, settings.allowed_hosts)
    if host not in LOOPBACK_HOSTS:
        typer.echo(f"warning: serving on {host}, not loopback; anyone who reaches it can start sessions", err=True)
        typer.echo(f"accepting the page's Host as: {policy.describe()}", err=True)
    typer.echo(
        f"voxmcp web: {policy.page_url(bound_port)}  (LiveKit {settings.credentials.url}, "
        f"agent {settings.agent_name!r})"
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


# `web` is the app's callback, not a subcommand, so the lead's `app.add_typer(web_app, name="web")` gives
# `voxmcp web --port N` (not `voxmcp web web`).
app = typer.Typer(add_completion=False, help="Talk to the agent from a browser.")
app.callback(invoke_without_command=True)(web)
