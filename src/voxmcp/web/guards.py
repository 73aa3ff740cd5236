"""Who may ask `voxmcp web` for a token, and how long and how often a session may renew it.

`HostPolicy` stops DNS rebinding: a page on `evil.example` whose name the attacker re-points at 127.0.0.1
sends `Host: evil.example` (and a matching Origin, so the Origin check alone does not catch it). Only the
names the server really answers to are accepted: the loopback names and the bind address on the bound port,
any IP literal when bound to all interfaces (an IP cannot be re-pointed, so it cannot be rebound), and the
names the user allowed with `--allow-host`.

`RefreshLedger` bounds token renewal: each session (one random identity) may exchange only its newest token,
a few times a minute, and never past a maximum session length counted from the first token.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def split_host(value: str) -> tuple[str, int | None]:
    """`name[:port]` / `[v6][:port]` -> (lower-case name without brackets, port or None); ValueError if malformed."""
    value = value.strip().lower()
    if not value:
        raise ValueError("empty host")
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"malformed host {value!r}")
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    elif ":" in value:  # a bare IPv6 address (allowed in --allow-host, never sent by a browser)
        name, port_text = value, None
    else:
        name, port_text = value, None
    if not name:
        raise ValueError(f"malformed host {value!r}")
    if port_text is None:
        return name, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in host {value!r}")
    return name, int(port_text)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def url_host(name: str) -> str:
    """A host name as it goes into a URL (IPv6 in brackets)."""
    return f"[{name}]" if ":" in name else name


@dataclass(frozen=True)
class HostPolicy:
    """Which `Host` headers the page server answers; everything else gets a 403."""

    bind_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    """Extra names from `--allow-host`: `name` (any port, e.g. behind a reverse proxy) or `name:port`."""

    def __post_init__(self) -> None:
        for entry in self.allowed_hosts:
            try:
                split_host(entry)
            except ValueError as exc:
                raise ValueError(f"--allow-host {entry!r} is not a host name or host:port") from exc

    @classmethod
    def build(cls, bind_host: str, allowed_hosts: Iterable[str] = ()) -> HostPolicy:
        return cls(bind_host=bind_host.strip("[]").lower(), allowed_hosts=frozenset(h.lower() for h in allowed_hosts))

    @property
    def wildcard(self) -> bool:
        return self.bind_host in WILDCARD_BINDS

    def accepts(self, host_header: str | None, bound_port: int | None) -> bool:
        if not host_header:
            return False
        try:
            name, port = split_host(host_header)
        except ValueError:
            return False
        port = 80 if port is None else port
        for entry in self.allowed_hosts:
            allowed_name, allowed_port = split_host(entry)
            if name == allowed_name and allowed_port in (None, port):
                return True
        if bound_port is not None and port != bound_port:
            return False
        if name in LOOPBACK_NAMES or name == self.bind_host:
            return True
        return self.wildcard and _is_ip(name)

    def page_url(self, bound_port: int | None) -> str:
        """Where a user should open the page (for error messages and the start-up line)."""
        host = "127.0.0.1" if self.wildcard or self.bind_host in LOOPBACK_NAMES else url_host(self.bind_host)
        return f"http://{host}:{bound_port}/" if bound_port else f"http://{host}/"

    def refusal(self, host_header: str | None, bound_port: int | None) -> str:
        shown = repr(host_header[:100]) if host_header else "(none)"
        return (
            f"Host {shown} is not a name this voxmcp web server answers to (DNS rebinding guard): "
            f"open the page at {self.page_url(bound_port)}, or start voxmcp web with --allow-host NAME."
        )

    def describe(self) -> str:
        """The accepted names, for the start-up line."""
        names = ["127.0.0.1", "localhost", "[::1]"]
        if self.bind_host not in LOOPBACK_NAMES and not self.wildcard:
            names.append(url_host(self.bind_host))
        if self.wildcard:
            names.append("any IP address of this machine")
        names.extend(sorted(self.allowed_hosts))
        return ", ".join(names)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Session:
    started: float
    latest: str
    """sha256 of the newest token handed out for this session: the only one that may be exchanged."""
    refreshes: deque[float] = field(default_factory=deque)


class RefreshRefused(Exception):
    """A refresh that must not be granted; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes >= 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes} min" if minutes else f"{int(span.total_seconds())} s"


class RefreshLedger:
    """Per-session renewal state, in memory; bounded by the session rate and the maximum session length."""

    def __init__(
        self,
        *,
        max_session: timedelta,
        refreshes_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_session_s = max_session.total_seconds()
        self.max_session = max_session
        self.refreshes_per_minute = refreshes_per_minute
        self._clock = clock
        self._sessions: dict[str, _Session] = {}  # insertion order = start order

    def __len__(self) -> int:
        return len(self._sessions)

    def _purge(self, now: float) -> None:
        """Forget sessions past their maximum length (every token of theirs has expired by then)."""
        while self._sessions:
            identity, session = next(iter(self._sessions.items()))
            if now - session.started < self.max_session_s:
                break
            del self._sessions[identity]

    def started(self, identity: str, token: str) -> None:
        now = self._clock()
        self._purge(now)
        self._sessions[identity] = _Session(started=now, latest=token_digest(token))

    def allowance(self, identity: str, token: str) -> timedelta:
        """How long a renewed token may live, or `RefreshRefused` saying why none is given."""
        now = self._clock()
        self._purge(now)
        session = self._sessions.get(identity)
        if session is None:
            raise RefreshRefused(
                401,
                "token refused: this server does not know the session (it ended, or the server restarted); "
                "start a new conversation",
            )
        if token_digest(token) != session.latest:
            raise RefreshRefused(401, "token refused: it was already exchanged for a newer one")
        while session.refreshes and now - session.refreshes[0] >= 60:
            session.refreshes.popleft()
        if len(session.refreshes) >= self.refreshes_per_minute:
            raise RefreshRefused(
                429,
                f"too many token refreshes for this session (at most {self.refreshes_per_minute} a minute); "
                "try again shortly",
            )
        return timedelta(seconds=self.max_session_s - (now - session.started))

    def refreshed(self, identity: str, token: str) -> None:
        session = self._sessions[identity]
        session.refreshes.append(self._clock())
        session.latest = token_digest(token)

    def too_long(self) -> RefreshRefused:
        return RefreshRefused(
            403,
            f"this session reached its maximum length of {_duration(self.max_session)}; start a new conversation",
        )
