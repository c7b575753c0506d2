"""Our own scheme for senders without one (broker bridges, internal relays): a shared secret per
connection, HMAC-SHA256 over the timestamp and the raw body.

    X-Webhook-Timestamp  <Unix seconds, digits only>
    X-Webhook-Signature  v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>[,v1=<hex>...]

The receiver holds one or more secrets (rotation: add the new one, move the sender over, drop the
old one); the header may carry several v1 entries (a sender signing with old and new). It is
accepted when any entry matches any secret and the timestamp is within `tolerance_s` (300 s) of
`Delivery.now`, either way. The body must be a JSON object. `signature_header` makes the header
for a sender.

    payload     the body as a JSON object
    event_id    payload["id"] when it is a non-empty string, else None (ingest hashes the body)
    event_type  payload["type"] when it is a string, else ""
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from lib.errors import Unauthorized
from lib.webhooks.checks import header, json_object, within
from lib.webhooks.verifiers import Delivery, Verified

TOLERANCE_S = 300
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Webhook-Signature value for `body` sent at `timestamp`."""
    return f"v1={_digest(secret.encode(), str(timestamp), body)}"


class SharedSecretVerifier:
    def __init__(self, secrets: Sequence[str], tolerance_s: int = TOLERANCE_S) -> None:
        if isinstance(secrets, str):
            raise TypeError("secrets is a list of secrets, not one string")
        self._secrets = [secret.encode() for secret in secrets if secret]
        if not self._secrets:
            raise ValueError("at least one webhook secret is required")
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        count = len(self._secrets)
        return f"SharedSecretVerifier(secrets=<{count}>, tolerance_s={self._tolerance_s})"

    def verify(self, delivery: Delivery) -> Verified:
        """The payload if one of our secrets signed this timestamp and body recently, else
        Unauthorized; BadRequest for a signed body that is not a JSON object."""
        timestamp = header(delivery.headers, TIMESTAMP_HEADER.lower(), label=TIMESTAMP_HEADER)
        signature = header(delivery.headers, SIGNATURE_HEADER.lower(), label=SIGNATURE_HEADER)
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise Unauthorized(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
        within(
            int(timestamp),
            now=delivery.now,
            tolerance_s=self._tolerance_s,
            label=TIMESTAMP_HEADER,
        )

        entries = [item.strip().partition("=") for item in signature.split(",")]
        given = [value.strip().lower().encode() for name, _, value in entries if name == "v1"]
        if not given:
            raise Unauthorized(f"{SIGNATURE_HEADER} has no v1=<hex> signature")
        expected = [_digest(secret, timestamp, delivery.body).encode() for secret in self._secrets]
        if not any(hmac.compare_digest(e, g) for e in expected for g in given):
            raise Unauthorized(f"no v1 signature in {SIGNATURE_HEADER} matches the body")

        payload = json_object(delivery.body, provider="signed")
        event_id, event_type = payload.get("id"), payload.get("type")
        return Verified(
            payload=payload,
            event_id=event_id if isinstance(event_id, str) and event_id else None,
            event_type=event_type if isinstance(event_type, str) else "",
        )


def _digest(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
