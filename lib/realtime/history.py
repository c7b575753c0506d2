"""GET /api/realtime/history?channel=<name>&after=<id>&limit=<n>: what a client missed.

Returns `{"channel", "events": [envelope, ...], "next": "<last id>", "more": bool}` with the
full envelopes (also of events that were published as references because of their size),
oldest first. Who may read a channel's history is who may subscribe to it
(the app's ChannelRules, lib.realtime.channels), so the caller must be authenticated.
A client that reconnects asks for `after=<last id it saw>` until `more` is false; a client
that got a reference fetches its `ref.url` (after = id - 1, limit = 1). `latest=1` returns no
events and `next` = the newest id on the channel: where a client that subscribes "from now"
starts, so it can still catch up after a disconnect before it has seen an event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from lib.auth import authenticate
from lib.errors import BadRequest
from lib.events import Channel
from lib.realtime import outbox

if TYPE_CHECKING:
    from lib.services import Services

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _integer(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer, got {raw[:40]!r}") from exc
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


async def history_endpoint(request: Request, services: Services) -> dict[str, Any]:
    db = services.db
    principal = await authenticate(request, services)
    name = request.query_params.get("channel")
    if not name:
        raise BadRequest("channel is required: ?channel=<name>&after=<id>")
    channel = Channel(name)
    after = _integer(request, "after", 0, low=0, high=2**63 - 1)
    limit = _integer(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    await services.channels.authorize(principal, channel.name, db=db)
    if request.query_params.get("latest") in ("1", "true"):
        newest = await outbox.latest(db, channel)
        return {"channel": channel.name, "events": [], "next": str(newest), "more": False}
    events = await outbox.history(db, channel, after=after, limit=limit)
    return {
        "channel": channel.name,
        "events": [event.envelope() for event in events],
        "next": str(events[-1].id if events else after),
        "more": len(events) == limit,
    }
