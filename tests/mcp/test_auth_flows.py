"""OAuth flows end to end against a tiny local authorization server + protected MCP server (127.0.0.1).

The server side lives in `oauth_test_server` (shared with the fault suite).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull
from oauth_test_server import AuthServerState, run_auth_server
from pydantic import SecretStr

from voxmcp.mcp.auth.build import AuthConfigError, LoginOwnedStore, build_auth
from voxmcp.mcp.auth.errors import LoginRequired
from voxmcp.mcp.auth.token_store import FileTokenStore, MemoryTokenStore
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.connection import MCPConnectError, MCPConnection
from voxmcp.mcp.login import LoginError, login
from voxmcp.mcp.oauth_settings import OAuthSettings


@pytest.fixture
def auth_server() -> Iterator[AuthServerState]:
    with run_auth_server() as state:
        yield state


class Browser:
    """Follows the authorization redirect like a user's browser and hands back the code."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None
        self.visits = 0

    async def open(self, url: str) -> None:
        self.visits += 1
        async with httpx2.AsyncClient() as client:
            response = await client.get(url, follow_redirects=False)
        query = parse_qs(urlsplit(response.headers["location"]).query)
        self.result = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def _config(state: AuthServerState, **extra: Any) -> MCPServerConfig:
    return MCPServerConfig(url=f"{state.base}/mcp", transport="streamable-http", auth="oauth", **extra)


async def test_authorization_code_flow_registers_uses_pkce_and_stores_tokens(
    auth_server: AuthServerState, tmp_path: Path
) -> None:
    browser = Browser()
    store = FileTokenStore("notes", tmp_path)
    config = _config(auth_server)
    auth = build_auth("notes", config, store=store, redirect_handler=browser.open, callback_handler=browser.callback)
    async with MCPConnection("notes", config, auth=auth) as connection:
        tools = await connection.list_tools()
    assert [tool.name for tool in tools] == ["read_notes"]
    assert browser.visits == 1
    assert auth_server.grants == ["authorization_code"]
    assert f"{auth_server.base}/mcp" in auth_server.resources  # RFC 8707 resource parameter
    assert len(auth_server.clients) == 1  # dynamic registration
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.has_tokens()
    assert "access_token" in store.path.read_text()

    # A new session reuses the stored token: no browser, no new grant.
    later = build_auth("notes", config, store=FileTokenStore("notes", tmp_path))
    async with MCPConnection("notes", config, auth=later) as connection:
        assert len(await connection.list_tools()) == 1
    assert auth_server.grants == ["authorization_code"]


async def test_expired_access_token_is_refreshed(auth_server: AuthServerState) -> None:
    auth_server.access_expires_in = 1
    browser = Browser()
    config = _config(auth_server)
    auth = build_auth(
        "notes", config, store=MemoryTokenStore(), redirect_handler=browser.open, callback_handler=browser.callback
    )
    async with MCPConnection("notes", config, auth=auth) as connection:
        await connection.list_tools()
        await asyncio.sleep(1.3)
        assert len(await connection.list_tools(refresh=True)) == 1
    assert auth_server.grants[:2] == ["authorization_code", "refresh_token"]
    assert browser.visits == 1


