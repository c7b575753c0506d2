"""`calls.*`: outbound calls and call records through tRPC.

    calls.start  mutation, signed in, 10 calls / 10 min / caller
                 {to, goal, context?, fromNumber?} -> the call (status "queued" or later)
                 refused: UNPROCESSABLE_CONTENT (422) for a destination outside the policy
                 (destinations.py: country codes, premium ranges), FORBIDDEN (403) for a
                 fromNumber that is not one of the caller's call_numbers (without one: the
                 caller's own number, VOICE_FROM_NUMBER first if it is theirs), and
                 TOO_MANY_REQUESTS (429) past CALLS_DAILY_LIMIT calls in 24 hours (counted
                 in calls_create_outbound, migration 20261130300000_calls_guards)
    calls.get    query, signed in      {id} -> the call with its transcript (NOT_FOUND if it is
                                       not the caller's)
    calls.list   query, signed in      {limit?, before?} -> {calls, next}, newest first

calls.start stores the call first (so the webhooks the provider sends while we wait for its
answer find it: their URLs carry `?callId=`), then asks the provider to dial; a refusal marks
the call failed and answers BAD_REQUEST (the provider's message) or SERVICE_UNAVAILABLE.
The provider's REST API is called on `services.http` (tests hand the app a Services whose
client has an httpx.MockTransport speaking the provider's API).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from pydantic import TypeAdapter

from lib.commands import command
from lib.db import map_error
from lib.errors import NotFound, ServiceUnavailable, SocklessError, UnprocessableContent
from lib.features.calls import destinations, models
from lib.features.calls.models import (
    Call,
    CallList,
    GetInput,
    ListInput,
    StartInput,
)
from lib.features.calls.provider import TelephonyApi
from lib.features.calls.settings import CallsSettings
from lib.rpc.procedure import Context, Procedure

if TYPE_CHECKING:
    from postgrest import AsyncSelectRequestBuilder


async def start(ctx: Context, input: StartInput) -> Call:
    config = ctx.settings
    calls = ctx.services.feature(CallsSettings)
    if not config.public_base_url:
        raise ServiceUnavailable("PUBLIC_BASE_URL is not set: the provider could not reach us")
    refused = destinations.refusal(input.to, calls.destinations)
    if refused is not None:
        raise UnprocessableContent(f"destination refused: {refused}")
    api = TelephonyApi.from_settings(config, http=ctx.services.http)
    row: dict[str, Any] = await ctx.db.rpc(
        "calls_create_outbound",
        p_owner=ctx.user.user_id,
        p_provider=config.voice_provider,
        p_from=input.fromNumber,
        p_to=input.to,
        p_goal=input.goal,
        p_context=input.context,
        p_default_from=calls.voice_from_number or None,
        p_daily_limit=calls.daily_limit,
    )
    from_number = str(row["from_number"])
    call_id = str(row["id"])
    base = config.public_base_url
    try:
        placed = await api.place_call(
            to=input.to,
            from_=from_number,
            url=f"{base}/api/voice/incoming?callId={call_id}",
            status_callback=f"{base}/api/voice/status?callId={call_id}",
        )
    except SocklessError as exc:
        await command(ctx.services, "calls_place_failed", p_call_id=call_id, p_reason=exc.message)
        raise
    updated = await command(
        ctx.services,
        "calls_status",
        p_provider=config.voice_provider,
        p_call_sid=placed.sid,
        p_status=placed.status if placed.status in _STATUSES else "queued",
        p_call_id=call_id,
    )
    return models.call(updated or row)


_STATUSES = {"queued", "initiated", "ringing", "in-progress"}


async def fetch_rows(query: AsyncSelectRequestBuilder) -> list[dict[str, Any]]:
    from postgrest.exceptions import APIError

    try:
        response = await query.execute()
    except (APIError, httpx.HTTPError) as exc:
        raise map_error(exc) from exc
    return [dict(row) for row in response.data if isinstance(row, dict)]


async def get(ctx: Context, input: GetInput) -> Call:
    client = await ctx.db.client()
    rows = await fetch_rows(
        client.table("calls").select("*").eq("id", input.id).eq("owner_id", ctx.user.user_id)
    )
    if not rows:
        raise NotFound(f"no call {input.id}")
    return models.call(rows[0])


async def list_calls(ctx: Context, input: ListInput | None) -> CallList:
    input = input or ListInput()
    client = await ctx.db.client()
    query = (
        client.table("calls")
        .select(models.LIST_COLUMNS)
        .eq("owner_id", ctx.user.user_id)
        .order("created_at", desc=True)
        .order("id", desc=True)
        .limit(input.limit + 1)
    )
    if input.before is not None:
        query = query.lt("created_at", input.before.isoformat())
    rows = await fetch_rows(query)
    page = [models.list_item(row) for row in rows[: input.limit]]
    more = len(rows) > input.limit
    return CallList(calls=page, next=page[-1].createdAt if more and page else None)


PROCEDURES = [
    Procedure(
        path="calls.start",
        kind="mutation",
        input=StartInput,
        output=Call,
        handler=start,
        rate_limit=(10, 600),
        description="Place an outbound call that pursues a goal; returns the queued call.",
    ),
    Procedure(
        path="calls.get",
        kind="query",
        input=GetInput,
        output=Call,
        handler=get,
        rate_limit=(240, 60),
        description="One of the caller's calls, with its transcript.",
    ),
    Procedure(
        path="calls.list",
        kind="query",
        input=TypeAdapter(ListInput | None),
        output=CallList,
        handler=list_calls,
        rate_limit=(120, 60),
        description="The caller's calls, newest first (pass `next` as `before` to page).",
    ),
]
