"""Static and rotating headers: values set per request, files re-read when they change."""

from __future__ import annotations

import os
from pathlib import Path

import httpx2
import pytest

from voxmcp.mcp.auth.headers import (
    HeaderAuth,
    HeaderFileError,
    environ_provider,
    header_auth_from_config,
    template_provider,
)


def _apply(auth: httpx2.Auth) -> httpx2.Request:
    request = httpx2.Request("POST", "http://127.0.0.1:1/mcp")
    flow = auth.sync_auth_flow(request)
    return next(flow)


def test_static_and_rotating_headers_are_set() -> None:
    counter = iter(range(100))
    auth = HeaderAuth(static={"X-Api-Key": "k"}, rotating={"X-Nonce": lambda: str(next(counter))})
    first, second = _apply(auth), _apply(auth)
    assert first.headers["X-Api-Key"] == "k"
    assert (first.headers["X-Nonce"], second.headers["X-Nonce"]) == ("0", "1")


def test_file_template_rereads_rotated_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("one\n")
    auth = header_auth_from_config({"Authorization": "Bearer ${file:" + str(token_file) + "}", "X-Plain": "p"})
    assert auth is not None
    assert set(auth.rotating) == {"Authorization"}
    assert _apply(auth).headers["Authorization"] == "Bearer one"
    token_file.write_text("two\n")
    stat = token_file.stat()
    os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _apply(auth).headers["Authorization"] == "Bearer two"


def test_plain_headers_need_no_auth() -> None:
    assert header_auth_from_config({"X-Api-Key": "secret"}) is None
    assert template_provider("no references") is None


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    provider = template_provider("${file:" + str(tmp_path / "absent") + "}")
    assert provider is not None
    with pytest.raises(HeaderFileError, match="absent"):
        provider()


def test_line_breaks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line break"):
        HeaderAuth(static={"X": "a\r\nInjected: 1"})
    auth = HeaderAuth(rotating={"X": lambda: "a\nb"})
    with pytest.raises(HeaderFileError, match="line break"):
        _apply(auth)


def test_environ_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOX_HDR", "v1")
    read = environ_provider("VOX_HDR")
    assert read() == "v1"
    monkeypatch.delenv("VOX_HDR")
    with pytest.raises(HeaderFileError, match="VOX_HDR"):
        read()
