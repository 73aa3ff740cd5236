"""`build_auth`: the `httpx2.Auth` a server's configuration asks for (or None for plain servers).

Only `voxmcp mcp login` (which passes browser handlers) registers clients or writes new tokens. Every
other caller (`mcp servers`, `mcp call`, the agent) gets the stored tokens and registration through
`LoginOwnedStore`: it may refresh a stored token in place, and a server with nothing usable stored fails
with `LoginRequired` ("... log in with: voxmcp mcp login NAME") before any registration is attempted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx2
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import SignedJWTParameters
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl, SecretStr

from voxmcp.mcp.auth.dpop import DPoPKeyStore
from voxmcp.mcp.auth.errors import LoginRequired
from voxmcp.mcp.auth.headers import HeaderAuth, header_auth_from_config
from voxmcp.mcp.auth.providers import (
    NAMED_PROVIDERS,
    AuthorizationCodeProvider,
    CallbackHandler,
    ClientSecretProvider,
    EnterpriseManagedProvider,
    ExpiryAwareStore,
    PrivateKeyJWTProvider,
    RedirectHandler,
    WorkloadIdentityProvider,
)
from voxmcp.mcp.auth.token_store import FileTokenStore
from voxmcp.mcp.oauth_settings import OAuthSettings

if TYPE_CHECKING:
    from voxmcp.mcp.config import MCPServerConfig

logger = logging.getLogger(__name__)


class AuthConfigError(ValueError):
    """The server's auth settings are incomplete or contradictory; the message names the setting."""


def _resolve(value: str | SecretStr | None) -> str | None:
    from voxmcp.mcp.config import interpolate_env

    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return interpolate_env(value) if value is not None else None


def redirect_uri_for(settings: OAuthSettings, port: int | None = None) -> str:
    """The loopback redirect URI; `port` overrides the configured one (the port actually bound)."""
    chosen = settings.redirect_port if port is None else port
    # Port 0 = "any": the URI still needs a number for registration; login binds and rebuilds with it.
    return f"http://{settings.redirect_host}:{chosen or 8976}{settings.redirect_path}"


class PreRegisteredClientStore(TokenStorage):
    """A token store that always reports the configured client (pre-registration skips DCR/CIMD)."""

    def __init__(self, inner: TokenStorage, client: OAuthClientInformationFull) -> None:
        self.inner = inner
        self.client = client

    async def get_tokens(self) -> OAuthToken | None:
        return await self.inner.get_tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        await self.inner.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
        await self.inner.set_client_info(client_info)


class LoginOwnedStore(TokenStorage):
    """A server's stored credentials as every command but `voxmcp mcp login` sees them: used, never added to.

    * tokens: read from the store; a refreshed (or, for machine flows, re-fetched) token replaces a stored
      one in place, since the authorization server may have rotated the refresh token and a lost one means
      a new login; a token obtained with nothing stored (machine flows) lives in this process only;
    * client registration: read only; registering raises `LoginRequired` (login registers);
    * the DPoP key: saved only next to tokens that login stored.
    """

    def __init__(self, stored: TokenStorage, server: str) -> None:
        self._stored = stored  # not `inner`: DPoP and expiry lookups must go through this policy
        self.server = server
        self._process_tokens: OAuthToken | None = None

    async def _has_stored_tokens(self) -> bool:
        return self._process_tokens is None and await self._stored.get_tokens() is not None

    async def get_tokens(self) -> OAuthToken | None:
        return self._process_tokens or await self._stored.get_tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        if await self._has_stored_tokens():
            await self._stored.set_tokens(tokens)
        else:
            self._process_tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return await self._stored.get_client_info()

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        raise LoginRequired(self.server)

    def token_expires_at(self) -> float | None:
        if self._process_tokens is None and isinstance(self._stored, ExpiryAwareStore):
            return self._stored.token_expires_at()
        return None

    def load_dpop(self) -> tuple[bytes | None, list[str]]:
        if isinstance(self._stored, DPoPKeyStore):
            return self._stored.load_dpop()
        return None, []

    def save_dpop(self, key_pem: bytes, bound_token_hashes: list[str]) -> None:
        stored = self._stored
        if self._process_tokens is None and isinstance(stored, FileTokenStore) and stored.has_tokens():
            stored.save_dpop(key_pem, bound_token_hashes)


class ChainedAuth(httpx2.Auth):
    """Rotating headers first, then an OAuth flow, on the same request."""

    def __init__(self, headers: HeaderAuth, inner: httpx2.Auth) -> None:
        self.headers = headers
        self.inner = inner

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        for prepared in self.headers.auth_flow(request):
            request = prepared
        flow = self.inner.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return


async def _login_required(name: str) -> AuthorizationCodeResult:
    raise LoginRequired(name)


