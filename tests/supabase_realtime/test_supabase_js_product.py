"""The product in Supabase mode, seen by @supabase/supabase-js (npm, unmodified): a tRPC
mutation's event on a private topic, presence between two members, client events where the
policies allow them, token refresh with realtime.setAuth, a token expiring mid-session, and
catching up through history after a reconnect."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dev.stack import Stack
from lib.features import BUNDLE
from lib.rpc import trpc_app
from tests.messaging.messaging_support import Trpc, create_conversation, data, send, user
from tests.supabase_realtime.harness import SupabaseJsClients
from tests.support import asgi_client, sql, stack_services, unique

pytestmark = pytest.mark.stack
Api = Callable[[str], Trpc]


@pytest.fixture
async def supabase_api(stack: Stack, token) -> AsyncIterator[Api]:  # noqa: ANN001
    """api(user) -> tRPC as `user`, served with REALTIME_PROVIDER=supabase."""
    services = stack_services(stack, REALTIME_PROVIDER="supabase")
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as http:
        yield lambda who: Trpc(http, "http://fn.test/api/trpc", token(who), stack)


async def test_a_trpc_mutation_reaches_a_participant_on_the_conversation_topic(
    stack: Stack, token, supabase_api: Api, supabase_js: SupabaseJsClients
) -> None:
    ana, ben = user("ana"), user("ben")
    conversation = (await create_conversation(supabase_api(ana), [ben]))["id"]
    client = await supabase_js(token(ben))
    assert (await client.subscribe(f"conversation-{conversation}", private=True))[
        "status"
    ] == "SUBSCRIBED"
    inbox = await client.subscribe(f"user-{ben}", private=True)
    assert inbox["status"] == "SUBSCRIBED", inbox

    sent = await send(supabase_api(ana), conversation, "hello ben")

    message = await client.expect("broadcast", topic=f"conversation-{conversation}")
    unread = await client.expect("broadcast", topic=f"user-{ben}", event="unread-update")
    assert message["event"] == "new-message"
    assert message["payload"]["data"]["message"]["id"] == sent["message"]["id"]
    assert message["payload"]["data"]["message"]["body"] == "hello ben"
    assert unread["payload"]["data"]["unread"] == 1


async def test_client_events_go_on_the_client_topic_and_never_on_the_server_topic(
    stack: Stack, token, supabase_api: Api, supabase_js: SupabaseJsClients
) -> None:
    ana, ben = user("ana"), user("ben")
    conversation = (await create_conversation(supabase_api(ana), [ben]))["id"]
    sender, receiver = await supabase_js(token(ana)), await supabase_js(token(ben))
    server_topic, client_topic = (
        f"conversation-{conversation}",
        f"client:conversation-{conversation}",
    )
    for client in (sender, receiver):
        for topic in (server_topic, client_topic):
            outcome = await client.subscribe(topic, private=True, ack=True)
            assert outcome["status"] == "SUBSCRIBED", outcome

    await sender.send("send", topic=client_topic, event="client-typing", payload={"who": ana})
    await sender.send("send", topic=server_topic, event="new-message", payload={"forged": 1})

    typing = await receiver.expect("broadcast", topic=client_topic)
    assert (typing["event"], typing["payload"]) == ("client-typing", {"who": ana})
    assert (await sender.expect("sent", topic=client_topic))["result"] == "ok"
    # No INSERT policy lets a member send on the server topic: dropped, never acknowledged.
    assert (await sender.expect("sent", topic=server_topic))["result"] == "timed out"
    await receiver.drain()
    assert receiver.seen("broadcast", topic=server_topic) == []


async def test_two_poker_members_see_each_other_and_an_outsider_is_refused(
    stack: Stack, token, supabase_js: SupabaseJsClients
) -> None:
    alice, bob, eve, session = unique("alice"), unique("bob"), unique("eve"), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) values (%s, 'P', %s)",
            [session, alice],
        )
        for member in (alice, bob):
            db.execute(
                "insert into public.poker_members (session_id, user_id) values (%s, %s)",
                [session, member],
            )
    topic = f"poker-{session}"
    first, second = await supabase_js(token(alice)), await supabase_js(token(bob))
    assert (await first.subscribe(topic, private=True, presenceKey=alice))["status"] == "SUBSCRIBED"
    assert (await second.subscribe(topic, private=True, presenceKey=bob))["status"] == "SUBSCRIBED"

    await first.send("track", topic=topic, payload={"name": "Alice"})
    assert (await first.expect("tracked"))["result"] == "ok"
    await second.send("track", topic=topic, payload={"name": "Bob"})
    assert (await second.expect("tracked"))["result"] == "ok"
    joined = await first.expect("presence", topic=topic, event="join", key=bob)
    assert set(joined["state"]) == {alice, bob}
    assert joined["state"][bob][0]["name"] == "Bob"

    await second.send("untrack", topic=topic)
    left = await first.expect("presence", topic=topic, event="leave", key=bob)
    assert not left["state"].get(bob)  # phoenix.js empties the key's metas, then drops it
    assert [meta["name"] for meta in left["state"][alice]] == ["Alice"]

    outsider = await supabase_js(token(eve))
    refused = await outsider.subscribe(topic, private=True, presenceKey=eve)
    assert refused["status"] == "CHANNEL_ERROR"
    assert "Unauthorized" in refused["error"]


async def test_set_auth_keeps_a_channel_past_its_first_tokens_expiry(
    stack: Stack, token, supabase_js: SupabaseJsClients
) -> None:
    alice = unique("alice")
    client = await supabase_js(token(alice, ttl_s=2))
    topic = f"user-{alice}"
    assert (await client.subscribe(topic, private=True))["status"] == "SUBSCRIBED"

    await client.send("setAuth", token=token(alice, ttl_s=600))
    await client.expect("auth_set")
    await client.drain(3.0)  # past the first token's expiry

    assert client.seen("system", topic=topic) == []
    assert client.seen("status", topic=topic, status="CLOSED") == []
    _broadcast(stack, topic, "still-here")
    assert (await client.expect("broadcast", topic=topic))["event"] == "still-here"


async def test_a_token_expiring_mid_session_ends_the_channel_as_realtime_does(
    stack: Stack, token, supabase_js: SupabaseJsClients
) -> None:
    alice = unique("alice")
    client = await supabase_js(token(alice, ttl_s=2))
    topic = f"user-{alice}"
    assert (await client.subscribe(topic, private=True))["status"] == "SUBSCRIBED"

    system = await client.expect("system", topic=topic)

    assert system["payload"]["status"] == "error"
    assert system["payload"]["message"].startswith("Token has expired")
    await client.expect("status", topic=topic, status="CLOSED")
    _broadcast(stack, topic, "after-expiry")
    await client.drain()
    assert client.seen("broadcast", topic=topic) == []


async def test_a_reconnecting_client_catches_up_through_history(
    stack: Stack, token, supabase_api: Api, supabase_js: SupabaseJsClients
) -> None:
    ana, ben = user("ana"), user("ben")
    conversation = (await create_conversation(supabase_api(ana), [ben]))["id"]
    topic = f"conversation-{conversation}"
    client = await supabase_js(token(ben))
    assert (await client.subscribe(topic, private=True))["status"] == "SUBSCRIBED"
    await send(supabase_api(ana), conversation, "one")
    last_seen = (await client.expect("broadcast", topic=topic))["payload"]["id"]
    await client.close()  # offline

    await send(supabase_api(ana), conversation, "two")
    await send(supabase_api(ana), conversation, "three")

    again = await supabase_js(token(ben))
    assert (await again.subscribe(topic, private=True))["status"] == "SUBSCRIBED"
    missed = data(
        await supabase_api(ben).query(
            "events.since", {"channel": f"private-{topic}", "after": last_seen}
        )
    )
    bodies = [e["data"]["message"]["body"] for e in missed["events"] if e["type"] == "new-message"]
    assert bodies == ["two", "three"]
    async with httpx.AsyncClient() as http:
        history = await http.get(
            f"{stack.api_url}/api/realtime/history",
            params={"channel": f"private-{topic}", "after": last_seen},
            headers={"authorization": f"Bearer {token(ben)}"},
            timeout=10,
        )
    assert [e["id"] for e in history.json()["events"]] == [e["id"] for e in missed["events"]]


def _broadcast(stack: Stack, topic: str, event: str) -> None:
    key = stack.config.service_role_key
    response = httpx.post(
        f"{stack.supabase_url}/realtime/v1/api/broadcast",
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
        json={"messages": [{"topic": topic, "event": event, "payload": {}, "private": True}]},
        timeout=10,
    )
    assert response.status_code == 202
