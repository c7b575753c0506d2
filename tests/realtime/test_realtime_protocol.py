"""Protocol 7 at the frame level: handshake, close codes, pings, auth and limits on sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from realtime_harness import RawSocket, sdk, signed_request

from dev.realtime import Limits, RealtimeConfig, RealtimeServer, ServerAddress


@contextlib.asynccontextmanager
async def _own_server(**overrides: Any) -> AsyncIterator[ServerAddress]:
    config = RealtimeConfig(app_id="7", key="own-key", secret="own-secret", **overrides)
    async with RealtimeServer(config).running("127.0.0.1", port=0) as server:
        yield server.address


async def test_connection_established_carries_socket_id_and_activity_timeout(
    realtime_server: ServerAddress,
) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        assert socket.first["event"] == "pusher:connection_established"
        assert re.fullmatch(r"\d+\.\d+", socket.first["data"]["socket_id"])
        assert socket.first["data"]["activity_timeout"] == 120


async def test_unknown_app_key_is_closed_with_4001(realtime_server: ServerAddress) -> None:
    async with RawSocket.connect(realtime_server, key="nope") as socket:
        assert socket.first["event"] == "pusher:error"
        assert socket.first["data"]["code"] == 4001
        assert await socket.closed_with() == 4001


@pytest.mark.parametrize("query", ["protocol=4", "", "protocol=x"])
async def test_unsupported_protocol_is_closed_with_4007(
    realtime_server: ServerAddress, query: str
) -> None:
    async with RawSocket.connect(realtime_server, query=query) as socket:
        assert socket.first["data"]["code"] == 4007
        assert await socket.closed_with() == 4007


async def test_ping_is_answered_with_pong(realtime_server: ServerAddress) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        await socket.send("pusher:ping", {})
        assert (await socket.recv())["event"] == "pusher:pong"


async def test_silent_client_is_pinged_then_closed_with_4201() -> None:
    async with (
        _own_server(activity_timeout=1, pong_timeout=1) as address,
        RawSocket.connect(address) as socket,
    ):
        assert socket.first["data"]["activity_timeout"] == 1
        assert (await socket.recv())["event"] == "pusher:ping"
        assert await socket.closed_with() == 4201


async def test_client_answering_pings_stays_connected() -> None:
    # A generous pong_timeout: this test is about answering, not about answering fast.
    async with (
        _own_server(activity_timeout=1, pong_timeout=10) as address,
        RawSocket.connect(address) as socket,
    ):
        for _ in range(2):
            assert (await socket.recv())["event"] == "pusher:ping"
            await socket.send("pusher:pong", {})
        await socket.send("pusher:ping", {})
        assert (await socket.recv_event("pusher:pong"))["event"] == "pusher:pong"


async def test_server_shutdown_closes_sockets_with_4200() -> None:
    config = RealtimeConfig(app_id="7", key="own-key", secret="own-secret")
    server = RealtimeServer(config)
    await server.start("127.0.0.1", 0)
    try:
        async with RawSocket.connect(server.address) as socket:
            await server.stop()
            assert await socket.closed_with() == 4200
    finally:
        await server.stop()


async def test_bad_signature_is_a_subscription_error(realtime_server: ServerAddress) -> None:
    wrong = sdk(realtime_server, secret="wrong", encrypted=True)
    async with RawSocket.connect(realtime_server) as socket:
        for channel in ("private-x", "presence-x", "private-encrypted-x"):
            custom = {"user_id": "u"} if channel.startswith("presence-") else None
            auth = wrong.authenticate(channel, socket.socket_id, custom)["auth"]
            answer = await socket.subscribe(
                channel, auth=auth, channel_data=json.dumps(custom) if custom else None
            )
            assert answer["event"] == "pusher:subscription_error"
            assert answer["data"]["type"] == "AuthError" and answer["data"]["status"] == 401
        unsigned = await socket.subscribe("private-y")
        assert unsigned["event"] == "pusher:subscription_error"


async def test_signature_for_another_socket_is_refused(realtime_server: ServerAddress) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        stolen = sdk(realtime_server).authenticate("private-z", "123.456")["auth"]
        answer = await socket.subscribe("private-z", auth=stolen)
        assert answer["event"] == "pusher:subscription_error"


async def test_server_to_user_channel_needs_that_signed_in_user(
    realtime_server: ServerAddress,
) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        refused = await socket.subscribe("#server-to-user-eve")
        await socket.send("pusher:signin", client.authenticate_user(socket.socket_id, {"id": "al"}))
        await socket.recv_event("pusher:signin_success")
        still_refused = await socket.subscribe("#server-to-user-eve")
        accepted = await socket.subscribe("#server-to-user-al")
    assert refused["event"] == still_refused["event"] == "pusher:subscription_error"
    assert accepted["event"] == "pusher_internal:subscription_succeeded"


async def test_bad_signin_is_refused_with_4009(realtime_server: ServerAddress) -> None:
    wrong = sdk(realtime_server, secret="wrong")
    async with RawSocket.connect(realtime_server) as socket:
        await socket.send("pusher:signin", wrong.authenticate_user(socket.socket_id, {"id": "x"}))
        error = await socket.recv_event("pusher:error")
        assert error["data"]["code"] == 4009
        assert await socket.closed_with() == 4009


async def test_presence_channel_over_100_members_is_refused(realtime_server: ServerAddress) -> None:
    client = sdk(realtime_server)

    async def join(socket: RawSocket, user_id: str) -> str:
        data = {"user_id": user_id}
        auth = client.authenticate("presence-full", socket.socket_id, data)["auth"]
        answer = await socket.subscribe("presence-full", auth=auth, channel_data=json.dumps(data))
        return str(answer["event"])

    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(RawSocket.connect(realtime_server)) for _ in range(102)
        ]
        outcomes = [await join(socket, f"user-{n}") for n, socket in enumerate(sockets[:100])]
        assert set(outcomes) == {"pusher_internal:subscription_succeeded"}

        refused = await join(sockets[100], "user-100")
        same_user_again = await join(sockets[101], "user-0")

    assert refused == "pusher:subscription_error"
    assert same_user_again == "pusher_internal:subscription_succeeded"


async def test_signed_in_user_joins_presence_without_channel_data(
    realtime_server: ServerAddress,
) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        signin = client.authenticate_user(
            socket.socket_id, {"id": "sig", "user_info": {"name": "Sig"}}
        )
        await socket.send("pusher:signin", signin)
        await socket.recv_event("pusher:signin_success")
        auth = client.authenticate("presence-signed", socket.socket_id)["auth"]
        answer = await socket.subscribe("presence-signed", auth=auth)
    assert answer["data"]["presence"]["hash"] == {"sig": {"name": "Sig"}}


async def test_presence_subscription_reports_members(realtime_server: ServerAddress) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as a, RawSocket.connect(realtime_server) as b:
        for socket, user in ((a, "1"), (b, "2")):
            data = {"user_id": user, "user_info": {"n": user}}
            auth = client.authenticate("presence-m", socket.socket_id, data)["auth"]
            answer = await socket.subscribe("presence-m", auth=auth, channel_data=json.dumps(data))
        added = await a.recv_event("pusher_internal:member_added")
        await b.send("pusher:unsubscribe", {"channel": "presence-m"})
        removed = await a.recv_event("pusher_internal:member_removed")

    assert answer["data"] == {
        "presence": {"ids": ["1", "2"], "count": 2, "hash": {"1": {"n": "1"}, "2": {"n": "2"}}}
    }
    assert added["data"] == {"user_id": "2", "user_info": {"n": "2"}}
    assert removed["data"] == {"user_id": "2"}


async def test_client_events_are_rate_limited_per_connection(
    realtime_server: ServerAddress,
) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        auth = client.authenticate("private-burst", socket.socket_id)["auth"]
        await socket.subscribe("private-burst", auth=auth)
        # 100 at once: absorbing them at 10/s (burst 10) would take the server 9 s.
        for n in range(100):
            await socket.send("client-burst", {"n": n}, channel="private-burst")
        error = await socket.recv_event("pusher:error")
    assert error["data"]["code"] == 4301 and "per second" in error["data"]["message"]


@pytest.mark.parametrize(
    ("channel", "data", "reason"),
    [
        ("private-unjoined", {}, "subscribe"),
        ("private-big", {"x": "y" * 10_300}, "bytes"),
    ],
)
async def test_client_event_rejections(
    realtime_server: ServerAddress, channel: str, data: object, reason: str
) -> None:
    client = sdk(realtime_server)
    async with RawSocket.connect(realtime_server) as socket:
        await socket.subscribe(
            "private-big", auth=client.authenticate("private-big", socket.socket_id)["auth"]
        )
        await socket.send("client-x", data, channel=channel)
        error = await socket.recv_event("pusher:error")
    assert error["data"]["code"] == 4301 and reason in error["data"]["message"]


async def test_garbage_frames_get_an_error_and_the_connection_survives(
    realtime_server: ServerAddress,
) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        await socket.ws.send("{not json")
        await socket.ws.send(b"\x00binary")
        await socket.send("pusher:unknown", {})
        errors = [await socket.recv_event("pusher:error") for _ in range(3)]
        await socket.send("pusher:ping", {})
        assert (await socket.recv_event("pusher:pong"))["event"] == "pusher:pong"
    assert all(error["data"]["message"] for error in errors)


async def test_resubscribing_is_idempotent(realtime_server: ServerAddress) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        first = await socket.subscribe("room-twice")
        second = await socket.subscribe("room-twice")
        info = sdk(realtime_server).channel_info("room-twice", ["subscription_count"])
    assert first["event"] == second["event"] == "pusher_internal:subscription_succeeded"
    assert info["subscription_count"] == 1


async def test_invalid_channel_name_is_refused(realtime_server: ServerAddress) -> None:
    async with RawSocket.connect(realtime_server) as socket:
        await socket.send("pusher:subscribe", {"channel": "bad name!"})
        error = await socket.recv_event("pusher:error")
    assert "channel name" in error["data"]["message"]


async def test_slow_reader_is_cut_off_without_holding_up_others() -> None:
    """A client that stops reading gets 4100 once its backlog is full; others keep receiving.

    Big events and a small backlog make "full" quick to reach: kernel buffers (a few MB)
    plus 5 queued frames of 500 kB are far less than the 15 MB published.
    """
    limits = Limits(max_pending_frames=5, max_data_bytes=600_000, max_request_bytes=700_000)
    async with (
        _own_server(limits=limits) as address,
        RawSocket.connect(address) as fast,
        RawSocket.connect(address, receive_buffer=4096) as slow,
    ):
        await fast.subscribe("room-flood")
        await slow.subscribe("room-flood")
        slow.ws.transport.pause_reading()  # stalled: nothing is read from the socket
        payload = "x" * 500_000
        for n in range(30):
            response = await asyncio.to_thread(
                signed_request,
                address,
                "POST",
                f"/apps/{address.app_id}/events",
                body={"name": f"flood-{n}", "channel": "room-flood", "data": payload},
            )
            assert response.status_code == 200
            await fast.recv_event(f"flood-{n}")
        slow.ws.transport.resume_reading()
        assert await slow.closed_with() == 4100
