"""`crm.*`: the CRM read model for the app, and the operators' user link (tRPC; every
procedure needs a signed-in caller, whose id comes from the token).

    crm.feed           query     {locationId, since?, limit?} -> {items, next}
    crm.conversations  query     {locationId, limit?, offset?} -> {conversations, totalUnread,
                                 next}
    crm.messages       query     {conversationId, since?, limit?} -> {messages, next}
    crm.revenueToday   query     {locationId} -> {day, timeZone, total, payments, currency}
    crm.pipeline       query     {locationId, limit?, offset?} -> {stages, opportunities, next}
    crm.appointments   query     {from, to, locationId?, ...} -> {appointments, next}
    crm.tasks          query     {status?, locationId?, ...} -> {tasks, next}
    crm.linkUser       mutation  {appUserId, ghlUserId} -> {appUserId, ghlUserId, locations}
                                 (ADMIN_USER_IDS only)
    crm.sendMessage    mutation  {conversationId, clientId, body, type, subject?} ->
                                 {message, duplicate} (sending.py)
    crm.quoteLink      mutation  {locationId, quoteId, name, contactId?, expiresInDays?} ->
                                 {quoteId, token, url, expiresAt} (quotes.py; the caller is
                                 the rep who hears of its views)

Location-scoped queries answer FORBIDDEN to anyone who is not a member of the location (SQL:
migration 20261130500900_crm_queries).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from lib.errors import Forbidden
from lib.features.crm import quotes, sending
from lib.features.crm.models import (
    AppointmentPage,
    AppointmentsInput,
    ConversationPage,
    ConversationsInput,
    FeedInput,
    FeedPage,
    Linked,
    LinkUserInput,
    LocationInput,
    MessagePage,
    MessagesInput,
    Pipeline,
    PipelineInput,
    QuoteLink,
    QuoteLinkInput,
    Revenue,
    SendMessageInput,
    SentMessage,
    TaskPage,
    TasksInput,
)
from lib.rpc.procedure import Context, Procedure


async def feed(ctx: Context, input: FeedInput) -> FeedPage:
    result = await ctx.db.rpc(
        "crm_feed",
        p_user=ctx.user.user_id,
        p_location=input.locationId,
        p_since=input.since,
        p_limit=input.limit,
    )
    return FeedPage.model_validate(result)


async def conversations(ctx: Context, input: ConversationsInput) -> ConversationPage:
    result = await ctx.db.rpc(
        "crm_conversations",
        p_user=ctx.user.user_id,
        p_location=input.locationId,
        p_limit=input.limit,
        p_offset=input.offset,
    )
    return ConversationPage.model_validate(result)


async def messages(ctx: Context, input: MessagesInput) -> MessagePage:
    result = await ctx.db.rpc(
        "crm_messages",
        p_user=ctx.user.user_id,
        p_conversation=input.conversationId,
        p_since=input.since,
        p_limit=input.limit,
    )
    return MessagePage.model_validate(result)


async def revenue_today(ctx: Context, input: LocationInput) -> Revenue:
    result = await ctx.db.rpc(
        "crm_revenue_today", p_user=ctx.user.user_id, p_location=input.locationId
    )
    return Revenue.model_validate(result)


async def pipeline(ctx: Context, input: PipelineInput) -> Pipeline:
    result = await ctx.db.rpc(
        "crm_pipeline",
        p_user=ctx.user.user_id,
        p_location=input.locationId,
        p_limit=input.limit,
        p_offset=input.offset,
    )
    return Pipeline.model_validate(result)


async def appointments(ctx: Context, input: AppointmentsInput) -> AppointmentPage:
    result = await ctx.db.rpc(
        "crm_appointments",
        p_user=ctx.user.user_id,
        p_from=input.from_.isoformat(),
        p_to=input.to.isoformat(),
        p_location=input.locationId,
        p_limit=input.limit,
        p_offset=input.offset,
    )
    return AppointmentPage.model_validate(result)


async def tasks(ctx: Context, input: TasksInput | None) -> TaskPage:
    input = input or TasksInput()
    result = await ctx.db.rpc(
        "crm_tasks",
        p_user=ctx.user.user_id,
        p_status=input.status,
        p_location=input.locationId,
        p_limit=input.limit,
        p_offset=input.offset,
    )
    return TaskPage.model_validate(result)


async def link_user(ctx: Context, input: LinkUserInput) -> Linked:
    if ctx.user.user_id not in ctx.settings.admin_user_ids:
        raise Forbidden("crm.linkUser is for operators (ADMIN_USER_IDS)")
    result = await ctx.db.rpc(
        "crm_link_user",
        p_app_user=input.appUserId,
        p_ghl_user=input.ghlUserId,
        p_by=ctx.user.user_id,
    )
    return Linked.model_validate(result)


async def send_message(ctx: Context, input: SendMessageInput) -> SentMessage:
    result = await sending.send(ctx.services, user=ctx.user.user_id, input=input)
    return SentMessage.model_validate(result)


async def quote_link(ctx: Context, input: QuoteLinkInput) -> QuoteLink:
    expires = ctx.services.now() + timedelta(days=input.expiresInDays)
    ref = quotes.QuoteRef(
        quote=input.quoteId,
        contact=input.contactId or "",
        location=input.locationId,
        expires=int(expires.timestamp()),
    )
    made = quotes.link(ctx.services, ref)  # first: refused without CRM_QUOTE_TOKEN_SECRET
    await ctx.db.rpc(
        "crm_quote_upsert",
        p_user=ctx.user.user_id,
        p_quote=input.quoteId,
        p_location=input.locationId,
        p_contact=input.contactId,
        p_name=input.name,
    )
    return QuoteLink(
        quoteId=input.quoteId,
        token=made["token"],
        url=made["url"],
        expiresAt=datetime.fromtimestamp(ref.expires, UTC),
    )


QUERY_RATE = (240, 60)

PROCEDURES = [
    Procedure(
        path="crm.feed",
        kind="query",
        input=FeedInput,
        output=FeedPage,
        handler=feed,
        rate_limit=QUERY_RATE,
        description="A location's activity after a cursor (what its channel carried).",
    ),
    Procedure(
        path="crm.conversations",
        kind="query",
        input=ConversationsInput,
        output=ConversationPage,
        handler=conversations,
        rate_limit=QUERY_RATE,
        description="A location's conversations, latest first, with unread counts.",
    ),
    Procedure(
        path="crm.messages",
        kind="query",
        input=MessagesInput,
        output=MessagePage,
        handler=messages,
        rate_limit=QUERY_RATE,
        description="A conversation's messages after a cursor, oldest first.",
    ),
    Procedure(
        path="crm.revenueToday",
        kind="query",
        input=LocationInput,
        output=Revenue,
        handler=revenue_today,
        rate_limit=QUERY_RATE,
        description="Today's payments in the location's time zone.",
    ),
    Procedure(
        path="crm.pipeline",
        kind="query",
        input=PipelineInput,
        output=Pipeline,
        handler=pipeline,
        rate_limit=QUERY_RATE,
        description="Opportunities per pipeline stage, and the opportunities.",
    ),
    Procedure(
        path="crm.appointments",
        kind="query",
        input=AppointmentsInput,
        output=AppointmentPage,
        handler=appointments,
        rate_limit=QUERY_RATE,
        description="Your appointments (or a location's) starting in [from, to).",
    ),
    Procedure(
        path="crm.tasks",
        kind="query",
        input=TypeAdapter(TasksInput | None),
        output=TaskPage,
        handler=tasks,
        rate_limit=QUERY_RATE,
        description="Your tasks (or a location's) by status, by due date.",
    ),
    Procedure(
        path="crm.linkUser",
        kind="mutation",
        input=LinkUserInput,
        output=Linked,
        handler=link_user,
        rate_limit=(60, 60),
        description="Link an app user to a HighLevel user (operators).",
    ),
    Procedure(
        path="crm.sendMessage",
        kind="mutation",
        input=SendMessageInput,
        output=SentMessage,
        handler=send_message,
        rate_limit=(60, 60),
        description="Send an SMS or email through HighLevel (optimistic: reconciled by "
        "messageId, the new-message event carries the clientId).",
    ),
    Procedure(
        path="crm.quoteLink",
        kind="mutation",
        input=QuoteLinkInput,
        output=QuoteLink,
        handler=quote_link,
        rate_limit=(60, 60),
        description="A signed quote link; its views are published to you (quote-viewed).",
    ),
]
