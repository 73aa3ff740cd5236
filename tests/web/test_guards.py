"""The page server's guards: which Host headers it answers, and how refreshes are bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from voxmcp.web.guards import HostPolicy, RefreshLedger, RefreshRefused, split_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8787", ("127.0.0.1", 8787)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:8787", ("::1", 8787)),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),
        ("mybox.lan:443", ("mybox.lan", 443)),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize("value", ["", ":80", "[::1", "[::1]x", "host:port", "host:0", "host:70000"])
def test_split_host_refuses_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        split_host(value)


def test_loopback_bind_accepts_only_loopback_names_on_the_bound_port() -> None:
    policy = HostPolicy.build("127.0.0.1")
    for host in ("127.0.0.1:8787", "localhost:8787", "[::1]:8787"):
        assert policy.accepts(host, 8787), host
    for host in ("evil.example:8787", "evil.example", "127.0.0.1:9999", "127.0.0.1", "192.168.1.5:8787", "", None):
        assert not policy.accepts(host, 8787), host
    assert policy.accepts("localhost", 80)  # no port in Host means 80


def test_wildcard_bind_accepts_ip_literals_and_allowed_names_only() -> None:
    policy = HostPolicy.build("0.0.0.0", ["mybox.lan", "proxy.example:443"])
    assert policy.accepts("192.168.1.5:8787", 8787)
    assert policy.accepts("[fe80::1]:8787", 8787)
    assert policy.accepts("mybox.lan:8787", 8787)
    assert policy.accepts("mybox.lan:8080", 8787)  # a bare allowed name: any port (reverse proxies)
    assert policy.accepts("proxy.example:443", 8787)
    assert not policy.accepts("proxy.example:8443", 8787)
    assert not policy.accepts("evil.example:8787", 8787)
    assert not policy.accepts("192.168.1.5:9999", 8787)
    assert "any IP address" in policy.describe() and "mybox.lan" in policy.describe()


def test_named_bind_accepts_its_own_name() -> None:
    policy = HostPolicy.build("mybox.lan")
    assert policy.accepts("mybox.lan:8787", 8787)
    assert not policy.accepts("10.0.0.1:8787", 8787)
    assert policy.page_url(8787) == "http://mybox.lan:8787/"


def test_bad_allow_host_is_named() -> None:
    with pytest.raises(ValueError, match=r"--allow-host '\[::1'"):
        HostPolicy.build("127.0.0.1", ["[::1"])
    with pytest.raises(ValueError, match="--allow-host 'host:0'"):
        HostPolicy.build("127.0.0.1", ["host:0"])


def test_refusal_names_the_host_and_where_to_go() -> None:
    message = HostPolicy.build("127.0.0.1").refusal("evil.example:8787", 8787)
    assert message == (
        "Host 'evil.example:8787' is not a name this voxmcp web server answers to (DNS rebinding guard): "
        "open the page at http://127.0.0.1:8787/, or start voxmcp web with --allow-host NAME."
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ledger_rate_limits_refreshes_per_session() -> None:
    clock = Clock()
    ledger = RefreshLedger(max_session=timedelta(hours=1), refreshes_per_minute=2, clock=clock)
    ledger.started("u1", "t0")
    ledger.started("u2", "x0")
    for n in range(2):
        ledger.allowance("u1", f"t{n}")
        ledger.refreshed("u1", f"t{n + 1}")
    with pytest.raises(RefreshRefused) as refused:
        ledger.allowance("u1", "t2")
    assert refused.value.status == 429
    assert str(refused.value) == ("too many token refreshes for this session (at most 2 a minute); try again shortly")
    ledger.allowance("u2", "x0")  # another session is not affected
    clock.now += 60
    ledger.allowance("u1", "t2")


def test_ledger_only_exchanges_the_newest_token() -> None:
    ledger = RefreshLedger(max_session=timedelta(hours=1), refreshes_per_minute=10, clock=Clock())
    ledger.started("u", "first")
    ledger.allowance("u", "first")
    ledger.refreshed("u", "second")
    with pytest.raises(RefreshRefused, match="already exchanged") as refused:
        ledger.allowance("u", "first")
    assert refused.value.status == 401


def test_ledger_bounds_session_length_and_forgets_old_sessions() -> None:
    clock = Clock()
    ledger = RefreshLedger(max_session=timedelta(minutes=30), refreshes_per_minute=10, clock=clock)
    ledger.started("u", "t")
    clock.now += 20 * 60
    assert ledger.allowance("u", "t") == timedelta(minutes=10)
    assert str(ledger.too_long()) == "this session reached its maximum length of 30 min; start a new conversation"
    clock.now += 10 * 60
    ledger.started("v", "t")  # purges the expired one
    assert len(ledger) == 1
    with pytest.raises(RefreshRefused, match="does not know the session"):
        ledger.allowance("u", "t")