async def test_next_session_refreshes_an_expired_stored_token_without_a_browser(
    auth_server: AuthServerState, tmp_path: Path
) -> None:
    auth_server.access_expires_in = 1
    browser = Browser()
    config = _config(auth_server)
    first = build_auth(
        "notes",
        config,
        store=FileTokenStore("notes", tmp_path),
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with MCPConnection("notes", config, auth=first) as connection:
        await connection.list_tools()
    await asyncio.sleep(1.3)

    # A later voice session: no browser handlers at all, only the token file.
    later = build_auth("notes", config, store=FileTokenStore("notes", tmp_path))
    async with MCPConnection("notes", config, auth=later) as connection:
        assert len(await connection.list_tools()) == 1
    assert auth_server.grants == ["authorization_code", "refresh_token"]
    assert browser.visits == 1


async def test_revoked_access_token_is_refreshed_before_asking_for_a_login(auth_server: AuthServerState) -> None:
    browser = Browser()
    config = _config(auth_server)
    auth = build_auth(
        "notes", config, store=MemoryTokenStore(), redirect_handler=browser.open, callback_handler=browser.callback
    )
    async with MCPConnection("notes", config, auth=auth) as connection:
        await connection.list_tools()
        auth_server.access_tokens.clear()  # the server forgets every access token (e.g. it restarted)
        assert len(await connection.list_tools(refresh=True)) == 1
    assert auth_server.grants == ["authorization_code", "refresh_token"]
    assert browser.visits == 1


def _write_token(path: Path, token: str) -> None:
    path.write_text(token + "\n")
    stat_result = path.stat()
    os.utime(path, ns=(stat_result.st_atime_ns, stat_result.st_mtime_ns + 1_000_000))


async def test_rotating_header_from_a_file_follows_rotation(auth_server: AuthServerState, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    auth_server.access_tokens["first-token"] = time.time() + 60
    _write_token(token_file, "first-token")
    config = MCPServerConfig(
        url=f"{auth_server.base}/mcp", headers={"Authorization": "Bearer ${file:" + str(token_file) + "}"}
    )
    auth = build_auth("rotating", config)
    async with MCPConnection("rotating", config, auth=auth) as connection:
        await connection.list_tools()
        # The platform rotates the token: the old one stops working, the file holds the new one.
        auth_server.access_tokens = {"second-token": time.time() + 60}
        _write_token(token_file, "second-token")
        assert len(await connection.list_tools(refresh=True)) == 1


async def test_client_credentials_with_secret_basic(
    auth_server: AuthServerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = MCPServerConfig(
        url=f"{auth_server.base}/mcp",
        transport="streamable-http",
        auth="client_credentials",
        oauth=OAuthSettings(
            client_id="machine", client_secret=SecretStr("${VOX_TEST_SECRET}"), issuer=auth_server.base
        ),
    )
    monkeypatch.setenv("VOX_TEST_SECRET", "s3cret")
    auth = build_auth("machine", config, store=MemoryTokenStore())
    async with MCPConnection("machine", config, auth=auth) as connection:
        assert len(await connection.list_tools()) == 1
    assert auth_server.grants == ["client_credentials"]


async def test_without_login_the_error_names_the_login_command(auth_server: AuthServerState) -> None:
    config = _config(auth_server, connect_timeout_s=5.0)
    auth = build_auth("notes", config, store=MemoryTokenStore())
    with pytest.raises(MCPConnectError) as failed:
        async with MCPConnection("notes", config, auth=auth):
            pass
    assert str(failed.value) == "The notes server needs a login first; log in with: voxmcp mcp login notes."


def _files(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.iterdir())} if directory.exists() else {}


async def test_without_login_nothing_is_registered_or_written(auth_server: AuthServerState, tmp_path: Path) -> None:
    config = _config(auth_server, connect_timeout_s=5.0)
    token_dir = tmp_path / "tokens"
    auth = build_auth("notes", config, store=FileTokenStore("notes", token_dir))
    with pytest.raises(MCPConnectError, match="log in with: voxmcp mcp login notes"):
        async with MCPConnection("notes", config, auth=auth):
            pass
    assert auth_server.clients == {}  # no dynamic registration at the authorization server
    assert auth_server.grants == []
    assert not token_dir.exists()


async def test_a_stored_registration_without_tokens_still_needs_a_login(
    auth_server: AuthServerState, tmp_path: Path
) -> None:
    browser = Browser()
    config = _config(auth_server, connect_timeout_s=5.0)
    store = FileTokenStore("notes", tmp_path)
    auth = build_auth("notes", config, store=store, redirect_handler=browser.open, callback_handler=browser.callback)
    async with MCPConnection("notes", config, auth=auth) as connection:
        await connection.list_tools()
    store.forget("tokens")
    before = _files(tmp_path)
    later = build_auth("notes", config, store=FileTokenStore("notes", tmp_path))
    with pytest.raises(MCPConnectError, match="log in with: voxmcp mcp login notes"):
        async with MCPConnection("notes", config, auth=later):
            pass
    assert _files(tmp_path) == before
    assert len(auth_server.clients) == 1 and browser.visits == 1


async def test_a_refresh_without_login_replaces_the_stored_token_in_place(
    auth_server: AuthServerState, tmp_path: Path
) -> None:
    browser = Browser()
    config = _config(auth_server)
    auth = build_auth(
        "notes",
        config,
        store=FileTokenStore("notes", tmp_path),
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with MCPConnection("notes", config, auth=auth) as connection:
        await connection.list_tools()
    stored = FileTokenStore("notes", tmp_path)
    first = await stored.get_tokens()
    client = await stored.get_client_info()
    auth_server.access_tokens.clear()  # the server forgets the access token: the next session must refresh

    later = build_auth("notes", config, store=FileTokenStore("notes", tmp_path))
    async with MCPConnection("notes", config, auth=later) as connection:
        assert len(await connection.list_tools()) == 1
    refreshed = await stored.get_tokens()
    assert first is not None and refreshed is not None
    assert refreshed.refresh_token != first.refresh_token  # the rotated refresh token is kept for next time
    assert await stored.get_client_info() == client
    assert auth_server.grants == ["authorization_code", "refresh_token"]
    assert list(_files(tmp_path)) == ["notes.json"]


async def test_machine_tokens_fetched_without_login_stay_in_memory(
    auth_server: AuthServerState, tmp_path: Path
) -> None:
    config = MCPServerConfig(
        url=f"{auth_server.base}/mcp",
        transport="streamable-http",
        auth="client_credentials",
        oauth=OAuthSettings(client_id="machine", client_secret=SecretStr("s3cret"), issuer=auth_server.base),
    )
    token_dir = tmp_path / "tokens"
    auth = build_auth("machine", config, store=FileTokenStore("machine", token_dir))
    async with MCPConnection("machine", config, auth=auth) as connection:
        assert len(await connection.list_tools()) == 1
    assert auth_server.grants == ["client_credentials"]
    assert not token_dir.exists()


async def test_login_owned_store_refuses_to_register() -> None:
    store = LoginOwnedStore(MemoryTokenStore(), "notes")
    with pytest.raises(LoginRequired, match="log in with: voxmcp mcp login notes"):
        await store.set_client_info(OAuthClientInformationFull(client_id="x", redirect_uris=None))


async def test_login_catches_the_redirect_on_a_loopback_port(auth_server: AuthServerState, tmp_path: Path) -> None:
    announced: list[str] = []
    browsing: list[asyncio.Task[None]] = []

    async def user_opens(url: str) -> None:
        async with httpx2.AsyncClient() as client:
            page = await client.get(url, follow_redirects=True)
        assert page.status_code == 200 and "logged in" in page.text

    def announce(text: str) -> None:
        announced.append(text)
        url = re.search(r"http://\S+/authorize\?\S+", text)
        assert url is not None
        browsing.append(asyncio.get_running_loop().create_task(user_opens(url.group(0))))

    store = FileTokenStore("notes", tmp_path)
    result = await login("notes", _config(auth_server), store=store, announce=announce)
    await asyncio.gather(*browsing)
    assert result.tool_count == 1
    assert result.token_file == str(store.path)
    assert store.has_tokens()
    redirect = auth_server.registered_redirects[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", redirect)
    assert "access_token" not in " ".join(announced)


async def test_login_times_out_when_nobody_authorizes(auth_server: AuthServerState, tmp_path: Path) -> None:
    settings = OAuthSettings(login_timeout_s=0.5)
    with pytest.raises(LoginError, match="No login redirect"):
        await login(
            "notes",
            _config(auth_server, oauth=settings),
            store=FileTokenStore("n", tmp_path),
            announce=lambda _text: None,
        )


async def test_login_refuses_servers_without_auth(tmp_path: Path) -> None:
    config = MCPServerConfig(url="http://127.0.0.1:9/mcp")
    with pytest.raises(LoginError, match="without auth"):
        await login("plain", config, store=FileTokenStore("p", tmp_path))


@pytest.mark.parametrize(
    ("auth", "oauth", "message"),
    [
        ("client_credentials", None, "needs oauth.client_id"),
        ("client_credentials", OAuthSettings(client_id="c"), "client_secret"),
        (
            "client_credentials",
            OAuthSettings(client_id="c", client_secret=SecretStr("s"), token_endpoint_auth_method="none"),
            "not 'none'",
        ),
        ("oauth", OAuthSettings(idp_token_endpoint="https://idp/token", idp_id_token=SecretStr("t")), "enterprise"),
    ],
)
def test_incomplete_auth_settings_are_named(auth: str, oauth: OAuthSettings | None, message: str) -> None:
    config = MCPServerConfig(url="http://127.0.0.1:9/mcp", auth=auth, oauth=oauth)  # type: ignore[arg-type]
    with pytest.raises(AuthConfigError, match=message):
        build_auth("s", config, store=MemoryTokenStore())


def test_settings_reject_contradictions() -> None:
    with pytest.raises(ValueError, match="idp_token_endpoint"):
        OAuthSettings(idp_token_endpoint="https://idp/token")
    with pytest.raises(ValueError, match="assertion"):
        OAuthSettings(assertion=SecretStr("a"), assertion_file="/f")


def test_plain_servers_get_no_auth() -> None:
    assert build_auth("s", MCPServerConfig(url="http://127.0.0.1:9/mcp")) is None
    assert build_auth("s", MCPServerConfig(command="true")) is None


def _logged_text(records: list[logging.LogRecord]) -> str:
    """Every message, extra field and traceback of the records, as one text to search for secrets."""
    standard = set(vars(logging.makeLogRecord({})))
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.extend(repr(v) for k, v in vars(record).items() if k not in standard)
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


async def test_no_token_or_client_secret_in_logs_at_debug(
    auth_server: AuthServerState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    config = _config(auth_server)
    store = FileTokenStore("notes", tmp_path)
    auth = build_auth("notes", config, store=store, redirect_handler=browser.open, callback_handler=browser.callback)
    async with MCPConnection("notes", config, auth=auth) as connection:
        await connection.list_tools()
        auth_server.access_tokens.clear()  # forces a refresh after a 401
        await connection.list_tools(refresh=True)
    machine = MCPServerConfig(
        url=f"{auth_server.base}/mcp",
        transport="streamable-http",
        auth="client_credentials",
        oauth=OAuthSettings(client_id="machine", client_secret=SecretStr("s3cret"), issuer=auth_server.base),
    )
    async with MCPConnection("machine", machine, auth=build_auth("machine", machine)) as connection:
        await connection.list_tools()
    tokens = await store.get_tokens()
    assert tokens is not None and tokens.refresh_token is not None
    secrets_seen = [*auth_server.access_tokens, *auth_server.refresh_tokens, tokens.refresh_token, "s3cret"]
    logged = _logged_text(caplog.records)
    assert "access token refreshed after a 401" in logged  # the refresh path ran and logged
    leaked = [s for s in secrets_seen if s in logged]
    assert leaked == []
