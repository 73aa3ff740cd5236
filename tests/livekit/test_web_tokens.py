"""Token security for the web page: scoped, short-lived, never the secret; bad tokens refused clearly."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from livekit_servers import free_port
from starlette.testclient import TestClient
from typer.testing import CliRunner

from voxmcp.livekit_tokens import (
    LiveKitCredentials,
    TokenError,
    TokenRejected,
    mint_participant_token,
    verify_participant_token,
)
from voxmcp.web.cli import app as web_app
from voxmcp.web.cli import web_settings_from_config
from voxmcp.web.server import WebSettings, create_app

SECRET = "s3cret-" + "k" * 40
CREDS = LiveKitCredentials("ws://127.0.0.1:7880", "testkey", SECRET)


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, SECRET, algorithms=["HS256"], issuer="testkey")


def _client(clock: Callable[[], float] | None = None, **kw: object) -> TestClient:
    settings = WebSettings(credentials=CREDS, agent_name="", **kw)  # type: ignore[arg-type]
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    return TestClient(app, base_url="http://127.0.0.1:8787")


def test_token_is_scoped_to_one_room_and_identity_with_short_ttl() -> None:
    token = mint_participant_token(CREDS, room="room-a", identity="alice", ttl=timedelta(minutes=2))
    claims = _claims(token)
    video = claims["video"]
    assert isinstance(video, dict)
    assert video["room"] == "room-a" and video["roomJoin"] is True
    assert not video.get("roomAdmin") and not video.get("roomCreate") and not video.get("roomList")
    assert claims["sub"] == "alice"
    exp, nbf = claims["exp"], claims["nbf"]
    assert isinstance(exp, int) and isinstance(nbf, int)
    assert 110 <= exp - nbf <= 130


@pytest.mark.parametrize("ttl", [timedelta(seconds=0), timedelta(hours=2), timedelta(seconds=-5)])
def test_ttl_outside_bounds_is_refused(ttl: timedelta) -> None:
    with pytest.raises(TokenError, match="ttl"):
        mint_participant_token(CREDS, room="r", identity="u", ttl=ttl)


@pytest.mark.parametrize("room", ["", "../admin", "a b", "x" * 200, "*"])
def test_bad_room_names_are_refused(room: str) -> None:
    with pytest.raises(TokenError, match="room name"):
        mint_participant_token(CREDS, room=room, identity="u")


def test_repr_never_shows_the_secret() -> None:
    assert SECRET not in repr(CREDS)


def test_verify_accepts_own_token() -> None:
    token = mint_participant_token(CREDS, room="r1", identity="u1")
    verified = verify_participant_token(CREDS, token)
    assert (verified.room, verified.identity) == ("r1", "u1")


def test_verify_refuses_expired_token_with_clear_message() -> None:
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "testkey",
            "sub": "u",
            "nbf": now - 600,
            "exp": now - 60,
            "video": {"roomJoin": True, "room": "r"},
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenRejected, match="expired"):
        verify_participant_token(CREDS, token)


def test_verify_refuses_other_key_and_bad_signature_and_garbage() -> None:
    other = LiveKitCredentials(CREDS.url, "testkey", "another-secret-" + "z" * 40)
    with pytest.raises(TokenRejected, match="signature"):
        verify_participant_token(CREDS, mint_participant_token(other, room="r", identity="u"))
    wrong_issuer = LiveKitCredentials(CREDS.url, "otherkey", SECRET)
    with pytest.raises(TokenRejected, match="another API key"):
        verify_participant_token(CREDS, mint_participant_token(wrong_issuer, room="r", identity="u"))
    with pytest.raises(TokenRejected, match="malformed"):
        verify_participant_token(CREDS, "not-a-token")


def test_verify_refuses_alg_none_and_admin_grants() -> None:
    now = int(time.time())
    claims = {
        "iss": "testkey",
        "sub": "u",
        "nbf": now,
        "exp": now + 60,
        "video": {"roomJoin": True, "room": "r"},
    }
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(TokenRejected, match="algorithm"):
        verify_participant_token(CREDS, unsigned)
    admin = jwt.encode(
        {**claims, "video": {"roomJoin": True, "room": "r", "roomAdmin": True}}, SECRET, algorithm="HS256"
    )
    with pytest.raises(TokenRejected, match="admin"):
        verify_participant_token(CREDS, admin)


def test_session_endpoint_gives_fresh_room_and_never_the_secret() -> None:
    client = _client()
    first = client.post("/api/session", json={})
    second = client.post("/api/session", json={})
    assert first.status_code == 200, first.text
    body = first.json()
    assert SECRET not in first.text
    assert set(body) == {"url", "room", "identity", "token", "expires_in", "agent_name"}
    assert body["room"] != second.json()["room"]
    assert body["identity"] != second.json()["identity"]
    claims = _claims(body["token"])
    assert claims["video"] == {**claims["video"], "room": body["room"]}  # type: ignore[dict-item]
    assert body["expires_in"] == 300


def test_page_and_assets_are_served_without_the_secret() -> None:
    client = _client()
    page = client.get("/")
    assert page.status_code == 200 and "livekit-client.umd.js" in page.text
    assert "connect-src 'self' ws://127.0.0.1:7880" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/protowire.js", "/static/livekit-client.umd.js"):
        resp = client.get(asset)
        assert resp.status_code == 200 and SECRET not in resp.text


def test_page_cannot_pick_an_arbitrary_room_unless_configured() -> None:
    refused = _client().post("/api/session", json={"room": "someone-elses-room"})
    assert refused.status_code == 403
    assert "not open to this page" in refused.json()["error"]
    allowed = _client(allowed_rooms=frozenset({"lobby"}))
    assert allowed.post("/api/session", json={"room": "lobby"}).json()["room"] == "lobby"
    assert allowed.post("/api/session", json={"room": "other"}).status_code == 403
    assert _client(allow_any_room=True).post("/api/session", json={"room": "other"}).status_code == 200


def test_refresh_needs_a_valid_token_and_keeps_room_and_identity() -> None:
    client = _client()
    session = client.post("/api/session", json={}).json()
    fresh = client.post("/api/session/refresh", json={"token": session["token"]})
    assert fresh.status_code == 200
    claims = _claims(fresh.json()["token"])
    assert claims["sub"] == session["identity"]
    assert claims["video"]["room"] == session["room"]  # type: ignore[index]
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": "testkey",
            "sub": "u",
            "nbf": now - 600,
            "exp": now - 60,
            "video": {"roomJoin": True, "room": "r"},
        },
        SECRET,
        algorithm="HS256",
    )
    resp = client.post("/api/session/refresh", json={"token": expired})
    assert resp.status_code == 401
    assert resp.json()["error"] == "token refused: token has expired; ask for a new one"
    forged = client.post("/api/session/refresh", json={"token": session["token"][:-4] + "AAAA"})
    assert forged.status_code == 401 and "signature" in forged.json()["error"]


def test_bad_requests_get_clear_errors() -> None:
    client = _client()
    not_json = client.post("/api/session", content=b"room=x", headers={"content-type": "text/plain"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
    broken = client.post("/api/session", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert client.post("/api/session", json=[1]).status_code == 400
    assert client.post("/api/session/refresh", json={}).json()["error"] == "'token' (string) is required"


def test_cross_origin_posts_are_refused() -> None:
    resp = _client().post("/api/session", json={}, headers={"origin": "http://evil.example"})
    assert resp.status_code == 403 and "cross-origin" in resp.json()["error"]


def test_sessions_are_rate_limited() -> None:
    client = _client(sessions_per_minute=2)
    codes = [client.post("/api/session", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_unreachable_livekit_gives_clear_dispatch_error() -> None:
    dead = LiveKitCredentials(f"ws://127.0.0.1:{free_port()}", "testkey", SECRET)
    settings = WebSettings(credentials=dead, agent_name="voxmcp", dispatch_timeout_s=3)
    resp = TestClient(create_app(settings), base_url="http://127.0.0.1:8787").post("/api/session", json={})
    assert resp.status_code == 502
    assert "could not dispatch the agent" in resp.json()["error"]


def test_web_settings_from_config_use_dev_keys_only_on_loopback(tmp_path: Path) -> None:
    config = tmp_path / "voxmcp.toml"
    config.write_text('[livekit]\nurl = "ws://127.0.0.1:7880"\nagent_name = "voxmcp"\n')
    settings = web_settings_from_config(config, env={})
    assert (settings.credentials.api_key, settings.agent_name) == ("devkey", "voxmcp")
    remote = tmp_path / "remote.toml"
    remote.write_text('[livekit]\nurl = "wss://lk.example.com"\n')
    with pytest.raises(TokenError, match="api_secret"):
        web_settings_from_config(remote, env={})
    keyed = tmp_path / "keyed.toml"
    keyed.write_text(
        f'[livekit]\nurl = "wss://lk.example.com"\napi_key = "k"\napi_secret = {SECRET!r}\n'.replace("'", '"')
    )
    assert web_settings_from_config(keyed, env={}).credentials.api_secret == SECRET


def test_web_command_refuses_missing_keys_for_a_remote_server(tmp_path: Path) -> None:
    remote = tmp_path / "remote.toml"
    remote.write_text('[livekit]\nurl = "wss://lk.example.com"\n')
    result = CliRunner().invoke(
        web_app, ["--config", str(remote)], env={"LIVEKIT_API_KEY": "", "LIVEKIT_API_SECRET": ""}
    )
    assert result.exit_code == 2
    assert "api_secret" in result.output


def test_dns_rebinding_host_gets_no_token() -> None:
    client = _client()
    evil = {"host": "evil.example:8787", "origin": "http://evil.example:8787"}
    resp = client.post("/api/session", json={}, headers=evil)
    assert resp.status_code == 403
    assert resp.json() == {
        "error": "Host 'evil.example:8787' is not a name this voxmcp web server answers to (DNS rebinding guard): "
        "open the page at http://127.0.0.1:8787/, or start voxmcp web with --allow-host NAME."
    }
    assert client.get("/", headers=evil).status_code == 403
    assert client.post("/api/session/refresh", json={"token": "x"}, headers=evil).status_code == 403
    for host in ("localhost:8787", "[::1]:8787", "127.0.0.1:8787"):
        ok = client.post("/api/session", json={}, headers={"host": host, "origin": f"http://{host}"})
        assert ok.status_code == 200, (host, ok.text)
    assert client.post("/api/session", json={}, headers={"host": "127.0.0.1:9999"}).status_code == 403


def test_allowed_host_names_work_when_serving_on_all_interfaces() -> None:
    client = _client(bind_host="0.0.0.0", allowed_hosts=frozenset({"mybox.lan"}))
    for host in ("192.168.1.5:8787", "mybox.lan:8787"):
        assert client.post("/api/session", json={}, headers={"host": host}).status_code == 200, host
    assert client.post("/api/session", json={}, headers={"host": "evil.example:8787"}).status_code == 403


class _Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_is_rate_limited_per_session() -> None:
    client = _client(refreshes_per_minute=2)
    current = client.post("/api/session", json={}).json()["token"]
    for _ in range(2):
        resp = client.post("/api/session/refresh", json={"token": current})
        assert resp.status_code == 200, resp.text
        current = resp.json()["token"]
    limited = client.post("/api/session/refresh", json={"token": current})
    assert limited.status_code == 429
    assert limited.json()["error"] == (
        "too many token refreshes for this session (at most 2 a minute); try again shortly"
    )
    other = client.post("/api/session", json={}).json()["token"]
    assert client.post("/api/session/refresh", json={"token": other}).status_code == 200


def test_only_the_newest_token_of_a_session_can_be_exchanged() -> None:
    clock = _Clock()
    client = _client(clock=clock, token_ttl=timedelta(seconds=300), max_session=timedelta(seconds=600))
    first = client.post("/api/session", json={}).json()["token"]
    clock.now += 400  # the renewed token is cut to the 200 s left, so it differs from the first
    second = client.post("/api/session/refresh", json={"token": first})
    assert second.status_code == 200 and second.json()["token"] != first
    reused = client.post("/api/session/refresh", json={"token": first})
    assert reused.status_code == 401
    assert reused.json()["error"] == "token refused: it was already exchanged for a newer one"
    assert client.post("/api/session/refresh", json={"token": second.json()["token"]}).status_code == 200


def test_refresh_never_outlives_the_maximum_session() -> None:
    clock = _Clock()
    client = _client(clock=clock, token_ttl=timedelta(seconds=300), max_session=timedelta(seconds=600))
    token = client.post("/api/session", json={}).json()["token"]
    clock.now += 400
    resp = client.post("/api/session/refresh", json={"token": token})
    assert resp.status_code == 200 and resp.json()["expires_in"] == 200
    claims = _claims(resp.json()["token"])
    assert 190 <= int(claims["exp"]) - int(claims["nbf"]) <= 210  # type: ignore[call-overload]
    clock.now += 195
    over = client.post("/api/session/refresh", json={"token": resp.json()["token"]})
    assert over.status_code == 403
    assert over.json()["error"] == "this session reached its maximum length of 10 min; start a new conversation"


def test_refresh_of_a_session_this_server_did_not_start_is_refused() -> None:
    token = mint_participant_token(CREDS, room="r1", identity="u1")
    resp = _client().post("/api/session/refresh", json={"token": token})
    assert resp.status_code == 401
    assert "does not know the session" in resp.json()["error"]


@pytest.mark.parametrize("ttl", ["5", "99999", "0", "-1"])
def test_web_command_refuses_a_bad_token_ttl_at_start(ttl: str) -> None:
    result = CliRunner().invoke(web_app, ["--token-ttl", ttl])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --token-ttl must be between 10 and 3600 seconds (got {ttl})"


def test_web_command_refuses_a_max_session_shorter_than_the_ttl() -> None:
    result = CliRunner().invoke(web_app, ["--token-ttl", "600", "--max-session", "60"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --max-session must be between --token-ttl (600) and 86400 seconds (got 60)"


def test_web_command_says_when_the_port_is_taken(tmp_path: Path) -> None:
    config = tmp_path / "voxmcp.toml"
    config.write_text('[livekit]\nurl = "ws://127.0.0.1:7880"\n')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(web_app, ["--config", str(config), "--port", str(port)], env={})
    assert result.exit_code == 1
    assert (
        result.output.strip() == f"error: cannot serve on 127.0.0.1:{port}: Address already in use; pick another --port"
    )


def test_no_secret_or_token_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(refreshes_per_minute=1)
    session = client.post("/api/session", json={}).json()
    fresh = client.post("/api/session/refresh", json={"token": session["token"]}).json()
    assert client.post("/api/session/refresh", json={"token": fresh["token"]}).status_code == 429
    client.post("/api/session", json={}, headers={"host": "evil.example:8787"})
    logged = "\n".join([r.getMessage() for r in caplog.records] + [repr(vars(r)) for r in caplog.records])
    assert "web session" in logged and "token refresh refused" in logged
    for secret in (SECRET, session["token"], fresh["token"]):
        assert secret not in logged
