"""The events on `presence-poker-{sessionId}`, as data: the `data` of each envelope
(`{"id", "type", "at", "data"}`, lib.events) by event type. The SQL command functions build
them (migration 20261121040400_poker_commands); these models document the contract for
clients and let tests hold every received event to it (unknown keys are refused, so a vote
value could not slip into a `vote` event unnoticed).

    member-joined   a member joined (through poker.join)
    member-left     a member left; `withdrewVote`: their vote on the open task was removed
    task-added      a task was added (not yet open for votes)
    task-started    voting on a task opened (`round` counts re-votes)
    vote            someone voted or changed their vote: who, never which card
    votes-revealed  every vote with its card, and the statistics (numeric cards only for
                    average and median; see lib.features.poker.models.Stats)
    task-finalized  the facilitator recorded the estimate
    session-ended   the session is read-only from now on
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from lib.events import EventFamily
from lib.features.poker.models import Member, Stats, TaskStatus


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sessionId: UUID


class MemberJoined(Data):
    member: Member
    members: int
    """Members after this one joined (the facilitator included)."""


class MemberLeft(Data):
    userId: str
    members: int
    withdrewVote: bool


class TaskHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID
    position: int
    title: str
    status: TaskStatus
    round: int | None = None


class TaskAdded(Data):
    task: TaskHeader


class TaskStarted(Data):
    task: TaskHeader


class VoteCast(Data):
    taskId: UUID
    round: int
    userId: str
    changed: bool
    """True when the voter replaced an earlier card."""
    votes: int
    """Votes cast on the task so far."""


class RevealedVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userId: str
    value: str


class VotesRevealed(Data):
    taskId: UUID
    round: int
    votes: list[RevealedVote]
    stats: Stats


class TaskFinalized(Data):
    taskId: UUID
    estimate: str


class SessionEnded(Data):
    endedAt: datetime
    tasks: int
    finalized: int


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    at: datetime
    prev: str | None = None
    """The previous event on the channel (lib.events)."""


class MemberJoinedEvent(Envelope):
    type: Literal["member-joined"]
    data: MemberJoined


class MemberLeftEvent(Envelope):
    type: Literal["member-left"]
    data: MemberLeft


class TaskAddedEvent(Envelope):
    type: Literal["task-added"]
    data: TaskAdded


class TaskStartedEvent(Envelope):
    type: Literal["task-started"]
    data: TaskStarted


class VoteEvent(Envelope):
    type: Literal["vote"]
    data: VoteCast


class VotesRevealedEvent(Envelope):
    type: Literal["votes-revealed"]
    data: VotesRevealed


class TaskFinalizedEvent(Envelope):
    type: Literal["task-finalized"]
    data: TaskFinalized


class SessionEndedEvent(Envelope):
    type: Literal["session-ended"]
    data: SessionEnded


PokerEvent = Annotated[
    MemberJoinedEvent
    | MemberLeftEvent
    | TaskAddedEvent
    | TaskStartedEvent
    | VoteEvent
    | VotesRevealedEvent
    | TaskFinalizedEvent
    | SessionEndedEvent,
    Field(discriminator="type"),
]
"""Any envelope on a poker channel, discriminated by `type`."""

EVENT_TYPES = (
    "member-joined",
    "member-left",
    "task-added",
    "task-started",
    "vote",
    "votes-revealed",
    "task-finalized",
    "session-ended",
)


def channel(session_id: UUID | str) -> str:
    """The session's presence channel (members only: lib.realtime.channels)."""
    return f"presence-poker-{session_id}"


FAMILY = EventFamily(
    "presence-poker-{sessionId}",
    {
        "member-joined": MemberJoined,
        "member-left": MemberLeft,
        "task-added": TaskAdded,
        "task-started": TaskStarted,
        "vote": VoteCast,
        "votes-revealed": VotesRevealed,
        "task-finalized": TaskFinalized,
        "session-ended": SessionEnded,
    },
)
"""The poker channel's events for `make types` (the same names as EVENT_TYPES)."""
