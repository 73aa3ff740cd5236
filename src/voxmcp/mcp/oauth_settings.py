"""OAuth settings of one MCP server (`[mcp.servers.<name>.oauth]` in voxmcp.toml).

Which flow runs is chosen by the server's `auth` field plus what is configured here:

* `auth = "oauth"`: authorization code + PKCE (discovery, CIMD or dynamic registration, or the
  pre-registered `client_id`); with `idp_token_endpoint` set it is enterprise-managed authorization
  instead (SEP-990: IdP ID token -> ID-JAG -> access token, no browser).
* `auth = "client_credentials"`: machine-to-machine; `client_secret` (basic/post),
  `private_key_pem`/`private_key_file` (private_key_jwt), or `assertion`/`assertion_file`
  (workload identity federation: RFC 7523 jwt-bearer grant with a workload JWT).

Secret-bearing fields are `SecretStr` (masked in reprs and dumps) and accept `${ENV}` references, resolved
when the auth is built; they are never logged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

TokenEndpointAuthMethod = Literal["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]


class OAuthSettings(BaseModel):
    """Client identity and flow options for one server's authorization server."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = None
    """A pre-registered client id (skips CIMD and dynamic registration)."""
    client_secret: SecretStr | None = None
    """Secret of a confidential pre-registered client; use `${ENV}`."""
    token_endpoint_auth_method: TokenEndpointAuthMethod | None = None
    """How the client authenticates at the token endpoint; inferred from the credentials when unset."""
    private_key_pem: SecretStr | None = None
    """PEM private key for private_key_jwt client authentication; use `${ENV}` or `private_key_file`."""
    private_key_file: str | None = None
    signing_algorithm: Literal["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256"] = "ES256"
    assertion: SecretStr | None = None
    """A workload identity JWT for the jwt-bearer grant; use `${ENV}` or `assertion_file`."""
    assertion_file: str | None = None
    """File holding the workload JWT; re-read on every token request (rotated by the platform)."""
    issuer: str | None = None
    """Client credentials only: the authorization server the credentials belong to; the flow stops if
    the MCP server points anywhere else (recommended: without it the server decides where they go)."""
    scope: str | None = None
    """Scopes to request; by default the server's challenge or metadata decides."""
    client_name: str = "voxmcp"
    client_metadata_url: str | None = None
    """HTTPS URL of this client's metadata document (CIMD), used when the server supports it."""
    redirect_host: Literal["127.0.0.1", "localhost"] = "127.0.0.1"
    redirect_port: int = Field(default=0, ge=0, le=65535)
    """Loopback port for `voxmcp mcp login`; 0 picks a free one (fine with CIMD and dynamic registration)."""
    redirect_path: str = "/callback"
    dpop: Literal["auto", "always", "never"] = "auto"
    """DPoP-bound tokens (RFC 9449): `auto` uses them when the authorization server supports ES256."""
    idp_token_endpoint: str | None = None
    """Enterprise IdP token endpoint for the RFC 8693 exchange of `idp_id_token` into an ID-JAG."""
    idp_id_token: SecretStr | None = None
    """The user's OIDC ID token from the enterprise IdP; use `${ENV}`."""
    idp_client_id: str | None = None
    login_timeout_s: float = Field(default=300.0, gt=0)
    """How long `voxmcp mcp login` waits for the browser redirect."""

    @model_validator(mode="after")
    def _consistent(self) -> OAuthSettings:
        if self.private_key_pem is not None and self.private_key_file is not None:
            raise ValueError("give `private_key_pem` or `private_key_file`, not both")
        if self.assertion is not None and self.assertion_file is not None:
            raise ValueError("give `assertion` or `assertion_file`, not both")
        if (self.idp_token_endpoint is None) != (self.idp_id_token is None):
            raise ValueError("enterprise-managed authorization needs both `idp_token_endpoint` and `idp_id_token`")
        if not self.redirect_path.startswith("/"):
            raise ValueError(f"redirect_path must start with '/', got {self.redirect_path!r}")
        return self
