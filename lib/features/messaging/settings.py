"""The messaging feature's settings (`services.feature(MessagingSettings)`).

The notifiers' provider settings (NOTIFY_*_PROVIDER, NOTIFY_FROM_*, SENDGRID_*, TWILIO_*) are
core settings (lib.notify); what only messaging decides lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, kw_only=True)
class MessagingSettings:
    send_rate_limit: int = 60
    """messaging.send calls per user per window (MESSAGING_SEND_RATE_LIMIT)."""
    send_rate_window_s: int = 60
    create_rate_limit: int = 30
    """messaging.createConversation calls per user per window (MESSAGING_CREATE_RATE_LIMIT)."""
    create_rate_window_s: int = 60
    conversations_per_day: int = 100
    """New conversations per user per 24 hours (MESSAGING_CONVERSATIONS_PER_DAY), in SQL."""
    notify_delay_s: int = 120
    """How long a message stays unread before its offline recipient is notified."""
    notify_app_url: str = ""
    """The link in a notification (NOTIFY_APP_URL); blank = none."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        def get(name: str) -> str:
            return env.get(name, "").strip()

        return cls(
            send_rate_limit=int(get("MESSAGING_SEND_RATE_LIMIT") or 60),
            send_rate_window_s=int(get("MESSAGING_SEND_RATE_WINDOW_S") or 60),
            create_rate_limit=int(get("MESSAGING_CREATE_RATE_LIMIT") or 30),
            create_rate_window_s=int(get("MESSAGING_CREATE_RATE_WINDOW_S") or 60),
            conversations_per_day=int(get("MESSAGING_CONVERSATIONS_PER_DAY") or 100),
            notify_delay_s=int(get("NOTIFY_DELAY_S") or 120),
            notify_app_url=get("NOTIFY_APP_URL").rstrip("/"),
        )
