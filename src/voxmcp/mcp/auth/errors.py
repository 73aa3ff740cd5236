"""Authorization failures as the one sentence a user gets, naming the server and what to do.

The SDK raises `OAuthTokenError("Token exchange failed (401): {...body...}")` and friends; a user needs to
know which server, whether to fix the configuration or log in again, and never the response body (it may
echo a credential). `describe_oauth_failure` turns the SDK's errors into such a sentence; `AuthError` carries
it, and the connection layer reports its text as is.
"""

from __future__ import annotations

import re

from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError

_ERROR_CODE = re.compile(r'"error"\s*:\s*"([A-Za-z0-9_.\-]{1,64})"')
_STATUS = re.compile(r"\((\d{3})\)")


class AuthError(Exception):
    """An authorization failure; `str(exc)` is the sentence for the user (server named, what to do)."""


class LoginRequired(AuthError):
    """The server needs an interactive login first; the message says which command does it."""

    def __init__(self, server: str) -> None:
        super().__init__(f"The {server} server needs a login first; log in with: voxmcp mcp login {server}.")
        self.server = server


def describe_oauth_failure(server: str, exc: OAuthFlowError) -> str:
    """One sentence for an SDK OAuth error: what the authorization server refused and what to check."""
    text = str(exc)[:2000]
    who = f"The {server} server's authorization server"
    if isinstance(exc, OAuthTokenError):
        code_match = _ERROR_CODE.search(text)
        status_match = _STATUS.search(text[:100])
        code = code_match.group(1) if code_match else None
        reason = code or (f"HTTP {status_match.group(1)}" if status_match else "no reason given")
        if code in ("invalid_client", "unauthorized_client"):
            return (
                f"{who} refused voxmcp's client credentials ({code}); "
                f"check oauth.client_id and oauth.client_secret of the {server} server."
            )
        return f"{who} refused to issue a token ({reason}); log in again with: voxmcp mcp login {server}."
    if isinstance(exc, OAuthRegistrationError):
        return (
            f"{who} refused to register voxmcp as a client; configure a pre-registered oauth.client_id "
            f"for the {server} server."
        )
    first_line = text.splitlines()[0][:200] if text else type(exc).__name__
    return f"Authorizing voxmcp for the {server} server failed: {first_line.rstrip('.')}."
