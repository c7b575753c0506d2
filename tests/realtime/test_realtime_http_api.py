"""The HTTP API through the official `pusher` SDK (and raw signed requests where the SDK
refuses to send, or sends to the wrong route)."""

from __future__ import annotations

import json
import time

import httpx
import pusher
import pytest
from realtime_harness import RawSocket, sdk, signed_request

from dev.realtime import ServerAddress

# SDK calls block; the server runs in its own thread, so that is fine in async tests.


def _events_path(address: ServerAddress) -> str:
    return f"/apps/{address.app_id}/events"


async def test_trigger_reaches_subscribers_of_every_listed_channel(
    realtime_server: ServerAddress,
) -> None:
    async with RawSocket.connect(realtime_server) as a, RawSocket.connect(realtime_server) as b:
        await a.subscribe("news-a")
        await b.subscribe("news-b")

        assert sdk(realtime_server).trigger(["news-a", "news-b"], "headline", {"t": 1}) == {}

        for socket, channel in ((a, "news-a"), (b, "news-b")):
            event = await socket.recv_event("headline")
            assert event["channel"] == channel and event["data"] == {"t": 1}


async def test_trigger_batch_delivers_each_event_and_answers_info(
    realtime_server: ServerAddress,
) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        await socket.subscribe("batch-1")

        answer = sdk(realtime_server).trigger_batch(
            [
                {"channel": "batch-1", "name": "first", "data": "1", "info": "subscription_count"},
                {"channel": "batch-2", "name": "second", "data": "2"},
            ]
        )

        assert answer == {"batch": [{"subscription_count": 1}, {}]}
        assert (await socket.recv_event("first"))["data"] == 1


async def test_channel_queries(realtime_server: ServerAddress) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as a, RawSocket.connect(realtime_server) as b:
        for socket, user in ((a, "ann"), (b, "ben")):
            channel_data = json.dumps({"user_id": user})
            auth = client.authenticate("presence-q", socket.socket_id, {"user_id": user})["auth"]
            ok = await socket.subscribe("presence-q", auth=auth, channel_data=channel_data)
            assert ok["event"] == "pusher_internal:subscription_succeeded"
        await a.subscribe("q-public")

        listed = client.channels_info(prefix_filter="q-")
        presence = client.channels_info(prefix_filter="presence-q", attributes=["user_count"])
        info = client.channel_info("presence-q", ["user_count", "subscription_count"])
        empty = client.channel_info("q-nobody", ["subscription_count"])
        users = client.users_info("presence-q")

    assert listed == {"channels": {"q-public": {}}}
    assert presence == {"channels": {"presence-q": {"user_count": 2}}}
    assert info == {"occupied": True, "user_count": 2, "subscription_count": 2}
    assert empty == {"occupied": False, "subscription_count": 0}
    assert sorted(user["id"] for user in users["users"]) == ["ann", "ben"]


async def test_send_to_user_reaches_a_signed_in_socket(realtime_server: ServerAddress) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        signin = client.authenticate_user(socket.socket_id, {"id": "u-7"})
        await socket.send("pusher:signin", signin)
        assert (await socket.recv_event("pusher:signin_success"))["data"] == {
            "user_data": signin["user_data"]
        }
        await socket.subscribe("#server-to-user-u-7")

        client.send_to_user("u-7", "ping-user", {"ok": True})

        event = await socket.recv_event("ping-user")
        assert event["channel"] == "#server-to-user-u-7" and event["data"] == {"ok": True}


def test_wrong_secret_is_rejected(realtime_server: ServerAddress) -> None:
    with pytest.raises(pusher.errors.PusherBadAuth, match="Invalid signature"):
        sdk(realtime_server, secret="wrong").trigger("room", "e", "x")


@pytest.mark.parametrize("skew", [-700, 700])  # well outside the 600 s window
def test_stale_timestamp_is_rejected(realtime_server: ServerAddress, skew: int) -> None:
    response = signed_request(
        realtime_server,
        "POST",
        _events_path(realtime_server),
        body={"name": "e", "channel": "room", "data": "x"},
        timestamp=int(time.time()) + skew,
    )

    assert response.status_code == 401
    assert "Timestamp expired" in response.text


def test_tampered_body_is_rejected(realtime_server: ServerAddress) -> None:
    signed = {"name": "e", "channel": "room", "data": "harmless"}
    tampered = json.dumps({**signed, "data": "evil"}).encode()

    response = signed_request(
        realtime_server, "POST", _events_path(realtime_server), body=signed, raw_body=tampered
    )

    assert response.status_code == 401
    assert "body_md5" in response.text


