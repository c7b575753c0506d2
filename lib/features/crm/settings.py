"""The CRM feature's settings (`services.feature(CrmSettings)`).

The webhook signing keys (GHL_WEBHOOK_ED25519_PUBLIC_KEY, GHL_WEBHOOK_RSA_PUBLIC_KEY) are core
settings (lib.webhooks.providers); what only the CRM decides lives here:

    GHL_APP_ID              deliveries naming another Marketplace app are refused
    GHL_API_URL             HighLevel's REST API (blank: https://services.leadconnectorhq.com)
    GHL_CLIENT_ID/SECRET    our Marketplace app's OAuth client (code exchange, refresh)
    CRM_TOKEN_KEY           Fernet key(s) encrypting the locations' OAuth tokens at rest
    CRM_QUOTE_TOKEN_SECRET  HMAC secret of quote links (quotes.py)
    CRM_QUOTE_URL           the quote page the links point at (blank: links carry the token)

Without the OAuth client or CRM_TOKEN_KEY, sending from the app and connecting locations
answer SERVICE_UNAVAILABLE naming what is missing; without CRM_QUOTE_TOKEN_SECRET, quote links
are refused the same way. Nothing else needs them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from lib.config import Secret

DEFAULT_API_URL = "https://services.leadconnectorhq.com"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, kw_only=True)
class CrmSettings:
    app_id: str = ""
    """GHL_APP_ID: our HighLevel Marketplace app. When set, a delivery whose `appId` names
    another app is refused (HighLevel signs every app's webhooks with the same key). A client
    id (`<appId>-<suffix>`) works too: its part before the first dash is compared. Blank =
    no check."""
    api_url: str = DEFAULT_API_URL
    client_id: str = ""
    client_secret: Secret = field(default_factory=lambda: Secret(""))
    token_keys: tuple[Secret, ...] = ()
    """CRM_TOKEN_KEY: Fernet keys, comma-separated; the first encrypts, any decrypts (add the
    new key first to rotate, drop the old one once the cron has refreshed every token)."""
    quote_secret: Secret = field(default_factory=lambda: Secret(""))
    quote_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        def get(name: str) -> str:
            return env.get(name, "").strip()

        app_id = get("GHL_APP_ID")
        if app_id and not app_id.replace("-", "").isalnum():
            raise ValueError("GHL_APP_ID must be a HighLevel app id (letters and digits)")
        quote_secret = get("CRM_QUOTE_TOKEN_SECRET")
        if quote_secret and len(quote_secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"CRM_QUOTE_TOKEN_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return cls(
            app_id=app_id,
            api_url=(get("GHL_API_URL") or DEFAULT_API_URL).rstrip("/"),
            client_id=get("GHL_CLIENT_ID"),
            client_secret=Secret(get("GHL_CLIENT_SECRET")),
            token_keys=_fernet_keys(get("CRM_TOKEN_KEY")),
            quote_secret=Secret(quote_secret),
            quote_url=get("CRM_QUOTE_URL"),
        )

    def accepts(self, app_id: object) -> bool:
        """Whether a delivery naming `app_id` (None: it names none) is for our app."""
        if not self.app_id or app_id is None:
            return True
        ours = self.app_id.split("-", 1)[0]
        return isinstance(app_id, str) and app_id.split("-", 1)[0] == ours

    def missing_for_sending(self) -> list[str]:
        """The variables sending from the app (and connecting locations) still needs."""
        needed = {
            "GHL_CLIENT_ID": bool(self.client_id),
            "GHL_CLIENT_SECRET": bool(self.client_secret),
            "CRM_TOKEN_KEY": bool(self.token_keys),
        }
        return [name for name, present in needed.items() if not present]


def _fernet_keys(value: str) -> tuple[Secret, ...]:
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                "CRM_TOKEN_KEY must be Fernet keys (32 bytes, url-safe base64), comma-separated: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
                ".decode())'"
            )
    return tuple(Secret(key) for key in keys)
