"""@supabase/supabase-js (npm, unmodified) against the local Realtime server: private topics
authorized by the realtime.messages RLS policies in the stack's Postgres."""

from __future__ import annotations

import httpx
import pytest

from dev.stack import Stack
from tests.supabase_realtime.harness import SupabaseJsClients
from tests.support import unique

pytestmark = pytest.mark.stack


def rest_broadcast(stack: Stack, topic: str, event: str, payload: dict, *, private: bool = True):
    key = stack.config.service_role_key
    return httpx.post(
        f"{stack.supabase_url}/realtime/v1/api/broadcast",
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
        json={
            "messages": [{"topic": topic, "event": event, "payload": payload, "private": private}]
        },
        timeout=10,
    )


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
async def test_a_user_joins_their_private_topic_and_is_refused_another(
    stack: Stack, token, supabase_js: SupabaseJsClients, vsn: str
) -> None:
    alice, bob = unique("alice"), unique("bob")
    client = await supabase_js(token(alice), vsn=vsn)

    joined = await client.subscribe(f"user-{alice}", private=True)
    refused = await client.subscribe(f"user-{bob}", private=True)

    assert joined["status"] == "SUBSCRIBED"
    assert refused["status"] == "CHANNEL_ERROR"
    assert refused["error"] == (
        f"Unauthorized: You do not have permissions to read from this Channel topic: user-{bob}"
    )
    assert rest_broadcast(stack, f"user-{alice}", "note-added", {"n": 1}).status_code == 202
    event = await client.expect("broadcast", topic=f"user-{alice}")
    assert (event["event"], event["payload"]) == ("note-added", {"n": 1})
