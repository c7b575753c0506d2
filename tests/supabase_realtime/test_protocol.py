"""The local Realtime server at the Phoenix frame level (a plain WebSocket client): both
serializers, heartbeats, refusals, broadcast `self`/`ack`, the binary frames of vsn 2.0.0,
and the REST endpoint's INSERT-policy check for callers other than the service role."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dev.stack import Stack
from dev.supabase_realtime import WEBSOCKET_PATH
from dev.supabase_realtime.frames import (
    USER_BROADCAST,
    USER_BROADCAST_PUSH,
    Broadcast,
    Frame,
    FrameError,
    decode,
    encode,
)
from tests.supabase_realtime.harness import WAIT
from tests.support import sql, unique

pytestmark = pytest.mark.stack


def url(stack: Stack, vsn: str | None = "2.0.0", apikey: str | None = None) -> str:
    base = stack.supabase_url.replace("http", "ws", 1) + WEBSOCKET_PATH
    query = f"?apikey={apikey or stack.config.anon_key}"
    return base + query + (f"&vsn={vsn}" if vsn else "")


async def recv(ws: ClientConnection) -> Any:
    return json.loads(await raw(ws))


async def raw(ws: ClientConnection) -> str | bytes:
    async with asyncio.timeout(WAIT):
        return await ws.recv()


async def test_v1_frames_heartbeat_and_a_public_join(stack: Stack) -> None:
    async with connect(url(stack, vsn=None)) as ws:  # no vsn: Phoenix's 1.0.0 JSON objects
        await ws.send(
            json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"})
        )
        beat = await recv(ws)
        await ws.send(
            json.dumps(
                {
                    "topic": "realtime:lobby",
                    "event": "phx_join",
                    "payload": {},
                    "ref": "2",
                    "join_ref": "2",
                }
            )
        )
        joined = await recv(ws)
    assert beat == {
        "topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}},
        "ref": "1", "join_ref": None,
    }  # fmt: skip
    assert joined["payload"] == {"status": "ok", "response": {"postgres_changes": []}}
    assert (joined["ref"], joined["join_ref"]) == ("2", "2")


async def test_refusals_are_shaped_as_realtime_reports_them(stack: Stack, token) -> None:  # noqa: ANN001
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url(stack, apikey="not-a-jwt")):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        async with connect(url(stack, vsn="3.0.0")):
            pass
    async with connect(url(stack)) as ws:
        await ws.send(json.dumps(["1", "1", "realtime:", "phx_join", {}]))
        no_topic = await recv(ws)
        expired = token(unique("late"), ttl_s=-5)
        await ws.send(
            json.dumps(["2", "2", "realtime:user-x", "phx_join", {"access_token": expired}])
        )
        old_token = await recv(ws)
        await ws.send(
            json.dumps(["3", "3", "realtime:user-x", "phx_join", {"config": {"private": True}}])
        )
        as_anon = await recv(ws)
        await ws.send(json.dumps([None, "4", "realtime:never-joined", "broadcast", {}]))
        unmatched = await recv(ws)
    assert no_topic[4]["response"]["reason"] == "TopicNameRequired: You must provide a topic name"
    assert old_token[4]["response"]["reason"].startswith("InvalidJWTToken: Token has expired")
    assert as_anon[4]["response"]["reason"] == (
        "Unauthorized: You do not have permissions to read from this Channel topic: user-x"
    )
    assert unmatched[4] == {"status": "error", "response": {"reason": "unmatched topic"}}


async def test_a_malformed_frame_closes_the_socket(stack: Stack) -> None:
    async with connect(url(stack)) as ws:
        await ws.send("{not json")
        with pytest.raises(ConnectionClosed) as closed:
            await raw(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007


async def test_broadcast_self_and_ack_between_v1_and_v2_sockets(stack: Stack) -> None:
    topic = f"realtime:room-{uuid.uuid4().hex[:8]}"
    async with connect(url(stack)) as v2, connect(url(stack, vsn="1.0.0")) as v1:
        config = {"config": {"broadcast": {"self": True, "ack": True}}}
        await v2.send(json.dumps(["1", "1", topic, "phx_join", config]))
        assert (await recv(v2))[4]["status"] == "ok"
        await v1.send(
            json.dumps(
                {"topic": topic, "event": "phx_join", "payload": {}, "ref": "1", "join_ref": "1"}
            )
        )
        assert (await recv(v1))["payload"]["status"] == "ok"

        # what realtime-js 2.x sends for channel.send(): a binary user_broadcast_push
        frame = (
            bytes([USER_BROADCAST_PUSH, 1, 1, len(topic), len("cursor"), 0, 1])
            + b"12" + topic.encode() + b"cursor" + b'{"x":1}'
        )  # fmt: skip
        await v2.send(frame)
        echo = await raw(v2)  # delivered, then acknowledged
        ack = await recv(v2)
        at_v1 = await recv(v1)
    assert ack == ["1", "2", topic, "phx_reply", {"status": "ok", "response": {}}]
    assert isinstance(echo, bytes) and echo[0] == USER_BROADCAST  # self: true
    assert echo.endswith(b'{"x":1}')
    assert at_v1["payload"] == {"type": "broadcast", "event": "cursor", "payload": {"x": 1}}


async def test_a_user_token_needs_the_insert_policy_for_a_private_rest_broadcast(
    stack: Stack,
    token,  # noqa: ANN001
) -> None:
    member, conversation = unique("member"), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute("insert into public.conversations (id) values (%s)", [conversation])
        db.execute(
            "insert into public.conversation_participants (conversation_id, user_id)"
            " values (%s, %s)",
            [conversation, member],
        )
    async with httpx.AsyncClient() as http:
        httpx_headers = {
            "apikey": stack.config.anon_key,
            "Authorization": f"Bearer {token(member)}",
        }
        for topic in (f"conversation-{conversation}", f"client:conversation-{conversation}"):
            body = {
                "messages": [
                    {"topic": topic, "event": "client-typing", "payload": {}, "private": True}
                ]
            }
            sent = await http.post(
                f"{stack.supabase_url}/realtime/v1/api/broadcast", json=body, headers=httpx_headers
            )
            assert sent.status_code == 202
        kept = (await http.get(f"{stack.supabase_url}/_dev/broadcasts")).json()["messages"]
    topics = [m["topic"] for m in kept if m["topic"].endswith(conversation)]
    assert topics == [f"client:conversation-{conversation}"]  # the server topic was not sent


def test_frames_round_trip_in_both_serializers() -> None:
    frame = Frame("realtime:t", "broadcast", Broadcast("e", {"a": 1}), None, None)
    assert json.loads(encode(frame, "1.0.0"))["payload"] == {  # type: ignore[arg-type]
        "type": "broadcast", "event": "e", "payload": {"a": 1},
    }  # fmt: skip
    body = {"type": "broadcast", "event": "e", "payload": {"a": 1}}
    assert json.loads(encode(frame, "2.0.0")) == [None, None, "realtime:t", "broadcast", body]  # type: ignore[arg-type]
    binary = Frame("realtime:t", "broadcast", Broadcast("e", raw=b"\x00\x01", json_encoded=False))
    assert encode(binary, "1.0.0") is None  # JSON cannot carry it: not sent to v1 sockets
    with pytest.raises(FrameError):
        decode(bytes([USER_BROADCAST_PUSH, 9, 0, 0, 0, 0, 1]), "2.0.0")  # header longer than frame
    with pytest.raises(FrameError):
        decode(b"\x03", "1.0.0")
