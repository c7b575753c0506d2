"""The CRM feature's settings (`services.feature(CrmSettings)`).

The webhook signing keys (GHL_WEBHOOK_ED25519_PUBLIC_KEY, GHL_WEBHOOK_RSA_PUBLIC_KEY) are core
settings (lib.webhooks.providers); what only the CRM decides lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, kw_only=True)
class CrmSettings:
    app_id: str = ""
    """GHL_APP_ID: our HighLevel Marketplace app. When set, a delivery whose `appId` names
    another app is refused (HighLevel signs every app's webhooks with the same key). A client
    id (`<appId>-<suffix>`) works too: its part before the first dash is compared. Blank =
    no check."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        app_id = env.get("GHL_APP_ID", "").strip()
        if app_id and not app_id.replace("-", "").isalnum():
            raise ValueError("GHL_APP_ID must be a HighLevel app id (letters and digits)")
        return cls(app_id=app_id)

    def accepts(self, app_id: object) -> bool:
        """Whether a delivery naming `app_id` (None: it names none) is for our app."""
        if not self.app_id or app_id is None:
            return True
        ours = self.app_id.split("-", 1)[0]
        return isinstance(app_id, str) and app_id.split("-", 1)[0] == ours
