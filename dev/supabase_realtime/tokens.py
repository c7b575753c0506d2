"""Access tokens as Supabase Realtime checks them (RealtimeWeb.ChannelsAuthorization).

A join (and every later `access_token` push) carries a JWT signed with the project's JWT
secret; it must have `role` and `exp`. Failures are reported with Realtime's own wording,
because supabase-js surfaces the reason to the app as the CHANNEL_ERROR message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt


class TokenRefused(Exception):
    """Why a token cannot be used; `reason` is what the client is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Claims:
    token: str
    claims: dict[str, Any]

    @property
    def role(self) -> str:
        return str(self.claims["role"])

    @property
    def sub(self) -> str | None:
        sub = self.claims.get("sub")
        return None if sub is None else str(sub)

    @property
    def expires_in_s(self) -> float:
        return float(self.claims["exp"]) - time.time()


def verify(token: str, secret: str) -> Claims:
    """The token's claims, or TokenRefused with the reason Realtime gives."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRefused("MalformedJWT: The token provided is not a valid JWT") from exc
    if header.get("alg") != "HS256":
        raise TokenRefused("JwtSignatureError: Failed to validate JWT signature")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"verify_aud": False, "verify_exp": False, "require": []},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenRefused("JwtSignatureError: Failed to validate JWT signature") from exc
    except jwt.PyJWTError as exc:
        raise TokenRefused("MalformedJWT: The token provided is not a valid JWT") from exc
    if "role" not in claims or "exp" not in claims:
        raise TokenRefused("InvalidJWTToken: Fields `role` and `exp` are required in JWT")
    if not isinstance(claims["exp"], int | float):
        raise TokenRefused("InvalidJWTToken: Token expiration time is invalid")
    now = time.time()
    if claims["exp"] <= now:
        raise TokenRefused(
            f"InvalidJWTToken: Token has expired {int(now - claims['exp'])} seconds ago"
        )
    return Claims(token, claims)
