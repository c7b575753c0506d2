"""events.since through tRPC against the stack: the outbox history of a channel, paged by id,
readable by exactly who may subscribe to the channel."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dev.stack import Stack
from tests.support import sql, unique


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.api_url}/api/trpc", timeout=20) as client:
        yield client


def enqueue(stack: Stack, channel: str, event: str, data: dict[str, Any]) -> int:
    with sql(stack) as db:
        row = db.execute(
            "select public.outbox_enqueue(%s, %s, %s::jsonb)", [channel, event, json.dumps(data)]
        ).fetchone()
    assert row is not None
    return int(row[0])


def since(http: httpx.Client, token: str | None, **input: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    encoded = quote(json.dumps(input), safe="")
    return http.get(f"/events.since?input={encoded}", headers=headers)


def test_history_after_an_id(http: httpx.Client, stack: Stack, token: Any) -> None:
    alice = unique("alice")
    channel = f"private-user-{alice}"
    ids = [enqueue(stack, channel, "note-added", {"n": n}) for n in range(3)]
    enqueue(stack, f"private-user-{unique('other')}", "note-added", {"n": 99})

    page = since(http, token(alice), channel=channel).json()["result"]["data"]
    assert [e["id"] for e in page["events"]] == [str(i) for i in ids]
    assert [e["data"] for e in page["events"]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {e["type"] for e in page["events"]} == {"note-added"}
    assert all(e["at"].endswith("Z") for e in page["events"])
    assert (page["channel"], page["next"], page["more"]) == (channel, str(ids[2]), False)

    # after: the id string as received in an envelope, or a number
    for after in (str(ids[0]), ids[0]):
        page = since(http, token(alice), channel=channel, after=after).json()["result"]["data"]
        assert [e["id"] for e in page["events"]] == [str(ids[1]), str(ids[2])]

    # paging with limit / next / more
    first = since(http, token(alice), channel=channel, limit=2).json()["result"]["data"]
    assert (len(first["events"]), first["next"], first["more"]) == (2, str(ids[1]), True)
    rest = since(http, token(alice), channel=channel, after=first["next"], limit=2).json()
    assert [e["id"] for e in rest["result"]["data"]["events"]] == [str(ids[2])]
    assert rest["result"]["data"]["more"] is False


def test_presence_channel_history_is_for_members(
    http: httpx.Client, stack: Stack, token: Any
) -> None:
    member, stranger, session = unique("alice"), unique("bob"), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) values (%s, 'S', %s)",
            [session, member],
        )
        db.execute(
            "insert into public.poker_members (session_id, user_id) values (%s, %s)",
            [session, member],
        )
    channel = f"presence-poker-{session}"
    vote = enqueue(stack, channel, "vote", {"user": member})
    page = since(http, token(member), channel=channel).json()["result"]["data"]
    assert [e["id"] for e in page["events"]] == [str(vote)]
    response = since(http, token(stranger), channel=channel)
    assert response.status_code == 403
    assert response.json()["error"]["data"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("input", "status", "code"),
    [
        ({"channel": "private-user-{other}"}, 403, "FORBIDDEN"),
        ({"channel": "private-thing-1"}, 403, "FORBIDDEN"),
        ({"channel": "presence-poker-not-a-uuid"}, 400, "BAD_REQUEST"),
        ({"channel": "bad channel!"}, 400, "BAD_REQUEST"),
        ({"channel": "private-user-{me}", "limit": 201}, 400, "BAD_REQUEST"),
        ({"channel": "private-user-{me}", "after": "-1"}, 400, "BAD_REQUEST"),
        ({"channel": "private-user-{me}", "after": "12ab"}, 400, "BAD_REQUEST"),
        ({"channel": "private-user-{me}", "after": 2**63}, 400, "BAD_REQUEST"),
        ({"after": 0}, 400, "BAD_REQUEST"),
    ],
)
def test_refusals(
    http: httpx.Client, token: Any, input: dict[str, Any], status: int, code: str
) -> None:
    me = unique("me")
    if "channel" in input:
        input = {**input, "channel": input["channel"].format(me=me, other=unique("other"))}
    response = since(http, token(me), **input)
    assert response.status_code == status, response.text
    assert response.json()["error"]["data"]["code"] == code


def test_signed_in_only(http: httpx.Client) -> None:
    response = since(http, None, channel="public-room")
    assert response.status_code == 401
    assert response.json()["error"]["data"]["code"] == "UNAUTHORIZED"
