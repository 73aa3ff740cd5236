"""voxmcp's OAuth providers: the SDK's flows plus DPoP, workload identity and enterprise-managed grants.

Every provider here is an `httpx2.Auth` built on `mcp.client.auth.OAuthClientProvider`, so discovery
(protected resource metadata, RFC 8414 / OIDC), issuer checks, the resource parameter, scope step-up,
and refresh all come from the SDK; each adds what the SDK lacks:

* `AuthorizationCodeProvider`: authorization code + PKCE with DPoP when the server supports it.
* `ClientSecretProvider` / `PrivateKeyJWTProvider`: client credentials (secret or private_key_jwt), DPoP.
* `WorkloadIdentityProvider`: RFC 7523 jwt-bearer grant with a workload JWT (SEP-1933); a rejected
  assertion is reported, never retried or swapped for another grant.
* `EnterpriseManagedProvider`: SEP-990; RFC 8693 exchange of the IdP ID token for an ID-JAG, then the
  jwt-bearer grant at the MCP authorization server. No browser involved.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError, OAuthTokenError, TokenStorage
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
)
from mcp.client.auth.oauth2 import OAuthContext
from mcp.shared.auth import (
    JWT_BEARER_GRANT_TYPE,
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
)

from voxmcp.mcp.auth.dpop import DPoPKeyStore, DPoPMode, DPoPState, dpop_flow
from voxmcp.mcp.auth.errors import AuthError, describe_oauth_failure
from voxmcp.mcp.auth.legacy import legacy_issuer_flow

logger = logging.getLogger(__name__)

RedirectHandler = Callable[[str], Awaitable[None]]
CallbackHandler = Callable[[], Awaitable[AuthorizationCodeResult]]
AssertionSource = Callable[[], Awaitable[str]]

TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@runtime_checkable
class ExpiryAwareStore(Protocol):
    """A token store that remembers when its access token expires (FileTokenStore)."""

    def token_expires_at(self) -> float | None: ...


async def restore_token_expiry(context: OAuthContext) -> None:
    """Give tokens loaded from disk their real expiry, so an expired one is refreshed, not sent.

    The SDK loads stored tokens without an expiry time and would present a long-dead access token,
    get a 401 and start a full (browser) authorization although a refresh token was at hand.
    """
    store = getattr(context.storage, "inner", context.storage)
    if context.current_tokens is not None and isinstance(store, ExpiryAwareStore):
        context.token_expiry_time = store.token_expires_at()


async def refresh_before_reauthorizing(
    provider: OAuthClientProvider,
    request: httpx2.Request,
    inner: AsyncGenerator[httpx2.Request, httpx2.Response],
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """On a 401 while holding a refresh token, try the refresh grant before a full re-authorization.

    The SDK answers every 401 with discovery and a new authorization (a browser, for the code flow),
    even when the server merely forgot or revoked the access token. A voice session cannot open a
    browser, so one refresh attempt comes first; if it fails, the 401 goes to the SDK flow as before.
    """
    context = provider.context
    try:
        outgoing = await inner.__anext__()
        while True:
            response = yield outgoing
            if outgoing is request and response.status_code == 401 and context.can_refresh_token():
                refresh_response = yield await provider._refresh_token()
                await refresh_response.aread()
                if await provider._handle_refresh_response(refresh_response):
                    # scheme://host/path only: a query may carry a secret (?api_key=)
                    where = str(request.url.copy_with(query=None, fragment=None))
                    logger.info("access token refreshed after a 401", extra={"url": where})
                    provider._add_auth_header(request)
                    retried = yield request
                    if retried.status_code != 401:
                        response = retried
            outgoing = await inner.asend(response)
    except StopAsyncIteration:
        return
    finally:
        await inner.aclose()


def _needs_authorization(response: httpx2.Response) -> bool:
    """A 401, or a 403 asking for more scope: what the SDK answers with a new (browser) authorization."""
    if response.status_code == 401:
        return True
    challenge = response.headers.get("www-authenticate", "")
    return response.status_code == 403 and "insufficient_scope" in challenge


async def stop_for_login(
    request: httpx2.Request,
    inner: AsyncGenerator[httpx2.Request, httpx2.Response],
    login_required: Callable[[], Exception],
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Without a user to ask, a 401 that a refresh did not cure means `voxmcp mcp login`: say so at once.

    Raised before the SDK's discovery and client registration run, so a command that cannot finish a
    login (`mcp servers`, `mcp call`, the agent) never registers a client or writes one to disk, and never
    logs the SDK's "OAuth flow error" traceback for what is an expected state.
    """
    try:
        outgoing = await inner.__anext__()
        while True:
            response = yield outgoing
            if outgoing is request and _needs_authorization(response):
                raise login_required()
            outgoing = await inner.asend(response)
    except StopAsyncIteration:
        return
    finally:
        await inner.aclose()


