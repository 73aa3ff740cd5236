"""LiveKit access tokens for people talking to the agent: one room, one identity, a short life.

The API secret signs tokens here, server side; only the signed token ever leaves the process.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt

from livekit import api

ROOM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
IDENTITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
MIN_TTL = timedelta(seconds=10)
MAX_TTL = timedelta(hours=1)
DEFAULT_TTL = timedelta(minutes=5)


class TokenError(ValueError):
    """A token request that must not be granted (bad room, identity or TTL)."""


class TokenRejected(PermissionError):
    """A presented token that is not valid: malformed, badly signed, expired, or for another room."""


@dataclass(frozen=True)
class LiveKitCredentials:
    """Where LiveKit is and the key pair that signs tokens. `repr` never shows the secret."""

    url: str
    api_key: str
    api_secret: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://", "http://", "https://")):
            raise TokenError(f"livekit url must start with ws://, wss://, http:// or https://, got {self.url!r}")
        if not self.api_key:
            raise TokenError("livekit api_key is empty")
        if not self.api_secret:
            raise TokenError("livekit api_secret is empty")

    def __repr__(self) -> str:
        return f"LiveKitCredentials(url={self.url!r}, api_key={self.api_key!r}, api_secret='***')"

    @property
    def http_url(self) -> str:
        """The same server for the HTTP (twirp) API."""
        return self.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)


def check_room_name(room: str) -> str:
    if not ROOM_NAME_RE.match(room):
        raise TokenError(
            f"room name {room!r} is not allowed: 1-128 characters, letters, digits, '_', '-', '.', "
            "starting with a letter or digit"
        )
    return room


def check_identity(identity: str) -> str:
    if not IDENTITY_RE.match(identity):
        raise TokenError(
            f"identity {identity!r} is not allowed: 1-128 characters, letters, digits, '_', '-', '.', '@', "
            "starting with a letter or digit"
        )
    return identity


def new_room_name(prefix: str = "voxmcp") -> str:
    """A fresh, unguessable room name, so one visitor cannot join another's conversation."""
    return check_room_name(f"{prefix}-{secrets.token_hex(8)}")


def new_identity(prefix: str = "user") -> str:
    return check_identity(f"{prefix}-{secrets.token_hex(6)}")


def mint_participant_token(
    creds: LiveKitCredentials,
    *,
    room: str,
    identity: str,
    name: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A token that can join `room` as `identity` only: publish/subscribe media and data, no admin rights."""
    check_room_name(room)
    check_identity(identity)
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise TokenError(f"token ttl must be between {MIN_TTL} and {MAX_TTL}, got {ttl}")
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=False,
        room_create=False,
        room_admin=False,
        room_list=False,
        room_record=False,
    )
    token = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_grants(grants)
        .with_ttl(ttl)
    )
    return token.to_jwt()


@dataclass(frozen=True)
class VerifiedToken:
    room: str
    identity: str
    expires_at: int


def verify_participant_token(
    creds: LiveKitCredentials, token: str, *, leeway: timedelta = timedelta(seconds=0)
) -> VerifiedToken:
    """Check a token this server minted; `TokenRejected` says exactly why it is refused."""
    if not token or token.count(".") != 2:
        raise TokenRejected("token is malformed: expected a JWT (three dot-separated parts)")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"token is malformed: {exc}") from exc
    if header.get("alg") != "HS256":
        raise TokenRejected(f"token algorithm {header.get('alg')!r} is not accepted (HS256 only)")
    try:
        claims = jwt.decode(
            token,
            creds.api_secret,
            algorithms=["HS256"],
            issuer=creds.api_key,
            leeway=leeway,
            options={"require": ["exp", "iss", "sub", "nbf"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("token has expired; ask for a new one") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("token signature is invalid (not signed by this server's key)") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRejected("token was issued for another API key") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("token is not valid yet (nbf in the future)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"token lacks the required claim {exc.claim!r}") from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"token is invalid: {exc}") from exc
    video = claims.get("video")
    if not isinstance(video, dict) or not video.get("roomJoin") or not isinstance(video.get("room"), str):
        raise TokenRejected("token grants no room to join")
    if video.get("roomAdmin") or video.get("roomCreate") or video.get("roomList"):
        raise TokenRejected("token carries admin grants; participant tokens must not")
    return VerifiedToken(room=video["room"], identity=str(claims["sub"]), expires_at=int(claims["exp"]))
