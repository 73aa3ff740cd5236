"""Where OAuth tokens and client registrations live between sessions: one 0600 JSON file per server.

Implements the SDK's `TokenStorage` protocol for one server. Files sit under `$VOXMCP_TOKEN_DIR` or
`~/.config/voxmcp/tokens` (directory 0700); writes are atomic (temp file + rename) so a crash never leaves
half a token. Nothing here logs a token or secret.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

from mcp.client.auth import TokenStorage
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def default_token_dir() -> Path:
    """`$VOXMCP_TOKEN_DIR`, else `~/.config/voxmcp/tokens`."""
    configured = os.environ.get("VOXMCP_TOKEN_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "voxmcp" / "tokens"


class TokenStoreError(Exception):
    """The token file cannot be read or written; the message names the file."""


_Model = TypeVar("_Model", bound=BaseModel)


def _validated(model: type[_Model], raw: Any, key: str, path: Path) -> _Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        logger.warning("stored %s is malformed; ignoring it", key, extra={"path": str(path)})
        return None


class FileTokenStore(TokenStorage):
    """Tokens and client registration of one server in `<dir>/<server>.json` (mode 0600, dir 0700)."""

    def __init__(self, server: str, directory: Path | str | None = None) -> None:
        if not server:
            raise ValueError("server name must not be empty")
        self.server = server
        self.directory = Path(directory) if directory is not None else default_token_dir()
        self.path = self.directory / f"{_SAFE_NAME.sub('_', server)}.json"

    # ---- TokenStorage ---------------------------------------------------------------------------------

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._load_raw("tokens")
        return None if raw is None else _validated(OAuthToken, raw, "tokens", self.path)

    async def set_tokens(self, tokens: OAuthToken) -> None:
        data = self._read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        # `expires_in` is relative; keep the absolute time so a later session knows the token expired.
        data["tokens_expire_at"] = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        self._write(data)

    def token_expires_at(self) -> float | None:
        """When the stored access token expires (Unix time), or None if unknown / no expiry."""
        value = self._read().get("tokens_expire_at")
        return float(value) if isinstance(value, int | float) else None

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self._load_raw("client_info")
        return None if raw is None else _validated(OAuthClientInformationFull, raw, "client_info", self.path)

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._update("client_info", client_info.model_dump(mode="json", exclude_none=True))

    # ---- DPoP key (DPoPKeyStore) --------------------------------------------------------------------

    def load_dpop(self) -> tuple[bytes | None, list[str]]:
        record = self._read().get("dpop")
        if not isinstance(record, dict) or not isinstance(record.get("key_pem"), str):
            return None, []
        bound = record.get("bound_token_sha256")
        return record["key_pem"].encode(), [str(h) for h in bound] if isinstance(bound, list) else []

    def save_dpop(self, key_pem: bytes, bound_token_hashes: list[str]) -> None:
        self._update("dpop", {"key_pem": key_pem.decode(), "bound_token_sha256": bound_token_hashes})

    # ---- management -----------------------------------------------------------------------------------

    def has_tokens(self) -> bool:
        return "tokens" in self._read()

    def forget(self, key: str) -> None:
        """Drop one entry ("tokens" or "client_info"), keeping the other."""
        data = self._read()
        if data.pop(key, None) is not None:
            self._write(data)

    def client_redirect_uris(self) -> list[str]:
        """Redirect URIs of the stored registration (to tell whether it fits this login's port)."""
        uris = self._read().get("client_info", {}).get("redirect_uris") or []
        return [str(uri) for uri in uris]

    def clear(self) -> None:
        """Forget this server's tokens and registration (logout)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # ---- file handling --------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenStoreError(f"cannot read token file {self.path}: {exc.strerror}") from exc
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "token file is readable by others; tightening to 0600",
                extra={"path": str(self.path), "mode": oct(mode)},
            )
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            logger.warning("token file is not valid JSON; ignoring it", extra={"path": str(self.path)})
            return {}
        return data if isinstance(data, dict) else {}

    def _load_raw(self, key: str) -> Any:
        return self._read().get(key)

    def _update(self, key: str, value: dict[str, Any]) -> None:
        data = self._read()
        data[key] = value
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
        except OSError as exc:
            raise TokenStoreError(f"cannot write tokens under {self.directory}: {exc.strerror}") from exc
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class MemoryTokenStore(TokenStorage):
    """Tokens that live only as long as the process (tests, one-shot runs)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
