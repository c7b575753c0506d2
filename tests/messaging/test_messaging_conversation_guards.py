"""messaging.createConversation makes its participants SMS/email recipients, so (issue 10):
only users who exist (a profiles row) may be participants (422 naming the others), and a user
opens a bounded number of conversations: MESSAGING_CREATE_RATE_LIMIT per window and
MESSAGING_CONVERSATIONS_PER_DAY per 24 hours, counted in SQL (429). Over the tRPC wire of an
inline app against the stack's database; events go to a memory publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features import messaging
from lib.realtime.memory import MemoryPublisher
from lib.rpc import router, trpc_app
from lib.services import Services
from tests.messaging.messaging_support import Trpc, client_id, data, error, profiles, user
from tests.outbox_support import sql
from tests.support import stack_services

Api = Callable[..., Any]


@pytest.fixture
async def app_for(stack: Stack, token: Any) -> AsyncIterator[Api]:
    """app_for(**env)(who) -> a tRPC caller signed in as `who` on an app with `env`."""
    opened: list[Database | httpx.AsyncClient] = []

    def configured(**env: str) -> Callable[[str], Trpc]:
        services: Services = stack_services(stack, **env)
        db = Database(services.settings)
        services = services.replace(db=db, publisher=MemoryPublisher())
        app = trpc_app(router(*messaging.PROCEDURES), services=services)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        opened.extend((db, client))
        return lambda who: Trpc(client, "http://fn.test/api/trpc", token(who))

    yield configured
    for part in opened:
        await part.aclose()


def created_by(stack: Stack, who: str) -> int:
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) as n from public.conversations where created_by = %s", [who]
        ).fetchone()
    assert row is not None
    return int(row["n"])


def conversation_events(stack: Stack, who: str) -> int:
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) as n from public.outbox where channel = %s"
            " and event = 'conversation-added'",
            [f"private-user-{who}"],
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def test_only_existing_users_may_be_participants(stack: Stack, app_for: Api):
    api = app_for()
    me, friend, ghost, phantom = user("me"), user("friend"), user("ghost"), user("phantom")
    profiles(stack, friend)
    response = await api(me).mutation(
        "messaging.createConversation", {"participants": [phantom, friend, ghost]}
    )
    refused = error(response)
    assert (refused["httpStatus"], refused["code"]) == (422, "UNPROCESSABLE_CONTENT")
    assert refused["message"] == f"no such users: {', '.join(sorted([ghost, phantom]))}"
    assert created_by(stack, me) == 0
    assert conversation_events(stack, friend) == conversation_events(stack, ghost) == 0

    made = data(await api(me).mutation("messaging.createConversation", {"participants": [friend]}))
    assert {p["userId"] for p in made["conversation"]["participants"]} == {me, friend}


async def test_new_conversations_are_capped_per_day_in_sql(stack: Stack, app_for: Api):
    api = app_for(MESSAGING_CONVERSATIONS_PER_DAY="2")
    me, friend = user("me"), user("friend")
    profiles(stack, friend)
    first = {"participants": [friend], "clientId": client_id()}
    data(await api(me).mutation("messaging.createConversation", first))
    data(await api(me).mutation("messaging.createConversation", {"participants": [friend]}))

    over = await api(me).mutation("messaging.createConversation", {"participants": [friend]})
    refused = error(over)
    assert (refused["httpStatus"], refused["code"]) == (429, "TOO_MANY_REQUESTS")
    assert refused["message"] == (
        "daily conversation limit reached: at most 2 new conversations per 24 hours"
    )
    assert 0 < int(over.headers["retry-after"]) <= 86_400
    retry = data(await api(me).mutation("messaging.createConversation", first))
    assert retry["duplicate"] is True  # a retry of one already made is no new conversation
    assert created_by(stack, me) == 2


async def test_creating_conversations_is_rate_limited_per_user(stack: Stack, app_for: Api):
    api = app_for(MESSAGING_CREATE_RATE_LIMIT="2", MESSAGING_CREATE_RATE_WINDOW_S="600")
    me, other, friend = user("me"), user("other"), user("friend")
    profiles(stack, friend)
    body = {"participants": [friend]}
    for _ in range(2):
        data(await api(me).mutation("messaging.createConversation", body))
    refused = error(await api(me).mutation("messaging.createConversation", body))
    assert (refused["httpStatus"], refused["code"]) == (429, "TOO_MANY_REQUESTS")
    data(await api(other).mutation("messaging.createConversation", body))  # per user
    assert created_by(stack, me) == 2
