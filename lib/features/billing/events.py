"""The event billing publishes (private.billing_publish, migration 20261130700100):
`billing-updated` on `private-user-{id}` with the balance and the subscription, after every
ledger or subscription change."""

from __future__ import annotations

from pydantic import BaseModel

from lib.events import EventFamily
from lib.features.billing.models import Subscription


class BillingUpdated(BaseModel):
    balance: int
    """Credits left."""
    subscription: Subscription | None


FAMILIES = (EventFamily("private-user-{userId}", {"billing-updated": BillingUpdated}),)
