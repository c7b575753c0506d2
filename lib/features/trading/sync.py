"""trading.sync: on-demand sync of a REST broker connection while a dashboard is open.

    rate limit        TRADING_SYNC_LIMIT per user per minute (429 + Retry-After)
    -> the caller's connection (NOT_FOUND for anyone else's)
    -> the TTL cache (lib.cache): positions+orders fresh for TRADING_POSITIONS_TTL_S, the
       balance for TRADING_BALANCES_TTL_S -> answered from what the tables hold, no broker call
    -> a miss: the connection's sync lease (trading_sync_claim; one holder across instances)
       fetches from the broker, applies it (trading_sync_apply: only changed rows are written
       and published) and fills the cache; every concurrent caller without the lease waits
       for that cache instead of calling the broker
    -> the broker limited us (Alpaca 429, Tradovate penalty ticket): 429 with its
       Retry-After, remembered in the cache so no sync calls it again before then

The cache holds markers, not data: the rows are in trading_positions/orders/balances, which
trading.positions / trading.orders read (and the events carry).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lib import cache, ratelimit
from lib.commands import command
from lib.errors import BadRequest, PreconditionFailed, ServiceUnavailable, Unauthorized
from lib.features.trading.brokers import Broker, BrokerLimited, brokers
from lib.features.trading.models import SyncResult
from lib.features.trading.secrets import SecretBox
from lib.features.trading.settings import TradingSettings

if TYPE_CHECKING:
    from lib.services import Services

LEASE_S = 15
WAIT_S = 10.0
POLL_S = 0.1
_MISS = object()


def adapter(services: Services, broker: str) -> Broker:
    settings = services.feature(TradingSettings)
    found = brokers(
        alpaca_url=settings.alpaca_url, tradovate_url=settings.tradovate_url, http=services.http
    ).get(broker)
    if found is None:
        raise BadRequest(f"{broker} connections push their updates; there is nothing to sync")
    return found


def keys(connection: str) -> tuple[str, str, str]:
    """Cache keys: positions+orders fresh, balance fresh, broker cooldown."""
    base = f"trading:{connection}:"
    return base + "book", base + "balance", base + "cooldown"


async def sync(services: Services, *, user: str, connection: str) -> SyncResult:
    settings = services.feature(TradingSettings)
    db = services.db
    await ratelimit.enforce(db, f"trading-sync:{user}", limit=settings.sync_limit, window_s=60)
    source: dict[str, Any] = await db.rpc(
        "trading_sync_source", p_user=user, p_connection=connection
    )
    if source["status"] != "active":
        raise PreconditionFailed(
            f"this broker connection is {source['status']} (its token could not be renewed): "
            "reconnect it with trading.connect"
        )
    broker = adapter(services, source["broker"])
    book_key, balance_key, cooldown_key = keys(connection)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        cooldown = await cache.get(db, cooldown_key)
        if isinstance(cooldown, dict):
            wait = max(int(cooldown["until"] - time.time()), 1)
            raise BrokerLimited(f"the broker limited us; retry in {wait} s", retry_after=wait)
        book = await cache.get(db, book_key, _MISS)
        balance = await cache.get(db, balance_key, _MISS)
        if book is not _MISS and balance is not _MISS:
            return SyncResult(connectionId=connection, source="cache")
        if await db.rpc("trading_sync_claim", p_connection=connection, p_lease_s=LEASE_S):
            try:
                # the previous holder may have filled the cache since we looked
                book = await cache.get(db, book_key, _MISS)
                balance = await cache.get(db, balance_key, _MISS)
                if book is not _MISS and balance is not _MISS:
                    return SyncResult(connectionId=connection, source="cache")
                return await _fetch(
                    services, broker, source, settings, balance_only=book is not _MISS
                )
            finally:
                await db.rpc("trading_sync_release", p_connection=connection)
        if loop.time() > deadline:
            raise ServiceUnavailable("a sync of this connection is in flight; retry", retry_after=1)
        await asyncio.sleep(POLL_S)  # another caller holds the lease: wait for its cache


async def _fetch(
    services: Services,
    broker: Broker,
    source: dict[str, Any],
    settings: TradingSettings,
    *,
    balance_only: bool,
) -> SyncResult:
    connection = str(source["id"])
    book_key, balance_key, cooldown_key = keys(connection)
    if not source.get("accessToken"):
        raise PreconditionFailed("the broker connection has no token; reconnect it")
    from lib.features.trading.tokens import renew_for_sync  # tokens imports this module

    access = await renew_for_sync(services, source) or SecretBox.of(services).open(
        source["accessToken"]
    )
    try:
        update = await broker.fetch(access, balance_only=balance_only)
    except BrokerLimited as exc:
        wait = exc.retry_after or 60
        await cache.put(services.db, cooldown_key, {"until": time.time() + wait}, ttl_s=wait)
        raise
    except Unauthorized as exc:
        raise PreconditionFailed(f"{exc.message}: reconnect the broker") from exc
    result = await command(
        services,
        "trading_sync_apply",
        p_connection=connection,
        p_update=update.model_dump(mode="json"),
    )
    if not balance_only:
        await cache.put(services.db, book_key, True, ttl_s=settings.positions_ttl_s)
    await cache.put(services.db, balance_key, True, ttl_s=settings.balances_ttl_s)
    return SyncResult(connectionId=connection, source="broker", changed=result.get("changed"))
