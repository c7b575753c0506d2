"""client/ against the local stack in both realtime modes (pusher-js and the Pusher-protocol
server; supabase-js and the local Supabase Realtime server): what a user of the front end
would notice.

Events come from a real command (the demo_note_add SQL fixture: state + outbox row in one
transaction) published through the real adapter of the mode (Pusher HTTP API / Realtime
broadcast API), as in production, or from a tRPC mutation of the api running in that mode;
the client is the built package, driven by tests/js/client/driver.mjs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from lib.db import Database
from lib.realtime.outbox import commit_events
from lib.realtime.port import Publisher
from tests.client.client_harness import driver
from tests.messaging.messaging_support import profiles
from tests.poker.poker_harness import grant
from tests.support import sql

pytestmark = pytest.mark.usefixtures("built_client")

NOTE = ["note-added"]


def user() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


async def note(db: Database, who: str, body: str, publish: Publisher | None) -> int:
    """Queue a note-added event; publish it unless `publish` is None (a lost publish)."""
    result: dict[str, Any] = await db.rpc("demo_note_add", p_user=who, p_body=body)
    if publish is not None:
        await commit_events(db, publish, result["events"])
    return int(result["events"][0]["id"])


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["note"]["body"] for e in events]


async def test_a_published_event_arrives_once_even_when_published_twice(stack, db, mode):
    who = user()
    channel = f"private-user-{who}"
    async with driver(stack, who, mode=mode) as app:
        await app.subscribe(channel, NOTE)
        result = await db.rpc("demo_note_add", p_user=who, p_body="once")
        await commit_events(db, mode.publisher, result["events"])
        await commit_events(db, mode.publisher, result["events"])  # at-least-once: a relay re-sends
        await note(db, who, "after", mode.publisher)

        received = await app.events(channel, 2)
        await app.drain(0.5)
        stats = await app.stats(channel)

    assert bodies(received) == ["once", "after"]
    assert app.seen("event", channel=channel) == []
    assert stats["duplicates"] == 1


async def test_a_lost_publish_is_detected_by_the_next_event_and_filled_in_order(stack, db, mode):
    who = user()
    channel = f"private-user-{who}"
    async with driver(stack, who, mode=mode) as app:
        await app.subscribe(channel, NOTE)
        await note(db, who, "one", mode.publisher)
        await note(db, who, "two (never published)", None)
        await note(db, user(), "someone else's", mode.publisher)  # ids are global: not a gap here
        await note(db, who, "three", mode.publisher)

        received = await app.events(channel, 3)
        stats = await app.stats(channel)

    assert bodies(received) == ["one", "two (never published)", "three"]
    assert stats["gaps"] == 1


async def test_events_missed_while_disconnected_arrive_once_in_order_on_reconnect(stack, db, mode):
    who = user()
    channel = f"private-user-{who}"
    async with driver(stack, who, mode=mode) as app:
        await app.subscribe(channel, NOTE)
        await note(db, who, "before", mode.publisher)
        await app.expect("event", channel=channel)
        await app.send("disconnect")
        await app.expect("state", state="offline")
        for n in range(5):
            await note(db, who, f"offline {n}", mode.publisher)  # nobody is listening
        await app.send("connect")
        await app.expect("state", state="live")

        received = await app.events(channel, 5)
        await note(db, who, "live again", mode.publisher)
        received += await app.events(channel, 1)
        await app.drain(0.5)

    assert bodies(received) == [*(f"offline {n}" for n in range(5)), "live again"]
    assert app.seen("event", channel=channel) == []


async def test_an_event_over_10_kb_is_fetched_and_delivered_whole(stack, db, mode):
    who = user()
    channel = f"private-user-{who}"
    async with driver(stack, who, mode=mode) as app:
        await app.subscribe(channel, NOTE)
        await note(db, who, "x" * 50_000, mode.publisher)
        await note(db, who, "small", mode.publisher)

        received = await app.events(channel, 2)

    assert [len(b) for b in bodies(received)] == [50_000, 5]


async def test_expired_tokens_never_break_the_session(stack, db, mode):
    """Tokens live 2 s here (Clerk's live ~60 s): getToken() is asked again for every
    call, every history read and every resubscription, so none of them fails."""
    who = user()
    channel = f"private-user-{who}"
    async with driver(stack, who, mode=mode, ttl_s=2) as app:
        await app.subscribe(channel, NOTE)
        await asyncio.sleep(3)  # every token minted so far has expired
        await app.send("disconnect")
        await app.expect("state", state="offline")
        await note(db, who, "while away", mode.publisher)
        await app.send("connect")  # re-authorizes the channel, then reads history
        (caught_up,) = await app.events(channel, 1)
        whoami = await app.call("trpc", path="system.whoami", kind="query")
        stats = await app.stats(channel)

    assert bodies([caught_up]) == ["while away"]
    assert whoami["ok"] and whoami["value"]["userId"] == who
    assert app.seen("error") == []
    assert stats["tokens"] >= 4


async def test_optimistic_send_is_replaced_by_its_event_or_marked_failed(stack, db, mode):
    alice, bob = user(), user()
    profiles(stack, alice, bob)
    async with driver(stack, alice, mode=mode) as app:
        created = await app.call(
            "trpc",
            path="messaging.createConversation",
            kind="mutation",
            input={"clientId": "conv-1", "title": "t", "participants": [bob]},
        )
        assert created["ok"], created
        conversation = created["value"]["conversation"]["id"]
        channel = f"private-conversation-{conversation}"
        await app.subscribe(channel, ["new-message"])

        sent = await app.call(
            "send",
            path="messaging.send",
            input={"conversationId": conversation, "body": "hi"},
            clientId="m-1",
        )
        (event,) = await app.events(channel, 1)
        cleared = await app.expect("pending", items=[])
        failed = await app.call(
            "send",
            path="messaging.send",
            input={"conversationId": str(uuid.uuid4()), "body": "to nowhere"},
            clientId="m-2",
        )
        marked = await app.expect("pending", items=[{"clientId": "m-2", "status": "failed"}])

    (shown,) = app.seen("sent", clientId="m-1")
    assert shown["status"] == "sending"  # the temporary item, before the server answered
    assert sent["ok"] and event["data"]["message"]["clientId"] == "m-1"
    assert cleared["items"] == [] and marked
    assert not failed["ok"] and failed["error"]["code"] in {"FORBIDDEN", "NOT_FOUND"}


def actor(data: dict[str, Any]) -> str | None:
    return data.get("userId") or data.get("member", {}).get("userId")


async def test_poker_members_see_each_other_and_mutations_reach_typed_handlers(stack, mode):
    """Presence keyed by the token's `sub` (Pusher: the auth endpoint's user id; Supabase:
    Realtime presence on `poker-<uuid>`), and the events of tRPC mutations on the room."""
    alice, bob = user(), user()
    grant(stack, alice, 1)
    profiles(stack, bob)
    async with driver(stack, alice, mode=mode) as host, driver(stack, bob, mode=mode) as guest:
        created = await host.call(
            "trpc", path="poker.create", kind="mutation", input={"name": "R", "tasks": ["T"]}
        )
        assert created["ok"], created
        session = created["value"]["session"]
        channel = f"presence-poker-{session['id']}"
        await host.subscribe(channel, ["member-joined", "task-started", "vote"])
        joined = await guest.call(
            "trpc", path="poker.join", kind="mutation", input={"sessionId": session["id"]}
        )
        assert joined["ok"], joined
        await guest.subscribe(channel, ["task-started", "vote"])
        while set((await host.expect("members", channel=channel))["ids"]) != {alice, bob}:
            pass  # each change is reported; the room fills up as the guest arrives

        task = session["tasks"][0]["id"]
        for who, path, body in (
            (host, "poker.startTask", {"taskId": task}),
            (guest, "poker.vote", {"taskId": task, "value": "5"}),
        ):
            assert (await who.call("trpc", path=path, kind="mutation", input=body))["ok"]
        seen_by_host = [(e["event"], actor(e["data"])) for e in await host.events(channel, 3)]
        seen_by_guest = [e["event"] for e in await guest.events(channel, 2)]

    assert seen_by_host == [("member-joined", bob), ("task-started", None), ("vote", bob)]
    assert seen_by_guest == ["task-started", "vote"]


async def test_typing_reaches_the_other_participant_and_never_the_typist(stack, mode):
    """Client events: Pusher `client-typing` on the channel; Supabase on `client:{topic}`."""
    alice, bob = user(), user()
    profiles(stack, alice, bob)
    async with driver(stack, alice, mode=mode) as mine, driver(stack, bob, mode=mode) as theirs:
        created = await mine.call(
            "trpc",
            path="messaging.createConversation",
            kind="mutation",
            input={"clientId": "c", "title": "t", "participants": [bob]},
        )
        channel = f"private-conversation-{created['value']['conversation']['id']}"
        events = ["new-message", "client-typing"]
        await mine.subscribe(channel, events)
        await theirs.subscribe(channel, events)
        sent = await theirs.call(
            "trigger", channel=channel, event="client-typing", data={"userId": bob}
        )
        typing = await mine.expect("event", channel=channel, event="client-typing")
        await theirs.drain(0.5)

    assert sent["ok"], sent
    assert typing["data"] == {"userId": bob} and typing["id"] is None
    assert theirs.seen("event", channel=channel, event="client-typing") == []


async def test_a_connected_client_is_online_for_offline_notifications(stack, mode):
    """Who is online: Pusher mode learns it from the local server's presence webhooks;
    Supabase mode from client/'s `messaging.heartbeat`, sent while the connection is up
    (Realtime sends no presence webhooks)."""
    who = user()
    grant(stack, who, 1)
    async with driver(stack, who, mode=mode) as app:
        created = await app.call("trpc", path="poker.create", kind="mutation", input={"name": "R"})
        assert created["ok"], created
        await app.subscribe(f"presence-poker-{created['value']['session']['id']}", ["vote"])
        for _ in range(75):  # up to 15 s: the webhook / heartbeat arrives asynchronously
            if await online(stack, who):
                break
            await asyncio.sleep(0.2)
        assert await online(stack, who)


async def online(stack, who: str) -> bool:
    with sql(stack) as conn:
        row = conn.execute("select private.is_user_online(%s)", [who]).fetchone()
    return bool(row and row[0])
