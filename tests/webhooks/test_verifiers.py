"""The webhook verifiers, pure: every delivery is signed by the provider's own SDK where one
exists (stripe, twilio, standardwebhooks, pusher; `cryptography` keys for GoHighLevel), then
checked as delivered, tampered with, unsigned, signed with another key, stale and early."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pusher
import pytest
import standardwebhooks
import stripe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from pusher.signature import sign as pusher_sign
from starlette.datastructures import Headers
from twilio.request_validator import RequestValidator

from lib.errors import BadRequest, Unauthorized, UnsupportedMediaType
from lib.webhooks.form import FormVerifier
from lib.webhooks.ghl import GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM, GhlVerifier
from lib.webhooks.pusher import PusherVerifier
from lib.webhooks.shared_secret import SharedSecretVerifier, signature_header
from lib.webhooks.standard import StandardWebhookVerifier
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


# GoHighLevel ------------------------------------------------------------------------------------

GHL_EVENT = b'{"type": "ContactCreate", "webhookId": "wh_1", "locationId": "loc_1", "id": "c_1"}'


def public_pem(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GHL = GhlVerifier(ed25519_public_key_pem=public_pem(ED_KEY), rsa_public_key_pem=public_pem(RSA_KEY))


def ed_sign(body: bytes, key: ed25519.Ed25519PrivateKey = ED_KEY) -> str:
    return base64.b64encode(key.sign(body)).decode()


def rsa_sign(body: bytes, key: rsa.RSAPrivateKey = RSA_KEY) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def test_ghl_accepts_ed25519_and_the_legacy_rsa_signature():
    expected = Verified(json.loads(GHL_EVENT), "wh_1", "ContactCreate")
    assert GHL.verify(delivery(GHL_EVENT, {"X-GHL-Signature": ed_sign(GHL_EVENT)})) == expected
    assert GHL.verify(delivery(GHL_EVENT, {"X-WH-Signature": rsa_sign(GHL_EVENT)})) == expected
    both = {"X-GHL-Signature": "N/A", "X-WH-Signature": rsa_sign(GHL_EVENT)}
    assert GHL.verify(delivery(GHL_EVENT, both)) == expected


def test_ghl_event_without_webhook_id_or_type():
    invoice = b'{"_id": "inv_1", "status": "paid", "altId": "loc_1", "altType": "location"}'
    verified = GHL.verify(delivery(invoice, {"X-GHL-Signature": ed_sign(invoice)}))
    assert (verified.event_id, verified.event_type) == (None, "")


def test_ghl_refuses_what_highlevel_did_not_sign():
    tampered = GHL_EVENT.replace(b"c_1", b"c_2")
    refused(
        GHL, delivery(tampered, {"X-GHL-Signature": ed_sign(GHL_EVENT)}), "X-GHL-Signature does"
    )
    refused(GHL, delivery(tampered, {"X-WH-Signature": rsa_sign(GHL_EVENT)}), "X-WH-Signature does")
    other_ed = ed_sign(GHL_EVENT, ed25519.Ed25519PrivateKey.generate())
    refused(GHL, delivery(GHL_EVENT, {"X-GHL-Signature": other_ed}), "does not match the body")
    other_rsa = rsa_sign(GHL_EVENT, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    refused(GHL, delivery(GHL_EVENT, {"X-WH-Signature": other_rsa}), "does not match the body")
    missing = "the X-GHL-Signature and X-WH-Signature headers are missing"
    refused(GHL, delivery(GHL_EVENT, {}), missing)
    refused(GHL, delivery(GHL_EVENT, {"X-GHL-Signature": "N/A", "X-WH-Signature": "N/A"}), missing)
    refused(GHL, delivery(GHL_EVENT, {"X-GHL-Signature": "not base64!"}), "is not base64")


def test_ghl_a_present_ed25519_signature_alone_decides():
    headers = {"X-GHL-Signature": ed_sign(b"other"), "X-WH-Signature": rsa_sign(GHL_EVENT)}
    refused(GHL, delivery(GHL_EVENT, headers), "X-GHL-Signature does not match")


def test_ghl_legacy_header_refused_without_an_rsa_key():
    verifier = GhlVerifier(ed25519_public_key_pem=public_pem(ED_KEY), rsa_public_key_pem=None)
    headers = {"X-WH-Signature": rsa_sign(GHL_EVENT)}
    refused(verifier, delivery(GHL_EVENT, headers), "X-WH-Signature \\(RSA\\) is not accepted")


def test_ghl_signed_body_that_is_not_an_object_is_a_bad_request():
    refused(GHL, delivery(b"[]", {"X-GHL-Signature": ed_sign(b"[]")}), "JSON object", BadRequest)


def test_ghl_published_keys_are_the_defaults_and_load():
    GhlVerifier()  # both defaults load, of the right kinds
    ed = serialization.load_pem_public_key(GHL_ED25519_PUBLIC_KEY_PEM.encode())
    assert isinstance(ed, ed25519.Ed25519PublicKey)
    rsa_key = serialization.load_pem_public_key(GHL_RSA_PUBLIC_KEY_PEM.encode())
    assert isinstance(rsa_key, rsa.RSAPublicKey)
    assert rsa_key.key_size == 4096
    der = rsa_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = "2f62045d413b1b7747e26770ce7f57840cbf86288cd20ceb90d299a62501fd25"
    assert hashlib.sha256(der).hexdigest() == fingerprint
    # A published key verifies nothing we signed: the defaults are not test keys.
    refused(GhlVerifier(), delivery(GHL_EVENT, {"X-GHL-Signature": ed_sign(GHL_EVENT)}), "match")


def test_ghl_keys_of_the_wrong_kind_are_a_configuration_error():
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        GhlVerifier(ed25519_public_key_pem=public_pem(RSA_KEY))
    with pytest.raises(ValueError, match="not an RSA public key"):
        GhlVerifier(rsa_public_key_pem=public_pem(ED_KEY))


# Twilio / SignalWire form posts -----------------------------------------------------------------

TOKEN = "twilio-auth-token"
URL = "https://api.example.com/api/voice/incoming?tenant=t1"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
CALL = {"CallSid": "CA1", "From": "+15550001111", "To": "+15550002222", "Digits": ""}
FORM_VERIFIER = FormVerifier(TOKEN, event_type="call.incoming")


def form_signed(
    params: dict[str, str],
    *,
    header: str = "X-Twilio-Signature",
    signed_url: str = URL,
    token: str = TOKEN,
    url: str = URL,
) -> Delivery:
    signature = RequestValidator(token).compute_signature(signed_url, params)
    body = urlencode(params).encode()
    return delivery(body, {**FORM_TYPE, header: signature}, url=url)


@pytest.mark.parametrize("header", ["X-Twilio-Signature", "X-SignalWire-Signature"])
def test_form_accepts_a_post_signed_by_twilios_validator(header: str):
    verified = FORM_VERIFIER.verify(form_signed(CALL, header=header))
    assert verified == Verified(CALL, None, "call.incoming")  # the blank Digits is kept


@pytest.mark.parametrize(
    ("signed_url", "url"),
    [
        ("https://api.example.com:443/hook", "https://api.example.com/hook"),
        ("https://api.example.com/hook", "https://api.example.com:443/hook"),
        ("http://example.com:80/hook", "http://example.com/hook"),
    ],
)
def test_form_accepts_the_url_with_or_without_its_port(signed_url: str, url: str):
    d = form_signed(CALL, signed_url=signed_url, url=url)
    assert RequestValidator(TOKEN).validate(url, CALL, d.headers["x-twilio-signature"])
    assert FORM_VERIFIER.verify(d).payload == CALL


def test_form_refuses_what_the_provider_did_not_sign():
    tampered = form_signed(CALL)
    body = urlencode({**CALL, "To": "+15559999999"}).encode()
    refused(FORM_VERIFIER, Delivery(body, tampered.headers, url=URL), "does not match the body")
    refused(FORM_VERIFIER, form_signed(CALL, token="other"), "does not match")
    refused(FORM_VERIFIER, form_signed(CALL, url=URL.replace("t1", "t2")), "does not match")
    unsigned = delivery(urlencode(CALL).encode(), FORM_TYPE, url=URL)
    refused(FORM_VERIFIER, unsigned, "X-Twilio-Signature / X-SignalWire-Signature header is miss")


def test_form_body_must_be_a_form():
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": "x"}
    refused(
        FORM_VERIFIER,
        delivery(b'{"CallSid": "CA1"}', headers, url=URL),
        "application/x-www-form-urlencoded, not application/json",
        UnsupportedMediaType,
    )
    broken = delivery(b"CallSid=CA1&oops", {**FORM_TYPE, "X-Twilio-Signature": "x"}, url=URL)
    refused(FORM_VERIFIER, broken, "not valid application/x-www-form-urlencoded", BadRequest)


# Standard Webhooks (Svix, Clerk) -----------------------------------------------------------------

SVIX_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-32by").decode()
USER_CREATED = b'{"type": "user.created", "object": "event", "data": {"id": "user_1"}}'
STANDARD = StandardWebhookVerifier(SVIX_SECRET)


def standard_signed(
    body: bytes,
    *,
    prefix: str = "webhook",
    secret: str = SVIX_SECRET,
    at: int = NOW,
    msg_id: str = "msg_1",
) -> Delivery:
    signer = standardwebhooks.Webhook(secret)
    signature = signer.sign(msg_id, datetime.fromtimestamp(at, tz=UTC), body.decode())
    headers = {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(at)}
    return delivery(body, {**headers, f"{prefix}-signature": signature})


@pytest.mark.parametrize("prefix", ["webhook", "svix"])
def test_standard_accepts_a_message_signed_by_the_sdk(prefix: str):
    verified = STANDARD.verify(standard_signed(USER_CREATED, prefix=prefix))
    assert verified == Verified(json.loads(USER_CREATED), "msg_1", "user.created")


def test_standard_any_v1_signature_may_match_and_other_versions_are_skipped():
    d = standard_signed(USER_CREATED)
    good = d.headers["webhook-signature"]
    headers = {**d.headers, "webhook-signature": f"v1a,{good[3:]} v1,AAAA {good}"}
    assert STANDARD.verify(delivery(USER_CREATED, headers)).event_id == "msg_1"
    only_v1a = {**d.headers, "webhook-signature": f"v1a,{good[3:]}"}
    refused(STANDARD, delivery(USER_CREATED, only_v1a), "webhook-signature has no v1 signature")


def test_standard_agrees_with_the_sdk_on_a_fresh_message():
    now = int(time.time())
    d = standard_signed(USER_CREATED, at=now)
    assert standardwebhooks.Webhook(SVIX_SECRET).verify(USER_CREATED, dict(d.headers))
    assert STANDARD.verify(Delivery(d.body, d.headers, now=now)).event_type == "user.created"


def test_standard_refuses_what_the_sender_did_not_sign():
    signed = standard_signed(USER_CREATED)
    tampered = Delivery(USER_CREATED.replace(b"user_1", b"user_2"), signed.headers, now=NOW)
    refused(STANDARD, tampered, "no v1 signature in webhook-signature matches the body")
    other = "whsec_" + base64.b64encode(b"another-key").decode()
    refused(STANDARD, standard_signed(USER_CREATED, secret=other), "matches the body")
    refused(STANDARD, standard_signed(USER_CREATED, at=NOW - 301), "stale webhook: webhook-times")
    refused(STANDARD, standard_signed(USER_CREATED, at=NOW + 301), "300 s in the future")
    other_id = {**signed.headers, "webhook-id": "msg_2"}
    refused(STANDARD, delivery(USER_CREATED, other_id), "matches the body")
    not_a_time = {**signed.headers, "webhook-timestamp": "1.79e9"}
    refused(STANDARD, delivery(USER_CREATED, not_a_time), "not a Unix time in seconds")


@pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
def test_standard_refuses_a_missing_header(name: str):
    headers = dict(standard_signed(USER_CREATED, prefix="svix").headers)
    del headers[name]
    refused(STANDARD, delivery(USER_CREATED, headers), f"the {name} header is missing")


def test_standard_secret_forms():
    bare = SVIX_SECRET.removeprefix("whsec_")
    for secret in (f"v1,{SVIX_SECRET}", bare, bare.rstrip("=")):
        verified = StandardWebhookVerifier(secret).verify(standard_signed(USER_CREATED))
        assert verified.event_id == "msg_1"
    with pytest.raises(ValueError, match="whsec_<base64>"):
        StandardWebhookVerifier("whsec_not*base64")


def test_standard_signed_body_that_is_not_an_object_is_a_bad_request():
    refused(STANDARD, standard_signed(b'"text"'), "not a JSON object", BadRequest)


# Pusher ----------------------------------------------------------------------------------------

APP_KEY, APP_SECRET = "app-key", "app-secret"
PUSHER = PusherVerifier(APP_KEY, APP_SECRET)


def pusher_body(time_ms: int = NOW * 1000) -> bytes:
    events = [{"name": "channel_occupied", "channel": "private-user-alice"}]
    return json.dumps({"time_ms": time_ms, "events": events}).encode()


def pusher_signed(body: bytes, *, key: str = APP_KEY, secret: str = APP_SECRET) -> Delivery:
    headers = {"X-Pusher-Key": key, "X-Pusher-Signature": pusher_sign(secret, body.decode())}
    return delivery(body, headers)


def test_pusher_accepts_a_batch_signed_with_the_app_secret():
    body = pusher_body()
    assert PUSHER.verify(pusher_signed(body)) == Verified(json.loads(body), None, "events")


def test_pusher_agrees_with_the_sdks_validate_webhook():
    now = time.time()
    body = pusher_body(int(now * 1000))
    d = pusher_signed(body)
    client = pusher.Pusher(app_id="1", key=APP_KEY, secret=APP_SECRET)
    sdk = client.validate_webhook(APP_KEY, d.headers["x-pusher-signature"], body.decode())
    assert sdk == PUSHER.verify(Delivery(d.body, d.headers, now=now)).payload


def test_pusher_refuses_what_pusher_did_not_sign():
    body = pusher_body()
    tampered = Delivery(body.replace(b"alice", b"mallory"), pusher_signed(body).headers, now=NOW)
    refused(PUSHER, tampered, "X-Pusher-Signature does not match the body")
    refused(PUSHER, pusher_signed(body, secret="other"), "X-Pusher-Signature does not match")
    refused(PUSHER, pusher_signed(body, key="other-app"), "X-Pusher-Key is not this app's key")
    refused(PUSHER, delivery(body, {"X-Pusher-Key": APP_KEY}), "X-Pusher-Signature header is miss")
    signature_only = {"X-Pusher-Signature": pusher_sign(APP_SECRET, body.decode())}
    refused(PUSHER, delivery(body, signature_only), "the X-Pusher-Key header is missing")
    stale = pusher_signed(pusher_body((NOW - 301) * 1000))
    refused(PUSHER, stale, "stale webhook: time_ms is more than 300 s in the past")
    refused(PUSHER, pusher_signed(pusher_body((NOW + 301) * 1000)), "300 s in the future")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "not a JSON object"),
        (b"not json", "not JSON"),
        (b'{"time_ms": true, "events": []}', "a Pusher webhook body is {"),
        (b'{"time_ms": 1790000000000, "events": {}}', "a Pusher webhook body is {"),
    ],
)
def test_pusher_signed_body_that_is_not_a_batch_is_a_bad_request(body: bytes, message: str):
    refused(PUSHER, pusher_signed(body), message, BadRequest)


# Our shared-secret scheme (broker bridges) ------------------------------------------------------

BROKER_EVENT = b'{"id": "fill_1", "type": "order.filled", "qty": 2}'
OLD, NEW = "old-connection-secret", "new-connection-secret"
SHARED = SharedSecretVerifier([NEW, OLD])


def broker_signed(body: bytes, *, secret: str = NEW, at: int = NOW) -> Delivery:
    """Signed from the module docstring's definition, not with the module's own helper."""
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Webhook-Timestamp": str(at), "X-Webhook-Signature": f"v1={digest}"}
    return delivery(body, headers)


def test_shared_secret_accepts_either_secret_while_rotating():
    expected = Verified(json.loads(BROKER_EVENT), "fill_1", "order.filled")
    assert SHARED.verify(broker_signed(BROKER_EVENT, secret=NEW)) == expected
    assert SHARED.verify(broker_signed(BROKER_EVENT, secret=OLD)) == expected
    both = broker_signed(BROKER_EVENT, secret=OLD).headers["x-webhook-signature"]
    headers = {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"v1=00, {both}"}
    assert SHARED.verify(delivery(BROKER_EVENT, headers)) == expected


def test_shared_secret_signature_header_is_the_documented_scheme():
    made = signature_header(NEW, NOW, BROKER_EVENT)
    assert made == broker_signed(BROKER_EVENT).headers["x-webhook-signature"]


def test_shared_secret_refuses_what_the_sender_did_not_sign():
    signed = broker_signed(BROKER_EVENT)
    tampered = Delivery(BROKER_EVENT.replace(b"2", b"20"), signed.headers, now=NOW)
    refused(SHARED, tampered, "no v1 signature in X-Webhook-Signature matches the body")
    refused(SHARED, broker_signed(BROKER_EVENT, secret="retired"), "matches the body")
    refused(SHARED, broker_signed(BROKER_EVENT, at=NOW - 301), "stale webhook: X-Webhook-Timest")
    refused(SHARED, broker_signed(BROKER_EVENT, at=NOW + 301), "300 s in the future")
    moved = {**signed.headers, "x-webhook-timestamp": str(NOW + 1)}
    refused(SHARED, delivery(BROKER_EVENT, moved), "matches the body")
    refused(SHARED, delivery(BROKER_EVENT, {}), "the X-Webhook-Timestamp header is missing")
    no_signature = {"X-Webhook-Timestamp": str(NOW)}
    refused(SHARED, delivery(BROKER_EVENT, no_signature), "X-Webhook-Signature header is missing")
    unversioned = {**signed.headers, "x-webhook-signature": "sha256=00"}
    refused(SHARED, delivery(BROKER_EVENT, unversioned), "has no v1=<hex> signature")
    not_a_time = {**signed.headers, "x-webhook-timestamp": "soon"}
    refused(SHARED, delivery(BROKER_EVENT, not_a_time), "not a Unix time in seconds")


def test_shared_secret_configuration():
    with pytest.raises(TypeError, match="a list of secrets"):
        SharedSecretVerifier(NEW)
    with pytest.raises(ValueError, match="at least one webhook secret"):
        SharedSecretVerifier(["", ""])
    assert NEW not in repr(SHARED)


def test_shared_secret_signed_body_that_is_not_an_object_is_a_bad_request():
    refused(SHARED, broker_signed(b"[]"), "not a JSON object", BadRequest)
    verified = SHARED.verify(broker_signed(b"{}"))
    assert (verified.event_id, verified.event_type) == (None, "")
