"""`login(name, config)`: run a server's OAuth flow once, interactively, and keep the tokens.

For authorization-code servers it prints the authorization URL (optionally opens a browser), catches
the redirect on a loopback port, and completes the token exchange by connecting once through
`MCPConnection`; tokens land in the server's `FileTokenStore`. Machine flows (client credentials,
workload identity, enterprise-managed) need no user: login just fetches and stores a token.
"""

from __future__ import annotations

import logging
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.shared.auth import AuthorizationCodeResult

from voxmcp.mcp.auth.build import AuthConfigError, build_auth
from voxmcp.mcp.auth.loopback import AuthorizationDenied, LoopbackRedirectReceiver
from voxmcp.mcp.auth.token_store import FileTokenStore
from voxmcp.mcp.oauth_settings import OAuthSettings

if TYPE_CHECKING:
    from voxmcp.mcp.config import MCPServerConfig

logger = logging.getLogger(__name__)


class LoginError(Exception):
    """Login did not complete; the message says why in one sentence."""


@dataclass(frozen=True)
class LoginResult:
    server: str
    token_file: str
    tool_count: int


def _reusable_port(store: FileTokenStore, settings: OAuthSettings) -> int:
    """Keep the loopback port of an earlier dynamic registration so its redirect URI still matches."""
    if settings.redirect_port or settings.client_id:
        return settings.redirect_port
    for uri in store.client_redirect_uris():
        parts = uri.split(":")
        if uri.startswith(f"http://{settings.redirect_host}:") and len(parts) == 3:
            port_text = parts[2].split("/", 1)[0]
            if port_text.isdigit():
                return int(port_text)
    return 0


async def login(
    name: str,
    config: MCPServerConfig,
    *,
    store: FileTokenStore | None = None,
    announce: Callable[[str], None] = print,
    open_browser: bool = False,
) -> LoginResult:
    """Authorize voxmcp for one server and store its tokens (0600 file); raises LoginError."""
    from voxmcp.mcp.connection import MCPConnection
    from voxmcp.mcp.errors import MCPConnectError

    if config.auth == "none":
        raise LoginError(f"The {name} server is configured without auth (auth = 'none'); nothing to log in to.")
    settings = config.oauth or OAuthSettings()
    token_store = store if store is not None else FileTokenStore(name)
    # A login is a fresh authorization: old tokens must not short-circuit it.
    token_store.forget("tokens")
    session_config = config.model_copy(
        update={"connect_timeout_s": max(config.connect_timeout_s, settings.login_timeout_s + 30.0)}
    )

    async with LoopbackRedirectReceiver(
        settings.redirect_host, _reusable_port(token_store, settings), settings.redirect_path
    ) as receiver:
        redirect_uri = receiver.redirect_uri
        if not settings.client_id and redirect_uri not in token_store.client_redirect_uris():
            token_store.forget("client_info")

        async def show_url(authorization_url: str) -> None:
            announce(f"Open this URL to authorize voxmcp for {name}:\n{authorization_url}")
            if open_browser:
                webbrowser.open(authorization_url)

        gave_up: list[Exception] = []

        async def wait_for_redirect() -> AuthorizationCodeResult:
            # A transport fallback may run the flow again: a user who timed out must not wait twice.
            if gave_up:
                raise gave_up[0]
            try:
                return await receiver.wait(settings.login_timeout_s)
            except TimeoutError:
                gave_up.append(LoginError(f"No login redirect arrived within {settings.login_timeout_s:.0f} seconds."))
            except AuthorizationDenied as exc:
                gave_up.append(LoginError(str(exc)))
            raise gave_up[0]

        try:
            auth = build_auth(
                name,
                session_config,
                store=token_store,
                redirect_handler=show_url,
                callback_handler=wait_for_redirect,
                redirect_uri=redirect_uri,
            )
        except (AuthConfigError, ValueError) as exc:
            raise LoginError(str(exc)) from exc
        connection = MCPConnection(name, session_config, auth=auth)
        try:
            await connection.start()
            tools = await connection.list_tools()
        except MCPConnectError as exc:
            raise LoginError(f"Login to {name} failed: {exc}") from exc
        finally:
            await connection.aclose()
    if not token_store.has_tokens():
        raise LoginError(f"The {name} server let voxmcp in without issuing a token; nothing was stored.")
    logger.info("logged in", extra={"mcp_server": name, "tool_count": len(tools)})
    return LoginResult(server=name, token_file=str(token_store.path), tool_count=len(tools))
