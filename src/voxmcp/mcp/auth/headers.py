"""Static and rotating request headers as an `httpx2.Auth`.

Static: a fixed header set (API keys from `${ENV}`). Rotating: a header whose value comes from a provider
called for every request; `${file:/path}` in a configured header value reads the file then, re-reading it
only when its modification time changes (platform-rotated tokens such as projected service-account
tokens). Values are never logged.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Generator, Mapping
from pathlib import Path

import httpx2

logger = logging.getLogger(__name__)

HeaderProvider = Callable[[], str]
_FILE_REFERENCE = re.compile(r"\$\{file:([^}]+)\}")


class HeaderFileError(Exception):
    """A `${file:...}` header source cannot be read; the message names the file."""


class FileValue:
    """The stripped contents of a file, re-read when the file changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._mtime_ns: int | None = None
        self._value = ""

    def __call__(self) -> str:
        try:
            mtime_ns = self.path.stat().st_mtime_ns
            if mtime_ns != self._mtime_ns:
                self._value = self.path.read_text(encoding="utf-8").strip()
                self._mtime_ns = mtime_ns
        except OSError as exc:
            raise HeaderFileError(f"cannot read header value from {self.path}: {exc.strerror}") from exc
        return self._value


def template_provider(template: str) -> HeaderProvider | None:
    """A provider for a header template with `${file:...}` references, or None if it has none."""
    parts = _FILE_REFERENCE.split(template)
    if len(parts) == 1:
        return None
    # split() alternates literal text and captured paths.
    sources: list[str | FileValue] = [
        FileValue(part) if index % 2 else part for index, part in enumerate(parts) if part or index % 2
    ]

    def render() -> str:
        return "".join(source() if isinstance(source, FileValue) else source for source in sources)

    return render


class HeaderAuth(httpx2.Auth):
    """Sets static headers and freshly computed rotating headers on every request."""

    def __init__(
        self,
        static: Mapping[str, str] | None = None,
        rotating: Mapping[str, HeaderProvider] | None = None,
    ) -> None:
        self.static = dict(static or {})
        self.rotating = dict(rotating or {})
        for name, value in self.static.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} contains a line break")

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        for name, value in self.static.items():
            request.headers[name] = value
        for name, provider in self.rotating.items():
            value = provider()
            if "\n" in value or "\r" in value:
                raise HeaderFileError(f"rotating header {name!r} produced a value with a line break")
            request.headers[name] = value
        yield request


def header_auth_from_config(headers: Mapping[str, str]) -> HeaderAuth | None:
    """A HeaderAuth for the configured headers that rotate (`${file:...}`), or None if none do.

    Plain headers are sent by the transport itself; only rotating ones need per-request work.
    """
    rotating = {name: provider for name, value in headers.items() if (provider := template_provider(value)) is not None}
    if not rotating:
        return None
    logger.debug("rotating headers configured", extra={"headers": sorted(rotating)})
    return HeaderAuth(rotating=rotating)


def environ_provider(variable: str) -> HeaderProvider:
    """A provider reading an environment variable at request time (for processes that update it)."""

    def read() -> str:
        value = os.environ.get(variable)
        if value is None:
            raise HeaderFileError(f"environment variable {variable} is not set")
        return value

    return read
