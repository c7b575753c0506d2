"""supabase-py's own Realtime client (`realtime` 2.34, a dependency of supabase==2.34.1, vsn
1.0.0) against the local Realtime server: join a private topic, receive a server broadcast,
be refused a topic the policies do not open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from dev.stack import Stack
from tests.supabase_realtime.harness import WAIT
from tests.support import unique

pytestmark = pytest.mark.stack


@pytest.fixture
async def realtime_client(stack: Stack) -> AsyncIterator[AsyncRealtimeClient]:
    client = AsyncRealtimeClient(
        f"{stack.supabase_url}/realtime/v1", stack.config.anon_key, auto_reconnect=False
    )
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


async def join(
    client: AsyncRealtimeClient, topic: str
) -> tuple[Any, asyncio.Queue[Any], Exception | None]:
    """Subscribe to private `topic`; (channel, broadcasts received, error if refused)."""
    outcome: asyncio.Future[tuple[RealtimeSubscribeStates, Exception | None]] = (
        asyncio.get_running_loop().create_future()
    )
    received: asyncio.Queue[Any] = asyncio.Queue()
    channel = client.channel(topic, {"config": {"private": True}})
    channel.on_broadcast("*", received.put_nowait)

    def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
        if not outcome.done():
            outcome.set_result((state, error))

    await channel.subscribe(on_state)
    async with asyncio.timeout(WAIT):
        state, error = await outcome
    return (channel if state == RealtimeSubscribeStates.SUBSCRIBED else None), received, error


async def test_supabase_py_joins_receives_and_is_refused(
    stack: Stack, token, realtime_client: AsyncRealtimeClient
) -> None:
    alice, bob = unique("alice"), unique("bob")
    await realtime_client.set_auth(token(alice))

    channel, received, _ = await join(realtime_client, f"user-{alice}")
    refused, _, error = await join(realtime_client, f"user-{bob}")

    assert channel is not None
    assert refused is None and error is not None
    assert "You do not have permissions to read from this Channel topic" in str(error)
    key = stack.config.service_role_key
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stack.supabase_url}/realtime/v1/api/broadcast",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
            json={
                "messages": [
                    {
                        "topic": f"user-{alice}",
                        "event": "note-added",
                        "payload": {"n": 7},
                        "private": True,
                    }
                ]
            },
        )
    assert response.status_code == 202
    message = await asyncio.wait_for(received.get(), WAIT)
    assert message["event"] == "note-added"
    assert message["payload"] == {"n": 7}
