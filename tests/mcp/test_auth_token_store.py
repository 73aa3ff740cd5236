"""FileTokenStore: 0600 files in a 0700 directory, round trips, and bad files that must not crash."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from voxmcp.mcp.auth.token_store import FileTokenStore, MemoryTokenStore, default_token_dir


def _write(path: Path, content: str) -> None:
    path.write_text(content)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_tokens_round_trip_in_private_files(tmp_path: Path) -> None:
    store = FileTokenStore("notes server", tmp_path / "tokens")
    assert await store.get_tokens() is None
    await store.set_tokens(OAuthToken(access_token="at-1", refresh_token="rt-1", expires_in=60, scope="a b"))
    await store.set_client_info(
        OAuthClientInformationFull(client_id="cid", redirect_uris=[AnyUrl("http://127.0.0.1:5000/callback")])
    )

    again = FileTokenStore("notes server", tmp_path / "tokens")
    tokens = await again.get_tokens()
    client = await again.get_client_info()
    assert tokens is not None and tokens.access_token == "at-1" and tokens.refresh_token == "rt-1"
    assert client is not None and client.client_id == "cid"
    assert again.path.name == "notes_server.json"
    assert _mode(again.path) == 0o600
    assert _mode(again.path.parent) == 0o700
    assert again.client_redirect_uris() == ["http://127.0.0.1:5000/callback"]


async def test_forget_and_clear(tmp_path: Path) -> None:
    store = FileTokenStore("s", tmp_path)
    await store.set_tokens(OAuthToken(access_token="x"))
    await store.set_client_info(OAuthClientInformationFull(client_id="c", redirect_uris=None))
    store.forget("tokens")
    assert not store.has_tokens()
    assert await store.get_client_info() is not None
    store.clear()
    assert not store.path.exists()
    store.clear()  # idempotent


async def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    store = FileTokenStore("s", tmp_path)
    await store.set_tokens(OAuthToken(access_token="x"))
    store.path.chmod(0o644)
    assert (await store.get_tokens()) is not None
    assert _mode(store.path) == 0o600


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"tokens": {"no_access_token": 1}}'])
async def test_malformed_files_read_as_empty(tmp_path: Path, content: str) -> None:
    store = FileTokenStore("s", tmp_path)
    _write(store.path, content)
    assert await store.get_tokens() is None
    await store.set_tokens(OAuthToken(access_token="fresh"))
    tokens = await store.get_tokens()
    assert tokens is not None and tokens.access_token == "fresh"


def test_token_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOXMCP_TOKEN_DIR", str(tmp_path / "custom"))
    assert default_token_dir() == tmp_path / "custom"
    assert FileTokenStore("x").path == tmp_path / "custom" / "x.json"
    monkeypatch.delenv("VOXMCP_TOKEN_DIR")
    assert default_token_dir() == Path.home() / ".config" / "voxmcp" / "tokens"


def test_empty_server_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="server name"):
        FileTokenStore("")


async def test_memory_store() -> None:
    store = MemoryTokenStore()
    await store.set_tokens(OAuthToken(access_token="m"))
    tokens = await store.get_tokens()
    assert tokens is not None and tokens.access_token == "m"
