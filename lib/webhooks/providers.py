"""The table of webhook providers: each is a verifier built from the app's settings.

    provider     scheme (module)                                  keys (env)
    stripe       Stripe-Signature, 300 s (webhooks.stripe)        STRIPE_WEBHOOK_SECRET
    ghl          X-GHL-Signature Ed25519, else X-WH-Signature     GHL_WEBHOOK_ED25519_PUBLIC_KEY,
                 RSA-SHA256 (webhooks.ghl)                        GHL_WEBHOOK_RSA_PUBLIC_KEY
                                                                  (PEM; default: HighLevel's)
    clerk        Standard Webhooks / Svix (webhooks.standard)     CLERK_WEBHOOK_SECRET (whsec_)
    pusher       X-Pusher-Key + X-Pusher-Signature (webhooks.pusher)  PUSHER_KEY, PUSHER_SECRET
    signalwire   form scheme over PUBLIC_BASE_URL (webhooks.form) SIGNALWIRE_SIGNING_KEY
    twilio       form scheme over PUBLIC_BASE_URL (webhooks.form) TWILIO_AUTH_TOKEN
    broker       X-Webhook-Timestamp + X-Webhook-Signature,       one secret per connection,
                 HMAC-SHA256 (webhooks.shared_secret)             handed in by the feature

An endpoint names its provider's factory (`verifier=providers.stripe`); a provider whose keys
are not configured answers 503 naming the variable, so a half-configured deploy says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lib.errors import ServiceUnavailable

if TYPE_CHECKING:
    from lib.services import Services
    from lib.webhooks.verifiers import Verifier


def _built(build: Callable[[], Verifier], variables: str) -> Verifier:
    try:
        return build()
    except ValueError as exc:
        raise ServiceUnavailable(f"webhooks are not configured ({variables}): {exc}") from exc


def stripe(services: Services) -> Verifier:
    from lib.webhooks.stripe import StripeVerifier

    secret = services.settings.stripe_webhook_secret.get()
    return _built(lambda: StripeVerifier(secret), "STRIPE_WEBHOOK_SECRET")


def ghl(services: Services) -> Verifier:
    from lib.webhooks.ghl import GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM, GhlVerifier

    config = services.settings
    ed25519 = config.ghl_webhook_ed25519_public_key or GHL_ED25519_PUBLIC_KEY_PEM
    rsa = config.ghl_webhook_rsa_public_key or GHL_RSA_PUBLIC_KEY_PEM
    return _built(
        lambda: GhlVerifier(ed25519, rsa),
        "GHL_WEBHOOK_ED25519_PUBLIC_KEY / GHL_WEBHOOK_RSA_PUBLIC_KEY",
    )


def clerk(services: Services) -> Verifier:
    from lib.webhooks.standard import StandardWebhookVerifier

    secret = services.settings.clerk_webhook_secret.get()
    return _built(lambda: StandardWebhookVerifier(secret), "CLERK_WEBHOOK_SECRET")


def pusher(services: Services) -> Verifier:
    from lib.webhooks.pusher import PusherVerifier

    config = services.settings
    return _built(
        lambda: PusherVerifier(config.pusher_key, config.pusher_secret.get()),
        "PUSHER_KEY / PUSHER_SECRET",
    )


def form(services: Services, *, event_type: str) -> Verifier:
    """The voice provider's form scheme (VOICE_PROVIDER picks SignalWire's or Twilio's key)."""
    from lib.webhooks.form import FormVerifier

    config = services.settings
    if not config.public_base_url:
        raise ServiceUnavailable("PUBLIC_BASE_URL is not set, so webhooks cannot be verified")
    variable = (
        "SIGNALWIRE_SIGNING_KEY" if config.voice_provider == "signalwire" else "TWILIO_AUTH_TOKEN"
    )
    key = config.voice_signing_key.get()
    return _built(lambda: FormVerifier(key, event_type=event_type), variable)


def shared_secret(secrets: list[str]) -> Verifier:
    """Per-connection HMAC secrets (brokers): the feature looks them up and hands them in."""
    from lib.webhooks.shared_secret import SharedSecretVerifier

    return _built(lambda: SharedSecretVerifier(secrets), "the connection's webhook secret")
