"""voxmcp's MCP authorization: static/rotating headers, OAuth 2.1 flows, token storage.

`voxmcp.mcp.login` runs a login (it connects, so it sits above both this package and the connection).

Public API (imported lazily, so importing one part does not load the others):
`build_auth`, `FileTokenStore`, `MemoryTokenStore`, `OAuthSettings`, `LoginRequired`,
`AuthError`, `AuthConfigError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxmcp.mcp.auth.build import AuthConfigError, build_auth
    from voxmcp.mcp.auth.errors import AuthError, LoginRequired
    from voxmcp.mcp.auth.token_store import FileTokenStore, MemoryTokenStore
    from voxmcp.mcp.oauth_settings import OAuthSettings

__all__ = [
    "AuthConfigError",
    "AuthError",
    "FileTokenStore",
    "LoginRequired",
    "MemoryTokenStore",
    "OAuthSettings",
    "build_auth",
]

_EXPORTS = {
    "AuthConfigError": "voxmcp.mcp.auth.build",
    "LoginRequired": "voxmcp.mcp.auth.errors",
    "AuthError": "voxmcp.mcp.auth.errors",
    "build_auth": "voxmcp.mcp.auth.build",
    "OAuthSettings": "voxmcp.mcp.oauth_settings",
    "FileTokenStore": "voxmcp.mcp.auth.token_store",
    "MemoryTokenStore": "voxmcp.mcp.auth.token_store",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
