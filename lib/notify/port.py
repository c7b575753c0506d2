"""The Notifier port: deliver one notification, or say whether trying again may help.

    class Notifier(Protocol):
        async def send(self, notification: Notification) -> Receipt

Contract: `send` returns once the provider accepted the notification (its id in the receipt)
and raises NotifyError otherwise. `retry=True` means it was definitely not sent and a later
attempt may succeed (unreachable before sending, 429, 5xx); `retry=False` means retrying will
not help or could deliver it twice: the provider refused it (4xx) or the outcome is unknown
(a timeout after the request went out). Callers never resend after `retry=False`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import httpx

from lib.errors import ServiceUnavailable

Channel = Literal["sms", "email"]


@dataclass(frozen=True, kw_only=True)
class Notification:
    channel: Channel
    to: str
    """E.164 phone number (sms) or email address (email)."""
    subject: str
    """The email subject (SMS have none)."""
    text: str
    """The SMS text, or the plain-text email body."""
    key: str
    """A stable id for this notification (e.g. the batch id), for logs and providers' metadata."""


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    """The provider's id for what it accepted ("" if it gives none)."""


class NotifyError(ServiceUnavailable):
    """The notification was not (known to be) delivered."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message, retry_after=None)
        self.retry = retry
        self.provider_status = status


@runtime_checkable
class Notifier(Protocol):
    async def send(self, notification: Notification) -> Receipt:
        """Deliver `notification`; NotifyError if the provider did not accept it."""
        ...


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport failures that happen before the request reaches the provider."""


def transport_error(provider: str, exc: httpx.HTTPError) -> NotifyError:
    """A transport failure as NotifyError: retryable only if nothing was sent."""
    sent = not isinstance(exc, NOT_SENT)
    outcome = "outcome unknown" if sent else "not sent"
    return NotifyError(f"{provider} unreachable ({type(exc).__name__}; {outcome})", retry=not sent)


def status_error(provider: str, status: int, detail: str) -> NotifyError:
    """A provider's error response as NotifyError: 429 and 5xx retry, other 4xx do not."""
    retry = status == 429 or status >= 500
    return NotifyError(f"{provider} answered {status}: {detail}"[:500], retry=retry, status=status)
