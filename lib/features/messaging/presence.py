"""POST /api/webhooks/pusher: Pusher's webhooks -> who is online (offline notifications).

    body     {"time_ms": <ms>, "events": [{"name": "channel_occupied", "channel": ...}, ...]}
    headers  X-Pusher-Key: the app key; X-Pusher-Signature: hex HMAC-SHA256(secret, raw body)

Checks, in order: body size (413) -> key and signature (401: missing, unknown key, wrong
signature) -> JSON shape (400) -> |now - time_ms| <= 300 s (401: stale, a replay) -> the
presence changes, applied by public.realtime_presence_apply in one call (migration
20261121050001_realtime_presence), which is idempotent per delivery (SHA-256 of the body) and
never lets an older event overwrite a newer one. Every error is JSON (lib.web).

A user is online while subscribed to their `private-user-{id}` (channel_occupied /
channel_vacated) or present in any presence channel (member_added / member_removed). Other
events (client_event — a typing indicator on every keystroke —, cache_miss, subscription_count)
change nothing and cost no database call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request

from lib.config import Settings, settings
from lib.db import Database, database
from lib.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized

MAX_BODY_BYTES = 262_144
TOLERANCE_S = 300
USER_CHANNEL = "private-user-"
PRESENCE_PREFIX = "presence-"
MAX_USER_ID = 128
MAX_CHANNEL = 200


@dataclass(frozen=True)
class Delivery:
    time_ms: int
    events: list[Any]
    digest: str
    """SHA-256 of the raw body: the same delivery twice has the same digest."""


@dataclass(frozen=True)
class Change:
    user: str
    channel: str
    present: bool


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    key: str,
    secret: str,
    now_ms: int,
    tolerance_s: int = TOLERANCE_S,
) -> Delivery:
    """The delivery if `body` was signed by the app's secret and is fresh; else Unauthorized
    (BadRequest for a signed body that is not a webhook)."""
    if not (key and secret):
        raise ServiceUnavailable("Pusher webhooks are disabled: PUSHER_KEY/PUSHER_SECRET unset")
    given_key = headers.get("x-pusher-key")
    given_signature = headers.get("x-pusher-signature")
    if not given_key or not given_signature:
        raise Unauthorized("X-Pusher-Key and X-Pusher-Signature headers are required")
    if not _same(given_key, key):
        raise Unauthorized("X-Pusher-Key is not this app's key")
    if not _same(given_signature.strip().lower(), signature(secret, body)):
        raise Unauthorized("X-Pusher-Signature does not match the body")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the webhook body is not JSON") from exc
    time_ms = payload.get("time_ms") if isinstance(payload, dict) else None
    events = payload.get("events") if isinstance(payload, dict) else None
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or not isinstance(events, list):
        raise BadRequest('a webhook body is {"time_ms": <int>, "events": [...]}')
    if abs(now_ms - time_ms) > tolerance_s * 1000:
        raise Unauthorized(f"stale webhook: time_ms is more than {tolerance_s} s from now")
    return Delivery(time_ms=time_ms, events=events, digest=hashlib.sha256(body).hexdigest())


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


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, PayloadTooLarge past `limit` bytes (without reading the rest)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"webhook bodies are at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"webhook bodies are at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def apply(db: Database, delivery: Delivery) -> dict[str, Any]:
    """Record the delivery's presence changes; says whether it was a duplicate."""
    found = [asdict(change) for change in changes(delivery.events)]
    if not found:
        return {"duplicate": False, "applied": 0, "changes": 0}
    result: dict[str, Any] = await db.rpc(
        "realtime_presence_apply",
        p_digest=delivery.digest,
        p_time_ms=delivery.time_ms,
        p_changes=found,
    )
    return {
        "duplicate": bool(result["duplicate"]),
        "applied": result["applied"],
        "changes": len(found),
    }


async def pusher_webhook(
    request: Request, *, config: Settings | None = None, db: Database | None = None
) -> dict[str, Any]:
    """The handler behind api/webhooks/pusher.py."""
    config = config or settings()
    body = await read_body(request)
    delivery = verify(
        request.headers,
        body,
        key=config.pusher_key,
        secret=config.pusher_secret.get(),
        now_ms=int(time.time() * 1000),
    )
    outcome = await apply(db or database(config), delivery)
    return {"ok": True, "events": len(delivery.events), **outcome}
