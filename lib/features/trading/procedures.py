"""`trading.*` tRPC procedures (every one needs a signed-in caller; the user id comes from the
token, and the SQL functions only ever touch that user's rows).

    trading.connect      mutation  {broker: "webhook", label?} -> {connection, webhookSecret,
                                   webhookUrl} (the secret is shown here once, never again);
                                   {broker: "alpaca", apiKey, apiSecret} or {broker:
                                   "tradovate", name, password, appId?, cid?, sec?} ->
                                   {connection} (the credentials are checked, the token
                                   stored encrypted)
    trading.sync         mutation  {connectionId} -> {connectionId, source, changed} (sync.py)
    trading.disconnect   mutation  {connectionId} -> {id, disconnected}; NOT_FOUND for a
                                   connection that is not the caller's
    trading.connections  query     -> {connections} (no secret, ever)
    trading.positions    query     {since?, after?, limit?} -> {positions, next}
    trading.orders       query     {since?, after?, status?, limit?} -> {orders, next}
    trading.fills        query     {since?, after?, limit?} -> {fills, next} (fills are
                                   immutable: the cursor is when we received them)

positions/orders are delta queries on updated_at: pass the previous answer's `next` (or the
newest `updatedAt` you hold as `since`) to get only what changed since.
"""

from __future__ import annotations

from pydantic import SecretStr

from lib.errors import BadRequest, Unauthorized
from lib.features.trading.models import (
    AlpacaConnect,
    Connected,
    ConnectInput,
    Connection,
    ConnectionInput,
    Connections,
    DeltaInput,
    Disconnected,
    FillPage,
    FillsInput,
    OrderPage,
    OrdersInput,
    PositionPage,
    SyncResult,
    TradovateConnect,
    WebhookConnect,
)
from lib.features.trading.secrets import SecretBox, new_webhook_secret
from lib.features.trading.sync import adapter, sync
from lib.rpc.procedure import Context, Procedure

WEBHOOK_PATH = "/api/webhooks/broker/"


async def connect(
    ctx: Context, input: WebhookConnect | AlpacaConnect | TradovateConnect
) -> Connected:
    box = SecretBox.of(ctx.services)
    if not isinstance(input, WebhookConnect):
        try:
            grant = await adapter(ctx.services, input.broker).authenticate(_credentials(input))
        except Unauthorized as exc:  # the broker's refusal, not the caller's session
            raise BadRequest(exc.message) from exc
        row = await ctx.db.rpc(
            "trading_connect",
            p_user=ctx.user.user_id,
            p_broker=input.broker,
            p_label=input.label,
            p_access=box.seal(grant.access),
            p_expires_at=grant.expires_at.isoformat() if grant.expires_at else None,
            p_account=grant.account,
        )
        return Connected(connection=Connection.model_validate(row))
    secret = new_webhook_secret()
    row = await ctx.db.rpc(
        "trading_connect",
        p_user=ctx.user.user_id,
        p_broker=input.broker,
        p_label=input.label,
        p_secret=box.seal(secret),
    )
    connection = Connection.model_validate(row)
    path = f"{WEBHOOK_PATH}{connection.id}"
    return Connected(
        connection=connection,
        webhookSecret=secret.get(),
        webhookUrl=f"{ctx.settings.public_base_url}{path}",
    )


def _credentials(input: AlpacaConnect | TradovateConnect) -> dict[str, str]:
    values = input.model_dump(exclude={"broker", "label"}, exclude_none=True)
    return {
        k: v.get_secret_value() if isinstance(v, SecretStr) else str(v) for k, v in values.items()
    }


async def sync_connection(ctx: Context, input: ConnectionInput) -> SyncResult:
    return await sync(ctx.services, user=ctx.user.user_id, connection=str(input.connectionId))


async def disconnect(ctx: Context, input: ConnectionInput) -> Disconnected:
    result = await ctx.db.rpc(
        "trading_disconnect", p_user=ctx.user.user_id, p_connection=str(input.connectionId)
    )
    return Disconnected.model_validate(result)


async def connections(ctx: Context, input: None) -> Connections:
    rows = await ctx.db.rpc("trading_connections", p_user=ctx.user.user_id)
    return Connections.model_validate({"connections": rows})


async def positions(ctx: Context, input: DeltaInput) -> PositionPage:
    result = await ctx.db.rpc(
        "trading_positions",
        p_user=ctx.user.user_id,
        p_since=input.since.isoformat() if input.since else None,
        p_after=input.after,
        p_limit=input.limit,
    )
    return PositionPage.model_validate(result)


async def orders(ctx: Context, input: OrdersInput) -> OrderPage:
    result = await ctx.db.rpc(
        "trading_orders",
        p_user=ctx.user.user_id,
        p_since=input.since.isoformat() if input.since else None,
        p_after=input.after,
        p_status=input.status,
        p_limit=input.limit,
    )
    return OrderPage.model_validate(result)


async def fills(ctx: Context, input: FillsInput) -> FillPage:
    result = await ctx.db.rpc(
        "trading_fills",
        p_user=ctx.user.user_id,
        p_since=input.since.isoformat() if input.since else None,
        p_after=input.after,
        p_limit=input.limit,
    )
    return FillPage.model_validate(result)


PROCEDURES = (
    Procedure(
        path="trading.connect",
        kind="mutation",
        input=ConnectInput,
        output=Connected,
        handler=connect,
        rate_limit=(10, 60),
        description="Connect a broker; a webhook connection's signing secret is shown once.",
    ),
    Procedure(
        path="trading.sync",
        kind="mutation",
        input=ConnectionInput,
        output=SyncResult,
        handler=sync_connection,
        description="Sync a REST broker connection: from the TTL cache, else one broker call.",
    ),
    Procedure(
        path="trading.disconnect",
        kind="mutation",
        input=ConnectionInput,
        output=Disconnected,
        handler=disconnect,
        rate_limit=(30, 60),
        description="Disconnect a broker (its positions, orders and balances go with it).",
    ),
    Procedure(
        path="trading.connections",
        kind="query",
        input=None,
        output=Connections,
        handler=connections,
        rate_limit=(120, 60),
        description="The caller's broker connections (never a secret).",
    ),
    Procedure(
        path="trading.positions",
        kind="query",
        input=DeltaInput,
        output=PositionPage,
        handler=positions,
        rate_limit=(240, 60),
        description="Positions updated since a cursor (delta on updated_at), paged.",
    ),
    Procedure(
        path="trading.orders",
        kind="query",
        input=OrdersInput,
        output=OrderPage,
        handler=orders,
        rate_limit=(240, 60),
        description="Orders updated since a cursor, optionally of one status, paged.",
    ),
    Procedure(
        path="trading.fills",
        kind="query",
        input=FillsInput,
        output=FillPage,
        handler=fills,
        rate_limit=(240, 60),
        description="Fills received since a cursor (delta on when they arrived), paged.",
    ),
)
