"""messaging.* over HTTP on the stack (/api/trpc, as a browser calls it): idempotent sends,
unread counts and read receipts for three participants, delta and page fetches, the inbox,
not-found for outsiders, and the per-user send limit (an inline app with a small limit)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features.messaging import procedures as messaging
from lib.realtime.memory import MemoryPublisher
from lib.rpc import router, trpc_app
from tests.messaging.messaging_support import (
    Trpc,
    client_id,
    create_conversation,
    data,
    error,
    outbox,
    profiles,
    send,
    user,
)
from tests.outbox_support import sql
from tests.support import stack_services

Api = Callable[[str], Trpc]
ROOT = Path(__file__).resolve().parents[2]


def messages_with(stack: Stack, sender: str, cid: str) -> int:
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) as n from public.messages where sender_id = %s and client_id = %s",
            [sender, cid],
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def inbox(api: Trpc, conversation: str) -> dict:  # type: ignore[type-arg]
    listed = data(await api.query("messaging.conversations", {"limit": 200}))
    (found,) = [c for c in listed["conversations"] if c["id"] == conversation]
    return found  # type: ignore[no-any-return]


async def test_a_retried_send_stores_one_message_and_queues_one_event(stack: Stack, api: Api):
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    cid = client_id()

    first = await send(api(a), conversation, "on my way", cid)
    retry = await send(api(a), conversation, "on my way", cid)

    assert first["duplicate"] is False and retry["duplicate"] is True
    assert retry["message"] == first["message"]
    assert messages_with(stack, a, cid) == 1
    assert len(outbox(stack, f"private-conversation-{conversation}", "new-message")) == 1
    assert len(outbox(stack, f"private-user-{b}", "unread-update")) == 1
    assert (await inbox(api(b), conversation))["unread"] == 1


async def test_concurrent_retries_of_one_send_store_one_message(stack: Stack, api: Api):
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    cid = client_id()

    results = await asyncio.gather(*(send(api(a), conversation, "hi", cid) for _ in range(5)))

    assert len({r["message"]["id"] for r in results}) == 1
    assert sorted(r["duplicate"] for r in results) == [False, True, True, True, True]
    assert messages_with(stack, a, cid) == 1
    assert len(outbox(stack, f"private-conversation-{conversation}", "new-message")) == 1


async def test_reusing_a_client_id_for_another_message_is_a_conflict(api: Api):
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    other = (await create_conversation(api(a), [b]))["id"]
    cid = client_id()
    await send(api(a), conversation, "first", cid)

    changed_body = await api(a).mutation(
        "messaging.send", {"conversationId": conversation, "clientId": cid, "body": "second"}
    )
    elsewhere = await api(a).mutation(
        "messaging.send", {"conversationId": other, "clientId": cid, "body": "first"}
    )
    for response in (changed_body, elsewhere):
        assert error(response)["code"] == "CONFLICT"
    # another sender may use the same client id: ids are per sender
    assert (await send(api(b), conversation, "first", cid))["duplicate"] is False


async def test_unread_counts_and_read_receipts_for_three_participants(stack: Stack, api: Api):
    a, b, c = user("a"), user("b"), user("c")
    conversation = (await create_conversation(api(a), [b, c], "Trip"))["id"]
    m1 = (await send(api(a), conversation, "one"))["message"]["id"]
    m2 = (await send(api(a), conversation, "two"))["message"]["id"]
    m3 = (await send(api(b), conversation, "three"))["message"]["id"]

    before = {who: await inbox(api(who), conversation) for who in (a, b, c)}
    assert {who: v["unread"] for who, v in before.items()} == {a: 1, b: 2, c: 3}
    assert all(v["lastMessage"]["id"] == m3 for v in before.values())
    assert all(v["title"] == "Trip" for v in before.values())

    read_b = data(
        await api(b).mutation(
            "messaging.markRead", {"conversationId": conversation, "messageId": m2}
        )
    )
    read_c = data(
        await api(c).mutation(
            "messaging.markRead", {"conversationId": conversation, "messageId": str(m1)}
        )
    )
    assert (read_b["unread"], read_b["lastReadMessageId"], read_b["changed"]) == (0, m2, True)
    assert (read_c["unread"], read_c["lastReadMessageId"], read_c["changed"]) == (2, m1, True)

    # reading an older message again moves nothing and sends nothing
    again = data(
        await api(b).mutation(
            "messaging.markRead", {"conversationId": conversation, "messageId": m1}
        )
    )
    assert (again["changed"], again["lastReadMessageId"], again["unread"]) == (False, m2, 0)

    after = {who: await inbox(api(who), conversation) for who in (a, b, c)}
    assert {who: v["unread"] for who, v in after.items()} == {a: 1, b: 0, c: 2}
    positions = {p["userId"]: p["lastReadMessageId"] for p in after[a]["participants"]}
    assert positions == {a: 0, b: m2, c: m1}

    receipts = outbox(stack, f"private-conversation-{conversation}", "read-receipt")
    assert [(r["data"]["userId"], r["data"]["lastReadMessageId"]) for r in receipts] == [
        (b, m2),
        (c, m1),
    ]
    unread_c = outbox(stack, f"private-user-{c}", "unread-update")
    assert [u["data"]["unread"] for u in unread_c] == [1, 2, 3, 2]
    assert [u["data"]["totalUnread"] for u in unread_c] == [1, 2, 3, 2]
    assert unread_c[2]["data"]["lastMessage"]["preview"] == "three"
    assert outbox(stack, f"private-user-{a}", "unread-update")[-1]["data"]["unread"] == 1


async def test_total_unread_spans_conversations(api: Api):
    a, b, c = user("a"), user("b"), user("c")
    first = (await create_conversation(api(a), [c]))["id"]
    second = (await create_conversation(api(b), [c]))["id"]
    await send(api(a), first, "x")
    m = (await send(api(b), second, "y"))["message"]["id"]
    read = data(
        await api(c).mutation("messaging.markRead", {"conversationId": second, "messageId": m})
    )
    assert (read["unread"], read["totalUnread"]) == (0, 1)


async def test_list_gives_deltas_after_and_pages_before_a_cursor(api: Api):
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    ids = [(await send(api(a), conversation, f"m{i}"))["message"]["id"] for i in range(7)]
    reader = api(b)

    async def page(**cursor: object) -> tuple[list[int], bool]:
        body = data(
            await reader.query("messaging.list", {"conversationId": conversation, **cursor})
        )
        return [m["id"] for m in body["messages"]], body["more"]

    assert await page() == (ids, False)
    assert await page(limit=3) == (ids[4:], True)
    assert await page(limit=3, before=ids[4]) == (ids[1:4], True)
    assert await page(limit=3, before=str(ids[1])) == (ids[:1], False)
    assert await page(limit=2, after=ids[3]) == (ids[4:6], True)
    assert await page(limit=2, after=str(ids[5])) == (ids[6:], False)
    assert await page(after=ids[6]) == ([], False)
    assert await page(after=0, limit=7) == (ids, False)


async def test_conversations_are_mine_latest_activity_first_in_pages(api: Api):
    me, friend = user("me"), user("friend")
    old, middle, new = [(await create_conversation(api(me), [friend]))["id"] for _ in range(3)]
    await send(api(friend), old, "bump")  # the oldest conversation now has the latest activity

    first = data(await api(me).query("messaging.conversations", {"limit": 2}))
    assert [c["id"] for c in first["conversations"]] == [old, new]
    assert first["conversations"][0]["unread"] == 1
    assert first["conversations"][0]["lastMessage"]["body"] == "bump"
    second = data(
        await api(me).query("messaging.conversations", {"limit": 2, "before": first["next"]})
    )
    assert [c["id"] for c in second["conversations"]] == [middle]
    assert second["next"] is None
    stranger = data(await api(user("stranger")).query("messaging.conversations"))
    assert stranger == {"conversations": [], "next": None}


async def test_create_conversation_includes_the_creator_and_is_idempotent(stack: Stack, api: Api):
    a, b, c = user("a"), user("b"), user("c")
    cid = client_id()
    body = {"participants": [b, c, b, a], "title": "Plans", "clientId": cid}
    profiles(stack, b, c)

    first = data(await api(a).mutation("messaging.createConversation", body))
    retry = data(await api(a).mutation("messaging.createConversation", body))

    conversation = first["conversation"]
    assert first["duplicate"] is False and retry["duplicate"] is True
    assert retry["conversation"]["id"] == conversation["id"]
    assert sorted(p["userId"] for p in conversation["participants"]) == sorted([a, b, c])
    assert conversation["createdBy"] == a and conversation["lastMessage"] is None
    for who in (a, b, c):
        (added,) = outbox(stack, f"private-user-{who}", "conversation-added")
        assert added["data"]["conversationId"] == conversation["id"]


async def test_outsiders_get_not_found_exactly_like_for_a_missing_conversation(api: Api):
    a, b, outsider = user("a"), user("b"), user("outsider")
    conversation = (await create_conversation(api(a), [b]))["id"]
    m = (await send(api(a), conversation, "private"))["message"]["id"]
    missing = str(uuid.uuid4())

    answers = []
    for target in (conversation, missing):
        stranger = api(outsider)
        answers.append(
            [
                error(r)
                for r in (
                    await stranger.query("messaging.list", {"conversationId": target}),
                    await stranger.mutation(
                        "messaging.send",
                        {"conversationId": target, "clientId": client_id(), "body": "hi"},
                    ),
                    await stranger.mutation(
                        "messaging.markRead", {"conversationId": target, "messageId": m}
                    ),
                )
            ]
        )
    for errors in answers:
        assert [e["code"] for e in errors] == ["NOT_FOUND"] * 3
    strip = [[(e["code"], e["message"]) for e in errors] for errors in answers]
    assert strip[0] == strip[1]  # nothing tells the outsider that the conversation exists


@pytest.fixture
async def limited(stack: Stack) -> AsyncIterator[Callable[[str], Trpc]]:
    """messaging.* on an inline app allowing 3 sends per user per minute. Its events go to
    a memory publisher (the stack's realtime server is not what this test is about)."""
    services = stack_services(stack, MESSAGING_SEND_RATE_LIMIT="3")
    db = Database(services.settings)
    services = services.replace(db=db, publisher=MemoryPublisher())
    app = trpc_app(router(*messaging.PROCEDURES), services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fn.test") as http:
        yield lambda token: Trpc(http, "http://fn.test/api/trpc", token, stack)
    await db.aclose()


async def test_sending_is_rate_limited_per_user(limited, token, api: Api):
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    sender, other = limited(token(a)), limited(token(b))

    for index in range(3):
        await send(sender, conversation, f"m{index}")
    refused = await sender.mutation(
        "messaging.send", {"conversationId": conversation, "clientId": client_id(), "body": "m3"}
    )

    assert error(refused)["code"] == "TOO_MANY_REQUESTS"
    assert int(refused.headers["retry-after"]) >= 1
    assert (await send(other, conversation, "still fine"))["duplicate"] is False


def official_client(url: str, *groups: dict[str, object]) -> list[dict[str, Any]]:
    """Run the official @trpc/client (tests/js/trpc/run.js) on `groups`; bounded."""
    plan = {"url": url, "timeoutMs": 20_000, "groups": list(groups)}
    done = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "trpc" / "run.js")],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["groups"]  # type: ignore[no-any-return]


async def test_the_official_client_can_retry_a_send_safely(stack: Stack, token, api: Api):  # noqa: ANN001
    a, b = user("a"), user("b")
    conversation = (await create_conversation(api(a), [b]))["id"]
    send_call = {
        "type": "mutation",
        "path": "messaging.send",
        "input": {"conversationId": conversation, "clientId": client_id(), "body": "optimistic"},
    }
    listing = {"type": "query", "path": "messaging.list", "input": {"conversationId": conversation}}

    batched, retried = await asyncio.to_thread(
        official_client,
        f"{stack.api_url}/api/trpc",
        {"link": "batch", "token": token(a), "calls": [send_call, send_call]},
        {"link": "http", "token": token(b), "calls": [listing]},
    )

    first, second = (r["data"] for r in batched["results"])
    assert first["message"] == second["message"]
    assert sorted([first["duplicate"], second["duplicate"]]) == [False, True]
    assert len(batched["requests"]) == 1  # one HTTP request carried both calls
    (page,) = (r["data"] for r in retried["results"])
    assert [m["id"] for m in page["messages"]] == [first["message"]["id"]]
