"""A whole planning-poker round on the local stack, as a Next.js app would drive it: the
procedures through the official @trpc/client, and two official pusher-js clients on
`presence-poker-{id}`, authorized by the real /api/realtime/auth with bearer tokens."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from lib.features.poker.events import PokerEvent
from tests.poker.poker_harness import (
    Browsers,
    Trpc,
    events_until,
    grant,
    in_thread,
    mutation,
    trpc_client,
    user,
)

EVENTS: TypeAdapter[Any] = TypeAdapter(PokerEvent)


def ok(group: dict[str, Any]) -> list[Any]:
    """The data of every call of a @trpc/client group (each must have succeeded)."""
    assert all(result["ok"] for result in group["results"]), group["results"]
    return [result["data"] for result in group["results"]]


async def test_a_full_round_through_trpc_client_and_two_pusher_js_clients(
    stack, token, clients: Browsers
):
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    url = f"{stack.api_url}/api/trpc"
    grant(stack, alice, 1)

    def as_(who: str, *calls: dict[str, Any]) -> dict[str, Any]:
        return {"link": "http", "token": token(who), "calls": list(calls)}

    create = {"name": "Sprint 42", "deck": {"type": "fibonacci"}, "tasks": ["Login page"]}
    [created] = await in_thread(trpc_client, url, as_(alice, mutation("poker.create", create)))
    [result] = ok(created)
    session = result["session"]
    assert result["paidWith"] == "credit" and result["creditsLeft"] == 0
    sid, task = session["id"], session["tasks"][0]["id"]
    channel = f"presence-poker-{sid}"

    facilitator = await clients.open(alice)
    assert (await facilitator.subscribe(channel))["type"] == "subscribed"
    [joined] = await in_thread(
        trpc_client, url, as_(bob, mutation("poker.join", {"sessionId": sid}))
    )
    assert ok(joined)[0]["joined"] is True
    player = await clients.open(bob)
    subscribed = await player.subscribe(channel)
    assert subscribed["type"] == "subscribed"
    assert subscribed["members"]["me"]["id"] == bob

    groups = await in_thread(
        trpc_client,
        url,
        as_(carol, mutation("poker.join", {"sessionId": sid})),
        as_(alice, mutation("poker.startTask", {"taskId": task})),
        as_(bob, mutation("poker.vote", {"taskId": task, "value": "5"})),
        as_(carol, mutation("poker.vote", {"taskId": task, "value": "8"})),
        as_(bob, mutation("poker.vote", {"taskId": task, "value": "8"})),
        as_(alice, mutation("poker.vote", {"taskId": task, "value": "?"})),
        as_(bob, mutation("poker.reveal", {"taskId": task})),
        as_(alice, mutation("poker.reveal", {"taskId": task})),
        as_(alice, mutation("poker.finalize", {"taskId": task, "estimate": "8"})),
        as_(alice, mutation("poker.end", {"sessionId": sid})),
        as_(carol, mutation("poker.vote", {"taskId": task, "value": "13"})),
    )
    join, start, bob5, carol8, bob8, alice_q, bob_reveal, reveal, final, end, late = groups
    assert [v["status"] for v in (ok(bob5) + ok(carol8) + ok(bob8) + ok(alice_q))] == [
        "new",
        "new",
        "changed",
        "new",
    ]
    [forbidden] = bob_reveal["results"]
    assert (forbidden["code"], forbidden["httpStatus"]) == ("FORBIDDEN", 403)
    assert forbidden["message"] == "only the facilitator can reveal the votes"
    [revealed] = ok(reveal)
    assert revealed["task"]["stats"]["average"] == 8
    assert ok(final)[0]["task"]["estimate"] == "8"
    assert ok(end)[0]["status"] == "ended"
    [rejected] = late["results"]
    assert rejected["code"] == "PRECONDITION_FAILED"
    assert rejected["message"] == f"session {sid} has ended: it takes no more commands"

    seen_by_alice = await events_until(facilitator, channel, "session-ended")
    seen_by_bob = await events_until(player, channel, "session-ended")
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
    assert [describe(e) for e in seen_by_alice] == [("member-joined", bob), *round_]
    assert [describe(e) for e in seen_by_bob] == round_

    for item in seen_by_alice + seen_by_bob:
        envelope = EVENTS.validate_python(item["data"])  # unknown keys are refused
        assert envelope.type == item["event"]
        if item["event"] == "vote":
            assert "value" not in item["data"]["data"]
    votes = [e["data"]["data"] for e in seen_by_bob if e["event"] == "vote"]
    assert [(v["changed"], v["votes"]) for v in votes] == [
        (False, 1),
        (False, 2),
        (True, 2),
        (False, 3),
    ]
    [revealed_event] = [e["data"]["data"] for e in seen_by_bob if e["event"] == "votes-revealed"]
    assert sorted((v["userId"], v["value"]) for v in revealed_event["votes"]) == sorted(
        [(bob, "8"), (carol, "8"), (alice, "?")]
    )
    assert revealed_event["stats"] == {
        "votes": 3,
        "numericVotes": 2,
        "average": 8,
        "median": 8,
        "consensus": False,
        "distribution": [{"value": "8", "count": 2}, {"value": "?", "count": 1}],
    }
    [finalized] = [e["data"]["data"] for e in seen_by_bob if e["event"] == "task-finalized"]
    assert finalized == {"sessionId": sid, "taskId": task, "estimate": "8"}
    assert ok(join)[0]["session"]["members"][-1]["userId"] == carol
    assert ok(start)[0]["task"]["status"] == "voting"


def describe(item: dict[str, Any]) -> tuple[str, str | None]:
    data = item["data"]["data"]
    who = data.get("userId") or data.get("member", {}).get("userId")
    return item["event"], who


async def test_a_non_member_cannot_subscribe_and_a_leaver_loses_access(
    trpc: Trpc, clients: Browsers
):
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    session = await trpc.session(alice, members=(bob,))
    channel = f"presence-poker-{session['id']}"

    outsider = await clients.open(mallory)
    refused = await outsider.subscribe(channel)
    assert refused["type"] == "subscription_error"
    assert refused["error"]["status"] == 403

    facilitator = await clients.open(alice)
    assert (await facilitator.subscribe(channel))["type"] == "subscribed"
    left = await trpc.mutate("poker.leave", {"sessionId": session["id"]}, as_user=bob)
    assert left == {"sessionId": session["id"], "left": True}
    event = await facilitator.expect("event", channel=channel, event="member-left")
    assert event["data"]["data"] == {
        "sessionId": session["id"],
        "userId": bob,
        "members": 1,
        "withdrewVote": False,
    }
    former = await clients.open(bob)
    again = await former.subscribe(channel)
    assert again["type"] == "subscription_error"
    assert again["error"]["status"] == 403
