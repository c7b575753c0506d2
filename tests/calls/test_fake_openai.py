"""The fake OpenAI Realtime server answers like the real one where the bridge depends on it."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dev.fake_openai import FakeOpenAI


async def test_it_needs_a_bearer_and_closes_beta_sockets_with_4000():
    async with FakeOpenAI(api_key="sk-test").running() as fake:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(fake.url):
                pass
        assert refused.value.response.status_code == 401
        headers = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "realtime=v1"}
        async with connect(fake.url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            4000,
            "beta_api_shape_disabled",
        )


async def test_it_refuses_beta_sessions_unknown_events_and_truncates_past_the_audio():
    async with (
        FakeOpenAI().running() as fake,
        connect(fake.url, additional_headers={"Authorization": "Bearer x"}) as ws,
    ):
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "session.update", "session": {"modalities": ["audio"]}}))
        assert json.loads(await ws.recv())["error"]["code"] == "missing"
        await ws.send(json.dumps({"type": "response.audio.delta"}))
        assert "Unsupported event" in json.loads(await ws.recv())["error"]["message"]
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        assert json.loads(await ws.recv())["type"] == "session.updated"
        await ws.send(json.dumps({"type": "response.create"}))
        events = []
        while not events or events[-1]["type"] != "response.done":
            events.append(json.loads(await ws.recv()))
        item = next(e["item_id"] for e in events if e["type"] == "response.output_audio.delta")
        generated = fake.sessions[0].generated_ms[item]
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item,
                    "content_index": 0,
                    "audio_end_ms": int(generated) + 1,
                }
            )
        )
        error = json.loads(await ws.recv())["error"]
        assert error["message"] == (
            f"Audio content of {generated:g}ms is already shorter than {int(generated) + 1}ms"
        )
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item,
                    "content_index": 0,
                    "audio_end_ms": 100,
                }
            )
        )
        assert json.loads(await ws.recv())["type"] == "conversation.item.truncated"
