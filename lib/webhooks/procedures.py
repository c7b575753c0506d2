"""`webhooks.*`: the operator's view of stored webhook events (ADMIN_USER_IDS only).

webhooks.events   query     {status?, provider?, limit?, before?} -> {events, next}
webhooks.replay   mutation  {id} -> {id, status, error?}; a failed or parked event is
                            processed again now (anything else: CONFLICT)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lib.errors import Forbidden
from lib.rpc.procedure import Context, Procedure
from lib.webhooks import ingest

EventStatus = Literal["received", "processed", "ignored", "failed", "parked"]


def require_admin(ctx: Context) -> None:
    if ctx.user.user_id not in ctx.settings.admin_user_ids:
        raise Forbidden("webhooks.* is for operators (ADMIN_USER_IDS)")


class EventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: EventStatus | None = None
    provider: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1)


class WebhookEvent(BaseModel):
    id: int
    provider: str
    event_id: str
    type: str
    processor: str | None
    status: EventStatus
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime | None


class EventPage(BaseModel):
    events: list[WebhookEvent]
    next: int | None
    """Pass as `before` for the next (older) page."""


class ReplayInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)


class Replayed(BaseModel):
    id: int
    status: EventStatus
    error: str | None = None


async def events(ctx: Context, input: EventsInput | None) -> EventPage:
    require_admin(ctx)
    input = input or EventsInput()
    rows = await ctx.db.rpc(
        "webhook_events_list",
        p_status=input.status,
        p_provider=input.provider,
        p_limit=input.limit,
        p_before=input.before,
    )
    page = [WebhookEvent.model_validate(row) for row in rows or []]
    return EventPage(events=page, next=page[-1].id if len(page) == input.limit else None)


async def replay(ctx: Context, input: ReplayInput) -> Replayed:
    require_admin(ctx)
    answer = await ingest.replay(ctx.services, input.id)
    return Replayed.model_validate(answer)


PROCEDURES = [
    Procedure(
        path="webhooks.events",
        kind="query",
        input=TypeAdapter(EventsInput | None),
        output=EventPage,
        handler=events,
        rate_limit=(120, 60),
        description="Stored webhook events by status/provider, newest first (operators).",
    ),
    Procedure(
        path="webhooks.replay",
        kind="mutation",
        input=ReplayInput,
        output=Replayed,
        handler=replay,
        rate_limit=(60, 60),
        description="Process a failed or parked webhook event again now (operators).",
    ),
]
