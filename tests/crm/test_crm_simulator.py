"""`python -m dev.ghl` (the README's HighLevel demo) against the test stack: every step is
answered 200 and every event it announces reaches its channel — the rep's through the official
pusher-js client, the location's in the outbox (the rep becomes a member only during the run)."""

from __future__ import annotations

from collections import Counter

from dev import ghl as simulator
from dev.stack import Stack
from tests.crm.crm_support import new_id, outbox
from tests.outbox_support import pusher_js
from tests.support import stack_env


async def test_the_simulator_sends_every_family_and_each_event_arrives(stack: Stack, token):  # noqa: ANN001
    location, rep, colleague = new_id("loc"), new_id("usr"), new_id("usr")
    mine, room = f"private-user-{rep}", f"private-location-{location}"
    said: list[str] = []
    assert stack.realtime is not None
    async with pusher_js(
        stack.realtime, auth_endpoint=f"{stack.api_url}/api/realtime/auth", token=token(rep)
    ) as js:
        assert (await js.subscribe(mine))["type"] == "subscribed"
        steps = await simulator.simulate(
            stack_env(stack), stack.api_url, location=location, rep=rep, colleague=colleague,
            say=said.append,
        )  # fmt: skip
        assert [(s.name, s.status) for s in steps if s.status != 200] == []
        assert len(said) == len(steps) == 14
        webhooks = steps[: len(simulator.deliveries(location, rep, colleague))]
        assert all(s.answer["status"] == "processed" for s in webhooks), webhooks
        expected = Counter(event for s in steps for channel, event in s.watch if channel == mine)
        got: Counter[str] = Counter()
        for event in sorted(expected):
            for _ in range(expected[event]):
                seen = await js.expect("event", channel=mine, event=event)
                got[event] += 1
                if event == "new-message" and seen["data"]["data"]["message"]["clientId"]:
                    assert seen["data"]["data"]["message"]["status"] == "delivered"
        assert got == expected
    location_events = Counter(row["event"] for row in outbox(stack, room))
    wanted = Counter(event for s in steps for channel, event in s.watch if channel == room)
    assert location_events == wanted
