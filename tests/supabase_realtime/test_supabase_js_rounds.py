"""A planning-poker round and a chat exchange entirely over @supabase/supabase-js, mirroring
the pusher-js ones (tests/poker/test_poker_round.py, tests/messaging/test_messaging_realtime.py):
the procedures served with REALTIME_PROVIDER=supabase, members on private `poker-{id}` /
`conversation-{id}` topics with Realtime presence, client events on `client:conversation-{id}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from dev.stack import Stack
from lib.features import BUNDLE
from lib.features.poker.events import PokerEvent
from lib.rpc import trpc_app
from tests.messaging.messaging_support import Trpc as MessagingTrpc
from tests.messaging.messaging_support import create_conversation, send
from tests.poker.poker_harness import Trpc, grant, user
from tests.supabase_realtime.harness import SupabaseJs, SupabaseJsClients
from tests.support import asgi_client, stack_services

pytestmark = pytest.mark.stack
EVENTS: TypeAdapter[Any] = TypeAdapter(PokerEvent)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    services = stack_services(stack, REALTIME_PROVIDER="supabase")
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as client:
        yield client


async def events_until(client: SupabaseJs, topic: str, last: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while True:
        item = await client.expect("broadcast", topic=topic)
        received.append(item)
        if item["event"] == last:
            return received


async def test_a_full_poker_round_over_supabase_js(
    stack: Stack, token, http: httpx.AsyncClient, supabase_js: SupabaseJsClients
) -> None:
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    api = Trpc(http, token, stack)
    grant(stack, alice, 1)
    created = await api.mutate(
        "poker.create",
        {"name": "Sprint 43", "deck": {"type": "fibonacci"}, "tasks": ["Login"]},
        as_user=alice,
    )
    sid, task = created["session"]["id"], created["session"]["tasks"][0]["id"]
    topic = f"poker-{sid}"
    facilitator = await supabase_js(token(alice))
    assert (await facilitator.subscribe(topic, private=True, presenceKey=alice))[
        "status"
    ] == "SUBSCRIBED"
    await api.mutate("poker.join", {"sessionId": sid}, as_user=bob)
    player = await supabase_js(token(bob))
    assert (await player.subscribe(topic, private=True, presenceKey=bob))["status"] == "SUBSCRIBED"
    await facilitator.send("track", topic=topic, payload={"name": "Alice"})
    assert (await facilitator.expect("tracked"))["result"] == "ok"
    await player.send("track", topic=topic, payload={"name": "Bob"})
    assert (await player.expect("tracked"))["result"] == "ok"
    here = await facilitator.expect("presence", topic=topic, event="join", key=bob)
    assert set(here["state"]) == {alice, bob}  # the members online, from Realtime presence

    await api.mutate("poker.join", {"sessionId": sid}, as_user=carol)
    await api.mutate("poker.startTask", {"taskId": task}, as_user=alice)
    for who, value in ((bob, "5"), (carol, "8"), (bob, "8"), (alice, "?")):
        await api.mutate("poker.vote", {"taskId": task, "value": value}, as_user=who)
    refused = await api.fails("mutation", "poker.reveal", {"taskId": task}, as_user=bob)
    assert refused["code"] == "FORBIDDEN"
    revealed = await api.mutate("poker.reveal", {"taskId": task}, as_user=alice)
    assert revealed["task"]["stats"]["average"] == 8
    await api.mutate("poker.finalize", {"taskId": task, "estimate": "8"}, as_user=alice)
    await api.mutate("poker.end", {"sessionId": sid}, as_user=alice)

    round_ = [
        ("member-joined", carol),
        ("task-started", None),
        ("vote", bob),
        ("vote", carol),
        ("vote", bob),
        ("vote", alice),
        ("votes-revealed", None),
        ("task-finalized", None),
        ("session-ended", None),
    ]
    seen_by_alice = await events_until(facilitator, topic, "session-ended")
    seen_by_bob = await events_until(player, topic, "session-ended")
    assert [describe(e) for e in seen_by_alice] == [("member-joined", bob), *round_]
    assert [describe(e) for e in seen_by_bob] == round_
    for item in seen_by_alice + seen_by_bob:
        assert EVENTS.validate_python(item["payload"]).type == item["event"]
        if item["event"] == "vote":
            assert "value" not in item["payload"]["data"]
    [reveal] = [e["payload"]["data"] for e in seen_by_bob if e["event"] == "votes-revealed"]
    assert sorted((v["userId"], v["value"]) for v in reveal["votes"]) == sorted(
        [(bob, "8"), (carol, "8"), (alice, "?")]
    )


def describe(item: dict[str, Any]) -> tuple[str, str | None]:
    data = item["payload"]["data"]
    if item["event"] == "member-joined":
        return item["event"], data["member"]["userId"]
    if item["event"] == "vote":
        return item["event"], data["userId"]
    return item["event"], None


async def test_a_chat_exchange_over_supabase_js(
    stack: Stack, token, http: httpx.AsyncClient, supabase_js: SupabaseJsClients
) -> None:
    ana, ben = user("ana"), user("ben")

    def api(who: str) -> MessagingTrpc:
        return MessagingTrpc(http, "http://fn.test/api/trpc", token(who), stack)

    conversation = (await create_conversation(api(ana), [ben]))["id"]
    room, typing = f"conversation-{conversation}", f"client:conversation-{conversation}"
    clients = {ana: await supabase_js(token(ana)), ben: await supabase_js(token(ben))}
    for who, client in clients.items():
        for topic in (room, typing, f"user-{who}"):
            assert (await client.subscribe(topic, private=True))["status"] == "SUBSCRIBED"

    await clients[ben].send("send", topic=typing, event="client-typing", payload={"userId": ben})
    assert (await clients[ana].expect("broadcast", topic=typing))["payload"] == {"userId": ben}
    question = await send(api(ben), conversation, "lunch?")
    answer = await send(api(ana), conversation, "yes, 12:30")

    for client in clients.values():
        first = await client.expect("broadcast", topic=room, event="new-message")
        second = await client.expect("broadcast", topic=room, event="new-message")
        assert [m["payload"]["data"]["message"]["id"] for m in (first, second)] == [
            question["message"]["id"],
            answer["message"]["id"],
        ]
    unread = await clients[ana].expect("broadcast", topic=f"user-{ana}", event="unread-update")
    assert unread["payload"]["data"]["unread"] == 1
    await clients[ben].drain()
    assert clients[ben].seen("broadcast", topic=typing) == []  # never echoed to the sender
