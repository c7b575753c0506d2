"""Stripe webhooks, checked by the official SDK's verifier.

    Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>[,v1=...]

The secret is the endpoint's signing secret (`whsec_...`, used as is); any `v1` may match (Stripe
sends several while a secret is being rolled). The SDK checks the signature; the clock check is
ours, against `Delivery.now` (the SDK reads `time.time()`): `t` must be within `tolerance_s` of
now — older like the SDK, and, unlike it, not further ahead either.

    payload     the event as a JSON object
    event_id    event["id"] ("evt_...")
    event_type  event["type"] ("invoice.paid", ...)
"""

from __future__ import annotations

from lib.errors import BadRequest, Unauthorized
from lib.webhooks.checks import header, json_object, within
from lib.webhooks.verifiers import Delivery, Verified

TOLERANCE_S = 300


class StripeVerifier:
    def __init__(self, secret: str, tolerance_s: int = TOLERANCE_S) -> None:
        if not secret.strip():
            raise ValueError("a Stripe webhook signing secret is required")
        self._secret = secret
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return f"StripeVerifier(secret='***', tolerance_s={self._tolerance_s})"

    def verify(self, delivery: Delivery) -> Verified:
        """The event if Stripe signed this body with our secret recently, else Unauthorized;
        BadRequest for a signed body that is not an event."""
        import stripe  # ~150 ms: only the Stripe webhook pays for it

        signature = header(delivery.headers, "stripe-signature", label="Stripe-Signature")
        try:
            text = delivery.body.decode()
        except UnicodeDecodeError as exc:
            raise Unauthorized("the body is not UTF-8: no Stripe signature can match it") from exc
        try:
            # tolerance=None: the SDK skips its own clock check, ours follows.
            stripe.WebhookSignature.verify_header(text, signature, self._secret, tolerance=None)
        except stripe.SignatureVerificationError as exc:
            raise Unauthorized(f"Stripe-Signature: {exc.user_message}") from exc
        within(_timestamp(signature), now=delivery.now, tolerance_s=self._tolerance_s, label="t")

        event = json_object(delivery.body, provider="Stripe")
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise BadRequest('a Stripe event has a string "id" and "type"')
        return Verified(payload=event, event_id=event_id, event_type=event_type)


def _timestamp(signature: str) -> int:
    """The `t=` of a header the SDK has accepted (so it has one, and the first is an int)."""
    for item in signature.split(","):
        name, _, value = item.partition("=")
        if name == "t":
            return int(value)
    raise Unauthorized("Stripe-Signature has no t= timestamp")  # unreachable after the SDK
