"""Live ops health: queue depths, error rates, cron state, bridge load — and alerts.

    gather(services)   -> Health (public.ops_health + the bridge's GET /health)
    alerts(health)     -> what crosses a THRESHOLDS line, as short sentences
    watch(services)    the `ops-health` cron (every minute): samples today's peak connections
                       into usage_daily (one query); when an operator
                       (ADMIN_USER_IDS) is present on their `presence-ops-{id}` channel, a
                       `system-health` event there, and `system-alert` when alerts fire

"While an admin is subscribed" is read from presence (realtime_presence), so a minute nobody
watches costs one query and publishes nothing. Pusher mode: the presence webhooks fill it.
Supabase mode (no presence webhooks): the operator's page calls `ops.watch` every 30 s while
its topic `ops-{id}` is SUBSCRIBED, each call counting for 90 s (migration 20261130950000),
as `messaging.heartbeat` does for who is online.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from lib.commands import command
from lib.features.usage.settings import UsageSettings

if TYPE_CHECKING:
    from lib.services import Services

log = logging.getLogger("sockless.ops")

OPS_CHANNEL_PREFIX = "presence-ops-"


@dataclass(frozen=True)
class Thresholds:
    outbox_oldest_s: float = 300.0
    """An unpublished event older than this: the relay is not keeping up (or is down)."""
    outbox_parked: int = 1
    publish_error_rate: float = 0.05
    webhooks_failed: int = 10
    webhooks_parked: int = 1
    bridge_active_calls: int = 80
    """performance-1x carries ~100 passthrough calls (docs/reference/voice-bridge.md)."""


THRESHOLDS = Thresholds()


async def bridge_health(services: Services) -> dict[str, Any]:
    """The bridge's own GET /health: {reachable, status, activeCalls}."""
    url = services.feature(UsageSettings).bridge_health_url
    if not url:
        return {"reachable": False, "status": "not configured", "activeCalls": None}
    try:
        response = await services.http.get(url, timeout=3)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {
            "reachable": False,
            "status": f"unreachable: {exc.__class__.__name__}",
            "activeCalls": None,
        }
    return {
        "reachable": True,
        "status": str(body.get("status", response.status_code)),
        "activeCalls": body.get("activeCalls"),
    }


async def gather(services: Services) -> dict[str, Any]:
    health = dict(await services.db.rpc("ops_health") or {})
    health["bridge"] = await bridge_health(services)
    health["at"] = services.now().isoformat()
    return health


def alerts(health: dict[str, Any], limits: Thresholds = THRESHOLDS) -> list[str]:
    found = []
    outbox = health.get("outbox", {})
    if outbox.get("oldestAgeS", 0) > limits.outbox_oldest_s:
        found.append(f"outbox: oldest unpublished event is {outbox['oldestAgeS']:.0f} s old")
    if outbox.get("parked", 0) >= limits.outbox_parked:
        found.append(f"outbox: {outbox['parked']} event(s) parked")
    rate = float(health.get("publish", {}).get("errorRate", 0))
    if rate > limits.publish_error_rate:
        found.append(f"publish: {rate:.1%} of the last hour's events needed a retry")
    for w in health.get("webhooks", []):
        if w["failed"] >= limits.webhooks_failed:
            found.append(f"webhooks: {w['failed']} {w['provider']} event(s) failing")
        if w["parked"] >= limits.webhooks_parked:
            found.append(f"webhooks: {w['parked']} {w['provider']} event(s) parked")
    for job in health.get("cron", []):
        if job.get("lastError"):
            found.append(f"cron: {job['job']} failed on its last run: {job['lastError'][:200]}")
    bridge = health.get("bridge", {})
    calls = bridge.get("activeCalls")
    if isinstance(calls, int) and calls >= limits.bridge_active_calls:
        found.append(f"bridge: {calls} active calls")
    if bridge.get("status") not in (None, "healthy", "not configured"):
        found.append(f"bridge: {bridge['status']}")
    return found


async def watch(services: Services) -> dict[str, Any]:
    """The `ops-health` cron; it also samples today's peak connections (usage_daily)."""
    await services.db.rpc("usage_peak_sample", p_provider=services.settings.realtime_provider)
    health = await gather(services)
    admins = services.settings.admin_user_ids
    watching = sorted(u for u in health.pop("watchers", []) if u in admins)
    if not watching:
        return {"watching": 0}
    found = alerts(health)
    await command(
        services,
        "ops_health_publish",
        p_channels=[OPS_CHANNEL_PREFIX + u for u in watching],
        p_health=health,
        p_alerts=found,
    )
    return {"watching": len(watching), "alerts": len(found)}
