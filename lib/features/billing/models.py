"""What the billing.* procedures accept and return (JSON read by JavaScript: camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lib.features.billing.plans import MAX_PACKS


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckoutInput(Input):
    kind: Literal["subscription", "credits"]
    quantity: int = Field(default=1, ge=1, le=MAX_PACKS)
    """Credit packs to buy (credits only; a subscription is always one)."""


class CheckoutSession(BaseModel):
    url: str
    """Stripe's hosted Checkout page: send the browser there."""
    sessionId: str


class PortalSession(BaseModel):
    url: str


class StatusInput(Input):
    limit: int = Field(default=20, ge=1, le=100)
    """Ledger entries to return, newest first."""


class Subscription(BaseModel):
    id: str | None
    status: str
    currentPeriodEnd: datetime
    cancelAtPeriodEnd: bool
    trialEnd: datetime | None = None
    active: bool
    """Sessions are free while true (active or trialing, the period not over)."""


class PaymentIssue(BaseModel):
    invoice: str
    status: Literal["payment_failed", "action_required"]
    url: str | None
    """The invoice's hosted page, where the customer pays or authenticates."""


class Flag(BaseModel):
    at: datetime
    reason: str


class Entry(BaseModel):
    delta: int
    reason: str
    ref: str | None
    createdAt: datetime


class Status(BaseModel):
    balance: int
    subscription: Subscription | None
    paymentIssue: PaymentIssue | None
    flagged: Flag | None
    entries: list[Entry]
