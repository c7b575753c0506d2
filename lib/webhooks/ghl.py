"""GoHighLevel (HighLevel Marketplace) webhooks: public-key signatures over the raw body.

    X-GHL-Signature  base64 Ed25519 signature                      (current, preferred)
    X-WH-Signature   base64 RSA-SHA256 PKCS#1 v1.5 signature       (legacy, deprecated 2026-07-01)

As HighLevel's guide says: when X-GHL-Signature is there it alone decides (a bad one is not
rescued by X-WH-Signature); otherwise X-WH-Signature is checked; neither -> Unauthorized. A
header whose value is "N/A" counts as absent (HighLevel's "not signed with this scheme").

The keys are HighLevel's, the same for every app, published in the Webhook Integration Guide
(marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide): they are the defaults. The RSA
key is 4096-bit; SHA-256 of its DER encoding:
    2f62045d413b1b7747e26770ce7f57840cbf86288cd20ceb90d299a62501fd25
Pass `rsa_public_key_pem=None` to refuse the legacy header.

No timestamp is signed: replays are stopped by ingest's dedupe.

    payload     the body as a JSON object
    event_id    payload["webhookId"] when it is a string, else None (ingest hashes the body)
    event_type  payload["type"] when it is a string, else "" (Invoice* events carry none)
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from lib.errors import Unauthorized
from lib.webhooks.checks import json_object
from lib.webhooks.verifiers import Delivery, Verified

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

GHL_ED25519_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""

GHL_RSA_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""


class GhlVerifier:
    def __init__(
        self,
        ed25519_public_key_pem: str = GHL_ED25519_PUBLIC_KEY_PEM,
        rsa_public_key_pem: str | None = GHL_RSA_PUBLIC_KEY_PEM,
    ) -> None:
        """ValueError when a PEM is not a public key of the right kind."""
        # cryptography costs ~50 ms to import: only GoHighLevel's verifier pays for it.
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        ed_key = load_pem_public_key(ed25519_public_key_pem.encode())
        if not isinstance(ed_key, ed25519.Ed25519PublicKey):
            raise ValueError("ed25519_public_key_pem is not an Ed25519 public key")
        self._ed25519: Ed25519PublicKey = ed_key
        self._rsa: RSAPublicKey | None = None
        if rsa_public_key_pem is not None:
            rsa_key = load_pem_public_key(rsa_public_key_pem.encode())
            if not isinstance(rsa_key, rsa.RSAPublicKey):
                raise ValueError("rsa_public_key_pem is not an RSA public key")
            self._rsa = rsa_key

    def verify(self, delivery: Delivery) -> Verified:
        """The payload if HighLevel signed this body, else Unauthorized; BadRequest for a signed
        body that is not a JSON object."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        ghl = _signature(delivery, "x-ghl-signature", "X-GHL-Signature")
        legacy = _signature(delivery, "x-wh-signature", "X-WH-Signature")
        try:
            if ghl is not None:
                self._ed25519.verify(ghl, delivery.body)
            elif legacy is not None:
                if self._rsa is None:
                    raise Unauthorized("X-WH-Signature (RSA) is not accepted: no RSA key is set")
                self._rsa.verify(legacy, delivery.body, padding.PKCS1v15(), hashes.SHA256())
            else:
                raise Unauthorized("the X-GHL-Signature and X-WH-Signature headers are missing")
        except InvalidSignature as exc:
            name = "X-GHL-Signature" if ghl is not None else "X-WH-Signature"
            raise Unauthorized(f"{name} does not match the body") from exc

        payload = json_object(delivery.body, provider="GoHighLevel")
        webhook_id, event_type = payload.get("webhookId"), payload.get("type")
        return Verified(
            payload=payload,
            event_id=webhook_id if isinstance(webhook_id, str) and webhook_id else None,
            event_type=event_type if isinstance(event_type, str) else "",
        )


def _signature(delivery: Delivery, name: str, label: str) -> bytes | None:
    """The decoded signature in header `name`, None when absent, blank or "N/A"."""
    value = (delivery.headers.get(name) or "").strip()
    if not value or value.upper() == "N/A":
        return None
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise Unauthorized(f"{label} is not base64") from exc
