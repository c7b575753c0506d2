"""The event calls publish (public.calls_finish, migration 20261121060001): `call-ended` on
the owner's `private-user-{id}` when a call is over, with its outcome and summary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from lib.events import EventFamily
from lib.features.calls.models import CallStatus, Direction, Outcome


class EndedCall(BaseModel):
    id: str
    direction: Direction
    status: CallStatus
    fromNumber: str
    toNumber: str
    outcome: Outcome | None
    summary: str | None
    """At most 2,000 characters; calls.get has the whole text."""
    durationS: int | None
    endReason: str | None
    endedAt: datetime | None


class CallEnded(BaseModel):
    call: EndedCall


FAMILIES = (EventFamily("private-user-{userId}", {"call-ended": CallEnded}),)
