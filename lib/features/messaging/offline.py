"""The `notify-offline` cron job: ONE SMS or email per recipient summarizing the messages
they received while offline (declared in lib/features/messaging/__init__.py; scheduled in
vercel.json "crons").

    claim   public.messaging_notify_claim(limit, NOTIFY_DELAY_S, lease, max attempts): stale
            `sending` batches recovered first (their lease expired); recipients whose pending
            items are older than the delay (they may still read them in the app), each handed
            to exactly one caller; items read meanwhile are dropped from the queue first
    send    lib.notify: the recipient's channel (notification_contacts) picks the adapter
    finish  public.messaging_notify_finish: sent | retry (definitely not sent, transient:
            pending again after a backoff, dropped after max attempts) | failed (refused, or
            the outcome is unknown: never resent, so nobody is notified twice)
    release public.messaging_notify_release: batches the run never tried to send

Rounds of claims continue until nothing is due or the time budget is spent; every batch a
round claimed is finished in that round, released (never tried: pending again), or, when its
outcome cannot be recorded, left `sending` for the next claim to recover once its lease
(NotifyPolicy.lease_s) has expired. One batch's failure never stops the others. The
notifiers are injected (`notify_offline(services, notifiers_by_channel=...)`), else the
configured adapters are built on `services.http`, as the tests do with an httpx.MockTransport
that speaks Twilio's and SendGrid's REST APIs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lib.features.messaging.digest import Batch, compose
from lib.features.messaging.settings import MessagingSettings
from lib.notify import Channel, Notifier, NotifyError, notifiers
from lib.notify.port import Notification

if TYPE_CHECKING:
    from lib.db import Database
    from lib.services import Services

log = logging.getLogger("sockless.messaging")

Outcome = Literal["sent", "retry", "failed", "skipped", "released", "unfinished"]
"""A batch's fate in one run: the finish outcomes, `skipped` (no way to reach the recipient),
`released` (never tried: handed back, pending again) and `unfinished` (tried, but its outcome
could not be recorded: the lease recovers it)."""
OUTCOMES: tuple[Outcome, ...] = ("sent", "retry", "failed", "skipped", "released", "unfinished")


@dataclass(frozen=True, kw_only=True)
class NotifyPolicy:
    recipients_per_claim: int = 25
    concurrency: int = 8
    """Notifications in flight at once."""
    budget_s: float = 8.0
    """No new claim after this long (Vercel's shortest maxDuration is 10 s)."""
    retry_s: float = 300.0
    max_attempts: int = 5
    lease_s: float = 600.0
    """A batch still `sending` this long after its claim is recovered by the next claim: the
    run that took it is gone (longer than any function runs, the cron's lease included)."""


DEFAULT_POLICY = NotifyPolicy()


@dataclass(frozen=True)
class Sending:
    outcome: Literal["sent", "retry", "failed"]
    provider_id: str | None = None
    error: str | None = None


async def send(batch: Batch, notification: Notification, notifier: Notifier) -> Sending:
    """Hand one notification to its notifier; never raises for the notifier's failures."""
    try:
        return Sending("sent", (await notifier.send(notification)).provider_id)
    except NotifyError as exc:
        sending = Sending("retry" if exc.retry else "failed", error=exc.message)
    except Exception as exc:  # an adapter bug: the outcome is unknown, so it is not resent
        log.error("notifier failed on batch %s", batch.batch, exc_info=exc)
        sending = Sending("failed", error=f"{type(exc).__name__}: {exc}")
    log.warning("notification %s not sent (%s): %s", batch.batch, sending.outcome, sending.error)
    return sending


async def run_once(
    db: Database,
    by_channel: Mapping[Channel, Notifier],
    *,
    app_name: str,
    config: MessagingSettings,
    policy: NotifyPolicy = DEFAULT_POLICY,
) -> tuple[int, Counter[Outcome]]:
    """One claim and its deliveries: (batches claimed, outcomes).

    Batches are independent: one that fails (its notifier, its database write) is counted and
    logged, and the others go on. A batch never handed to its notifier (the run was cancelled
    while it waited, or it failed before sending) is released: pending again, nothing counted
    against it. One whose outcome could not be written stays `sending` until the lease
    recovers it (messaging_notify_claim, migration 20261130300100_messaging_notify_lease)."""
    rows = await db.rpc(
        "messaging_notify_claim",
        p_limit=policy.recipients_per_claim,
        p_delay_seconds=float(config.notify_delay_s),
        p_lease_seconds=policy.lease_s,
        p_max_attempts=policy.max_attempts,
    )
    batches = [Batch.model_validate(row) for row in rows or []]
    untried = {b.batch for b in batches if b.status == "sending" and b.channel != "none"}
    gate = asyncio.Semaphore(policy.concurrency)
    counts: Counter[Outcome] = Counter()

    async def one(batch: Batch) -> None:
        if batch.batch not in untried:
            counts["skipped"] += 1
            return
        async with gate:
            try:
                notification = compose(batch, app_name=app_name, app_url=config.notify_app_url)
                untried.discard(batch.batch)
                sending = await send(batch, notification, by_channel[notification.channel])
                await db.rpc(
                    "messaging_notify_finish",
                    p_batch=batch.batch,
                    p_outcome=sending.outcome,
                    p_provider_id=sending.provider_id,
                    p_error=sending.error,
                    p_retry_seconds=policy.retry_s,
                    p_max_attempts=policy.max_attempts,
                )
            except Exception as exc:  # this batch only: the others go on
                log.error("notification batch %s failed", batch.batch, exc_info=exc)
                if batch.batch not in untried:
                    counts["unfinished"] += 1
                return
            counts[sending.outcome] += 1

    try:
        async with asyncio.TaskGroup() as group:
            for batch in batches:
                group.create_task(one(batch), name=f"notify-batch-{batch.batch}")
    finally:
        if untried:
            released = sorted(untried)
            await db.rpc("messaging_notify_release", p_batches=released)
            counts["released"] += len(released)
    return len(batches), counts


async def notify_offline(
    services: Services,
    *,
    notifiers_by_channel: Mapping[Channel, Notifier] | None = None,
    policy: NotifyPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """The cron job. Adapters come from `notifiers_by_channel`, else from the settings on
    the app's http client."""
    by_channel = notifiers_by_channel
    if by_channel is None:
        by_channel = notifiers(services.settings, http=services.http)
    config = services.feature(MessagingSettings)
    app_name = services.settings.notify_from_name
    started = time.monotonic()
    totals: Counter[Outcome] = Counter()
    rounds = 0
    while time.monotonic() - started < policy.budget_s:
        rounds += 1
        claimed, counts = await run_once(
            services.db, by_channel, app_name=app_name, config=config, policy=policy
        )
        totals.update(counts)
        if claimed < policy.recipients_per_claim:
            break
    return {"rounds": rounds, **{outcome: totals[outcome] for outcome in OUTCOMES}}
