"""Stream tokens: what lets one media stream into the voice bridge for one call. Pure functions.

    v1.<call id>.<expiry unix seconds>.<base64url HMAC-SHA256(secret, "v1.<call id>.<expiry>")>

The voice webhook mints one per answered call and hands it to the provider as a TwiML
`<Parameter name="token">` (stream URLs take no query strings); the provider echoes it in the
stream's `start.customParameters`, and the bridge verifies it before doing anything else.
The bridge (worker/token.py) implements the same format without importing lib/; a test checks
that each side accepts what the other makes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

VERSION = "v1"
CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _signature(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(secret: str, call_id: str, *, ttl_s: int, now: float | None = None) -> str:
    """A token for `call_id` valid for `ttl_s` seconds."""
    if not secret:
        raise ValueError("BRIDGE_TOKEN_SECRET is not set")
    if not CALL_ID.fullmatch(call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    expires = int((time.time() if now is None else now) + ttl_s)
    message = f"{VERSION}.{call_id}.{expires}"
    return f"{message}.{_signature(secret, message)}"


def verify(secret: str, token: str, *, call_id: str, now: float | None = None) -> bool:
    """Whether `token` was minted with `secret` for `call_id` and has not expired."""
    parts = token.split(".")
    if not secret or len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit():
        return False
    message = ".".join(parts[:3])
    if not hmac.compare_digest(_signature(secret, message).encode(), parts[3].encode()):
        return False
    current = time.time() if now is None else now
    return hmac.compare_digest(parts[1].encode(), call_id.encode()) and int(parts[2]) >= current
