"""`messaging.*`: conversations and messages through tRPC (every procedure needs a signed-in
caller; the caller's user id comes from the token, never from the input).

    messaging.createConversation  mutation  {participants, title?, clientId?} -> {conversation,
                                            duplicate}; `conversation-added` on each
                                            participant's private-user-{id}. Participants are
                                            users with a profile (UNPROCESSABLE_CONTENT naming
                                            the others: a participant gets SMS/email);
                                            MESSAGING_CREATE_RATE_LIMIT per user per window and
                                            MESSAGING_CONVERSATIONS_PER_DAY per 24 h (429)
    messaging.conversations       query     {limit?, before?} -> {conversations (unread counts,
                                            last message, read positions), next}
    messaging.send                mutation  {conversationId, clientId, body} -> {message,
                                            duplicate}; `new-message` on the conversation
                                            channel, `unread-update` on the others' user
                                            channels; MESSAGING_SEND_RATE_LIMIT per user
    messaging.list                query     {conversationId, after? | before?, limit?} ->
                                            {messages (oldest first), more, participants}
    messaging.markRead            mutation  {conversationId, messageId} -> read state;
                                            `read-receipt` on the conversation channel,
                                            `unread-update` on the reader's user channel

Each command is one SQL function (migration 20261121050003_messaging_commands) whose events
are published by lib.commands.command after it commits. A conversation the caller
is not part of is NOT_FOUND, exactly like one that does not exist.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from lib.commands import command
from lib.errors import Conflict
from lib.features.messaging.models import (
    ConversationCursor,
    ConversationList,
    ConversationsInput,
    CreateConversationInput,
    Created,
    ListInput,
    MarkReadInput,
    Message,
    MessagePage,
    ReadState,
    SendInput,
    Sent,
)
from lib.features.messaging.settings import MessagingSettings
from lib.ratelimit import enforce
from lib.rpc.procedure import Context, Procedure


async def create_conversation(ctx: Context, input: CreateConversationInput) -> Created:
    user = ctx.user.user_id
    config = ctx.services.feature(MessagingSettings)
    await enforce(
        ctx.db,
        f"messaging.createConversation:{user}",
        limit=config.create_rate_limit,
        window_s=config.create_rate_window_s,
    )
    result = await command(
        ctx.services,
        "messaging_create_conversation",
        p_user=user,
        p_participants=list(input.participants),
        p_title=input.title,
        p_client_id=input.clientId,
        p_daily_limit=config.conversations_per_day,
    )
    return Created.model_validate(result)


async def conversations(ctx: Context, input: ConversationsInput | None) -> ConversationList:
    input = input or ConversationsInput()
    before = input.before
    result = await ctx.db.rpc(
        "messaging_conversations",
        p_user=ctx.user.user_id,
        p_limit=input.limit,
        p_before_at=before.at.isoformat() if before else None,
        p_before_id=str(before.id) if before else None,
    )
    page = ConversationList.model_validate({**result, "next": None})
    if result["more"] and page.conversations:
        last = page.conversations[-1]
        page.next = ConversationCursor(at=last.lastActivityAt, id=last.id)
    return page


async def send(ctx: Context, input: SendInput) -> Sent:
    user = ctx.user.user_id
    config = ctx.services.feature(MessagingSettings)
    await enforce(
        ctx.db,
        f"messaging.send:{user}",
        limit=config.send_rate_limit,
        window_s=config.send_rate_window_s,
    )
    result = await command(
        ctx.services,
        "messaging_send",
        p_user=user,
        p_conversation=str(input.conversationId),
        p_client_id=input.clientId,
        p_body=input.body,
    )
    if result["status"] == "conflict":
        raise Conflict(
            f"clientId {input.clientId!r} was already used for a different message; "
            "generate a new one for a new message"
        )
    return Sent(message=Message.model_validate(result["message"]), duplicate=result["duplicate"])


async def list_messages(ctx: Context, input: ListInput) -> MessagePage:
    result = await ctx.db.rpc(
        "messaging_messages",
        p_user=ctx.user.user_id,
        p_conversation=str(input.conversationId),
        p_after=input.after,
        p_before=input.before,
        p_limit=input.limit,
    )
    return MessagePage.model_validate(result)


async def mark_read(ctx: Context, input: MarkReadInput) -> ReadState:
    result = await command(
        ctx.services,
        "messaging_mark_read",
        p_user=ctx.user.user_id,
        p_conversation=str(input.conversationId),
        p_message=input.messageId,
    )
    return ReadState.model_validate(result)


PROCEDURES = [
    Procedure(
        path="messaging.createConversation",
        kind="mutation",
        input=CreateConversationInput,
        output=Created,
        handler=create_conversation,
        description="Start a conversation with other users (idempotent with a clientId).",
    ),
    Procedure(
        path="messaging.conversations",
        kind="query",
        input=TypeAdapter(ConversationsInput | None),
        output=ConversationList,
        handler=conversations,
        rate_limit=(240, 60),
        description="Your conversations, latest activity first, with unread counts.",
    ),
    Procedure(
        path="messaging.send",
        kind="mutation",
        input=SendInput,
        output=Sent,
        handler=send,
        description="Send a message; retrying with the same clientId is safe.",
    ),
    Procedure(
        path="messaging.list",
        kind="query",
        input=ListInput,
        output=MessagePage,
        handler=list_messages,
        rate_limit=(240, 60),
        description="Messages after a cursor (delta) or before one (older page).",
    ),
    Procedure(
        path="messaging.markRead",
        kind="mutation",
        input=MarkReadInput,
        output=ReadState,
        handler=mark_read,
        rate_limit=(240, 60),
        description="Mark a conversation read up to a message (read receipt).",
    ),
]
