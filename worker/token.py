"""Stream token check (pure): the same format lib/features/calls/token.py mints,

    v1.<call id>.<expiry unix seconds>.<base64url HMAC-SHA256(secret, "v1.<call id>.<expiry>")>

re-implemented here so the bridge does not import lib/ (tests check both sides agree).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

VERSION = "v1"


def verify(secret: str, token: str, *, call_id: str, now: float | None = None) -> bool:
    """Whether `token` was minted with `secret` for `call_id` and has not expired."""
    parts = token.split(".")
    if not secret or len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit():
        return False
    message = ".".join(parts[:3])
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=")
    if not hmac.compare_digest(expected, parts[3].encode()):
        return False
    current = time.time() if now is None else now
    return hmac.compare_digest(parts[1].encode(), call_id.encode()) and int(parts[2]) >= current
