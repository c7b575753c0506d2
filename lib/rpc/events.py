"""`events.since`: the realtime history of a channel through tRPC (what a client missed while
disconnected; Pusher keeps none).

    events.since({channel, after?, limit?})  query, signed in, 240 calls/min/caller
      -> {"channel", "events": [envelope, ...], "next": "<last id>", "more": bool}

Same contract as GET /api/realtime/history (lib.realtime.history): full envelopes (also of
events published as references because of their size), oldest first; who may read a channel's
history is who may subscribe to it (the app's ChannelRules, lib.realtime.channels: FORBIDDEN
otherwise, BAD_REQUEST for a malformed channel name). A client passes the last envelope id it
saw as `after` (the string as received, or a number) and repeats with `next` while `more`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lib.rpc.procedure import Context, Procedure

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1


class SinceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=200)
    after: (
        Annotated[int, Field(ge=0, le=MAX_ID)] | Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]
    ) = 0
    """The last event id the client saw (0 or absent: from the beginning)."""
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("after")
    @classmethod
    def _as_int(cls, value: int | str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(f"event ids are at most {MAX_ID}")
        return number


class Envelope(BaseModel):
    id: str
    type: str
    at: str
    data: dict[str, Any]
    prev: str | None = None
    """The previous event on the channel (lib.events): a client's gap check."""


class Since(BaseModel):
    channel: str
    events: list[Envelope]
    next: str
    """The id to pass as `after` next time (the last event's, or `after` if none)."""
    more: bool


async def since(ctx: Context, input: SinceInput) -> Since:
    from lib.events import Channel
    from lib.realtime.outbox import history

    channel = Channel(input.channel)
    after = int(input.after)
    await ctx.services.channels.authorize(ctx.user, channel.name, db=ctx.db)
    events = await history(ctx.db, channel, after=after, limit=input.limit)
    return Since(
        channel=channel.name,
        events=[Envelope.model_validate(event.envelope()) for event in events],
        next=str(events[-1].id if events else after),
        more=len(events) == input.limit,
    )


PROCEDURES = [
    Procedure(
        path="events.since",
        kind="query",
        input=SinceInput,
        output=Since,
        handler=since,
        rate_limit=(240, 60),
        description="Events on a channel after an id, for clients that reconnect.",
    ),
]
