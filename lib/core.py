"""What every app has, declared like a feature: `CORE`.

procedures  system.* (health, whoami), events.since (history), webhooks.* (operators)
jobs        outbox-relay (every minute), webhooks-retry (every minute), cleanup (daily,
            composed by the Bundle from every declared cleanup)
cleanups    cron_runs, rate_limits, cache_entries, outbox, webhook_events
channels    private-user-, private-encrypted-user-, #server-to-user- (that user);
            private-location-, presence-location- (location members)
webhooks    POST /api/webhooks/clerk: Clerk's user.created/updated/deleted -> profiles
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib import cache
from lib.cron import Cleanup, CronJob
from lib.feature import Feature
from lib.openapi import JSON, Route
from lib.realtime.channels import LOCATION_RULES, USER_RULES
from lib.rpc import events, system
from lib.webhooks import ingest, providers
from lib.webhooks import procedures as webhooks
from lib.webhooks.endpoint import WebhookEndpoint

if TYPE_CHECKING:
    from lib.services import Services

WEBHOOK_EVENTS_RETENTION_DAYS = 30


async def outbox_relay(services: Services) -> dict[str, Any]:
    """Publish the outbox rows earlier invocations left behind (lib.realtime.outbox)."""
    from lib.realtime.outbox import relay_all

    return await relay_all(services.db, services.publisher)


async def _old_cron_runs(services: Services) -> int:
    days = services.settings.cron_runs_retention_days
    return int(await services.db.rpc("cron_runs_cleanup", p_retention_days=days))


async def _rate_limit_windows(services: Services) -> int:
    return int(await services.db.rpc("rate_limit_cleanup"))


async def _cache_entries(services: Services) -> int:
    return await cache.expire(services.db)


async def _outbox_rows(services: Services) -> int:
    """Published (and parked) outbox events past retention (lib.realtime.outbox.RelayPolicy)."""
    from lib.realtime.outbox import cleanup as outbox_cleanup

    return await outbox_cleanup(services.db)


async def _webhook_events(services: Services) -> int:
    """Processed and ignored webhook events past retention (failed/parked ones stay)."""
    return int(
        await services.db.rpc(
            "webhook_events_cleanup", p_retention_days=WEBHOOK_EVENTS_RETENTION_DAYS
        )
    )


CLERK = WebhookEndpoint(
    route="/api/webhooks/clerk",
    provider="clerk",
    verifier=providers.clerk,
    processors={
        "user.created": "profiles_on_clerk_user",
        "user.updated": "profiles_on_clerk_user",
        "user.deleted": "profiles_on_clerk_user_deleted",
    },
    failure_status=500,
    retries="Svix retries non-2xx for about 28 hours with backoff",
)

_OBJECT: dict[str, Any] = {"type": "object"}
_SOCKET = {"socket_id": {"type": "string"}}
ROUTES = (
    Route(
        method="GET",
        path="/api/health",
        summary="Is the database reachable and migrated? 503 names the failing check.",
        responses={
            200: (
                JSON,
                {"type": "object", "required": ["status", "checks", "version"]},
            ),
        },
    ),
    Route(
        method="GET",
        path="/api/cron/{job}",
        summary="Run one cron job (Vercel calls these on vercel.json's schedules).",
        auth="cron",
        path_params={"job": {"type": "string"}},
        responses={200: (JSON, {"type": "object", "required": ["job"]})},
    ),
    Route(
        method="POST",
        path="/api/realtime/auth",
        summary="Pusher channel authorization (pusher-js channelAuthorization).",
        auth="bearer",
        body={
            "application/x-www-form-urlencoded": {
                "type": "object",
                "properties": {**_SOCKET, "channel_name": {"type": "string"}},
            },
            JSON: _OBJECT,
        },
        responses={200: (JSON, {"type": "object", "required": ["auth"]})},
    ),
    Route(
        method="POST",
        path="/api/realtime/user-auth",
        summary="Pusher user sign-in (pusher-js userAuthentication).",
        auth="bearer",
        body={
            "application/x-www-form-urlencoded": {"type": "object", "properties": _SOCKET},
            JSON: _OBJECT,
        },
        responses={200: (JSON, {"type": "object", "required": ["auth", "user_data"]})},
    ),
    Route(
        method="GET",
        path="/api/realtime/history",
        summary="Events a client missed on a channel, after an event id.",
        auth="bearer",
        query={
            "channel": {"type": "string"},
            "after": {"type": "string"},
            "limit": {"type": "string"},
        },
        responses={
            200: (
                JSON,
                {"type": "object", "required": ["channel", "events", "next", "more"]},
            )
        },
    ),
    Route(
        method="GET",
        path="/api/trpc",
        summary="The tRPC procedures with the JSON Schemas of their inputs and outputs.",
        responses={200: (JSON, {"type": "object", "required": ["procedures", "$defs"]})},
    ),
    Route(
        method="GET",
        path="/api/openapi.json",
        summary="This document.",
        responses={200: (JSON, {"type": "object", "required": ["openapi", "paths"]})},
    ),
)

CORE = Feature(
    name="core",
    procedures=(*system.PROCEDURES, *events.PROCEDURES, *webhooks.PROCEDURES),
    jobs=(
        CronJob(
            name="outbox-relay",
            run=outbox_relay,
            schedule="* * * * *",
            description="Publish outbox events earlier invocations could not.",
        ),
        CronJob(
            name="webhooks-retry",
            run=ingest.retry_due,
            schedule="* * * * *",
            description="Process failed webhook events again, with backoff; park after 8.",
        ),
    ),
    cleanups=(
        Cleanup(name="cron_runs", run=_old_cron_runs),
        Cleanup(name="rate_limits", run=_rate_limit_windows),
        Cleanup(name="cache_entries", run=_cache_entries),
        Cleanup(name="outbox", run=_outbox_rows),
        Cleanup(name="webhook_events", run=_webhook_events),
    ),
    channels=(*USER_RULES, *LOCATION_RULES),
    webhooks=(CLERK,),
    routes=ROUTES,
    migration="20261130920000",
    schema=(
        *("health_check", "health_schema", "can_subscribe", "rate_limit_hit"),
        *("cache_get", "cache_put", "cache_delete", "cache_expire"),
        *("cron_lease_acquire", "cron_finish", "cron_runs_cleanup", "rate_limit_cleanup"),
        *(
            "outbox_claim",
            "outbox_mark_published",
            "outbox_record_failure",
            "outbox_history",
            "outbox_latest",
        ),
        *("outbox_cleanup", "webhook_ingest_many", "webhook_replay", "webhook_retry_due"),
        *("webhook_events_list", "webhook_events_cleanup"),
        *("profiles_on_clerk_user", "profiles_on_clerk_user_deleted"),
        "usage_invocations_add",
    ),
    description="Realtime core: history, the outbox relay, webhooks, user provisioning.",
)
