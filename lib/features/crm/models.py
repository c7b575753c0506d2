"""What the crm.* procedures accept and return (JSON read by JavaScript: camelCase).

Inputs forbid unknown keys and bound every string. Lists are paged: append-only streams (the
feed, a conversation's messages) by an id cursor — pass `next` back as `since` —, the others by
offset — pass `next` back as `offset`; `next` is null on the last page.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_CURSOR = 2**53 - 1
MAX_RANGE = timedelta(days=93)


def as_int(value: int | str) -> int:
    return int(value)


LocationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_=@,.;-]{1,128}$")]
"""A HighLevel location id (it names the channel private-location-{id})."""
GhlId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_=@,.;-]{1,128}$")]
UserId = Annotated[str, Field(pattern=r"^[-a-zA-Z0-9_=@,.;]{1,128}$")]
Cursor = Annotated[
    Annotated[int, Field(ge=0, le=MAX_CURSOR)] | Annotated[str, Field(pattern=r"^[0-9]{1,16}$")],
    AfterValidator(as_int),
]
Limit = Annotated[int, Field(ge=1, le=200)]
Offset = Annotated[int, Field(ge=0, le=100_000)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactRef(BaseModel):
    id: str | None
    name: str


# crm.feed -------------------------------------------------------------------------------


class FeedInput(Input):
    locationId: LocationId
    since: Cursor = 0
    """The last feed item id you hold (0: from the start)."""
    limit: Limit = 50


class FeedItem(BaseModel):
    id: int
    event: str
    """The event published on private-location-{id}: location-message, lead-alert, ..."""
    data: dict[str, Any]
    eventId: int | None
    """The realtime event's id (the envelope `id` clients dedupe on)."""
    at: datetime


class FeedPage(BaseModel):
    items: list[FeedItem]
    next: int | None


# crm.conversations / crm.messages -------------------------------------------------------


class ConversationsInput(Input):
    locationId: LocationId
    limit: Limit = 30
    offset: Offset = 0


class Conversation(BaseModel):
    id: str
    contact: ContactRef
    unreadCount: int
    lastMessageAt: datetime | None
    lastMessageType: str | None
    lastMessagePreview: str | None


class ConversationPage(BaseModel):
    conversations: list[Conversation]
    totalUnread: int
    next: int | None


class MessagesInput(Input):
    conversationId: GhlId
    since: Cursor = 0
    """The last message id you hold (0: from the start)."""
    limit: Limit = 50


class Message(BaseModel):
    id: int
    ghlMessageId: str | None
    clientId: str | None
    conversationId: str
    direction: Literal["inbound", "outbound"]
    type: str
    body: str
    status: str
    """received / delivered / ... as HighLevel says; a message sent from the app is
    `sending`, then `pending` (HighLevel took it) until its OutboundMessage webhook, or
    `failed` (see `error`)."""
    at: datetime
    error: str | None = None
    """Why a send from the app failed."""


class MessagePage(BaseModel):
    messages: list[Message]
    next: int | None


# crm.revenueToday / crm.pipeline --------------------------------------------------------


class LocationInput(Input):
    locationId: LocationId


class Revenue(BaseModel):
    locationId: str
    day: date
    """Today in the location's time zone."""
    timeZone: str
    total: float
    payments: int
    currency: str | None


class PipelineInput(Input):
    locationId: LocationId
    limit: Limit = 50
    offset: Offset = 0


class Stage(BaseModel):
    pipelineId: str | None
    stageId: str | None
    open: int
    won: int
    lost: int
    openValue: float


class Opportunity(BaseModel):
    id: str
    name: str
    status: str
    value: float
    pipelineId: str | None
    stageId: str | None
    contactId: str | None
    assignedTo: str | None
    updatedAt: datetime


class Pipeline(BaseModel):
    stages: list[Stage]
    opportunities: list[Opportunity]
    next: int | None


# crm.appointments / crm.tasks -----------------------------------------------------------


class AppointmentsInput(Input):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    locationId: LocationId | None = None
    """A location's whole calendar (members only); without it, your own appointments."""
    limit: Limit = 100
    offset: Offset = 0

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.from_.tzinfo is None or self.to.tzinfo is None:
            raise ValueError("from and to need a time zone offset (ISO-8601, e.g. ...Z)")
        if not self.from_ < self.to <= self.from_ + MAX_RANGE:
            raise ValueError("to must be after from, at most 93 days later")
        return self


class Appointment(BaseModel):
    id: str
    locationId: str
    title: str
    status: str
    startTime: datetime | None
    endTime: datetime | None
    assignedTo: str | None
    contact: ContactRef


class AppointmentPage(BaseModel):
    appointments: list[Appointment]
    next: int | None


class TasksInput(Input):
    status: Literal["open", "completed", "all"] = "open"
    locationId: LocationId | None = None
    """A location's tasks (members only); without it, the tasks assigned to you."""
    limit: Limit = 100
    offset: Offset = 0


class Task(BaseModel):
    id: str
    locationId: str
    title: str
    dueDate: datetime | None
    completed: bool
    assignedTo: str | None
    contact: ContactRef


class TaskPage(BaseModel):
    tasks: list[Task]
    next: int | None


# crm.linkUser ---------------------------------------------------------------------------


class LinkUserInput(Input):
    appUserId: UserId
    ghlUserId: GhlId


class Linked(BaseModel):
    appUserId: str
    ghlUserId: str
    locations: list[str]
    """The locations the app user is now a member of through this HighLevel user."""


# crm.sendMessage ------------------------------------------------------------------------

ClientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class SendMessageInput(Input):
    conversationId: GhlId
    clientId: ClientId
    """The client's id for its temporary bubble: the `new-message` that reconciles the message
    carries it. A retry with the same clientId sends nothing twice."""
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    type: Literal["SMS", "Email"] = "SMS"
    subject: Annotated[str, Field(max_length=200)] | None = None
    """Email only."""

    @model_validator(mode="after")
    def _sms_length(self) -> Self:
        if self.type == "SMS" and len(self.body) > 1600:
            raise ValueError("an SMS body is at most 1600 characters")
        return self


class SentMessage(BaseModel):
    message: Message
    duplicate: bool
    """True: a retry of a message already sending or sent (no second send)."""


# crm.quoteLink --------------------------------------------------------------------------


class QuoteLinkInput(Input):
    locationId: LocationId
    quoteId: GhlId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    """What the rep's `quote-viewed` calls it."""
    contactId: GhlId | None = None
    expiresInDays: Annotated[int, Field(ge=1, le=365)] = 30


class QuoteLink(BaseModel):
    quoteId: str
    token: str
    """The signed token the quote page sends with its beacons."""
    url: str | None
    """CRM_QUOTE_URL with ?t=<token>, when CRM_QUOTE_URL is set."""
    expiresAt: datetime
