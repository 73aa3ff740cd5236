"""voxmcp's MCP authorization: static/rotating headers, OAuth 2.1 flows, token storage, and login.

Public API (imported lazily so `voxmcp.mcp.config` can import `auth.settings` without a cycle):
`build_auth`, `FileTokenStore`, `MemoryTokenStore`, `OAuthSettings`, `login`, `LoginRequired`,
`AuthError`, `AuthConfigError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxmcp.mcp.auth.build import AuthConfigError, build_auth
    from voxmcp.mcp.auth.errors import AuthError, LoginRequired
    from voxmcp.mcp.auth.login import login
    from voxmcp.mcp.auth.settings import OAuthSettings
    from voxmcp.mcp.auth.token_store import FileTokenStore, MemoryTokenStore

__all__ = [
    "AuthConfigError",
    "AuthError",
    "FileTokenStore",
    "LoginRequired",
    "MemoryTokenStore",
    "OAuthSettings",
    "build_auth",
    "login",
]

_EXPORTS = {
    "AuthConfigError": "voxmcp.mcp.auth.build",
    "LoginRequired": "voxmcp.mcp.auth.errors",
    "AuthError": "voxmcp.mcp.auth.errors",
    "build_auth": "voxmcp.mcp.auth.build",
    "login": "voxmcp.mcp.auth.login",
    "OAuthSettings": "voxmcp.mcp.auth.settings",
    "FileTokenStore": "voxmcp.mcp.auth.token_store",
    "MemoryTokenStore": "voxmcp.mcp.auth.token_store",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
