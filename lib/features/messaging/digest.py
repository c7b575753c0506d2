"""What an offline recipient is sent: one SMS or one email summarizing the messages they
missed (a claimed batch from public.messaging_notify_claim). Pure: no I/O.

    SMS    "Sockless: 3 new messages in 2 conversations. Ana (user_2ab): see you at 5 (+2 more).
            https://app.example.com"
    email  subject "3 new messages from Ana (user_2ab) and Ben (user_9cd)"; a plain-text body
           listing up to 20 of them

A sender is named by display name and user id: anyone may call themselves anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from lib.notify.port import Notification

SMS_PREVIEW_CHARS = 100
SENDER_NAME_CHARS = 40
EMAIL_PREVIEW_CHARS = 200


class Missed(BaseModel):
    id: int
    conversationId: UUID
    conversationTitle: str
    senderId: str
    senderName: str | None
    body: str
    createdAt: datetime

    @property
    def sender(self) -> str:
        """The sender as the recipient reads it: the display name, which its owner chooses
        freely ("Your bank"), always next to the verified user id nobody else can have."""
        name = _clip(self.senderName or "", SENDER_NAME_CHARS)
        return self.senderId if not name or name == self.senderId else f"{name} ({self.senderId})"


class Batch(BaseModel):
    """One claimed notification: a recipient and (up to 20 of) their missed messages."""

    batch: int
    recipient: str
    channel: Literal["sms", "email", "none"]
    address: str | None
    status: Literal["sending", "skipped"]
    messageCount: int
    conversationCount: int
    messages: list[Missed]
    """Newest first."""


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _senders(batch: Batch) -> list[str]:
    names: list[str] = []
    for message in batch.messages:
        if message.sender not in names:
            names.append(message.sender)
    return names


def sms_text(batch: Batch, *, app_name: str, app_url: str) -> str:
    newest = batch.messages[0] if batch.messages else None
    head = f"{app_name}: {_plural(batch.messageCount, 'new message')}"
    if batch.conversationCount > 1:
        head += f" in {batch.conversationCount} conversations"
    parts = [head + "."]
    if newest is not None:
        line = f"{newest.sender}: {_clip(newest.body, SMS_PREVIEW_CHARS)}"
        if batch.messageCount > 1:
            line += f" (+{batch.messageCount - 1} more)"
        parts.append(line + ".")
    if app_url:
        parts.append(app_url)
    return " ".join(parts)


def email_subject(batch: Batch) -> str:
    names = _senders(batch)
    if len(names) <= 1:
        who = names[0] if names else "your conversations"
    elif len(names) <= 3:
        who = f"{', '.join(names[:-1])} and {names[-1]}"
    else:
        who = f"{', '.join(names[:2])} and {len(names) - 2} others"
    if batch.messageCount == 1:
        return f"New message from {who}"
    return f"{batch.messageCount} new messages from {who}"


def email_text(batch: Batch, *, app_name: str, app_url: str) -> str:
    lines = [f"You have {_plural(batch.messageCount, 'unread message')} on {app_name}.", ""]
    for message in reversed(batch.messages):  # oldest first reads naturally
        place = f' in "{message.conversationTitle}"' if message.conversationTitle else ""
        at = message.createdAt.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"{message.sender}{place} ({at}):")
        lines.append(f"  {_clip(message.body, EMAIL_PREVIEW_CHARS)}")
        lines.append("")
    hidden = batch.messageCount - len(batch.messages)
    if hidden > 0:
        lines += [f"...and {_plural(hidden, 'earlier message')}.", ""]
    if app_url:
        lines.append(f"Read and reply: {app_url}")
    return "\n".join(lines).rstrip() + "\n"


def compose(batch: Batch, *, app_name: str, app_url: str) -> Notification:
    """The one notification for `batch` (whose channel is sms or email, with an address)."""
    if batch.channel == "none" or not batch.address:
        raise ValueError(f"batch {batch.batch} has no channel to send on")
    key = f"messaging-batch-{batch.batch}"
    if batch.channel == "sms":
        text = sms_text(batch, app_name=app_name, app_url=app_url)
        return Notification(channel="sms", to=batch.address, subject="", text=text, key=key)
    return Notification(
        channel="email",
        to=batch.address,
        subject=email_subject(batch),
        text=email_text(batch, app_name=app_name, app_url=app_url),
        key=key,
    )
