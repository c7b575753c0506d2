"""The `refresh-expiring-tokens` cron: broker access tokens renewed before they expire.

Every 5 minutes, the active connections whose token expires within RENEW_WITHIN_S (20 min)
are leased (trading_tokens_due: `for update skip locked` plus a row lease, so two cron runs,
or two instances, never renew one connection at the same time) and renewed through their
adapter's `renew` (Tradovate: GET /auth/renewAccessToken with the current token, never a new
login, which would spend one of the two sessions Tradovate allows). The new token is stored
encrypted (trading_token_store).

    the broker refuses the renewal (Unauthorized)  -> status needs_reauth, and the owner gets
        `connection-status` {connectionId, status, reason} on private-user-{owner}
        (trading_token_failed, a command: the event goes through the outbox); trading.sync
        then answers PRECONDITION_FAILED until the user reconnects
    the broker is unreachable or limits us         -> the lease is freed; the next run retries
        (a token that expires meanwhile is refused then, and takes the branch above)

trading.sync renews too (`renew_for_sync`): a token within SYNC_RENEW_WITHIN_S (5 min) of
expiry is renewed before the fetch under the same lease (trading_token_claim, migration
20261130810100), so an open dashboard never lapses between cron runs. A token that has
already expired cannot be renewed (Tradovate renews only a live token): reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lib.commands import command
from lib.config import Secret
from lib.errors import PreconditionFailed, SocklessError, Unauthorized
from lib.features.trading.secrets import SecretBox
from lib.features.trading.settings import TradingSettings
from lib.features.trading.sync import adapter

if TYPE_CHECKING:
    from lib.services import Services

log = logging.getLogger("sockless.trading")

RENEW_WITHIN_S = 20 * 60
SYNC_RENEW_WITHIN_S = 5 * 60
BATCH = 50
LEASE_S = 120
PARALLEL = 5


async def refresh_expiring_tokens(services: Services) -> dict[str, Any]:
    """The cron: {renewed, needsReauth, retried}."""
    if not services.feature(TradingSettings).token_keys:
        return {"renewed": 0, "needsReauth": 0, "retried": 0, "skipped": "no TRADING_TOKEN_KEY"}
    box = SecretBox.of(services)
    due = await services.db.rpc(
        "trading_tokens_due", p_within_s=RENEW_WITHIN_S, p_limit=BATCH, p_lease_s=LEASE_S
    )
    gate = asyncio.Semaphore(PARALLEL)

    async def one(row: dict[str, Any]) -> str:
        async with gate:
            return await _renew(services, box, row)

    outcomes = await asyncio.gather(*(one(row) for row in due or []))
    return {
        "renewed": outcomes.count("renewed"),
        "needsReauth": outcomes.count("needs_reauth"),
        "retried": outcomes.count("retried"),
    }


async def _renew(services: Services, box: SecretBox, row: dict[str, Any]) -> str:
    outcome, _ = await _renewed(services, box, str(row["id"]), row["broker"], row["accessToken"])
    return outcome


async def renew_for_sync(services: Services, source: dict[str, Any]) -> Secret | None:
    """The connection's token renewed now when it expires within SYNC_RENEW_WITHIN_S (None:
    not due, in flight elsewhere, or the broker was unreachable: use the current one).
    Raises PreconditionFailed when the broker refuses it (the connection is needs_reauth)."""
    expires = source.get("tokenExpiresAt")
    if not expires:
        return None
    left = datetime.fromisoformat(str(expires)) - datetime.now(UTC)
    if left.total_seconds() > SYNC_RENEW_WITHIN_S:
        return None
    connection = str(source["id"])
    sealed = await services.db.rpc(
        "trading_token_claim", p_connection=connection, p_lease_s=LEASE_S
    )
    if not sealed:
        return None
    outcome, access = await _renewed(
        services, SecretBox.of(services), connection, source["broker"], str(sealed)
    )
    if outcome == "needs_reauth":
        raise PreconditionFailed(
            "this broker connection is needs_reauth (its token could not be renewed): "
            "reconnect it with trading.connect"
        )
    return access


async def _renewed(
    services: Services, box: SecretBox, connection: str, broker: str, sealed: str
) -> tuple[str, Secret | None]:
    """Renew one leased connection's token: ("renewed", the new token), ("needs_reauth",
    None) or ("retried", None); the lease is given back either way."""
    try:
        grant = await adapter(services, broker).renew(box.open(sealed))
    except Unauthorized as exc:
        await command(
            services,
            "trading_token_failed",
            p_connection=connection,
            p_reason=f"the broker refused to renew the token ({exc.message}); reconnect it",
        )
        log.warning("trading connection %s needs reauth: %s", connection, exc.message)
        return "needs_reauth", None
    except SocklessError as exc:
        await services.db.rpc("trading_token_release", p_connection=connection)
        log.warning("trading connection %s not renewed, retried later: %s", connection, exc)
        return "retried", None
    expires: datetime | None = grant.expires_at
    await services.db.rpc(
        "trading_token_store",
        p_connection=connection,
        p_access=box.seal(grant.access),
        p_expires_at=expires.isoformat() if expires else None,
    )
    return "renewed", grant.access