def test_unknown_auth_key_is_rejected(realtime_server: ServerAddress) -> None:
    other_key = ServerAddress(
        realtime_server.host,
        realtime_server.port,
        realtime_server.app_id,
        "other-key",
        realtime_server.secret,
    )

    response = signed_request(other_key, "GET", f"/apps/{realtime_server.app_id}/channels")

    assert response.status_code == 401 and "auth_key" in response.text


def test_unsigned_request_is_rejected(realtime_server: ServerAddress) -> None:
    response = httpx.get(f"{realtime_server.http_url}/apps/{realtime_server.app_id}/channels")

    assert response.status_code == 401 and "auth_key" in response.text


def test_data_over_10kb_is_413(realtime_server: ServerAddress) -> None:
    # The SDK's own check uses sys.getsizeof, so send the raw signed request.
    at_limit = signed_request(
        realtime_server,
        "POST",
        _events_path(realtime_server),
        body={"name": "e", "channel": "room", "data": "x" * 10_240},
    )
    over = signed_request(
        realtime_server,
        "POST",
        _events_path(realtime_server),
        body={"name": "e", "channel": "room", "data": "x" * 10_241},
    )

    assert at_limit.status_code == 200
    assert over.status_code == 413 and "10240" in over.text


def test_batch_item_over_10kb_is_413(realtime_server: ServerAddress) -> None:
    response = signed_request(
        realtime_server,
        "POST",
        f"/apps/{realtime_server.app_id}/batch_events",
        body={"batch": [{"name": "e", "channel": "room", "data": "é" * 5_121}]},
    )

    assert response.status_code == 413


def test_more_than_100_channels_is_400(realtime_server: ServerAddress) -> None:
    channels = [f"room-{n}" for n in range(101)]
    response = signed_request(
        realtime_server,
        "POST",
        _events_path(realtime_server),
        body={"name": "e", "channels": channels, "data": "x"},
    )

    assert response.status_code == 400 and "Too many channels" in response.text


def test_more_than_10_events_per_batch_is_400(realtime_server: ServerAddress) -> None:
    batch = [{"channel": "room", "name": f"e{n}", "data": "x"} for n in range(11)]

    with pytest.raises(pusher.errors.PusherBadRequest, match="Batch too large"):
        sdk(realtime_server).trigger_batch(batch)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "e" * 201, "channel": "room", "data": "x"},
        {"name": "e", "channel": "r" * 201, "data": "x"},
        {"name": "e", "channel": "room:1", "data": "x"},
        {"name": "e", "channel": "room with space", "data": "x"},
        {"name": "e", "channels": [], "data": "x"},
        {"name": "e", "channel": "room", "data": "x", "socket_id": "not-a-socket"},
        {"channel": "room", "data": "x"},
    ],
)
def test_invalid_names_are_400(realtime_server: ServerAddress, body: dict[str, object]) -> None:
    response = signed_request(realtime_server, "POST", _events_path(realtime_server), body=body)

    assert response.status_code == 400
    assert "Traceback" not in response.text and response.text.strip()


def test_invalid_json_is_400(realtime_server: ServerAddress) -> None:
    response = signed_request(
        realtime_server, "POST", _events_path(realtime_server), body=b"{not json"
    )

    assert response.status_code == 400 and "JSON" in response.text


def test_queries_pusher_refuses(realtime_server: ServerAddress) -> None:
    client = sdk(realtime_server)
    with pytest.raises(pusher.errors.PusherBadRequest, match="presence"):
        client.channel_info("room", ["user_count"])
    with pytest.raises(pusher.errors.PusherBadRequest, match="presence"):
        client.users_info("room")
    with pytest.raises(pusher.errors.PusherBadRequest, match="filter_by_prefix"):
        client.channels_info(attributes=["user_count"])


def test_unknown_app_is_404(realtime_server: ServerAddress) -> None:
    response = signed_request(realtime_server, "GET", "/apps/999/channels")

    assert response.status_code == 404 and "app_id" in response.text


async def test_terminate_connections_closes_the_users_sockets_with_4009(
    realtime_server: ServerAddress,
) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        signin = client.authenticate_user(socket.socket_id, {"id": "t-1"})
        await socket.send("pusher:signin", signin)
        await socket.recv_event("pusher:signin_success")

        # The SDK posts to /users/{id}/terminate_connections (no /apps/{id}): Pusher's
        # documented route is the one below; the SDK's route is not served.
        with pytest.raises(pusher.errors.PusherBadStatus, match="404"):
            client.terminate_user_connections("t-1")
        response = signed_request(
            realtime_server,
            "POST",
            f"/apps/{realtime_server.app_id}/users/t-1/terminate_connections",
            body={},
        )

        assert response.status_code == 200
        assert await socket.closed_with() == 4009
