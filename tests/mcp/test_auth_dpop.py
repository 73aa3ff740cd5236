"""DPoP proofs (RFC 9449): signature, claims, thumbprint, nonce challenges, bound-token presentation."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import httpx2
import jwt
import pytest

from voxmcp.mcp.auth.dpop import DPoPSigner, DPoPState, access_token_hash, htu_of
from voxmcp.mcp.auth.token_store import FileTokenStore


def _read(path: Path) -> str:
    return path.read_text()


def _verify(proof: str) -> tuple[dict[str, object], dict[str, object]]:
    header = jwt.get_unverified_header(proof)
    key = jwt.PyJWK(header["jwk"]).key
    claims = jwt.decode(proof, key, algorithms=["ES256"])
    return header, claims


def test_proof_is_signed_by_embedded_public_key() -> None:
    signer = DPoPSigner()
    proof = signer.proof("post", "https://rs.example/mcp?x=1#frag", access_token="tok", nonce="n1")
    header, claims = _verify(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert "d" not in header["jwk"]  # type: ignore[operator]
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://rs.example/mcp"
    assert claims["ath"] == access_token_hash("tok")
    assert claims["nonce"] == "n1"
    assert _verify(signer.proof("GET", "https://rs.example/mcp"))[1]["jti"] != claims["jti"]


def test_thumbprint_follows_rfc7638() -> None:
    signer = DPoPSigner()
    jwk = signer.public_jwk
    canonical = json.dumps({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert signer.thumbprint == expected


def test_htu_drops_query_and_fragment() -> None:
    assert htu_of("http://127.0.0.1:9/token?a=b#c") == "http://127.0.0.1:9/token"


def _metadata_response(body: dict[str, object]) -> tuple[httpx2.Request, httpx2.Response]:
    request = httpx2.Request("GET", "https://as.example/.well-known/oauth-authorization-server")
    return request, httpx2.Response(200, json=body, request=request)


def test_auto_mode_activates_only_when_server_supports_es256() -> None:
    state = DPoPState("auto")
    assert not state.active
    state.observe_metadata(*_metadata_response({"dpop_signing_alg_values_supported": ["RS256"]}))
    assert not state.active
    state.observe_metadata(*_metadata_response({"dpop_signing_alg_values_supported": ["ES256"]}))
    assert state.active
    assert not DPoPState("never").active
    assert DPoPState("always").active


def test_bound_token_is_presented_with_dpop_scheme_and_bearer_stays_bearer() -> None:
    state = DPoPState("always")
    token_request = httpx2.Request("POST", "https://as.example/token", data={"grant_type": "authorization_code"})
    answer = httpx2.Response(200, json={"access_token": "bound", "token_type": "DPoP"}, request=token_request)
    handed_to_sdk = state.accept_token_response(answer)
    assert json.loads(handed_to_sdk.content)["token_type"] == "Bearer"

    bound = httpx2.Request("POST", "https://rs.example/mcp", headers={"Authorization": "Bearer bound"})
    state.sign(bound, token_request=False)
    assert bound.headers["Authorization"] == "DPoP bound"
    assert _verify(bound.headers["DPoP"])[1]["ath"] == access_token_hash("bound")

    plain = httpx2.Request("POST", "https://rs.example/mcp", headers={"Authorization": "Bearer unbound"})
    state.sign(plain, token_request=False)
    assert plain.headers["Authorization"] == "Bearer unbound"
    assert "DPoP" not in plain.headers


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (400, {"DPoP-Nonce": "n"}, {"error": "use_dpop_nonce"}, True),
        (401, {"DPoP-Nonce": "n", "WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}, {}, True),
        (400, {"DPoP-Nonce": "n"}, {"error": "invalid_grant"}, False),
        (401, {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}, {}, False),
    ],
)
def test_nonce_challenges(status: int, headers: dict[str, str], body: dict[str, str], expected: bool) -> None:
    state = DPoPState("always")
    request = httpx2.Request("POST", "https://as.example/token")
    response = httpx2.Response(status, headers=headers, json=body, request=request)
    assert state.nonce_challenge(request, response) is expected
    if expected:
        retry = httpx2.Request("POST", "https://as.example/token", data={"grant_type": "x"})
        state.sign(retry, token_request=True)
        assert _verify(retry.headers["DPoP"])[1]["nonce"] == "n"


def test_key_and_binding_survive_a_restart(tmp_path: Path) -> None:
    store = FileTokenStore("dpop-server", tmp_path)
    first = DPoPState("auto", store)
    first.server_supports = True
    token_request = httpx2.Request("POST", "https://as.example/token", data={"grant_type": "authorization_code"})
    first.accept_token_response(
        httpx2.Response(200, json={"access_token": "tok-7f3a", "token_type": "DPoP"}, request=token_request)
    )
    assert first.signer is not None
    assert "tok-7f3a" not in _read(store.path)  # only a hash of the token is kept with the key

    second = DPoPState("auto", FileTokenStore("dpop-server", tmp_path))
    assert second.signer is not None and second.signer.thumbprint == first.signer.thumbprint
    request = httpx2.Request("POST", "https://rs.example/mcp", headers={"Authorization": "Bearer tok-7f3a"})
    second.sign(request, token_request=False)
    assert request.headers["Authorization"] == "DPoP tok-7f3a"


def test_unusable_stored_key_is_replaced(tmp_path: Path) -> None:
    store = FileTokenStore("dpop-server", tmp_path)
    store.save_dpop(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", [])
    state = DPoPState("always", store)
    assert state.signer is not None
