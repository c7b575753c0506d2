"""Outages of the real local processes, mid-run, on a stack of this module's own (conftest):
what a user sees while a piece is down, and that nothing is lost or half-written after.

- the Pusher-protocol server stopped during 1,000 messaging.send calls (tRPC over HTTP; 300
  in the default run): every write succeeds, every event is kept and, once the server is back,
  the relay cron delivers the missed ones to a pusher-js subscriber in order and history has
  all of them in order;
- PostgREST killed mid-run: calls answer 503 + Retry-After in their documented envelopes (tRPC,
  functions, a signed webhook, so its provider retries), no write is half-applied, and after
  it returns a retry of each failed call lands exactly once;
- Postgres restarted: the stack recovers with no manual step.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import standardwebhooks

from dev.stack import Stack
from dev.token import user_token
from tests.outbox_support import outbox_rows, pusher_js
from tests.support import sql

CONCURRENCY = 10
RECOVERY_S = 60
FULL = os.environ.get("SOCKLESS_TEST_FULL") == "1"
WRITES = 1000 if FULL else 300
"""The realtime outage's writes: 1,000 in the full run (make test FULL=1, make bench), 300 by
default; the server is down for the middle 40 % either way."""


def bearer(stack: Stack, who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {user_token(stack.config.jwt_secret, sub=who)}"}


def profiles(stack: Stack, *users: str) -> None:
    with sql(stack) as conn:
        for who in users:
            conn.execute(
                "insert into public.profiles (id) values (%s) on conflict do nothing", [who]
            )


async def conversation(http: httpx.AsyncClient, stack: Stack, alice: str, bob: str) -> str:
    profiles(stack, alice, bob)
    response = await http.post(
        f"{stack.api_url}/api/trpc/messaging.createConversation",
        json={"participants": [bob]},
        headers=bearer(stack, alice),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["data"]["conversation"]["id"])


async def send(
    http: httpx.AsyncClient, stack: Stack, who: str, conversation_id: str, client_id: str
) -> httpx.Response:
    return await http.post(
        f"{stack.api_url}/api/trpc/messaging.send",
        json={"conversationId": conversation_id, "clientId": client_id, "body": client_id},
        headers=bearer(stack, who),
        timeout=30,
    )


async def run_writes(
    count: int,
    write: Callable[[int], Awaitable[httpx.Response]],
    *,
    at: dict[int, Callable[[], None]],
) -> list[httpx.Response]:
    """`count` writes, CONCURRENCY at a time; `at[n]` runs (in a thread: it stops or starts a
    process) once n writes have been answered."""
    gate = asyncio.Semaphore(CONCURRENCY)
    answers: list[httpx.Response | None] = [None] * count
    done = 0

    async def one(index: int) -> None:
        nonlocal done
        async with gate:
            answers[index] = await write(index)
        done += 1
        if done in at:
            await asyncio.to_thread(at.pop(done))

    async with asyncio.TaskGroup() as group:
        for index in range(count):
            group.create_task(one(index))
    return [a for a in answers if a is not None]


async def cron(http: httpx.AsyncClient, stack: Stack, job: str) -> httpx.Response:
    return await http.get(
        f"{stack.api_url}/api/cron/{job}",
        headers={"authorization": f"Bearer {stack.config.cron_secret}"},
    )


async def history_ids(http: httpx.AsyncClient, stack: Stack, who: str, channel: str) -> list[int]:
    ids: list[int] = []
    after = "0"
    while True:
        page = await http.get(
            f"{stack.api_url}/api/realtime/history",
            params={"channel": channel, "after": after, "limit": 200},
            headers=bearer(stack, who),
        )
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [int(e["id"]) for e in body["events"] if e["type"] == "new-message"]
        if not body["more"]:
            return ids
        after = body["next"]


async def test_realtime_server_stopped_mid_run_of_writes_loses_no_event(own_stack: Stack):
    stack = own_stack
    alice, bob = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=30) as http:
        conversation_id = await conversation(http, stack, alice, bob)
        channel = f"private-conversation-{conversation_id}"
        client_ids = [str(uuid.uuid4()) for _ in range(WRITES)]
        answers = await run_writes(
            WRITES,
            lambda i: send(http, stack, alice, conversation_id, client_ids[i]),
            at={WRITES * 3 // 10: stack.stop_realtime, WRITES * 7 // 10: stack.start_realtime},
        )
        assert [a.status_code for a in answers] == [200] * WRITES  # an outage fails no write
        rows = [r for r in outbox_rows(stack, channel) if r["event"] == "new-message"]
        assert len(rows) == WRITES
        pending = [r["id"] for r in rows if r["published_at"] is None]
        assert pending, "the outage left no event unpublished: it did not happen mid-run"

        assert stack.realtime is not None
        auth = f"{stack.api_url}/api/realtime/auth"
        token = user_token(stack.config.jwt_secret, sub=alice)
        async with pusher_js(stack.realtime, auth_endpoint=auth, token=token) as js:
            assert (await js.subscribe(channel))["type"] == "subscribed"
            async with asyncio.timeout(RECOVERY_S):  # the backoff of the failed rows, then due
                while any(r["published_at"] is None for r in outbox_rows(stack, channel)):
                    assert (await cron(http, stack, "outbox-relay")).status_code == 200
                    await asyncio.sleep(0.5)
            received = [
                int((await js.expect("event", channel=channel, event="new-message"))["data"]["id"])
                for _ in pending
            ]
        assert received == pending  # every missed event, in order, once
        assert await history_ids(http, stack, alice, channel) == [r["id"] for r in rows]
        assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def clerk_delivery(stack: Stack, user: str) -> tuple[bytes, dict[str, str]]:
    msg_id = f"msg_{uuid.uuid4().hex}"
    body = json.dumps(
        {"type": "user.created", "object": "event", "data": {"id": user, "email_addresses": []}}
    ).encode()
    now = datetime.now(UTC)
    hook = standardwebhooks.Webhook(stack.config.webhook_secrets["CLERK_WEBHOOK_SECRET"])
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign(msg_id, now, body.decode()),
        "content-type": "application/json",
    }
    return body, headers


def assert_unavailable(response: httpx.Response) -> None:
    """503 + Retry-After, in the envelope the endpoint documents."""
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()["error"]
    code = body["data"]["code"] if "data" in body else body["code"]
    assert code == "SERVICE_UNAVAILABLE", body


async def test_postgrest_killed_mid_run_answers_503_and_half_writes_nothing(own_stack: Stack):
    stack = own_stack
    alice, bob = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    assert stack.postgrest is not None
    async with httpx.AsyncClient(timeout=30) as http:
        conversation_id = await conversation(http, stack, alice, bob)
        client_ids = [str(uuid.uuid4()) for _ in range(150)]
        answers = await run_writes(
            150,
            lambda i: send(http, stack, alice, conversation_id, client_ids[i]),
            at={50: stack.postgrest.stop},
        )
        failed = [cid for cid, a in zip(client_ids, answers, strict=True) if a.status_code != 200]
        assert failed, "PostgREST was stopped mid-run: some calls must have failed"
        for answer in answers:
            if answer.status_code != 200:
                assert_unavailable(answer)

        # While it is down: a query, a function, and a signed webhook (non-2xx: Svix retries).
        assert_unavailable(
            await http.get(
                f"{stack.api_url}/api/trpc/messaging.conversations", headers=bearer(stack, alice)
            )
        )
        assert_unavailable(
            await http.get(
                f"{stack.api_url}/api/realtime/history",
                params={"channel": f"private-user-{alice}"},
                headers=bearer(stack, alice),
            )
        )
        health = await http.get(f"{stack.api_url}/api/health")
        assert health.status_code == 503 and int(health.headers["retry-after"]) > 0
        newcomer = f"user_{uuid.uuid4().hex[:8]}"
        body, headers = clerk_delivery(stack, newcomer)
        assert_unavailable(
            await http.post(f"{stack.api_url}/api/webhooks/clerk", content=body, headers=headers)
        )

        with sql(stack) as conn:  # no message without its events, no event without its message
            orphans = conn.execute(
                "select count(*) from public.messages m where m.conversation_id = %s and not"
                " exists (select 1 from public.outbox o where o.event = 'new-message'"
                " and o.data -> 'message' ->> 'id' = m.id::text)",
                [conversation_id],
            ).fetchone()[0]
            stored = conn.execute(
                "select count(*) from public.webhook_events where event_id = %s",
                [headers["webhook-id"]],
            ).fetchone()[0]
        assert (orphans, stored) == (0, 0)

        await asyncio.to_thread(stack.postgrest.start)
        retried = [await send(http, stack, alice, conversation_id, cid) for cid in failed]
        assert [r.status_code for r in retried] == [200] * len(failed)
        redelivered = await http.post(
            f"{stack.api_url}/api/webhooks/clerk", content=body, headers=headers
        )
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["status"] == "processed"
        with sql(stack) as conn:
            messages = conn.execute(
                "select count(*), count(distinct client_id) from public.messages"
                " where conversation_id = %s",
                [conversation_id],
            ).fetchone()
            profile = conn.execute(
                "select count(*) from public.profiles where id = %s", [newcomer]
            ).fetchone()[0]
        assert tuple(messages) == (150, 150)  # each write landed exactly once
        assert profile == 1


async def test_postgres_restarted_recovers_with_no_manual_step(own_stack: Stack):
    stack = own_stack
    alice, bob = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    assert stack.pg is not None
    async with httpx.AsyncClient(timeout=30) as http:
        conversation_id = await conversation(http, stack, alice, bob)
        pg = stack.pg
        await asyncio.to_thread(pg.stop)
        down = await send(http, stack, alice, conversation_id, str(uuid.uuid4()))
        assert_unavailable(down)

        stack.pg = await asyncio.to_thread(pg.restarted)
        deadline = time.monotonic() + RECOVERY_S
        health = await http.get(f"{stack.api_url}/api/health")
        while health.status_code != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            health = await http.get(f"{stack.api_url}/api/health")
        assert health.status_code == 200, health.text
        after = await send(http, stack, alice, conversation_id, str(uuid.uuid4()))
        assert after.status_code == 200, after.text
        assert (await cron(http, stack, "outbox-relay")).status_code == 200
