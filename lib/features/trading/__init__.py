"""Trading: broker positions, orders and balances live, with no always-on server.

    webhook.py     POST /api/webhooks/broker/{connectionId}: a connection's signed pushes
                   (per-connection HMAC secret) on the ingest path
    procedures.py  trading.connect / disconnect / connections / positions / orders / fills /
                   sync
    sync.py        trading.sync: the TTL cache, one broker fetch per connection at a time
    brokers.py     the Broker protocol; Alpaca and Tradovate REST adapters (BROKERS)
    models.py      the normalised broker model (BrokerUpdate) and the procedures' models
    secrets.py     webhook secrets and broker tokens encrypted at rest (TRADING_TOKEN_KEY)
    settings.py    TradingSettings
    tokens.py      the `refresh-expiring-tokens` cron: tokens renewed before they expire

Realtime, on private-user-{owner}, only for rows that changed (docs/trading.md):
    position-update {broker, position}, order-update {broker, order},
    balance-update {broker, balance}, fill {broker, fill} (new fills only),
    connection-status {connectionId, status, reason}

SQL: migrations 20261130800000_trading_connections, 20261130800100_trading_book,
20261130800200_trading_apply, 20261130800300_trading_sync,
20261130810000_trading_token_refresh, 20261130810100_trading_token_claim,
20261130820000_trading_fills.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.cron import CronJob
from lib.feature import Feature
from lib.features.trading.events import FAMILIES
from lib.features.trading.procedures import PROCEDURES
from lib.features.trading.settings import TradingSettings
from lib.features.trading.webhook import BROKER

if TYPE_CHECKING:
    from lib.services import Services

LOG_RETENTION_DAYS = 30


async def cleanup_old_logs(services: Services) -> dict[str, Any]:
    """Sync logs older than LOG_RETENTION_DAYS; fills executed more than
    TRADING_FILLS_RETENTION_DAYS ago."""
    deleted = await services.db.rpc("trading_logs_cleanup", p_retention_days=LOG_RETENTION_DAYS)
    days = services.feature(TradingSettings).fills_retention_days
    fills = await services.db.rpc("trading_fills_cleanup", p_retention_days=days)
    return {"syncLogs": int(deleted), "fills": int(fills)}


async def refresh_tokens(services: Services) -> dict[str, Any]:
    """Broker tokens expiring within 20 minutes, renewed (tokens.py)."""
    from lib.features.trading.tokens import refresh_expiring_tokens

    return await refresh_expiring_tokens(services)


FEATURE = Feature(
    events=FAMILIES,
    name="trading",
    production_urls=("ALPACA_API_URL", "TRADOVATE_API_URL"),
    procedures=PROCEDURES,
    jobs=(
        CronJob(
            name="refresh-expiring-tokens",
            run=refresh_tokens,
            schedule="*/5 * * * *",
            description="Renew the broker tokens that expire within 20 minutes (one renewal "
            "in flight per connection; a refused one marks it needs_reauth).",
        ),
        CronJob(
            name="cleanup-old-logs",
            run=cleanup_old_logs,
            schedule="41 4 * * 0",
            description="Weekly: delete trading sync logs older than 30 days and fills older "
            "than TRADING_FILLS_RETENTION_DAYS (90).",
        ),
    ),
    webhooks=(BROKER,),
    settings=TradingSettings,
    migration="20261130820000",
    schema=(
        *("trading_connect", "trading_disconnect", "trading_connections"),
        *("trading_webhook_secret", "trading_positions", "trading_orders", "trading_balances"),
        *("trading_on_broker_event", "trading_sync_apply", "trading_logs_cleanup"),
        *("trading_sync_source", "trading_sync_claim", "trading_sync_release"),
        *("trading_tokens_due", "trading_token_store", "trading_token_release"),
        *("trading_token_failed", "trading_token_claim"),
        *("trading_fills", "trading_fills_cleanup"),
    ),
    description="Broker positions, orders, balances and fills: signed pushes, on-demand cached "
    "sync (Alpaca, Tradovate), delta queries.",
)
