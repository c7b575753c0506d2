"""End to end on the local stack: a SQL command queues an event, the function publishes it,
and an official pusher-js client — authorized by the real /api/realtime/auth with the user's
token — receives the envelope. Also: Supabase broadcast mode, a realtime outage during 200
writes, a 50 KB event as a reference, and the history endpoint."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dev.ports import free_port
from dev.realtime import RealtimeConfig, serve_in_thread
from dev.stack import Stack
from lib.config import Settings, load_settings
from lib.db import Database
from lib.realtime import publisher
from lib.realtime.outbox import RelayPolicy, commit_events, relay_all
from tests.outbox_support import outbox_rows, pusher_js, sql


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(load_settings(stack.env()))
    yield database
    await database.aclose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def settings_for(stack: Stack, **env: str) -> Settings:
    return load_settings({**stack.env(), **env})


def user() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


def auth_url(stack: Stack) -> str:
    return f"{stack.api_url}/api/realtime/auth"


async def add_note(db: Database, who: str, body: str = "hello") -> dict[str, Any]:
    return await db.rpc("demo_note_add", p_user=who, p_body=body)  # type: ignore[no-any-return]


async def test_pusher_js_receives_the_envelope_of_a_committed_command(stack, token, db, http):
    who = user()
    channel = f"private-user-{who}"
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(who)) as js:
        assert (await js.subscribe(channel))["type"] == "subscribed"

        result = await add_note(db, who, "hello from SQL")
        outcome = await commit_events(
            db, publisher(settings_for(stack), http=http), result["events"]
        )

        received = await js.expect("event", channel=channel, event="note-added")
    (row,) = result["events"]
    assert outcome.published == [row["id"]]
    assert received["data"] == {
        "id": str(row["id"]),
        "type": "note-added",
        "at": row["at"],
        "data": row["data"],
    }
    assert received["data"]["data"]["note"]["body"] == "hello from SQL"


async def test_another_user_cannot_subscribe_to_the_channel(stack, token):
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(user())) as js:
        outcome = await js.subscribe(f"private-user-{user()}")
    assert outcome["type"] == "subscription_error"
    assert outcome["error"]["status"] == 403


async def test_supabase_mode_broadcasts_through_the_gateway(stack, token, db, http):
    who = user()
    channel = f"private-user-{who}"
    config = settings_for(stack, REALTIME_PROVIDER="supabase")
    assert stack.gateway is not None and stack.realtime is not None
    forwarded = stack.gateway.on_broadcast is not None  # the stack relays to its Pusher server
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(who)) as js:
        assert (await js.subscribe(channel))["type"] == "subscribed"

        result = await add_note(db, who, "via supabase")
        outcome = await commit_events(db, publisher(config, http=http), result["events"])

        if forwarded:
            received = await js.expect("event", channel=channel, event="note-added")
            assert received["data"]["id"] == str(result["events"][0]["id"])
    assert outcome.published == [result["events"][0]["id"]]
    (message,) = [m for m in stack.gateway.broadcasts if m["topic"] == f"user-{who}"]
    assert message["private"] is True and message["event"] == "note-added"
    assert message["payload"]["id"] == str(result["events"][0]["id"])
    assert message["payload"]["data"]["note"]["body"] == "via supabase"


async def test_a_realtime_outage_during_200_writes_loses_nothing(stack, token, db, http):
    """A dedicated Pusher-protocol server (the stack's credentials, a fixed port) is stopped
    while 200 writes happen: every write succeeds, every event stays unpublished. After the
    server is back, the relay delivers all 200 to a subscriber, in order, each once."""
    who = user()
    channel = f"private-user-{who}"
    port = free_port()
    server = RealtimeConfig(
        app_id=stack.config.pusher_app_id, key=stack.config.pusher_key,
        secret=stack.config.pusher_secret,
    )  # fmt: skip
    config = settings_for(stack, PUSHER_HOST="127.0.0.1", PUSHER_PORT=str(port))
    sender = publisher(config, http=http)
    policy = RelayPolicy(backoff_base_s=0.2, backoff_cap_s=1.0)

    with serve_in_thread(server, port=port) as address:  # up: a first write is delivered
        async with pusher_js(address, auth_endpoint=auth_url(stack), token=token(who)) as js:
            await js.subscribe(channel)
            first = await add_note(db, who, "before the outage")
            await commit_events(db, sender, first["events"], policy=policy)
            await js.expect("event", channel=channel, event="note-added")

    ids = []  # down
    for index in range(200):
        result = await add_note(db, who, f"note {index}")
        outcome = await commit_events(db, sender, result["events"], policy=policy)
        assert result["note"]["userId"] == who and not outcome.published
        ids.append(result["events"][0]["id"])
    rows = outbox_rows(stack, channel)[1:]
    assert [r["id"] for r in rows] == ids
    assert all(r["published_at"] is None for r in rows)
    assert rows[0]["attempts"] >= 1 and "unreachable" in rows[0]["last_error"]

    with serve_in_thread(server, port=port) as address:  # back
        async with pusher_js(address, auth_endpoint=auth_url(stack), token=token(who)) as js:
            await js.subscribe(channel)
            async with asyncio.timeout(30):
                while any(r["published_at"] is None for r in outbox_rows(stack, channel)):
                    await relay_all(db, sender, policy=policy)
                    await asyncio.sleep(0.2)
            received = [
                int((await js.expect("event", channel=channel, event="note-added"))["data"]["id"])
                for _ in ids
            ]
            marker = await add_note(db, who, "after")  # anything sent twice would come first
            await commit_events(db, sender, marker["events"], policy=policy)
            last = await js.expect("event", channel=channel, event="note-added")
    assert received == ids  # all 200, in order, each once
    assert last["data"]["id"] == str(marker["events"][0]["id"])
    assert js.seen("event") == []


async def test_a_50_kb_event_arrives_as_a_reference_and_history_has_it_whole(
    stack, token, db, http
):
    who = user()
    channel = f"private-user-{who}"
    body = "x" * 50_000
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(who)) as js:
        await js.subscribe(channel)
        result = await add_note(db, who, body)
        await commit_events(db, publisher(settings_for(stack), http=http), result["events"])
        received = (await js.expect("event", channel=channel, event="note-added"))["data"]

    event_id = str(result["events"][0]["id"])
    assert "data" not in received and received["id"] == event_id
    assert received["ref"]["channel"] == channel
    fetched = await http.get(
        f"{stack.api_url}{received['ref']['url']}",
        headers={"Authorization": f"Bearer {token(who)}"},
    )
    assert fetched.status_code == 200
    (full,) = fetched.json()["events"]
    assert full["id"] == event_id and full["data"]["note"]["body"] == body


async def history(
    http: httpx.AsyncClient, stack: Stack, bearer: str | None, **params: str | int
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return await http.get(f"{stack.api_url}/api/realtime/history", params=params, headers=headers)


async def test_history_returns_what_a_client_missed_after_an_id(stack, token, db, http):
    who = user()
    channel = f"private-user-{who}"
    ids = [(await add_note(db, who, f"n{i}"))["events"][0]["id"] for i in range(5)]

    missed = await history(http, stack, token(who), channel=channel, after=ids[1])
    page = await history(http, stack, token(who), channel=channel, after=0, limit=2)

    assert missed.status_code == 200
    body = missed.json()
    assert [e["id"] for e in body["events"]] == [str(i) for i in ids[2:]]
    assert body["events"][0]["type"] == "note-added"
    assert body["events"][0]["data"]["note"]["body"] == "n2"
    assert (body["next"], body["more"]) == (str(ids[-1]), False)
    assert [e["id"] for e in page.json()["events"]] == [str(i) for i in ids[:2]]
    assert (page.json()["next"], page.json()["more"]) == (str(ids[1]), True)


async def test_history_latest_is_where_a_new_subscriber_starts(stack, token, db, http):
    who = user()
    channel = f"private-user-{who}"
    empty = await history(http, stack, token(who), channel=channel, latest=1)
    ids = [(await add_note(db, who, f"n{i}"))["events"][0]["id"] for i in range(2)]
    await add_note(db, user(), "someone else's")

    newest = await history(http, stack, token(who), channel=channel, latest=1)
    other = await history(http, stack, token(who), channel=f"private-user-{user()}", latest=1)

    assert empty.json() == {"channel": channel, "events": [], "next": "0", "more": False}
    assert newest.json()["next"] == str(ids[-1]) and newest.json()["events"] == []
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "BAD_REQUEST"),
        ({"channel": "private user"}, 400, "BAD_REQUEST"),
        ({"channel": "OWN", "after": "abc"}, 400, "BAD_REQUEST"),
        ({"channel": "OWN", "after": "-1"}, 400, "BAD_REQUEST"),
        ({"channel": "OWN", "limit": "201"}, 400, "BAD_REQUEST"),
        ({"channel": "OWN", "limit": "0"}, 400, "BAD_REQUEST"),
        ({"channel": "private-user-someone-else"}, 403, "FORBIDDEN"),
        ({"channel": "private-unknown-1"}, 403, "FORBIDDEN"),
    ],
)
async def test_history_refuses_bad_input_and_other_peoples_channels(
    stack, token, http, params, status, code
):
    who = user()
    params = {k: (f"private-user-{who}" if v == "OWN" else v) for k, v in params.items()}

    response = await history(http, stack, token(who), **params)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_history_needs_a_token(stack, http):
    response = await history(http, stack, None, channel=f"private-user-{user()}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_the_outbox_relay_cron_delivers_what_a_dead_function_left(stack, token, db, http):
    """A function died after its command: the row is stale. Vercel's call of the
    `outbox-relay` cron (Bearer CRON_SECRET) publishes it to the subscriber."""
    who = user()
    channel = f"private-user-{who}"
    result = await add_note(db, who, "left behind")
    with sql(stack) as conn:  # skip the 5 s the dead function had to publish it
        conn.execute(
            "update public.outbox set next_attempt_at = now() where id = %s",
            [result["events"][0]["id"]],
        )
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(who)) as js:
        await js.subscribe(channel)
        response = await http.get(
            f"{stack.api_url}/api/cron/outbox-relay",
            headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
        )
        assert response.status_code == 200, response.text
        received = await js.expect("event", channel=channel, event="note-added")
    assert received["data"]["id"] == str(result["events"][0]["id"])
    assert response.json()["result"]["error"] is None
    assert outbox_rows(stack, channel)[0]["published_at"] is not None


async def test_the_cleanup_cron_deletes_published_events_past_retention(stack, db, http):
    who = user()
    channel = f"private-user-{who}"
    result = await add_note(db, who, "old news")
    with sql(stack) as conn:
        conn.execute(
            "update public.outbox set published_at = now() - interval '30 days' where id = %s",
            [result["events"][0]["id"]],
        )

    response = await http.get(
        f"{stack.api_url}/api/cron/cleanup",
        headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["result"]["deleted"]["outbox"] >= 1
    assert outbox_rows(stack, channel) == []
