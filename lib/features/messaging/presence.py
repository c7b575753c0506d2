"""POST /api/webhooks/pusher: Pusher's webhooks -> who is online (offline notifications).

    body     {"time_ms": <ms>, "events": [{"name": "channel_occupied", "channel": ...}, ...]}
    headers  X-Pusher-Key: the app key; X-Pusher-Signature: hex HMAC-SHA256(secret, raw body)

On the one ingest path (lib.webhooks.ingest): body size (413) -> key, signature and
|now - time_ms| <= 300 s (401, lib.webhooks.pusher) -> JSON shape (400) -> webhook_ingest
stores the delivery (deduped on a SHA-256 of the body) and runs messaging_on_pusher_presence,
which applies the presence changes (public.realtime_presence_apply: an older event never
overwrites a newer one) in the same transaction. A delivery with no presence change (a
client_event — a typing indicator —, cache_miss, subscription_count) is stored with
`applied: 0`.

A user is online while subscribed to their `private-user-{id}` (channel_occupied /
channel_vacated) or present in any presence channel (member_added / member_removed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request

from lib.services import Services
from lib.webhooks import providers
from lib.webhooks.endpoint import Outcome, WebhookEndpoint
from lib.webhooks.verifiers import Verified

USER_CHANNEL = "private-user-"
PRESENCE_PREFIX = "presence-"
MAX_USER_ID = 128
MAX_CHANNEL = 200


@dataclass(frozen=True)
class Change:
    user: str
    channel: str
    present: bool


def changes(events: Sequence[Any]) -> Iterator[Change]:
    """The presence changes among `events`, in order; anything else is skipped."""
    for event in events:
        if not isinstance(event, dict):
            continue
        name, channel = event.get("name"), event.get("channel")
        if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL:
            continue
        user: object = None
        if name in ("channel_occupied", "channel_vacated") and channel.startswith(USER_CHANNEL):
            user = channel[len(USER_CHANNEL) :]
            present = name == "channel_occupied"
        elif name in ("member_added", "member_removed") and channel.startswith(PRESENCE_PREFIX):
            user = event.get("user_id")
            present = name == "member_added"
        if isinstance(user, str) and 0 < len(user) <= MAX_USER_ID:
            yield Change(user=user, channel=channel, present=present)


def prepare(verified: Verified, request: Request, services: Services) -> dict[str, Any]:
    """What messaging_on_pusher_presence applies: the delivery's time and its changes."""
    from lib.errors import BadRequest

    body = verified.payload
    time_ms, events = body.get("time_ms"), body.get("events")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or not isinstance(events, list):
        raise BadRequest('a webhook body is {"time_ms": <int>, "events": [...]}')
    return {
        "timeMs": time_ms,
        "events": len(events),
        "changes": [asdict(change) for change in changes(events)],
    }


async def answer(outcome: Outcome, request: Request, services: Services) -> dict[str, Any]:
    result = outcome.result or {}
    return {
        "ok": outcome.status in ("processed", "ignored"),
        "duplicate": outcome.duplicate,
        "status": outcome.status,
        "applied": result.get("applied", 0),
    }


PUSHER = WebhookEndpoint(
    route="/api/webhooks/pusher",
    provider="pusher",
    verifier=providers.pusher,
    processors={"events": "messaging_on_pusher_presence"},
    prepare=prepare,
    respond=answer,
    failure_status=500,
    retries="Pusher retries a failed webhook for up to 5 minutes",
)
