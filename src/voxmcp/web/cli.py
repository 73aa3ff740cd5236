"""`voxmcp web`: serve the talk-to-the-agent page on loopback, with tokens minted server side."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from jwt.warnings import InsecureKeyLengthWarning

from voxmcp.livekit_tokens import LiveKitCredentials, TokenError
from voxmcp.web.server import WebSettings

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
        logger.info("using LiveKit dev-mode keys for a loopback server", extra={"url": url})
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
    )


def web(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="voxmcp.toml (its livekit table: url, keys, agent_name)")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to serve on; keep it on loopback.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port for the page.")] = 8787,
    token_ttl: Annotated[int, typer.Option(help="Seconds a participant token stays valid (10-3600).")] = 300,
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

    if host not in LOOPBACK_HOSTS:
        typer.echo(f"warning: serving on {host}, not loopback; anyone who reaches it can start sessions", err=True)
    try:
        settings = web_settings_from_config(
            config, token_ttl_s=token_ttl, allowed_rooms=allow_room, allow_any_room=allow_any_room
        )
    except (TokenError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"voxmcp web: http://{host}:{port}/  (LiveKit {settings.credentials.url}, agent {settings.agent_name!r})"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


# `web` is the app's callback, not a subcommand, so the lead's `app.add_typer(web_app, name="web")` gives
# `voxmcp web --port N` (not `voxmcp web web`).
app = typer.Typer(add_completion=False, help="Talk to the agent from a browser.")
app.callback(invoke_without_command=True)(web)
