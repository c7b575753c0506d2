"""The events trading publishes on `private-user-{id}` (migrations 20261130800200 apply,
20261130810000 token refresh, 20261130820000 fills): the book's rows as the delta queries
return them, with the broker they came from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from lib.events import EventFamily
from lib.features.trading.models import Fill, Order, Position

Broker = Literal["alpaca", "tradovate", "webhook"]


class PositionUpdate(BaseModel):
    broker: Broker
    position: Position


class OrderUpdate(BaseModel):
    broker: Broker
    order: Order


class Balance(BaseModel):
    connectionId: UUID
    currency: str
    cash: float | None
    equity: float | None
    buyingPower: float | None
    updatedAt: datetime


class BalanceUpdate(BaseModel):
    broker: Broker
    balance: Balance


class FillEvent(BaseModel):
    broker: Broker
    fill: Fill


class ConnectionStatus(BaseModel):
    connectionId: UUID
    status: str
    reason: str | None


FAMILIES = (
    EventFamily(
        "private-user-{userId}",
        {
            "position-update": PositionUpdate,
            "order-update": OrderUpdate,
            "balance-update": BalanceUpdate,
            "fill": FillEvent,
            "connection-status": ConnectionStatus,
        },
    ),
)
