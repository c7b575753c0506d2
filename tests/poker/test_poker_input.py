"""Bad input on every poker procedure is a tRPC error with a 4xx code, never a 500: wrong
types, missing or unknown fields, huge strings, malformed and unknown ids, a card the deck
does not have, no token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lib.features.poker.procedures import PROCEDURES
from tests.poker.poker_harness import Trpc, user

HUGE = "x" * 100_000
LONG = "x" * 3_000  # queries carry their input in the URL
UNKNOWN = str(uuid.uuid4())

# Shared by every procedure: not an object, nothing at all, a list, an unknown key.
COMMON: list[Any] = [None, "poker", 42, [], {"surprise": True}]

BAD: dict[str, list[Any]] = {
    "poker.create": [
        {},
        {"name": ""},
        {"name": 7},
        {"name": HUGE},
        {"name": "S", "deck": "fibonacci"},
        {"name": "S", "deck": {"type": "tarot"}},
        {"name": "S", "deck": {"type": "custom"}},
        {"name": "S", "deck": {"type": "custom", "values": ["1"]}},
        {"name": "S", "deck": {"type": "custom", "values": ["1", "1"]}},
        {"name": "S", "deck": {"type": "custom", "values": ["1", HUGE]}},
        {"name": "S", "deck": {"type": "custom", "values": [str(n) for n in range(31)]}},
        {"name": "S", "deck": {"type": "fibonacci", "values": ["1", "2"]}},
        {"name": "S", "tasks": "one"},
        {"name": "S", "tasks": [HUGE]},
        {"name": "S", "tasks": ["t"] * 51},
        {"name": "S", "tasks": [None]},
    ],
    "poker.get": [{}, {"sessionId": "nope"}, {"sessionId": 1}, {"sessionId": LONG}],
    "poker.list": [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"before": "yesterday"}],
    "poker.join": [{}, {"sessionId": "nope"}, {"sessionId": HUGE}, {"sessionId": [UNKNOWN]}],
    "poker.leave": [{}, {"sessionId": None}, {"sessionId": HUGE}],
    "poker.addTask": [
        {"sessionId": UNKNOWN},
        {"sessionId": UNKNOWN, "title": ""},
        {"sessionId": UNKNOWN, "title": "   "},
        {"sessionId": UNKNOWN, "title": HUGE},
        {"sessionId": "x", "title": "ok"},
    ],
    "poker.startTask": [{}, {"taskId": "nope"}, {"taskId": 3.5}, {"sessionId": UNKNOWN}],
    "poker.vote": [
        {"taskId": UNKNOWN},
        {"taskId": UNKNOWN, "value": 5},
        {"taskId": UNKNOWN, "value": ""},
        {"taskId": UNKNOWN, "value": HUGE},
        {"taskId": UNKNOWN, "value": ["5"]},
        {"value": "5"},
    ],
    "poker.reveal": [{}, {"taskId": "nope"}, {"taskId": HUGE}],
    "poker.finalize": [
        {"taskId": UNKNOWN},
        {"taskId": UNKNOWN, "estimate": ""},
        {"taskId": UNKNOWN, "estimate": HUGE},
        {"taskId": UNKNOWN, "estimate": 8},
    ],
    "poker.end": [{}, {"sessionId": "nope"}, {"sessionId": True}],
}
KINDS = {p.path: p.kind for p in PROCEDURES}
CASES = [(path, bad) for path, inputs in BAD.items() for bad in COMMON + inputs]


def test_every_procedure_is_covered():
    assert set(BAD) == set(KINDS)


def short(input: Any) -> str:
    text = repr(input)
    return text if len(text) < 60 else text[:57] + "..."


@pytest.mark.parametrize(("path", "input"), CASES, ids=[f"{p}:{short(i)}" for p, i in CASES])
async def test_bad_input_is_a_bad_request(trpc: Trpc, path: str, input: Any):
    reply = await trpc.call(KINDS[path], path, input, as_user=user())
    if path == "poker.list" and input is None:  # every field is optional: no input is fine
        assert reply.status == 200, reply.body
        return
    assert reply.status == 400, reply.body
    error = reply.error
    assert (error["code"], error["httpStatus"], error["path"]) == ("BAD_REQUEST", 400, path)
    assert error["message"].startswith("invalid input"), error["message"]


@pytest.mark.parametrize("path", sorted(KINDS))
async def test_unknown_ids_are_not_found_and_no_token_is_unauthorized(trpc: Trpc, path: str):
    ids = {"sessionId": UNKNOWN, "taskId": UNKNOWN}
    inputs = {
        "poker.create": {"name": "S"},
        "poker.list": {},
        "poker.addTask": {"sessionId": UNKNOWN, "title": "t"},
        "poker.vote": {"taskId": UNKNOWN, "value": "1"},
        "poker.finalize": {"taskId": UNKNOWN, "estimate": "1"},
    }
    task_paths = {"poker.startTask", "poker.reveal"}
    default = {k: v for k, v in ids.items() if (k == "taskId") == (path in task_paths)}
    input = inputs.get(path, default)
    kind = KINDS[path]
    anonymous = await trpc.call(kind, path, input, as_user=None)
    assert (anonymous.status, anonymous.error["code"]) == (401, "UNAUTHORIZED")
    reply = await trpc.call(kind, path, input, as_user=user())
    expected = {
        "poker.create": (402, "PAYMENT_REQUIRED"),
        "poker.list": (200, None),
        "poker.leave": (404, "NOT_FOUND"),
    }.get(path, (404, "NOT_FOUND"))
    code = reply.error["code"] if reply.status != 200 else None
    assert (reply.status, code) == expected, reply.body


async def test_a_card_outside_the_deck_is_refused_with_the_deck(trpc: Trpc):
    alice = user("alice")
    session = await trpc.session(alice)
    task = session["tasks"][0]["id"]
    await trpc.mutate("poker.startTask", {"taskId": task}, as_user=alice)
    for value in ("4", "XL", "00", "'; drop --"):
        error = await trpc.fails("mutation", "poker.vote", {"taskId": task, "value": value},
                                 as_user=alice)  # fmt: skip
        assert error["code"] == "BAD_REQUEST", value
        assert "is not a card of this session's deck (0, 1, 2, 3, 5, 8" in error["message"]
