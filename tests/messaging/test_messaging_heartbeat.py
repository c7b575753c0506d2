"""Offline notifications in Supabase Realtime mode: hosted Supabase sends no presence
webhooks, so the client reports itself with `messaging.heartbeat` (online for 90 s per beat,
or `{online: false}`), and messaging_send asks the same private.is_user_online() as in Pusher
mode. The tRPC app here runs with REALTIME_PROVIDER=supabase; ben also holds a supabase-js
subscription on his topic, as a Supabase-mode front end would while it sends heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features import BUNDLE
from lib.features.messaging.offline import notify_offline
from lib.rpc import trpc_app
from tests.messaging import providers
from tests.messaging.messaging_support import (
    Trpc,
    create_conversation,
    data,
    error,
    notifications,
    online,
    send,
    set_contact,
    user,
)
from tests.messaging.providers import Providers
from tests.supabase_realtime.harness import SupabaseJsClients
from tests.support import asgi_client, sql, stack_services

Api = Callable[[str | None], Trpc]


@pytest.fixture
async def supabase_api(stack: Stack, token) -> AsyncIterator[Api]:  # noqa: ANN001
    services = stack_services(stack, REALTIME_PROVIDER="supabase")
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as http:
        yield lambda who: Trpc(http, "http://fn.test/api/trpc", token(who) if who else None, stack)


@pytest.fixture
async def notify_db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(stack_services(stack, **providers.ENV).settings)
    yield database
    await database.aclose()


@pytest.fixture
async def supabase_js(stack: Stack) -> AsyncIterator[SupabaseJsClients]:
    clients = SupabaseJsClients(stack)
    try:
        yield clients
    finally:
        await clients.close()


async def test_heartbeats_decide_who_gets_an_offline_notification(
    stack: Stack,
    token,  # noqa: ANN001
    supabase_api: Api,
    supabase_js: SupabaseJsClients,
    notify_db: Database,
):
    ana, ben, cy = user("ana"), user("ben"), user("cy")
    phones = {ben: "+15550100011", cy: "+15550100012"}
    for who, number in phones.items():
        set_contact(stack, who, "sms", phone=number)
    conversation = (await create_conversation(supabase_api(ana), [ben, cy]))["id"]
    client = await supabase_js(token(ben))
    assert (await client.subscribe(f"user-{ben}", private=True))["status"] == "SUBSCRIBED"
    beat = data(await supabase_api(ben).mutation("messaging.heartbeat", {}))
    assert beat["online"] is True and beat["ttlSeconds"] == 90
    assert online(stack, ben) and not online(stack, cy)

    fake = Providers()
    async with fake.client() as http:
        job = stack_services(stack, **providers.ENV).replace(db=notify_db, http=http)
        await send(supabase_api(ana), conversation, "first")
        await notify_offline(job)
        assert notifications(stack, ben) == []
        assert len(fake.sms_to(phones[cy])) == 1

        left = data(await supabase_api(ben).mutation("messaging.heartbeat", {"online": False}))
        assert left == {"online": False, "expiresAt": None, "ttlSeconds": 90}
        await send(supabase_api(ana), conversation, "are you there?")
        await notify_offline(job)
    assert [n["status"] for n in notifications(stack, ben)] == ["batched"]
    assert "are you there?" in fake.sms_to(phones[ben])[0].body


async def test_a_client_that_stops_beating_goes_offline_after_its_ttl(
    stack: Stack, supabase_api: Api
):
    dana = user("dana")
    data(await supabase_api(dana).mutation("messaging.heartbeat"))
    assert online(stack, dana)
    with sql(stack) as db:  # 91 s later, with no further heartbeat
        db.execute(
            "update public.realtime_presence set expires_at = now() - interval '1 second'"
            " where user_id = %s",
            [dana],
        )
    assert not online(stack, dana)


async def test_heartbeat_refuses_bad_input_and_anonymous_callers(supabase_api: Api):
    bad = await supabase_api(user("eve")).mutation("messaging.heartbeat", {"online": "maybe"})
    assert bad.status_code == 400 and error(bad)["code"] == "BAD_REQUEST"
    anonymous = await supabase_api(None).mutation("messaging.heartbeat", {})
    assert anonymous.status_code == 401
