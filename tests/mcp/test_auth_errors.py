"""OAuth failures as one sentence: which server, what was refused, what to check; never the response body."""

from __future__ import annotations

import pytest
from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError

from voxmcp.mcp.auth.errors import LoginRequired, describe_oauth_failure


@pytest.mark.parametrize(
    ("exc", "sentence"),
    [
        (
            OAuthTokenError('Token exchange failed (401): {"error":"invalid_client"}'),
            "The machine server's authorization server refused voxmcp's client credentials (invalid_client); "
            "check oauth.client_id and oauth.client_secret of the machine server.",
        ),
        (
            OAuthTokenError('Token exchange failed (400): {"error": "invalid_grant", "access_token": "eyJ.x"}'),
            "The machine server's authorization server refused to issue a token (invalid_grant); "
            "log in again with: voxmcp mcp login machine.",
        ),
        (
            OAuthTokenError("Token exchange failed (503): <html>down</html>"),
            "The machine server's authorization server refused to issue a token (HTTP 503); "
            "log in again with: voxmcp mcp login machine.",
        ),
        (
            OAuthRegistrationError("Registration failed: 403 {}"),
            "The machine server's authorization server refused to register voxmcp as a client; "
            "configure a pre-registered oauth.client_id for the machine server.",
        ),
        (
            OAuthFlowError("Protected resource metadata request failed: HTTP 500"),
            "Authorizing voxmcp for the machine server failed: Protected resource metadata request failed: HTTP 500.",
        ),
    ],
)
def test_oauth_failures_become_one_sentence(exc: OAuthFlowError, sentence: str) -> None:
    described = describe_oauth_failure("machine", exc)
    assert described == sentence
    assert "eyJ" not in described


def test_login_required_names_the_command() -> None:
    assert str(LoginRequired("notes")) == "The notes server needs a login first; log in with: voxmcp mcp login notes."
