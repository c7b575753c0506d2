"""The events ops health publishes (public.ops_health_publish, migration 20261130920100) on an
operator's own `presence-ops-{id}` channel: `system-health` every minute while they watch, and
`system-alert` when a threshold is crossed (lib.features.usage.health.THRESHOLDS)."""

from __future__ import annotations

from pydantic import BaseModel

from lib.events import EventFamily


class OutboxHealth(BaseModel):
    pending: int
    oldestAgeS: float
    """Age of the oldest unpublished event, in seconds (0 when none is waiting)."""
    parked: int


class PublishHealth(BaseModel):
    lastHour: int
    """Events queued in the last hour."""
    retried: int
    errorRate: float
    """Share of the last hour's events that needed a retry (0..1)."""


class WebhookHealth(BaseModel):
    provider: str
    failed: int
    parked: int


class CronHealth(BaseModel):
    job: str
    lastRunAt: str | None
    lastError: str | None
    lastFailureAt: str | None
    runs24h: int
    failures24h: int


class BridgeHealth(BaseModel):
    reachable: bool
    status: str
    activeCalls: int | None


class SystemHealth(BaseModel):
    outbox: OutboxHealth
    publish: PublishHealth
    webhooks: list[WebhookHealth]
    cron: list[CronHealth]
    bridge: BridgeHealth
    at: str
    """When it was measured (ISO 8601, UTC)."""


class SystemAlert(BaseModel):
    alerts: list[str]
    """One short sentence per threshold crossed."""


FAMILIES = (
    EventFamily(
        "presence-ops-{userId}", {"system-health": SystemHealth, "system-alert": SystemAlert}
    ),
)
