"""The loopback redirect receiver: one redirect accepted, errors and strangers turned away."""

from __future__ import annotations

import httpx2
import pytest

from voxmcp.mcp.auth.loopback import AuthorizationDenied, LoopbackRedirectReceiver


async def test_redirect_parameters_are_handed_back() -> None:
    async with LoopbackRedirectReceiver() as receiver:
        assert receiver.redirect_uri.startswith("http://127.0.0.1:")
        async with httpx2.AsyncClient() as client:
            stranger = await client.get(receiver.redirect_uri.replace("/callback", "/favicon.ico"))
            page = await client.get(receiver.redirect_uri, params={"code": "c1", "state": "s1", "iss": "https://as"})
            again = await client.get(receiver.redirect_uri, params={"code": "c2", "state": "s2"})
        result = await receiver.wait(1.0)
    assert stranger.status_code == 404
    assert page.status_code == 200 and "close this tab" in page.text
    assert again.status_code == 409
    assert (result.code, result.state, result.iss) == ("c1", "s1", "https://as")


async def test_denied_authorization_is_reported() -> None:
    async with LoopbackRedirectReceiver(path="/cb") as receiver:
        async with httpx2.AsyncClient() as client:
            page = await client.get(
                receiver.redirect_uri, params={"error": "access_denied", "error_description": "user said no"}
            )
        assert page.status_code == 400
        with pytest.raises(AuthorizationDenied, match="user said no"):
            await receiver.wait(1.0)


async def test_no_redirect_times_out() -> None:
    async with LoopbackRedirectReceiver() as receiver:
        with pytest.raises(TimeoutError):
            await receiver.wait(0.2)


async def test_busy_port_is_named() -> None:
    async with LoopbackRedirectReceiver() as first:
        with pytest.raises(OSError, match=str(first.port)):
            async with LoopbackRedirectReceiver(port=first.port):
                pass
