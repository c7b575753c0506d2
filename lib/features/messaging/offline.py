"""The `notify-offline` cron job: ONE SMS or email per recipient summarizing the messages
they received while offline (declared in lib/features/messaging/__init__.py; scheduled in
vercel.json "crons").

    claim   public.messaging_notify_claim(limit, NOTIFY_DELAY_S): recipients whose pending
            items are older than the delay (they may still read them in the app), each handed
            to exactly one caller; items read meanwhile are dropped from the queue first
    send    lib.notify: the recipient's channel (notification_contacts) picks the adapter
    finish  public.messaging_notify_finish: sent | retry (definitely not sent, transient:
            pending again after a backoff, dropped after max attempts) | failed (refused, or
            the outcome is unknown: never resent, so nobody is notified twice)

Rounds of claims continue until nothing is due or the time budget is spent; every batch a
round claimed is finished in that round. The notifiers are injected
(`notify_offline(services, notifiers_by_channel=...)`), else the configured adapters are built
on `services.http`, as the tests do with an httpx.MockTransport that speaks Twilio's and
SendGrid's REST APIs.
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

if TYPE_CHECKING:
    from lib.db import Database
    from lib.services import Services

log = logging.getLogger("sockless.messaging")

Outcome = Literal["sent", "retry", "failed", "skipped"]


@dataclass(frozen=True, kw_only=True)
class NotifyPolicy:
    recipients_per_claim: int = 25
    concurrency: int = 8
    """Notifications in flight at once."""
    budget_s: float = 8.0
    """No new claim after this long (Vercel's shortest maxDuration is 10 s)."""
    retry_s: float = 300.0
    max_attempts: int = 5


DEFAULT_POLICY = NotifyPolicy()


async def deliver(
    db: Database,
    batch: Batch,
    by_channel: Mapping[Channel, Notifier],
    *,
    app_name: str,
    config: MessagingSettings,
    policy: NotifyPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Send one claimed batch and record the outcome."""
    if batch.status == "skipped" or batch.channel == "none":
        return "skipped"
    notification = compose(batch, app_name=app_name, app_url=config.notify_app_url)
    outcome: Outcome = "sent"
    provider_id: str | None = None
    error: str | None = None
    try:
        provider_id = (await by_channel[batch.channel].send(notification)).provider_id
    except NotifyError as exc:
        outcome, error = ("retry" if exc.retry else "failed"), exc.message
    except Exception as exc:  # an adapter bug: the outcome is unknown, so it is not resent
        log.error("notifier failed on batch %s", batch.batch, exc_info=exc)
        outcome, error = "failed", f"{type(exc).__name__}: {exc}"
    if error is not None:
        log.warning("notification %s not sent (%s): %s", batch.batch, outcome, error)
    await db.rpc(
        "messaging_notify_finish",
        p_batch=batch.batch,
        p_outcome=outcome,
        p_provider_id=provider_id,
        p_error=error,
        p_retry_seconds=policy.retry_s,
        p_max_attempts=policy.max_attempts,
    )
    return outcome


async def run_once(
    db: Database,
    by_channel: Mapping[Channel, Notifier],
    *,
    app_name: str,
    config: MessagingSettings,
    policy: NotifyPolicy = DEFAULT_POLICY,
) -> tuple[int, Counter[Outcome]]:
    """One claim and its deliveries: (batches claimed, outcomes)."""
    rows = await db.rpc(
        "messaging_notify_claim",
        p_limit=policy.recipients_per_claim,
        p_delay_seconds=float(config.notify_delay_s),
    )
    batches = [Batch.model_validate(row) for row in rows or []]
    gate = asyncio.Semaphore(policy.concurrency)
    counts: Counter[Outcome] = Counter()

    async def one(batch: Batch) -> None:
        async with gate:
            outcome = await deliver(
                db, batch, by_channel, app_name=app_name, config=config, policy=policy
            )
            counts[outcome] += 1

    async with asyncio.TaskGroup() as group:
        for batch in batches:
            group.create_task(one(batch), name=f"notify-batch-{batch.batch}")
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
    return {
        "rounds": rounds,
        **{outcome: totals[outcome] for outcome in ("sent", "retry", "failed", "skipped")},
    }
