"""Publish what a command queued, relay what was left behind, replay history.

A feature command is one SQL function that changes state and queues its events with
`public.outbox_enqueue()` in the same transaction, returning `events` =
`public.outbox_rows(ids)`. Its api function then does (e.g. messaging.send):

    result = await db.rpc("messaging_send", p_user=user_id, ...)
    await commit_events(db, publisher, result["events"])

`commit_events` publishes the events (one Publisher call), marks them published, and — only
when the database says stale rows are due — relays a few of them (`policy.opportunistic`).
It never raises for the realtime side: the state change already committed, so a provider
outage must not fail the request; unpublished rows wait (with backoff) for the next relay.
The `outbox-relay` cron runs `relay_all`; the `cleanup` cron runs `cleanup`.

Delivery is at-least-once (an outcome we cannot know — a timeout, a crash between publish
and mark — counts as not published); clients dedupe on the envelope id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.db import Database
from lib.errors import SocklessError
from lib.events import Channel, Event
from lib.realtime.port import Publisher, PublishError

log = logging.getLogger("sockless.outbox")

Row = Mapping[str, Any]
NEVER_PARK = 2**31 - 1


@dataclass(frozen=True, kw_only=True)
class RelayPolicy:
    lease_s: float = 30.0
    """How long a claimed row belongs to its relay before another may take it."""
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    """Retry n waits min(cap, base * 2^(n-1))."""
    max_attempts: int = 20
    """After this many permanent failures (the provider refused the events themselves, e.g.
    400/413) a row is parked: kept for history, never retried, no longer blocking its
    channel. Transient failures (unreachable, 5xx, 429) are retried without limit."""
    opportunistic: int = 10
    """Stale rows a write relays after its own events (one Pusher batch)."""
    relay_batch: int = 100
    """Rows per claim in the cron relay."""
    relay_budget_s: float = 8.0
    """The cron relay stops claiming after this long (Vercel's shortest maxDuration is 10 s)."""
    retention_s: float = 7 * 86_400
    """Published (and parked) rows are deleted after this long; history reaches this far."""


DEFAULT_POLICY = RelayPolicy()


@dataclass
class Outcome:
    """What one publish/relay did, by outbox id."""

    published: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    relayed: list[int] = field(default_factory=list)
    """Stale rows published by this call besides its own."""
    error: str | None = None
    due: int = 0
    """Stale rows the database reported due after marking."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": len(self.published),
            "failed": len(self.failed),
            "relayed": len(self.relayed),
            "error": self.error,
        }


async def commit_events(
    db: Database,
    publisher: Publisher,
    rows: Sequence[Row],
    *,
    policy: RelayPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Publish the events a command queued (its `events`), then relay a few stale rows if
    the database reports any. Never raises for publishing or bookkeeping failures: they are
    logged and the rows stay for the relay."""
    inline = [Event.from_row(row) for row in rows if row.get("inline", True)]
    deferred = len(inline) < len(rows)
    outcome = Outcome()
    try:
        if inline:
            outcome = await publish_events(db, publisher, inline, policy=policy)
        if outcome.error is None and (deferred or outcome.due > 0):
            relayed = await relay(db, publisher, limit=policy.opportunistic, policy=policy)
            outcome.relayed = relayed.published
            outcome.error = relayed.error
    except SocklessError as exc:  # the database, not the provider: the relay will retry
        log.warning("outbox bookkeeping failed: %s", exc.message, exc_info=exc)
        outcome.error = exc.message
    return outcome


async def publish_events(
    db: Database,
    publisher: Publisher,
    events: Sequence[Event],
    *,
    policy: RelayPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Publish `events` (outbox rows this caller owns) and record the outcome per row."""
    ids = [event.id for event in events]
    outcome = Outcome()
    max_attempts = NEVER_PARK
    try:
        await publisher.publish(events)
    except PublishError as exc:
        outcome.published = [i for i in ids if i in exc.delivered]
        outcome.failed = [i for i in ids if i not in exc.delivered]
        outcome.error = exc.message
        if exc.permanent:
            max_attempts = policy.max_attempts
        log.warning(
            "publish failed; %d event(s) left for the relay: %s",
            len(outcome.failed),
            exc.message,
            extra={"fields": {"failed": outcome.failed[:20]}},
        )
    else:
        outcome.published = ids
    if outcome.published:
        marked = await db.rpc("outbox_mark_published", p_ids=outcome.published)
        outcome.due = int((marked or {}).get("due", 0))
    if outcome.failed:
        await db.rpc(
            "outbox_record_failure",
            p_ids=outcome.failed,
            p_error=outcome.error or "not published",
            p_base_seconds=policy.backoff_base_s,
            p_cap_seconds=policy.backoff_cap_s,
            p_max_attempts=max_attempts,
        )
    return outcome


async def claim(db: Database, *, limit: int, policy: RelayPolicy = DEFAULT_POLICY) -> list[Event]:
    """Take up to `limit` due rows (oldest first, per-channel order kept) for `lease_s`."""
    rows = await db.rpc("outbox_claim", p_limit=limit, p_lease_seconds=policy.lease_s)
    return [Event.from_row(row) for row in rows or []]


async def relay(
    db: Database, publisher: Publisher, *, limit: int, policy: RelayPolicy = DEFAULT_POLICY
) -> Outcome:
    """Claim up to `limit` stale rows and publish them."""
    events = await claim(db, limit=limit, policy=policy)
    if not events:
        return Outcome()
    return await publish_events(db, publisher, events, policy=policy)


async def relay_all(
    db: Database,
    publisher: Publisher,
    *,
    policy: RelayPolicy = DEFAULT_POLICY,
    max_rounds: int = 1_000,
) -> dict[str, Any]:
    """The cron relay: claim and publish until nothing is due, a publish fails, or the time
    budget is spent. Returns counts for the cron record."""
    started = time.monotonic()
    total = Outcome()
    rounds = 0
    while rounds < max_rounds and time.monotonic() - started < policy.relay_budget_s:
        rounds += 1
        outcome = await relay(db, publisher, limit=policy.relay_batch, policy=policy)
        total.published += outcome.published
        total.failed += outcome.failed
        if outcome.error is not None:
            total.error = outcome.error
            break
        if not outcome.published:
            break
    return {**total.as_dict(), "rounds": rounds}


async def history(db: Database, channel: Channel, *, after: int, limit: int) -> list[Event]:
    """Events on `channel` with id > `after`, oldest first, at most `limit`."""
    rows = await db.rpc("outbox_history", p_channel=channel.name, p_after=after, p_limit=limit)
    return [Event.from_row(row) for row in rows or []]


async def latest(db: Database, channel: Channel) -> int:
    """The newest event id on `channel` (0: none yet): where a new subscriber starts."""
    return int(await db.rpc("outbox_latest", p_channel=channel.name) or 0)


async def cleanup(
    db: Database, *, policy: RelayPolicy = DEFAULT_POLICY, limit: int = 10_000
) -> int:
    """Delete published and parked rows past retention (at most `limit`); returns the count."""
    deleted = await db.rpc("outbox_cleanup", p_retention_seconds=policy.retention_s, p_limit=limit)
    return int(deleted or 0)
