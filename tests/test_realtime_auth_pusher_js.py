"""End to end: the official pusher-js client, the local Pusher-protocol server and our
/api/realtime/auth + /api/realtime/user-auth, with the user's JWT in
`channelAuthorization.headers` / `userAuthentication.headers` as a browser app sends it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from dev.stack import Stack
from tests.realtime.realtime_harness import CLIENT_JS, ROOT, PusherJs
from tests.support import sql, unique

Connect = Callable[[str], Awaitable[PusherJs]]


@pytest.fixture
async def connect(stack: Stack, token) -> AsyncIterator[Connect]:
    """connect(user) -> a pusher-js client signed in as `user` (bearer token headers)."""
    assert stack.realtime is not None
    address = stack.realtime
    clients: list[PusherJs] = []

    async def start(user: str) -> PusherJs:
        options = {
            "host": address.host,
            "port": address.port,
            "key": address.key,
            "authEndpoint": f"{stack.api_url}/api/realtime/auth",
            "userAuthEndpoint": f"{stack.api_url}/api/realtime/user-auth",
            "headers": {"Authorization": f"Bearer {token(user)}"},
            "lifetimeMs": 45_000,
        }
        process = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT_JS),
            json.dumps(options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        client = PusherJs(process)
        clients.append(client)
        client.socket_id = (await client.expect("connected"))["socket_id"]
        return client

    try:
        yield start
    finally:
        for client in clients:
            await client.close()


async def test_pusher_js_cannot_subscribe_to_another_users_channel(connect: Connect):
    alice, bob = unique("alice"), unique("bob")
    client = await connect(bob)
    outcome = await client.subscribe(f"private-user-{alice}")
    assert outcome["type"] == "subscription_error"
    assert outcome["error"]["status"] == 403
    own = await client.subscribe(f"private-user-{bob}")
    assert own["type"] == "subscribed"


async def test_pusher_js_joins_a_location_only_as_a_member(stack: Stack, connect: Connect):
    member, outsider, location = unique("member"), unique("outsider"), unique("loc")
    with sql(stack) as db:
        db.execute("insert into public.profiles (id, display_name) values (%s, 'Mia')", [member])
        db.execute("insert into public.locations (id) values (%s)", [location])
        db.execute(
            "insert into public.location_members (location_id, user_id) values (%s, %s)",
            [location, member],
        )
    channel = f"presence-location-{location}"
    stranger = await connect(outsider)
    refused = await stranger.subscribe(channel)
    assert refused["type"] == "subscription_error"
    assert refused["error"]["status"] == 403

    client = await connect(member)
    joined = await client.subscribe(channel)
    assert joined["type"] == "subscribed"
    assert joined["members"]["me"] == {"id": member, "info": {"display_name": "Mia"}}


async def test_pusher_js_cannot_join_a_poker_session_it_is_not_in(stack: Stack, connect: Connect):
    session = str(uuid.uuid4())
    with sql(stack) as db:
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) values (%s, 'P', %s)",
            [session, unique("facilitator")],
        )
    client = await connect(unique("guest"))
    outcome = await client.subscribe(f"presence-poker-{session}")
    assert outcome["type"] == "subscription_error"
    assert outcome["error"]["status"] == 403


async def test_pusher_js_signs_in_and_gets_its_user_channel(connect: Connect):
    user = unique("user")
    client = await connect(user)
    await client.send("signin")
    signed_in = await client.expect("signed_in")
    assert json.loads(signed_in["data"]["user_data"])["id"] == user
    ready = await client.expect("user_channel_ready")
    assert ready["channel"] == f"#server-to-user-{user}"


async def test_in_supabase_mode_poker_events_reach_pusher_js_members_on_the_presence_channel(
    stack: Stack, connect: Connect
):
    """The bug: the Supabase publisher sends topic `poker-<id>` (private), and the local
    gateway used to forward it to `private-poker-<id>`, a channel /api/realtime/auth refuses;
    it now lands on `presence-poker-<id>` (lib.realtime.topics), where members listen."""
    from datetime import UTC, datetime

    import httpx

    from lib.events import Channel, Event
    from lib.realtime.supabase import SupabasePublisher

    member, session = unique("member"), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute("insert into public.profiles (id, display_name) values (%s, 'Pia')", [member])
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) values (%s, 'P', %s)",
            [session, member],
        )
        db.execute(
            "insert into public.poker_members (session_id, user_id) values (%s, %s)",
            [session, member],
        )
    client = await connect(member)
    channel = f"presence-poker-{session}"
    assert (await client.subscribe(channel))["type"] == "subscribed"
    async with httpx.AsyncClient() as http:
        publisher = SupabasePublisher(
            url=stack.supabase_url, service_role_key=stack.config.service_role_key, http=http
        )
        event = Event(1, "votes-revealed", (Channel(channel),), {"n": 1}, datetime.now(UTC))
        await publisher.publish([event])
    received = await client.expect("event", channel=channel, event="votes-revealed")
    assert received["data"]["data"] == {"n": 1}
