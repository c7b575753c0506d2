"""Standard Webhooks (standardwebhooks.com), as sent by Svix and so by Clerk.

    webhook-id         the message id              (Svix/Clerk: svix-id)
    webhook-timestamp  Unix seconds                (svix-timestamp)
    webhook-signature  "v1,<b64> v1,<b64> ..."     (svix-signature)
        each <b64> = base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))

The secret is `whsec_<base64 key>` (Supabase Auth hooks write it `v1,whsec_<base64 key>`; both
are read). Any v1 entry may match (the sender signs with old and new secret while rotating);
other versions (v1a, asymmetric) are skipped. The three headers are read as one family: the
webhook-* names when webhook-id is sent, else the svix-* names. The timestamp must be within
`tolerance_s` of `Delivery.now`, either way.

    payload     the body as a JSON object
    event_id    the id header (a retry of the same message keeps it)
    event_type  payload["type"] ("user.created", ...), "" when it has none
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from lib.errors import Unauthorized
from lib.webhooks.checks import header, json_object, within
from lib.webhooks.verifiers import Delivery, Verified

TOLERANCE_S = 300


class StandardWebhookVerifier:
    def __init__(self, secret: str, tolerance_s: int = TOLERANCE_S) -> None:
        """ValueError when `secret` is not `whsec_<base64>`-shaped or is empty."""
        encoded = secret.strip().removeprefix("v1,").removeprefix("whsec_")
        padded = encoded + "=" * (-len(encoded) % 4)  # some secrets are shown unpadded
        try:
            self._key = base64.b64decode(padded, validate=True)
        except binascii.Error as exc:
            raise ValueError("a Standard Webhooks secret is whsec_<base64>") from exc
        if not self._key:
            raise ValueError("a Standard Webhooks secret is required")
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return f"StandardWebhookVerifier(secret='***', tolerance_s={self._tolerance_s})"

    def verify(self, delivery: Delivery) -> Verified:
        """The payload if the sender signed this id, timestamp and body with our secret
        recently, else Unauthorized; BadRequest for a signed body that is not a JSON object."""
        prefix = "webhook" if delivery.headers.get("webhook-id") else "svix"
        msg_id = header(delivery.headers, f"{prefix}-id")
        timestamp = header(delivery.headers, f"{prefix}-timestamp")
        signatures = header(delivery.headers, f"{prefix}-signature").split()
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise Unauthorized(f"{prefix}-timestamp is not a Unix time in seconds")
        within(
            int(timestamp),
            now=delivery.now,
            tolerance_s=self._tolerance_s,
            label=f"{prefix}-timestamp",
        )

        signed = f"{msg_id}.{timestamp}.".encode() + delivery.body
        digest = hmac.new(self._key, signed, hashlib.sha256).digest()
        expected = base64.b64encode(digest)
        entries = (entry.partition(",") for entry in signatures)
        given = [sig for version, _, sig in entries if version == "v1"]
        if not given:
            raise Unauthorized(f"{prefix}-signature has no v1 signature")
        if not any(hmac.compare_digest(expected, sig.encode()) for sig in given):
            raise Unauthorized(f"no v1 signature in {prefix}-signature matches the body")

        payload = json_object(delivery.body, provider="Standard Webhooks")
        event_type = payload.get("type")
        return Verified(
            payload=payload,
            event_id=msg_id,
            event_type=event_type if isinstance(event_type, str) else "",
        )