async def explain_failures(
    server: str,
    inner: AsyncGenerator[httpx2.Request, httpx2.Response],
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Re-raise the SDK's OAuth errors as `AuthError`: one sentence naming the server and what to check."""
    try:
        outgoing = await inner.__anext__()
        while True:
            response = yield outgoing
            outgoing = await inner.asend(response)
    except StopAsyncIteration:
        return
    except OAuthFlowError as exc:
        raise AuthError(describe_oauth_failure(server, exc)) from exc
    finally:
        await inner.aclose()


def _server_label(provider: OAuthClientProvider) -> str:
    """The configured server name (set by `build_auth`), else the MCP server's host."""
    name = getattr(provider, "server_name", None)
    if isinstance(name, str) and name:
        return name
    return httpx2.URL(provider.context.server_url).host or provider.context.server_url


def dpop_state(mode: DPoPMode, storage: TokenStorage) -> DPoPState:
    """DPoP state whose key lives next to the tokens when the store can keep it (FileTokenStore)."""
    inner = getattr(storage, "inner", storage)
    return DPoPState(mode, inner if isinstance(inner, DPoPKeyStore) else None)


class AuthorizationCodeProvider(OAuthClientProvider):
    """Authorization code + PKCE (SDK flow) with DPoP-bound tokens when the server supports them.

    With `login_required` set (no user at hand), a request the stored tokens cannot authorize raises
    that exception instead of starting discovery, registration and a browser authorization.
    """

    def __init__(
        self,
        server_url: str,
        client_metadata: OAuthClientMetadata,
        storage: TokenStorage,
        *,
        redirect_handler: RedirectHandler,
        callback_handler: CallbackHandler,
        client_metadata_url: str | None = None,
        dpop: DPoPMode = "auto",
        login_required: Callable[[], Exception] | None = None,
    ) -> None:
        super().__init__(
            server_url,
            client_metadata,
            storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
            client_metadata_url=client_metadata_url,
        )
        self.dpop = dpop_state(dpop, storage)
        self.login_required = login_required
        self.server_name: str | None = None

    async def _initialize(self) -> None:
        await super()._initialize()
        await restore_token_expiry(self.context)

    def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        sdk_flow = legacy_issuer_flow(self.context, super()._auth_flow(request))
        if self.login_required is not None:
            sdk_flow = stop_for_login(request, sdk_flow, self.login_required)
        flow = dpop_flow(self.dpop, refresh_before_reauthorizing(self, request, sdk_flow))
        return explain_failures(_server_label(self), flow)


class _ClientCredentialsExtras:
    """What both SDK client-credentials providers get here: DPoP and the saved token expiry (mixed in first)."""

    context: Any

    def __init__(self, *args: Any, dpop: DPoPMode = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dpop = dpop_state(dpop, self.context.storage)
        self.server_name: str | None = None

    async def _initialize(self) -> None:
        await super()._initialize()  # type: ignore[misc]
        await restore_token_expiry(self.context)

    def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        flow = dpop_flow(self.dpop, super()._auth_flow(request))  # type: ignore[misc]
        return explain_failures(_server_label(self), flow)  # type: ignore[arg-type]


class ClientSecretProvider(_ClientCredentialsExtras, ClientCredentialsOAuthProvider):
    """client_credentials with client_secret_basic / client_secret_post, plus DPoP."""


class PrivateKeyJWTProvider(_ClientCredentialsExtras, PrivateKeyJWTOAuthProvider):
    """client_credentials with private_key_jwt client authentication (RFC 7523 section 2.2), plus DPoP."""


class _FixedClientProvider(OAuthClientProvider):
    """Base for grants without a browser: a fixed client record, no registration, DPoP-capable."""

    def __init__(
        self,
        server_url: str,
        storage: TokenStorage,
        client_info: OAuthClientInformationFull,
        *,
        scope: str | None,
        grant_type: str,
        dpop: DPoPMode,
    ) -> None:
        metadata = OAuthClientMetadata(
            redirect_uris=None,
            grant_types=[grant_type],
            scope=scope,
        )
        super().__init__(server_url, metadata, storage, None, None)
        self._client_record = client_info
        self.dpop = dpop_state(dpop, storage)
        self.server_name: str | None = None

    async def _initialize(self) -> None:
        self.context.current_tokens = await self.context.storage.get_tokens()
        self.context.client_info = self._client_record
        self._initialized = True
        await restore_token_expiry(self.context)

    def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        return explain_failures(_server_label(self), dpop_flow(self.dpop, super()._auth_flow(request)))

    def _token_request(self, data: dict[str, str]) -> httpx2.Request:
        if self.context.should_include_resource_param(self.context.protocol_version):
            data["resource"] = self.context.get_resource_url()
        if self.context.client_metadata.scope:
            data["scope"] = self.context.client_metadata.scope
        data, headers = self.context.prepare_token_auth(data, dict(_FORM))
        if self._client_record.token_endpoint_auth_method in (None, "none"):
            data["client_id"] = self._client_record.client_id or ""
        return httpx2.Request("POST", self._get_token_endpoint(), data=data, headers=headers)


class WorkloadIdentityProvider(_FixedClientProvider):
    """RFC 7523 jwt-bearer grant with a workload identity JWT (SEP-1933 workload identity federation)."""

    def __init__(
        self,
        server_url: str,
        storage: TokenStorage,
        *,
        client_id: str,
        assertion: AssertionSource,
        scope: str | None = None,
        dpop: DPoPMode = "auto",
    ) -> None:
        client = OAuthClientInformationFull(
            client_id=client_id,
            redirect_uris=None,
            grant_types=[JWT_BEARER_GRANT_TYPE],
            token_endpoint_auth_method="none",
        )
        super().__init__(server_url, storage, client, scope=scope, grant_type=JWT_BEARER_GRANT_TYPE, dpop=dpop)
        self._assertion = assertion

    async def _perform_authorization(self) -> httpx2.Request:
        assertion = await self._assertion()
        return self._token_request({"grant_type": JWT_BEARER_GRANT_TYPE, "assertion": assertion})


def _oauth_error(response: httpx2.Response) -> str:
    """ ": error: description" from an OAuth error body, never the body itself (it may echo a credential)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    description = body.get("error_description")
    detail = f" ({description[:200]})" if isinstance(description, str) else ""
    return f": {body['error'][:100]}{detail}"


class EnterpriseManagedProvider(_FixedClientProvider):
    """SEP-990: IdP ID token -> (RFC 8693) ID-JAG -> (RFC 7523) access token at the MCP auth server."""

    def __init__(
        self,
        server_url: str,
        storage: TokenStorage,
        *,
        client_id: str,
        client_secret: str,
        idp_token_endpoint: str,
        id_token: Callable[[], str],
        idp_client_id: str | None = None,
        scope: str | None = None,
        token_endpoint_auth_method: str = "client_secret_basic",
        dpop: DPoPMode = "auto",
        timeout_s: float = 30.0,
    ) -> None:
        client = OAuthClientInformationFull(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=None,
            grant_types=[JWT_BEARER_GRANT_TYPE],
            token_endpoint_auth_method=token_endpoint_auth_method,
        )
        super().__init__(server_url, storage, client, scope=scope, grant_type=JWT_BEARER_GRANT_TYPE, dpop=dpop)
        self._idp_token_endpoint = idp_token_endpoint
        self._id_token = id_token
        self._idp_client_id = idp_client_id
        self._timeout_s = timeout_s

    async def _exchange_for_id_jag(self) -> str:
        """RFC 8693 token exchange at the enterprise IdP: the user's ID token for an ID-JAG."""
        metadata = self.context.oauth_metadata
        if metadata is None:
            raise OAuthFlowError("no authorization server metadata: cannot name the ID-JAG audience")
        data = {
            "grant_type": TOKEN_EXCHANGE_GRANT_TYPE,
            "subject_token": self._id_token(),
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": ID_JAG_TOKEN_TYPE,
            "audience": str(metadata.issuer),
            "resource": self.context.get_resource_url(),
        }
        if self._idp_client_id:
            data["client_id"] = self._idp_client_id
        if self.context.client_metadata.scope:
            data["scope"] = self.context.client_metadata.scope
        async with httpx2.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client:
            response = await client.post(self._idp_token_endpoint, data=data, headers=_FORM)
        if response.status_code != 200:
            raise OAuthTokenError(f"IdP token exchange failed ({response.status_code}){_oauth_error(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise OAuthTokenError("IdP token exchange answered with something other than JSON") from exc
        issued = body.get("issued_token_type") if isinstance(body, dict) else None
        id_jag = body.get("access_token") if isinstance(body, dict) else None
        if issued != ID_JAG_TOKEN_TYPE or not isinstance(id_jag, str):
            raise OAuthTokenError(f"IdP token exchange did not return an ID-JAG (issued_token_type={issued!r})")
        return id_jag

    async def _perform_authorization(self) -> httpx2.Request:
        id_jag = await self._exchange_for_id_jag()
        return self._token_request({"grant_type": JWT_BEARER_GRANT_TYPE, "assertion": id_jag})


NAMED_PROVIDERS = (AuthorizationCodeProvider, _ClientCredentialsExtras, _FixedClientProvider)
"""Every provider here: `build_auth` sets their `server_name`, so failures name the server as configured."""
