"""Publisher adapters against httpx.MockTransport (no network): batching, chunking, signing,
references, encryption, failures. Delivery through real servers is in test_outbox_*.py."""

from __future__ import annotations

import base64
import json
import socket
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import nacl.secret
import pytest

from dev.realtime.signing import hmac_hex, request_string
from lib.config import load_settings
from lib.events import Channel, Event
from lib.realtime import publisher
from lib.realtime.memory import MemoryPublisher
from lib.realtime.port import Publisher, PublishError
from lib.realtime.pusher import PusherPublisher
from lib.realtime.supabase import SupabasePublisher

AT = datetime(2026, 11, 21, tzinfo=UTC)
APP_ID, KEY, SECRET = "4242", "the-key", "the-secret"
MASTER_KEY = base64.b64encode(b"m" * 32).decode()


def event(id_: int, *channels: str, data: dict[str, Any] | None = None) -> Event:
    return Event(
        id=id_,
        type="note-added",
        channels=tuple(Channel(c) for c in channels),
        data=data if data is not None else {"n": id_},
        at=AT,
    )


class Recorder:
    """A MockTransport handler that records requests and answers `status` (or per call)."""

    def __init__(self, answer: Callable[[int], int] = lambda _: 200) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.answer(len(self.requests))
        return httpx.Response(status, json={} if status == 200 else {"error": "nope"})

    def bodies(self, path_suffix: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith(path_suffix)]


def pusher_publisher(recorder: Recorder, **options: Any) -> PusherPublisher:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return PusherPublisher(
        app_id=APP_ID, key=KEY, secret=SECRET, http=http, host="pusher.test", port=80,
        ssl=False, encryption_master_key_base64=MASTER_KEY, **options,
    )  # fmt: skip


def batch_items(recorder: Recorder) -> list[dict[str, str]]:
    return [item for body in recorder.bodies("/batch_events") for item in body["batch"]]


# -- Pusher ---------------------------------------------------------------------------------


async def test_1000_events_go_out_in_batches_of_at_most_10():
    recorder = Recorder()
    events = [event(i, f"private-user-{i}") for i in range(1, 1001)]

    await pusher_publisher(recorder).publish(events)

    sizes = [len(body["batch"]) for body in recorder.bodies("/batch_events")]
    assert len(recorder.requests) == 100
    assert max(sizes) <= 10 and sum(sizes) == 1000
    sent = sorted(int(json.loads(item["data"])["id"]) for item in batch_items(recorder))
    assert sent == list(range(1, 1001))  # every event exactly once


async def test_per_channel_order_holds_with_concurrent_calls():
    recorder = Recorder()
    events = [event(i, f"private-user-{i % 7}") for i in range(1, 301)]

    await pusher_publisher(recorder, concurrency=4).publish(events)

    per_channel: dict[str, list[int]] = defaultdict(list)
    for item in batch_items(recorder):
        per_channel[item["channel"]].append(int(json.loads(item["data"])["id"]))
    assert len(per_channel) == 7
    for ids in per_channel.values():
        assert ids == sorted(ids)


async def test_requests_are_signed_like_the_sdk_and_carry_the_envelope():
    recorder = Recorder()

    await pusher_publisher(recorder).publish([event(5, "private-user-1")])

    (request,) = recorder.requests
    assert request.url.path == f"/apps/{APP_ID}/batch_events"
    params = dict(parse_qsl(urlsplit(str(request.url)).query))
    expected = hmac_hex(SECRET, request_string("POST", request.url.path, params))
    assert params["auth_signature"] == expected
    assert params["auth_key"] == KEY
    (item,) = json.loads(request.content)["batch"]
    assert item["channel"] == "private-user-1" and item["name"] == "note-added"
    assert json.loads(item["data"]) == {
        "id": "5",
        "type": "note-added",
        "at": "2026-11-21T00:00:00.000000Z",
        "data": {"n": 5},
    }


async def test_an_event_on_250_channels_is_three_triggers_of_at_most_100():
    recorder = Recorder()
    channels = [f"private-location-{i}" for i in range(250)]

    await pusher_publisher(recorder).publish([event(9, *channels)])

    triggers = recorder.bodies("/events")
    assert [len(t["channels"]) for t in triggers] == [100, 100, 50]
    assert [c for t in triggers for c in t["channels"]] == channels
    assert {json.loads(t["data"])["id"] for t in triggers} == {"9"}


async def test_ephemeral_trigger_chunks_channels_at_100():
    recorder = Recorder()
    channels = [Channel(f"room-{i}") for i in range(201)]

    await pusher_publisher(recorder).trigger(channels, "typing", {"who": "ann"})

    assert [len(t["channels"]) for t in recorder.bodies("/events")] == [100, 100, 1]


async def test_oversized_event_is_published_as_a_reference():
    recorder = Recorder()

    await pusher_publisher(recorder).publish(
        [event(77, "private-user-1", data={"x": "y" * 50_000})]
    )

    (item,) = batch_items(recorder)
    assert len(item["data"].encode()) < 10_240
    assert json.loads(item["data"])["ref"]["url"].endswith(
        "channel=private-user-1&after=76&limit=1"
    )


async def test_encrypted_channels_are_sealed_with_the_channel_secret():
    recorder = Recorder()

    await pusher_publisher(recorder).publish([event(3, "private-encrypted-user-1")])

    (item,) = batch_items(recorder)
    sealed = json.loads(item["data"])
    from pusher.crypto import generate_shared_secret

    secret = generate_shared_secret(b"private-encrypted-user-1", base64.b64decode(MASTER_KEY))
    box = nacl.secret.SecretBox(secret)
    plain = box.decrypt(base64.b64decode(sealed["ciphertext"]), base64.b64decode(sealed["nonce"]))
    assert json.loads(plain)["id"] == "3"