def _read_file(path: str, what: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthConfigError(f"cannot read {what} from {path}: {exc.strerror}") from exc


def build_auth(
    name: str,
    config: MCPServerConfig,
    *,
    store: TokenStorage | None = None,
    redirect_handler: RedirectHandler | None = None,
    callback_handler: CallbackHandler | None = None,
    redirect_uri: str | None = None,
) -> httpx2.Auth | None:
    """The auth for one server: rotating headers and/or the configured OAuth flow, or None.

    Without handlers, an authorization-code server that has no usable token fails with `LoginRequired`
    (a voice session cannot open a browser), and nothing new is written to the store (`LoginOwnedStore`);
    `voxmcp mcp login` passes handlers that can, and its store is written as the flow goes.
    """
    header_auth = header_auth_from_config(config.headers)
    oauth = _build_oauth(name, config, store, redirect_handler, callback_handler, redirect_uri)
    if isinstance(oauth, NAMED_PROVIDERS):
        oauth.server_name = name  # failures then name the server as the user configured it
    if oauth is None:
        return header_auth
    if header_auth is None:
        return oauth
    return ChainedAuth(header_auth, oauth)


def _build_oauth(
    name: str,
    config: MCPServerConfig,
    store: TokenStorage | None,
    redirect_handler: RedirectHandler | None,
    callback_handler: CallbackHandler | None,
    redirect_uri: str | None,
) -> httpx2.Auth | None:
    if config.auth == "none":
        return None
    if config.url is None:
        raise AuthConfigError(f"server {name!r}: auth = {config.auth!r} needs an HTTP `url`")
    url = _resolve(config.url) or ""
    settings = config.oauth or OAuthSettings()
    storage: TokenStorage = store if store is not None else FileTokenStore(name)
    interactive = redirect_handler is not None or callback_handler is not None
    if not interactive:
        storage = LoginOwnedStore(storage, name)
    client_id = _resolve(settings.client_id)
    client_secret = _resolve(settings.client_secret)

    if config.auth == "client_credentials":
        return _build_machine_auth(name, url, settings, storage, client_id, client_secret)

    if settings.idp_token_endpoint is not None:
        if not client_id or not client_secret:
            raise AuthConfigError(
                f"server {name!r}: enterprise-managed authorization needs oauth.client_id and oauth.client_secret"
            )
        id_token_template = settings.idp_id_token
        return EnterpriseManagedProvider(
            url,
            storage,
            client_id=client_id,
            client_secret=client_secret,
            idp_token_endpoint=_resolve(settings.idp_token_endpoint) or "",
            id_token=lambda: _resolve(id_token_template) or "",
            idp_client_id=_resolve(settings.idp_client_id),
            scope=settings.scope,
            token_endpoint_auth_method=settings.token_endpoint_auth_method or "client_secret_basic",
            dpop=settings.dpop,
        )

    uri = redirect_uri or redirect_uri_for(settings)
    metadata = OAuthClientMetadata(
        client_name=settings.client_name,
        redirect_uris=[AnyUrl(uri)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=settings.scope,
    )
    if client_id:
        method = settings.token_endpoint_auth_method or ("client_secret_basic" if client_secret else "none")
        storage = PreRegisteredClientStore(
            storage,
            OAuthClientInformationFull(
                client_id=client_id,
                client_secret=client_secret,
                redirect_uris=[AnyUrl(uri)],
                token_endpoint_auth_method=method,
                grant_types=["authorization_code", "refresh_token"],
            ),
        )

    async def no_browser(_url: str) -> None:
        await _login_required(name)

    async def no_callback() -> AuthorizationCodeResult:
        return await _login_required(name)

    return AuthorizationCodeProvider(
        url,
        metadata,
        storage,
        redirect_handler=redirect_handler or no_browser,
        callback_handler=callback_handler or no_callback,
        client_metadata_url=settings.client_metadata_url,
        dpop=settings.dpop,
        login_required=None if interactive else (lambda: LoginRequired(name)),
    )


def _build_machine_auth(
    name: str,
    url: str,
    settings: OAuthSettings,
    storage: TokenStorage,
    client_id: str | None,
    client_secret: str | None,
) -> httpx2.Auth:
    if not client_id:
        raise AuthConfigError(f"server {name!r}: auth = 'client_credentials' needs oauth.client_id")
    if settings.assertion is not None or settings.assertion_file is not None:
        assertion_template = settings.assertion
        assertion_file = settings.assertion_file

        async def workload_jwt() -> str:
            if assertion_file is not None:
                # Re-read on every token request: the platform rotates the file.
                return await anyio.to_thread.run_sync(_read_file, assertion_file, "the workload JWT")
            return _resolve(assertion_template) or ""

        return WorkloadIdentityProvider(
            url,
            storage,
            client_id=client_id,
            assertion=workload_jwt,
            scope=settings.scope,
            dpop=settings.dpop,
        )
    key = _resolve(settings.private_key_pem)
    if settings.private_key_file is not None:
        key = _read_file(settings.private_key_file, "the private key")
    if key:
        params = SignedJWTParameters(
            issuer=client_id, subject=client_id, signing_algorithm=settings.signing_algorithm, signing_key=key
        )
        return PrivateKeyJWTProvider(
            server_url=url,
            storage=storage,
            client_id=client_id,
            assertion_provider=params.create_assertion_provider(),
            scope=settings.scope,
            issuer=settings.issuer,
            dpop=settings.dpop,
        )
    if client_secret:
        method = settings.token_endpoint_auth_method or "client_secret_basic"
        if method not in ("client_secret_basic", "client_secret_post"):
            raise AuthConfigError(
                f"server {name!r}: a client secret authenticates with client_secret_basic or "
                f"client_secret_post, "
                f"not {method!r}"
            )
        return ClientSecretProvider(
            server_url=url,
            storage=storage,
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=method,
            scope=settings.scope,
            issuer=settings.issuer,
            dpop=settings.dpop,
        )
    raise AuthConfigError(
        f"server {name!r}: auth = 'client_credentials' needs oauth.client_secret, oauth.private_key_pem/"
        "private_key_file, or oauth.assertion/assertion_file"
    )
