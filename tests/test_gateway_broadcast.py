"""The gateway's Supabase Realtime broadcast endpoint: Supabase's batch shape, 202 or 422."""

from __future__ import annotations

import httpx
import pytest

from dev.stack import Stack


def broadcast(stack: Stack, body: object, *, key: str | None) -> httpx.Response:
    headers = {"apikey": key, "Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{stack.supabase_url}/realtime/v1/api/broadcast", json=body, headers=headers, timeout=10
    )


def test_valid_batch_is_accepted_and_kept(stack: Stack):
    httpx.delete(f"{stack.supabase_url}/_dev/broadcasts")
    body = {
        "messages": [
            {
                "topic": "user-42",
                "event": "payment-received",
                "payload": {"id": "1"},
                "private": True,
            },
            {"topic": "room-1", "event": "vote", "payload": {"who": "bob"}},
        ]
    }
    response = broadcast(stack, body, key=stack.config.service_role_key)
    assert response.status_code == 202
    kept = httpx.get(f"{stack.supabase_url}/_dev/broadcasts").json()["messages"]
    assert [(m["topic"], m["event"], m["private"]) for m in kept] == [
        ("user-42", "payment-received", True),
        ("room-1", "vote", False),
    ]


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"nope": []}, "messages"),
        ({"messages": []}, "empty"),
        ({"messages": [{"event": "x", "payload": {}}]}, "messages[0].topic"),
        ({"messages": [{"topic": "t", "event": "", "payload": {}}]}, "messages[0].event"),
        (
            {"messages": [{"topic": "t", "event": "e", "payload": "str"}]},
            "payload must be an object",
        ),
        ({"messages": [{"topic": "t", "event": "e", "payload": {}, "private": "yes"}]}, "private"),
        ({"messages": [{"topic": "t", "event": "e", "payload": {"x": "y" * 300_000}}]}, "over"),
    ],
)
def test_invalid_batch_is_422_with_a_reason(stack: Stack, body, reason):
    response = broadcast(stack, body, key=stack.config.service_role_key)
    assert response.status_code == 422
    assert reason in response.json()["message"]


def test_broadcast_needs_a_valid_key(stack: Stack):
    body = {"messages": [{"topic": "t", "event": "e", "payload": {}}]}
    assert broadcast(stack, body, key=None).status_code == 401
    assert broadcast(stack, body, key="forged.jwt.value").status_code == 401


async def test_broadcasts_reach_pusher_js_subscribers_of_the_mapped_channel(stack: Stack):
    from tests.realtime.realtime_harness import PusherJs, auth_endpoint

    assert stack.realtime is not None
    body = {
        "messages": [
            {"topic": "user-42", "event": "payment-received", "payload": {"n": 1}, "private": True},
            {"topic": "lobby", "event": "hello", "payload": {"n": 2}},
        ]
    }
    with auth_endpoint(stack.realtime) as auth:
        client = await PusherJs.start(stack.realtime, auth, user_id="42")
        try:
            for channel in ("private-user-42", "lobby"):
                assert (await client.subscribe(channel))["type"] == "subscribed"
            async with httpx.AsyncClient() as http:
                response = await http.post(
                    f"{stack.supabase_url}/realtime/v1/api/broadcast",
                    json=body,
                    headers={"apikey": stack.config.service_role_key},
                )
            assert response.status_code == 202
            private = await client.expect("event", channel="private-user-42")
            public = await client.expect("event", channel="lobby")
        finally:
            await client.close()
    assert (private["event"], private["data"]) == ("payment-received", {"n": 1})
    assert (public["event"], public["data"]) == ("hello", {"n": 2})


def test_a_supabase_only_topic_is_accepted_and_an_overlong_one_is_422(stack: Stack):
    """`client:…` topics have no Pusher twin: they go to Supabase Realtime subscribers only
    (tests/supabase_realtime); a topic Realtime could not carry (over 255 bytes) is 422."""
    body = {"messages": [{"topic": "client:room-1", "event": "e", "payload": {}}]}
    assert broadcast(stack, body, key=stack.config.service_role_key).status_code == 202
    body = {"messages": [{"topic": "r" * 256, "event": "e", "payload": {}}]}
    response = broadcast(stack, body, key=stack.config.service_role_key)
    assert response.status_code == 422
    assert "messages[0].topic" in response.json()["message"]
