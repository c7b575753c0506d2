"""What poker.* accepts and returns. camelCase: the wire is JSON read by JavaScript.

Inputs forbid unknown keys and bound every string and list, so a bad call is a BAD_REQUEST
naming the field before any database work. Outputs mirror the JSON the SQL functions build
(migration 20261121040300_poker_views), validated on the way out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from lib.features.poker.decks import MAX_CARDS, MIN_CARDS, DeckType

Card = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TaskStatus = Literal["pending", "voting", "revealed", "finalized"]
SessionStatus = Literal["open", "ended"]
MAX_INITIAL_TASKS = 50


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Inputs ----------------------------------------------------------------------------------


class FibonacciDeck(Input):
    """0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, ?, ☕"""

    type: Literal["fibonacci"]


class TShirtDeck(Input):
    """XS, S, M, L, XL, XXL, ?"""

    type: Literal["t-shirt"]


class CustomDeck(Input):
    """Your own cards, in the order players see them."""

    type: Literal["custom"]
    values: list[Card] = Field(min_length=MIN_CARDS, max_length=MAX_CARDS)

    @field_validator("values")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("the cards of a deck are all different")
        return values


DeckInput = Annotated[FibonacciDeck | TShirtDeck | CustomDeck, Field(discriminator="type")]


class CreateInput(Input):
    name: Name
    deck: DeckInput = Field(default_factory=lambda: FibonacciDeck(type="fibonacci"))
    tasks: list[Title] = Field(default_factory=list, max_length=MAX_INITIAL_TASKS)
    """Task titles to estimate, in order."""


class SessionInput(Input):
    sessionId: UUID


class AddTaskInput(Input):
    sessionId: UUID
    title: Title


class TaskInput(Input):
    taskId: UUID


class VoteInput(Input):
    taskId: UUID
    value: Card
    """A card of the session's deck."""


class FinalizeInput(Input):
    taskId: UUID
    estimate: Card
    """Usually a card, but any short text the team agreed on."""


class ListInput(Input):
    limit: int = Field(default=20, ge=1, le=100)
    before: datetime | None = None
    """Only sessions created before this (the previous page's `next`)."""


# Outputs ---------------------------------------------------------------------------------


class Deck(BaseModel):
    type: DeckType
    values: list[str]


class Member(BaseModel):
    userId: str
    displayName: str | None
    joinedAt: datetime
    facilitator: bool


class Vote(BaseModel):
    userId: str
    value: str | None
    """None while hidden: another member's card before the task is revealed."""


class CardCount(BaseModel):
    value: str
    count: int


class Stats(BaseModel):
    """Statistics of a revealed task. `average` and `median` are over numeric cards only
    (`numericVotes` of the `votes`); None when no numeric card was played. `consensus`: at
    least one vote and every vote the same card."""

    votes: int
    numericVotes: int
    average: float | None
    median: float | None
    consensus: bool
    distribution: list[CardCount]


class Task(BaseModel):
    id: UUID
    position: int
    title: str
    status: TaskStatus
    round: int
    """How many times voting on this task was opened (a re-vote counts up)."""
    estimate: str | None
    votes: list[Vote]
    stats: Stats | None
    """Set once the task is revealed."""


class Me(BaseModel):
    userId: str
    facilitator: bool


class Session(BaseModel):
    id: UUID
    name: str
    facilitatorId: str
    status: SessionStatus
    deck: Deck
    createdAt: datetime
    endedAt: datetime | None
    members: list[Member]
    tasks: list[Task]
    me: Me


class Created(BaseModel):
    session: Session
    paidWith: Literal["subscription", "credit"]
    creditsLeft: int | None
    """The balance after this session's credit; None when a subscription paid."""


class Joined(BaseModel):
    joined: bool
    """False when the caller already was a member (nothing changed)."""
    session: Session


class Left(BaseModel):
    sessionId: UUID
    left: bool
    """False when the caller was not a member (nothing changed)."""


class TaskResult(BaseModel):
    task: Task


class Voted(BaseModel):
    taskId: UUID
    status: Literal["new", "changed", "unchanged"]
    votes: int
    """Votes cast on the task so far."""


class Ended(BaseModel):
    sessionId: UUID
    status: Literal["ended"]
    endedAt: datetime


class SessionSummary(BaseModel):
    id: UUID
    name: str
    status: SessionStatus
    facilitatorId: str
    facilitator: bool
    members: int
    tasks: int
    createdAt: datetime
    endedAt: datetime | None


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    next: datetime | None
    """Pass as `before` for the next page; None on the last page."""
