"""Notifiers that send nothing: `log` (the local default: logs what it would send, no account
needed; refused in production) and `off` (notifications disabled: each one is recorded as
failed with that reason and never retried)."""

from __future__ import annotations

import logging

from lib.notify.port import Channel, Notification, NotifyError, Receipt

log = logging.getLogger("sockless.notify")


class LogNotifier:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, notification: Notification) -> Receipt:
        log.info(
            "notification (%s, not sent: no provider configured)",
            notification.channel,
            extra={
                "fields": {
                    "key": notification.key,
                    "to": notification.to,
                    "subject": notification.subject,
                    "text": notification.text,
                }
            },
        )
        return Receipt(provider_id=f"log:{notification.key}")


class OffNotifier:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, notification: Notification) -> Receipt:
        variable = "NOTIFY_SMS_PROVIDER" if self.channel == "sms" else "NOTIFY_EMAIL_PROVIDER"
        raise NotifyError(f"{self.channel} notifications are off ({variable}=off)", retry=False)
