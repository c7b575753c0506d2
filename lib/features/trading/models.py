"""The trading feature's models: what brokers tell us (normalised, one model for every
broker) and the inputs and outputs of trading.* procedures."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

Symbol = Field(min_length=1, max_length=64)
MAX_ROWS = 500
"""Positions or orders one update carries at most."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- what a broker says (webhook bodies, adapters' fetches) ----------------------------------
class BrokerPosition(Strict):
    symbol: str = Symbol
    qty: Decimal
    avgPrice: Decimal | None = None
    marketValue: Decimal | None = None
    unrealizedPl: Decimal | None = None


class BrokerOrder(Strict):
    id: str = Field(min_length=1, max_length=128)
    symbol: str = Symbol
    side: Literal["buy", "sell"]
    type: str = Field(default="market", min_length=1, max_length=32)
    qty: Decimal
    filledQty: Decimal = Decimal(0)
    limitPrice: Decimal | None = None
    avgFillPrice: Decimal | None = None
    status: str = Field(min_length=1, max_length=32)
    submittedAt: datetime | None = None


class BrokerBalance(Strict):
    currency: str = Field(default="USD", min_length=1, max_length=16)
    cash: Decimal | None = None
    equity: Decimal | None = None
    buyingPower: Decimal | None = None


class BrokerFill(Strict):
    """One execution. Fills are immutable: a fill id already stored is ignored."""

    id: str = Field(min_length=1, max_length=128)
    orderId: str | None = Field(default=None, min_length=1, max_length=128)
    symbol: str = Symbol
    side: Literal["buy", "sell"]
    qty: Decimal
    price: Decimal
    filledAt: datetime


class BrokerUpdate(Strict):
    """One push or fetch: any of positions, orders, balance, fills. `full` (fetches only) says the
    positions are all the account holds, so missing ones are closed."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    """The sender's event id: a redelivery with the same id is a duplicate."""
    type: str = Field(default="update", min_length=1, max_length=64)
    positions: list[BrokerPosition] = Field(default_factory=list, max_length=MAX_ROWS)
    orders: list[BrokerOrder] = Field(default_factory=list, max_length=MAX_ROWS)
    balance: BrokerBalance | None = None
    fills: list[BrokerFill] = Field(default_factory=list, max_length=MAX_ROWS)
    full: bool = False


# -- procedures -------------------------------------------------------------------------------
class WebhookConnect(Strict):
    broker: Literal["webhook"]
    label: str = Field(default="", max_length=100)


HEADER_VALUE = r"^[!-~]+$"
"""Printable ASCII without spaces: Alpaca's keys travel in HTTP headers."""


class AlpacaConnect(Strict):
    broker: Literal["alpaca"]
    label: str = Field(default="", max_length=100)
    apiKey: str = Field(min_length=1, max_length=128, pattern=HEADER_VALUE)
    apiSecret: SecretStr = Field(min_length=1, max_length=256)

    @field_validator("apiSecret")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not (secret.isascii() and secret.isprintable() and " " not in secret):
            raise ValueError("an Alpaca secret is printable ASCII without spaces")
        return value


class TradovateConnect(Strict):
    broker: Literal["tradovate"]
    label: str = Field(default="", max_length=100)
    name: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=256)
    appId: str | None = Field(default=None, max_length=128)
    appVersion: str | None = Field(default=None, max_length=32)
    cid: str | None = Field(default=None, max_length=32)
    sec: SecretStr | None = Field(default=None, max_length=256)


ConnectInput: TypeAdapter[WebhookConnect | AlpacaConnect | TradovateConnect] = TypeAdapter(
    Annotated[WebhookConnect | AlpacaConnect | TradovateConnect, Field(discriminator="broker")]
)


class SyncResult(BaseModel):
    connectionId: UUID | str
    source: Literal["cache", "broker"]
    """cache: fresh enough, no broker call; broker: fetched now."""
    changed: dict[str, int] | None = None
    """Rows that changed (and were published), when fetched."""


class Connection(BaseModel):
    id: UUID
    broker: str
    label: str
    status: Literal["active", "needs_reauth"]
    accountId: str | None = None
    tokenExpiresAt: datetime | None = None
    lastSyncAt: datetime | None = None
    createdAt: datetime


class Connected(BaseModel):
    connection: Connection
    webhookSecret: str | None = None
    """The connection's webhook signing secret: in this answer only, never again."""
    webhookUrl: str | None = None
    """Where the sender posts (PUBLIC_BASE_URL + path; the path alone when it is not set)."""


class Connections(BaseModel):
    connections: list[Connection]


class ConnectionInput(Strict):
    connectionId: UUID


class Disconnected(BaseModel):
    id: UUID
    disconnected: bool


class Cursor(BaseModel):
    since: datetime
    after: int


class DeltaInput(Strict):
    since: datetime | None = None
    """Only rows updated after this (a previous answer's `next.since`)."""
    after: int | None = Field(default=None, ge=0)
    """With `since`: the row id to continue after (a previous answer's `next.after`)."""
    limit: int = Field(default=100, ge=1, le=500)


class OrdersInput(DeltaInput):
    status: str | None = Field(default=None, min_length=1, max_length=32)


class Position(BaseModel):
    connectionId: UUID
    symbol: str
    qty: float
    avgPrice: float | None = None
    marketValue: float | None = None
    unrealizedPl: float | None = None
    updatedAt: datetime


class Order(BaseModel):
    connectionId: UUID
    id: str
    symbol: str
    side: str
    type: str
    qty: float
    filledQty: float
    limitPrice: float | None = None
    avgFillPrice: float | None = None
    status: str
    submittedAt: datetime | None = None
    updatedAt: datetime


class PositionPage(BaseModel):
    positions: list[Position]
    next: Cursor | None = None


class OrderPage(BaseModel):
    orders: list[Order]
    next: Cursor | None = None


class Fill(BaseModel):
    connectionId: UUID
    id: str
    orderId: str | None = None
    symbol: str
    side: str
    qty: float
    price: float
    filledAt: datetime
    receivedAt: datetime
    """When we stored it: the delta cursor of trading.fills (a late fill is still seen)."""


class FillsInput(Strict):
    since: datetime | None = None
    """Only fills received after this (a previous answer's `next.since`)."""
    after: int | None = Field(default=None, ge=0)
    """With `since`: the row id to continue after (a previous answer's `next.after`)."""
    limit: int = Field(default=100, ge=1, le=500)


class FillPage(BaseModel):
    fills: list[Fill]
    next: Cursor | None = None
