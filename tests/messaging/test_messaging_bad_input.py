"""Bad input on every messaging procedure — wrong types, missing fields, huge strings, text
PostgreSQL cannot store, unknown ids, no token — is answered with a tRPC error envelope
(the status its code implies), never a 500."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.messaging.messaging_support import (
    Trpc,
    client_id,
    create_conversation,
    error,
    send,
    user,
)

Api = Callable[[str], Trpc]
UNKNOWN = "00000000-0000-4000-8000-000000000000"
HUGE = "x" * 3_000  # also fits a GET query string


@dataclass
class World:
    """A conversation of `me` and `friend` with one message, and a foreign message id."""

    me: str
    conversation: str
    message: int
    foreign_message: int


@pytest.fixture(scope="module")
async def world(stack, token) -> World:  # noqa: ANN001
    async with httpx.AsyncClient(timeout=30) as http:
        base = f"{stack.api_url}/api/trpc"
        me, friend = user("me"), user("friend")
        mine = Trpc(http, base, token(me), stack)
        theirs = Trpc(http, base, token(friend), stack)
        conversation = (await create_conversation(mine, [friend]))["id"]
        message = (await send(mine, conversation, "hello"))["message"]["id"]
        elsewhere = (await create_conversation(theirs, [user("x")]))["id"]
        foreign = (await send(theirs, elsewhere, "not yours"))["message"]["id"]
    return World(me, conversation, message, foreign)


def send_input(w: World, **change: Any) -> dict[str, Any]:
    return {"conversationId": w.conversation, "clientId": client_id(), "body": "hi", **change}


Case = tuple[str, str, Callable[[World], Any], str]
"""(kind, path, input from the world, expected code)"""

CASES: list[Case] = [
    # createConversation
    ("mutation", "messaging.createConversation", lambda w: None, "BAD_REQUEST"),
    ("mutation", "messaging.createConversation", lambda w: {}, "BAD_REQUEST"),
    ("mutation", "messaging.createConversation", lambda w: [1, 2], "BAD_REQUEST"),
    ("mutation", "messaging.createConversation", lambda w: {"participants": "bob"}, "BAD_REQUEST"),
    ("mutation", "messaging.createConversation", lambda w: {"participants": []}, "BAD_REQUEST"),
    ("mutation", "messaging.createConversation", lambda w: {"participants": [7]}, "BAD_REQUEST"),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": ["a b"]},
        "BAD_REQUEST",
    ),
    ("mutation", "messaging.createConversation", lambda w: {"participants": [HUGE]}, "BAD_REQUEST"),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": [f"p{i}" for i in range(60)]},
        "BAD_REQUEST",
    ),
    ("mutation", "messaging.createConversation", lambda w: {"participants": [w.me]}, "BAD_REQUEST"),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": ["bob"], "title": HUGE},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": ["bob"], "title": "nul\u0000"},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": ["bob"], "clientId": ""},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.createConversation",
        lambda w: {"participants": ["bob"], "admin": True},
        "BAD_REQUEST",
    ),
    # conversations
    ("query", "messaging.conversations", lambda w: {"limit": 0}, "BAD_REQUEST"),
    ("query", "messaging.conversations", lambda w: {"limit": "ten"}, "BAD_REQUEST"),
    ("query", "messaging.conversations", lambda w: {"limit": 10_000}, "BAD_REQUEST"),
    ("query", "messaging.conversations", lambda w: {"before": {"at": "x", "id": 1}}, "BAD_REQUEST"),
    ("query", "messaging.conversations", lambda w: {"before": "yesterday"}, "BAD_REQUEST"),
    ("query", "messaging.conversations", lambda w: "all", "BAD_REQUEST"),
    # send
    ("mutation", "messaging.send", lambda w: None, "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: {}, "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, conversationId="nope"), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, conversationId=42), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, clientId=None), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, clientId="x" * 65), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, clientId="a b"), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body=""), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body=" \n\t "), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body=123), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body="x" * 4_001), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body="a\u0000b"), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, body="\ud800"), "BAD_REQUEST"),
    ("mutation", "messaging.send", lambda w: send_input(w, extra=1), "BAD_REQUEST"),
    (
        "mutation",
        "messaging.send",
        lambda w: send_input(w, body="x" * 2_000_000),
        "PAYLOAD_TOO_LARGE",
    ),
    ("mutation", "messaging.send", lambda w: send_input(w, conversationId=UNKNOWN), "NOT_FOUND"),
    # list
    ("query", "messaging.list", lambda w: None, "BAD_REQUEST"),
    ("query", "messaging.list", lambda w: {}, "BAD_REQUEST"),
    ("query", "messaging.list", lambda w: {"conversationId": HUGE}, "BAD_REQUEST"),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "after": -1},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "after": "x"},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "after": 2**60},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "after": 1.5},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "after": 1, "before": 9},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "limit": 0},
        "BAD_REQUEST",
    ),
    (
        "query",
        "messaging.list",
        lambda w: {"conversationId": w.conversation, "limit": 201},
        "BAD_REQUEST",
    ),
    ("query", "messaging.list", lambda w: {"conversationId": UNKNOWN}, "NOT_FOUND"),
    # markRead
    ("mutation", "messaging.markRead", lambda w: {"conversationId": w.conversation}, "BAD_REQUEST"),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": w.conversation, "messageId": 0},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": w.conversation, "messageId": "latest"},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": w.conversation, "messageId": [1]},
        "BAD_REQUEST",
    ),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": UNKNOWN, "messageId": w.message},
        "NOT_FOUND",
    ),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": w.conversation, "messageId": 2**52},
        "NOT_FOUND",
    ),
    (
        "mutation",
        "messaging.markRead",
        lambda w: {"conversationId": w.conversation, "messageId": w.foreign_message},
        "NOT_FOUND",
    ),
]


def case_id(case: Case) -> str:
    kind, path, _, code = case
    return f"{path.split('.')[1]}-{code}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
async def test_bad_input_is_a_trpc_error_never_a_500(case: Case, world: World, api: Api):
    kind, path, make, expected = case
    caller = api(world.me)
    value = make(world)
    if kind == "query":
        response = await caller.query(path, value)
    elif value is None:
        response = await caller.mutation(path)
    else:
        response = await caller.mutation(path, value)
    found = error(response)
    assert found["code"] == expected, found
    assert response.status_code < 500


async def test_invalid_json_is_a_bad_request(stack, token, http):  # noqa: ANN001
    response = await http.post(
        f"{stack.api_url}/api/trpc/messaging.send",
        content=b'{"conversationId": ',
        headers={"authorization": f"Bearer {token(user())}", "content-type": "application/json"},
    )
    assert error(response)["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("mutation", "messaging.createConversation"),
        ("query", "messaging.conversations"),
        ("mutation", "messaging.send"),
        ("query", "messaging.list"),
        ("mutation", "messaging.markRead"),
    ],
)
async def test_every_procedure_needs_a_signed_in_caller(stack, http, kind: str, path: str):  # noqa: ANN001
    anonymous = Trpc(http, f"{stack.api_url}/api/trpc", None)
    probe = {"conversationId": str(uuid.uuid4()), "clientId": "c", "body": "b"}
    response = await (
        anonymous.query(path, probe) if kind == "query" else anonymous.mutation(path, probe)
    )
    assert error(response)["code"] == "UNAUTHORIZED"
    forged = Trpc(http, f"{stack.api_url}/api/trpc", "not.a.jwt")
    response = await (forged.query(path) if kind == "query" else forged.mutation(path, probe))
    assert error(response)["code"] == "UNAUTHORIZED"
    assert json.loads(response.text)["error"]["data"]["path"] == path
