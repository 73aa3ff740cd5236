"""DPoP (RFC 9449): sender-constrained access tokens for any of our OAuth providers.

`DPoPSigner` holds one ES256 key pair per connection and mints proofs. `dpop_flow` wraps an SDK OAuth
flow (an `httpx2` auth generator): it watches discovery to learn whether the authorization server
supports DPoP, adds a proof to token requests, presents bound tokens with the `DPoP` scheme plus a
proof carrying `ath` on resource requests, and answers `use_dpop_nonce` challenges from either server
once (RFC 9449 sections 8 and 9). The SDK's token model only knows `Bearer`, so a `DPoP` token response
is handed to it as Bearer while this layer remembers the binding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

logger = logging.getLogger(__name__)

DPoPMode = Literal["auto", "always", "never"]
_SUPPORTED_ALG = "ES256"
_METADATA_MARKERS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
_PRM_MARKER = "/.well-known/oauth-protected-resource"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def htu_of(url: str) -> str:
    """The proof's `htu`: the request URI without query and fragment (RFC 9449 section 4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def access_token_hash(access_token: str) -> str:
    """`ath`: base64url SHA-256 of the access token (RFC 9449 section 4.2)."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


@runtime_checkable
class DPoPKeyStore(Protocol):
    """Keeps the DPoP key and which access tokens are bound to it, next to the tokens themselves."""

    def load_dpop(self) -> tuple[bytes | None, list[str]]:
        """(PEM private key or None, SHA-256 hashes of bound access tokens)."""
        ...

    def save_dpop(self, key_pem: bytes, bound_token_hashes: list[str]) -> None: ...


class DPoPSigner:
    """An ES256 key pair and the proofs made with it; the private key leaves only via `private_pem`."""

    def __init__(self, key_pem: bytes | None = None) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None) if key_pem else None
        if key is not None and not (
            isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
        ):
            raise ValueError("stored DPoP key is not a P-256 key")
        self._key: ec.EllipticCurvePrivateKey = key if key is not None else ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }

    def private_pem(self) -> bytes:
        """The private key for the 0600 token file (so bound tokens survive a restart)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (the `cnf.jkt` a bound token carries)."""
        canonical = json.dumps(
            {k: self.public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
        )
        return _b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A fresh proof JWT for one request (new `jti`, current `iat`)."""
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method.upper(),
            "htu": htu_of(url),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(
            claims, self._key, algorithm=_SUPPORTED_ALG, headers={"typ": "dpop+jwt", "jwk": self.public_jwk}
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_token_request(request: httpx2.Request) -> bool:
    if request.method != "POST":
        return False
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return False
    return "grant_type" in parse_qs(request.content.decode("utf-8", "replace"))


def _needs_body(request: httpx2.Request, response: httpx2.Response, *, token_request: bool) -> bool:
    """Only token, discovery and error responses are read here: an MCP response may be a live SSE stream."""
    if token_request or response.status_code in (400, 401):
        return True
    return request.method == "GET" and any(marker in request.url.path for marker in (*_METADATA_MARKERS, _PRM_MARKER))


def _json_body(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class DPoPState:
    """Per-provider DPoP state: whether it is in use, the key, bound tokens, and nonces per origin."""

    def __init__(self, mode: DPoPMode, key_store: DPoPKeyStore | None = None) -> None:
        self.mode = mode
        self.key_store = key_store
        self.server_supports = False
        self.bound_token_hashes: set[str] = set()
        self.nonces: dict[str, str] = {}
        self.signer: DPoPSigner | None = None
        if mode != "never":
            stored_key, bound = key_store.load_dpop() if key_store is not None else (None, [])
            try:
                self.signer = DPoPSigner(stored_key)
                self.bound_token_hashes = set(bound) if stored_key else set()
                # A token bound to our stored key means the server wanted DPoP when it was issued.
                self.server_supports = bool(self.bound_token_hashes)
            except ValueError:
                logger.warning("stored DPoP key is unusable; using a fresh one")
                self.signer = DPoPSigner()

    @property
    def active(self) -> bool:
        return self.signer is not None and (self.mode == "always" or self.server_supports)

    def observe_metadata(self, request: httpx2.Request, response: httpx2.Response) -> None:
        """Learn from discovery responses whether the authorization/resource server wants DPoP."""
        path = request.url.path
        if request.method != "GET" or response.status_code != 200:
            return
        if not any(marker in path for marker in (*_METADATA_MARKERS, _PRM_MARKER)):
            return
        body = _json_body(response.content)
        if body is None:
            return
        algs = body.get("dpop_signing_alg_values_supported")
        if isinstance(algs, list) and _SUPPORTED_ALG in algs:
            self.server_supports = True
        if body.get("dpop_bound_access_tokens_required") is True:
            self.server_supports = True

    def sign(self, request: httpx2.Request, *, token_request: bool) -> None:
        """Add a proof (and the DPoP scheme for bound tokens) to a request about to be sent."""
        signer = self.signer
        if signer is None or not self.active:
            return
        nonce = self.nonces.get(_origin(str(request.url)))
        if token_request:
            request.headers["DPoP"] = signer.proof(request.method, str(request.url), nonce=nonce)
            return
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() in ("bearer", "dpop") and access_token_hash(token) in self.bound_token_hashes:
            request.headers["Authorization"] = f"DPoP {token}"
            request.headers["DPoP"] = signer.proof(request.method, str(request.url), access_token=token, nonce=nonce)

    def nonce_challenge(self, request: httpx2.Request, response: httpx2.Response) -> bool:
        """Record a `use_dpop_nonce` challenge's nonce; True when the request should be re-sent."""
        nonce = response.headers.get("DPoP-Nonce")
        if not nonce or not self.active:
            return False
        challenged = False
        if response.status_code == 401:
            challenged = "use_dpop_nonce" in response.headers.get("WWW-Authenticate", "")
        elif response.status_code == 400:
            body = _json_body(response.content)
            challenged = body is not None and body.get("error") == "use_dpop_nonce"
        if challenged:
            self.nonces[_origin(str(request.url))] = nonce
        return challenged

    def accept_token_response(self, response: httpx2.Response) -> httpx2.Response:
        """Remember a DPoP-bound token and hand the SDK a Bearer-typed copy of the response."""
        if response.status_code != 200:
            return response
        body = _json_body(response.content)
        if body is None or str(body.get("token_type", "")).lower() != "dpop":
            return response
        token = body.get("access_token")
        if isinstance(token, str):
            self.bound_token_hashes = {access_token_hash(token)}
            if self.key_store is not None and self.signer is not None:
                self.key_store.save_dpop(self.signer.private_pem(), sorted(self.bound_token_hashes))
        body["token_type"] = "Bearer"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        return httpx2.Response(
            response.status_code, headers=headers, content=json.dumps(body).encode(), request=response.request
        )


async def dpop_flow(
    state: DPoPState,
    inner: AsyncGenerator[httpx2.Request, httpx2.Response],
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Drive `inner` (an SDK OAuth flow), adding DPoP to what it sends and filtering what it receives."""
    try:
        outgoing = await inner.__anext__()
        while True:
            token_request = _is_token_request(outgoing)
            state.sign(outgoing, token_request=token_request)
            response = yield outgoing
            if _needs_body(outgoing, response, token_request=token_request):
                await response.aread()
                if state.nonce_challenge(outgoing, response):
                    logger.debug("DPoP nonce challenge; retrying once", extra={"url": htu_of(str(outgoing.url))})
                    state.sign(outgoing, token_request=token_request)
                    response = yield outgoing
                    if _needs_body(outgoing, response, token_request=token_request):
                        await response.aread()
                state.observe_metadata(outgoing, response)
            if token_request:
                response = state.accept_token_response(response)
            outgoing = await inner.asend(response)
    except StopAsyncIteration:
        return
    finally:
        await inner.aclose()
