"""The webhook verifiers, pure: every delivery is signed by the provider's own SDK where one
exists (stripe, twilio, standardwebhooks, pusher; `cryptography` keys for GoHighLevel), then
checked as delivered, tampered with, unsigned, signed with another key, stale and early."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from starlette.datastructures import Headers

from lib.errors import BadRequest, Unauthorized
from lib.webhooks.stripe import StripeVerifier
from lib.webhooks.verifiers import Delivery, Verified

NOW = 1_790_000_000  # a fixed clock: no test depends on time.time() unless it says so


def delivery(body: bytes, headers: dict[str, str], *, now: float = NOW, url: str = "") -> Delivery:
    return Delivery(body=body, headers=Headers(headers), url=url, now=now)


def refused(
    verifier: Any, d: Delivery, message: str, error: type[Exception] = Unauthorized
) -> None:
    with pytest.raises(error, match=message):
        verifier.verify(d)


# Stripe ------------------------------------------------------------------------------------------

STRIPE_SECRET = "whsec_test_secret"
STRIPE_EVENT = b'{"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}}'


def stripe_signed(body: bytes, *, secret: str = STRIPE_SECRET, at: int = NOW) -> Delivery:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return delivery(body, {"Stripe-Signature": header})


def test_stripe_accepts_an_event_signed_by_the_sdk():
    verified = StripeVerifier(STRIPE_SECRET).verify(stripe_signed(STRIPE_EVENT))
    assert verified == Verified(json.loads(STRIPE_EVENT), "evt_1", "invoice.paid")


def test_stripe_clock_is_the_delivery_clock_not_time_time():
    long_ago = 1_000_000_000
    d = stripe_signed(STRIPE_EVENT, at=long_ago)
    later = Delivery(d.body, d.headers, now=long_ago + 300)
    assert StripeVerifier(STRIPE_SECRET).verify(later).event_id == "evt_1"
    refused(StripeVerifier(STRIPE_SECRET), d, "stale webhook: t is more than 300 s in the past")


def test_stripe_refuses_what_stripe_did_not_sign():
    verifier = StripeVerifier(STRIPE_SECRET)
    tampered = stripe_signed(STRIPE_EVENT)
    tampered = Delivery(STRIPE_EVENT.replace(b"evt_1", b"evt_2"), tampered.headers, now=NOW)
    refused(verifier, tampered, "Stripe-Signature: No signatures found matching")
    refused(verifier, delivery(STRIPE_EVENT, {}), "the Stripe-Signature header is missing")
    refused(verifier, stripe_signed(STRIPE_EVENT, secret="whsec_other"), "No signatures found")
    refused(verifier, stripe_signed(STRIPE_EVENT, at=NOW - 301), "stale webhook")
    refused(verifier, stripe_signed(STRIPE_EVENT, at=NOW + 301), "t is more than 300 s in the fut")
    refused(verifier, delivery(b"\xff", {"Stripe-Signature": "t=1,v1=00"}), "not UTF-8")


def test_stripe_signed_body_that_is_not_an_event_is_a_bad_request():
    verifier = StripeVerifier(STRIPE_SECRET)
    refused(verifier, stripe_signed(b"[1]"), "not a JSON object", BadRequest)
    refused(verifier, stripe_signed(b'{"id": 1, "type": "x"}'), '"id" and "type"', BadRequest)
