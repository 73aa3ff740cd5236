"""Interop with 2025-03-26-era servers: a same-origin issuer on the no-PRM discovery path.

Before protected resource metadata existed, the MCP server's origin was the authorization base URL
and its `/.well-known/oauth-authorization-server` described the authorization server. Some of those
deployments mount the authorization server under a path on the same host, so the document's `issuer`
is `https://host/oauth` rather than `https://host`. RFC 8414's issuer check exists to stop mix-ups
between *different* authorization servers; a path on the very origin that served the document adds
no party the client did not already trust. So, only on that legacy path (no protected resource
metadata) and only for an issuer on the MCP server's own origin, the issuer is taken as the origin
(logged as a warning). Everything else gets the SDK's strict check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from urllib.parse import urlsplit

import httpx2
from mcp.client.auth.oauth2 import OAuthContext

logger = logging.getLogger(__name__)

_LEGACY_METADATA_PATH = "/.well-known/oauth-authorization-server"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin_legacy_issuer(context: OAuthContext, request: httpx2.Request, response: httpx2.Response) -> bool:
    """True when `response` is legacy-path metadata whose issuer is a path on the MCP server's origin."""
    if context.protected_resource_metadata is not None or context.auth_server_url is not None:
        return False
    if request.method != "GET" or request.url.path != _LEGACY_METADATA_PATH or response.status_code != 200:
        return False
    server_origin = _origin(context.server_url)
    if _origin(str(request.url)) != server_origin:
        return False
    try:
        issuer = json.loads(response.content).get("issuer")
    except (ValueError, AttributeError):
        return False
    return isinstance(issuer, str) and _origin(issuer) == server_origin and issuer.rstrip("/").lower() != server_origin


def _with_issuer(response: httpx2.Response, issuer: str) -> httpx2.Response:
    body = json.loads(response.content)
    body["issuer"] = issuer
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
    return httpx2.Response(200, headers=headers, content=json.dumps(body).encode(), request=response.request)


async def legacy_issuer_flow(
    context: OAuthContext, inner: AsyncGenerator[httpx2.Request, httpx2.Response]
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Drive an SDK OAuth flow, normalizing a same-origin legacy issuer (see module docstring)."""
    try:
        outgoing = await inner.__anext__()
        while True:
            response = yield outgoing
            if outgoing.method == "GET" and outgoing.url.path == _LEGACY_METADATA_PATH:
                await response.aread()
                if same_origin_legacy_issuer(context, outgoing, response):
                    origin = _origin(context.server_url)
                    logger.warning(
                        "legacy (2025-03-26) server: accepting an issuer under its own origin",
                        extra={"issuer": json.loads(response.content).get("issuer"), "origin": origin},
                    )
                    response = _with_issuer(response, origin)
            outgoing = await inner.asend(response)
    except StopAsyncIteration:
        return
    finally:
        await inner.aclose()
