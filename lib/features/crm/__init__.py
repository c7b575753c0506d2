"""CRM: GoHighLevel (HighLevel / LeadConnector) webhooks -> live CRM feeds for users and
locations, a read model for the app, and appointment reminders without a running process.

    webhook.py     POST /api/webhooks/ghl: verify, normalise, store once, process (GHL)
    envelope.py    HighLevel's non-uniform envelope made uniform; event type -> processor (pure)
    reminders.py   the `crm-reminders` cron: claim due reminders exactly once, publish
    procedures.py  crm.* tRPC queries (membership-checked), crm.linkUser (operators),
                   crm.sendMessage and crm.quoteLink
    models.py      their inputs and outputs
    sending.py     crm.sendMessage: store, call HighLevel, reconcile by messageId (optimistic)
    highlevel.py   HighLevel's REST API client (OAuth grants, conversations/messages)
    tokens.py      the locations' OAuth tokens: encrypted at rest, refreshed before expiry
                   (on demand, and the `crm-token-refresh` cron)
    oauth.py       GET /api/crm/oauth/callback: HighLevel's install redirect -> tokens
    quotes.py      signed quote links; POST /api/crm/quote-view beacons -> quote-viewed
    settings.py    CrmSettings (GHL_APP_ID, GHL_API_URL, GHL_CLIENT_*, CRM_TOKEN_KEY,
                   CRM_QUOTE_*)

Realtime (envelopes as lib.events describes; docs/crm.md has the whole table):
    private-user-{app user}      new-message, unread-update, project-update, payment-received,
                                 payment-failed, lead-alert, appointment-update,
                                 appointment-reminder, task-update, message-failed,
                                 quote-viewed
    private-location-{location}  location-message (50-character preview), project-won,
                                 revenue-update, lead-alert, contact-activity, email-stats
                                 (also kept as the location's feed: crm.feed)

Who is who: HighLevel users' locations become location memberships of the app user they
resolve to (the same id, or an explicit crm.linkUser link); AppUninstall removes them. The
location channel families are core's (lib.realtime.channels LOCATION_RULES).

SQL: migrations 20261130500000_crm_identity ... 20261130500900_crm_queries (one per family:
tables, RLS and its processor), 20261130600000_crm_oauth_tokens, 20261130600100_crm_send,
20261130600200_crm_quotes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.cron import CronJob
from lib.feature import Feature
from lib.features.crm.events import FAMILIES
from lib.features.crm.procedures import PROCEDURES
from lib.features.crm.settings import CrmSettings
from lib.features.crm.webhook import GHL
from lib.openapi import JSON, Route

if TYPE_CHECKING:
    from lib.services import Services


async def crm_reminders(services: Services) -> dict[str, Any]:
    """Appointment reminders that fell due (reminders.py)."""
    from lib.features.crm.reminders import fire

    return await fire(services)


async def crm_token_refresh(services: Services) -> dict[str, Any]:
    """HighLevel OAuth tokens that expire within the next hours (tokens.py)."""
    from lib.features.crm.tokens import refresh_due

    return await refresh_due(services)


ROUTES = (
    Route(
        method="GET",
        path="/api/crm/oauth/callback",
        summary="HighLevel's OAuth redirect: the location's tokens, encrypted at rest.",
        query={"code": {"type": "string"}, "error": {"type": "string"}},
        responses={200: (JSON, {"type": "object", "required": ["ok", "locationId"]})},
    ),
    Route(
        method="POST",
        path="/api/crm/quote-view",
        summary="A quote page's beacon (signed link token, view id, time on page).",
        body={
            JSON: {
                "type": "object",
                "properties": {
                    "token": {"type": "string"},
                    "viewId": {"type": "string"},
                    "timeOnPage": {"type": "number"},
                },
            }
        },
        responses={200: (JSON, {"type": "object", "required": ["ok", "viewId", "published"]})},
    ),
)

FEATURE = Feature(
    events=FAMILIES,
    name="crm",
    production_urls=("GHL_API_URL",),
    procedures=PROCEDURES,
    jobs=(
        CronJob(
            name="crm-reminders",
            run=crm_reminders,
            schedule="* * * * *",
            description="Publish appointment reminders that fell due (15 min before start).",
        ),
        CronJob(
            name="crm-token-refresh",
            run=crm_token_refresh,
            schedule="7 * * * *",
            description="Refresh the HighLevel OAuth tokens that expire within 3 hours.",
        ),
    ),
    webhooks=(GHL,),
    routes=ROUTES,
    settings=CrmSettings,
    migration="20261130600200",
    schema=(
        *sorted(set(GHL.processors.values())),
        *("crm_reminders_fire", "crm_link_user", "crm_feed", "crm_conversations"),
        *("crm_messages", "crm_revenue_today", "crm_pipeline", "crm_appointments", "crm_tasks"),
        *("crm_send_begin", "crm_send_finish", "crm_quote_upsert", "crm_quote_view"),
        *("crm_token_store", "crm_token_get", "crm_token_claim", "crm_tokens_due"),
        "crm_token_release",
    ),
    description="GoHighLevel webhooks -> live CRM feeds, queries, appointment reminders, "
    "sending through HighLevel, quote views.",
)
