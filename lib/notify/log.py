"""The default notifier: logs what it would send (no account needed; `make dev`)."""

from __future__ import annotations

import logging

from lib.notify.port import Channel, Notification, Receipt

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