async def test_a_failing_call_reports_what_was_delivered_before_it():
    recorder = Recorder(answer=lambda n: 500 if n == 3 else 200)
    events = [event(i, "private-user-1") for i in range(1, 51)]

    with pytest.raises(PublishError) as caught:
        await pusher_publisher(recorder, concurrency=1).publish(events)

    assert caught.value.delivered == frozenset(range(1, 21))  # calls 1-2 went through
    assert caught.value.provider_status == 500
    assert len(recorder.requests) == 3  # nothing after the failure (it would overtake)


async def test_other_channels_finish_when_one_fails():
    failing_channel = "private-user-bad"

    def answer(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)["batch"]
        bad = any(item["channel"] == failing_channel for item in batch)
        return httpx.Response(500 if bad else 200, json={})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    sender = PusherPublisher(app_id=APP_ID, key=KEY, secret=SECRET, http=http, host="p.test")
    events = [event(1, failing_channel), *[event(i, f"private-user-{i}") for i in range(2, 40)]]

    with pytest.raises(PublishError) as caught:
        await sender.publish(events)

    assert 1 not in caught.value.delivered
    assert len(caught.value.delivered) > 0


async def test_unreachable_server_is_a_publish_error_with_nothing_delivered():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as http:
        sender = PusherPublisher(
            app_id=APP_ID, key=KEY, secret=SECRET, http=http, host="127.0.0.1", port=port,
            ssl=False,
        )  # fmt: skip
        with pytest.raises(PublishError, match="unreachable") as caught:
            await sender.publish([event(1, "private-user-1")])
    assert caught.value.delivered == frozenset()
    assert caught.value.status == 503


async def test_terminate_user_connections_uses_the_documented_route():
    recorder = Recorder()

    await pusher_publisher(recorder).terminate_user_connections("user-1")

    (request,) = recorder.requests
    assert request.url.path == f"/apps/{APP_ID}/users/user-1/terminate_connections"


async def test_one_injected_client_carries_every_call():
    recorder = Recorder()
    sender = pusher_publisher(recorder)

    for start in range(0, 30, 10):
        await sender.publish([event(i, f"room-{i}") for i in range(start + 1, start + 11)])

    assert len(recorder.requests) == 3


# -- Supabase -------------------------------------------------------------------------------


def supabase_publisher(recorder: Recorder, **options: Any) -> SupabasePublisher:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return SupabasePublisher(
        url="http://supabase.test/", service_role_key="srk", http=http, **options
    )


async def test_supabase_broadcast_maps_channels_to_topics():
    recorder = Recorder(answer=lambda _: 202)
    events = [event(1, "private-user-42"), event(2, "room-1"), event(3, "presence-poker-9")]

    await supabase_publisher(recorder).publish(events)

    (request,) = recorder.requests
    assert str(request.url) == "http://supabase.test/realtime/v1/api/broadcast"
    assert request.headers["apikey"] == "srk"
    assert request.headers["authorization"] == "Bearer srk"
    messages = json.loads(request.content)["messages"]
    assert [(m["topic"], m["event"], m["private"]) for m in messages] == [
        ("user-42", "note-added", True),
        ("room-1", "note-added", False),
        ("poker-9", "note-added", True),
    ]
    assert messages[0]["payload"]["id"] == "1"


async def test_supabase_batches_are_chunked_and_oversized_events_referenced():
    recorder = Recorder(answer=lambda _: 202)
    events = [event(i, f"private-user-{i}") for i in range(1, 251)]
    events.append(event(251, "private-user-1", data={"x": "y" * 50_000}))

    await supabase_publisher(recorder).publish(events)

    sizes = [len(body["messages"]) for body in recorder.bodies("/broadcast")]
    assert sizes == [100, 100, 51]
    last = recorder.bodies("/broadcast")[-1]["messages"][-1]
    assert "ref" in last["payload"] and "data" not in last["payload"]


async def test_supabase_rejection_reports_earlier_requests_as_delivered():
    recorder = Recorder(answer=lambda n: 422 if n == 2 else 202)
    events = [event(i, "private-user-1") for i in range(1, 151)]

    with pytest.raises(PublishError, match="422") as caught:
        await supabase_publisher(recorder).publish(events)

    assert caught.value.delivered == frozenset(range(1, 101))


# -- memory and the factory -----------------------------------------------------------------


async def test_memory_publisher_records_and_fails_on_request():
    memory = MemoryPublisher(failures=1)
    with pytest.raises(PublishError):
        await memory.publish([event(1, "room-1")])
    await memory.publish([event(2, "room-1"), event(3, "room-2")])
    assert memory.ids == [2, 3]
    assert [e.id for e in memory.on("room-1")] == [2]


@pytest.mark.parametrize(
    ("provider", "kind"),
    [("pusher", PusherPublisher), ("supabase", SupabasePublisher), ("memory", MemoryPublisher)],
)
async def test_realtime_provider_picks_the_adapter(provider, kind):
    config = load_settings({"REALTIME_PROVIDER": provider, "PUSHER_APP_ID": "1"})
    async with httpx.AsyncClient() as http:
        chosen = publisher(config, http=http)
    assert isinstance(chosen, kind)
    assert isinstance(chosen, Publisher)
