"""build_auth picks the flow the configuration asks for; the login command reports clearly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mcp.client.auth.oauth2 import OAuthContext
from mcp.shared.auth import OAuthClientMetadata, ProtectedResourceMetadata
from pydantic import AnyHttpUrl, AnyUrl, SecretStr
from typer.testing import CliRunner

from voxmcp.mcp.auth.build import ChainedAuth, PreRegisteredClientStore, build_auth
from voxmcp.mcp.auth.legacy import same_origin_legacy_issuer
from voxmcp.mcp.auth.providers import (
    AuthorizationCodeProvider,
    ClientSecretProvider,
    EnterpriseManagedProvider,
    PrivateKeyJWTProvider,
    WorkloadIdentityProvider,
    _oauth_error,
)
from voxmcp.mcp.auth.token_store import MemoryTokenStore
from voxmcp.mcp.cli import login_command
from voxmcp.mcp.config import MCPServerConfig
from voxmcp.mcp.oauth_settings import OAuthSettings

URL = "https://mcp.example/mcp"


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("auth", "oauth", "expected"),
    [
        ("oauth", None, AuthorizationCodeProvider),
        ("oauth", OAuthSettings(client_id="pre", client_secret=SecretStr("s")), AuthorizationCodeProvider),
        (
            "oauth",
            OAuthSettings(
                client_id="c",
                client_secret=SecretStr("s"),
                idp_token_endpoint="https://idp/t",
                idp_id_token=SecretStr("t"),
            ),
            EnterpriseManagedProvider,
        ),
        ("client_credentials", OAuthSettings(client_id="c", client_secret=SecretStr("s")), ClientSecretProvider),
        ("client_credentials", OAuthSettings(client_id="c", private_key_pem=SecretStr(_pem())), PrivateKeyJWTProvider),
        ("client_credentials", OAuthSettings(client_id="c", assertion=SecretStr("jwt")), WorkloadIdentityProvider),
    ],
)
def test_flow_follows_configuration(auth: str, oauth: OAuthSettings | None, expected: type) -> None:
    config = MCPServerConfig(url=URL, auth=auth, oauth=oauth)  # type: ignore[arg-type]
    assert isinstance(build_auth("s", config, store=MemoryTokenStore()), expected)


async def test_pre_registered_client_skips_registration() -> None:
    config = MCPServerConfig(
        url=URL, auth="oauth", oauth=OAuthSettings(client_id="pre", client_secret=SecretStr("sec"))
    )
    provider = build_auth("s", config, store=MemoryTokenStore())
    assert isinstance(provider, AuthorizationCodeProvider)
    storage = provider.context.storage
    assert isinstance(storage, PreRegisteredClientStore)
    client = await storage.get_client_info()
    assert client is not None and client.client_id == "pre"
    assert client.token_endpoint_auth_method == "client_secret_basic"


def test_rotating_headers_chain_before_oauth(tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("abc")
    config = MCPServerConfig(url=URL, auth="oauth", headers={"X-Workload": "${file:" + str(token_file) + "}"})
    assert isinstance(build_auth("s", config, store=MemoryTokenStore()), ChainedAuth)


def test_private_key_file_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(_pem())
    config = MCPServerConfig(
        url=URL, auth="client_credentials", oauth=OAuthSettings(client_id="c", private_key_file=str(key_file))
    )
    assert isinstance(build_auth("s", config, store=MemoryTokenStore()), PrivateKeyJWTProvider)


def _legacy_context(server_url: str) -> OAuthContext:
    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl("http://127.0.0.1:1/callback")])
    return OAuthContext(
        server_url=server_url,
        client_metadata=metadata,
        storage=MemoryTokenStore(),
        redirect_handler=None,
        callback_handler=None,
    )


@pytest.mark.parametrize(
    ("issuer", "accepted"),
    [
        ("http://host.example:8080/oauth", True),
        ("http://host.example:8080", False),  # already matches; nothing to normalize
        ("http://other.example:8080/oauth", False),  # another origin: the strict check decides
    ],
)
def test_legacy_same_origin_issuer(issuer: str, accepted: bool) -> None:
    context = _legacy_context("http://host.example:8080/mcp")
    request = httpx2.Request("GET", "http://host.example:8080/.well-known/oauth-authorization-server")
    response = httpx2.Response(200, json={"issuer": issuer}, request=request)
    assert same_origin_legacy_issuer(context, request, response) is accepted


def test_legacy_leniency_never_applies_with_protected_resource_metadata() -> None:
    context = _legacy_context("http://host.example:8080/mcp")
    context.protected_resource_metadata = ProtectedResourceMetadata(
        resource=AnyHttpUrl("http://host.example:8080/mcp"),
        authorization_servers=[AnyHttpUrl("http://host.example:8080/oauth")],
    )
    request = httpx2.Request("GET", "http://host.example:8080/.well-known/oauth-authorization-server")
    response = httpx2.Response(200, json={"issuer": "http://host.example:8080/oauth"}, request=request)
    assert not same_origin_legacy_issuer(context, request, response)


def _cli(tmp_path: Path, servers: dict[str, object], *args: str) -> tuple[int, str]:
    import typer

    mcp_json = tmp_path / "mcp.json"
    mcp_json.write_text(json.dumps({"mcpServers": servers}))
    app = typer.Typer()
    app.command()(login_command)
    result = CliRunner().invoke(app, [*args, "--mcp-json", str(mcp_json)])
    return result.exit_code, result.output


def test_login_command_names_unknown_servers(tmp_path: Path) -> None:
    code, output = _cli(tmp_path, {"notes": {"url": URL}}, "nope")
    assert code == 2 and "No MCP server named 'nope'" in output and "notes" in output


def test_login_command_refuses_servers_without_auth(tmp_path: Path) -> None:
    code, output = _cli(tmp_path, {"notes": {"url": URL}}, "notes")
    assert code == 1 and "without auth" in output


def test_secrets_are_masked_in_reprs_and_dumps() -> None:
    config = MCPServerConfig.model_validate(
        {"url": URL, "auth": "oauth", "oauth": {"client_id": "c", "client_secret": "hunter2-secret"}}
    )
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in config.model_dump_json()


def test_token_endpoint_errors_name_the_error_never_the_body() -> None:
    echoed = httpx2.Response(
        400, json={"error": "invalid_grant", "error_description": "id token expired", "subject_token": "eyJ.secret"}
    )
    assert _oauth_error(echoed) == ": invalid_grant (id token expired)"
    assert _oauth_error(httpx2.Response(502, text="<html>eyJ.secret</html>")) == ""
    assert _oauth_error(httpx2.Response(400, json=["eyJ.secret"])) == ""
