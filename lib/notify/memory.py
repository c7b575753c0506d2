"""An in-memory notifier for unit tests: keeps every notification, can be told to fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.notify.port import Notification, NotifyError, Receipt


@dataclass
class MemoryNotifier:
    sent: list[Notification] = field(default_factory=list)
    fail_with: NotifyError | None = None
    """Raised by every send while set (nothing is recorded)."""

    async def send(self, notification: Notification) -> Receipt:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(notification)
        return Receipt(provider_id=f"memory:{len(self.sent)}")
