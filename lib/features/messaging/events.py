"""The events messaging publishes, as models of their envelope `data` (for `make types`; the
SQL command functions build them, migration 20261121050003_messaging_commands).

    private-conversation-{id}  new-message, read-receipt; client-typing (a client event)
    private-user-{id}          unread-update, conversation-added
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from lib.events import EventFamily, absent
from lib.features.messaging.models import Message


class NewMessage(BaseModel):
    conversationId: UUID
    message: Message


class ReadReceipt(BaseModel):
    conversationId: UUID
    userId: str
    lastReadMessageId: int
    """Everything up to and including this message is read by `userId`."""
    readAt: datetime


class Typing(BaseModel):
    """`client-typing`: sent by a participant's browser, never by the server."""

    userId: str


class MessagePreview(BaseModel):
    id: int
    senderId: str
    preview: str
    """The first 140 characters of the body."""
    createdAt: datetime


class UnreadUpdate(BaseModel):
    conversationId: UUID
    unread: int
    totalUnread: int
    lastMessage: MessagePreview | None = absent()


class ConversationAdded(BaseModel):
    conversationId: UUID
    title: str
    createdBy: str | None
    participants: list[str]
    createdAt: datetime


FAMILIES = (
    EventFamily(
        "private-conversation-{conversationId}",
        {"new-message": NewMessage, "read-receipt": ReadReceipt, "client-typing": Typing},
    ),
    EventFamily(
        "private-user-{userId}",
        {"unread-update": UnreadUpdate, "conversation-added": ConversationAdded},
    ),
)
