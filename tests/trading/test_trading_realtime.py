"""Trading events in both realtime modes: a signed broker push -> the webhook function ->
`position-update` on private-user-{owner}, published by the request itself (not left to the
relay), with REALTIME_PROVIDER=pusher (the stack's Pusher-protocol server) and =supabase
(Supabase Realtime's broadcast REST, which the stack's gateway emulates and relays to the same
server, so one official pusher-js client sees both)."""

from __future__ import annotations

import pytest

from dev.stack import Stack
from lib.features import BUNDLE
from lib.features.trading.webhook import receive
from lib.rpc import trpc_app
from lib.web import function
from tests.outbox_support import outbox_rows, pusher_js
from tests.support import asgi_client, stack_services
from tests.trading.test_trading_sync import alpaca
from tests.trading.trading_support import Trader, position, signed


@pytest.mark.parametrize("provider", ["pusher", "supabase"])
async def test_a_push_reaches_the_owner_in_both_realtime_modes(
    stack: Stack,
    token,  # noqa: ANN001
    trader: Trader,
    provider: str,
):
    assert stack.realtime is not None and stack.gateway is not None
    services = stack_services(stack, REALTIME_PROVIDER=provider)
    assert services.settings.realtime_provider == provider
    channel = f"private-user-{trader.user}"
    app = function(POST=receive, services=services)
    body, headers = signed(
        trader.secret, {"id": f"evt-{provider}", "positions": [position("MSFT", 5)]}
    )
    before = len([m for m in stack.gateway.broadcasts if m["topic"] == f"user-{trader.user}"])
    forwarded = stack.gateway.on_broadcast is not None

    async with pusher_js(
        stack.realtime, auth_endpoint=f"{stack.api_url}/api/realtime/auth", token=token(trader.user)
    ) as js:
        assert (await js.subscribe(channel))["type"] == "subscribed"
        async with asgi_client(app) as client:
            answer = await client.post(
                f"/api/webhooks/broker/{trader.connection}", content=body, headers=headers
            )
        assert answer.status_code == 200 and answer.json()["status"] == "processed", answer.text
        if provider == "pusher" or forwarded:
            received = await js.expect("event", channel=channel, event="position-update")
            assert received["data"]["data"]["position"]["symbol"] == "MSFT"

    (row,) = [r for r in outbox_rows(stack, channel) if r["event"] == "position-update"]
    assert row["published_at"] is not None  # by the request, not the relay
    broadcasts = [m for m in stack.gateway.broadcasts if m["topic"] == f"user-{trader.user}"]
    if provider == "supabase":
        (message,) = broadcasts[before:]
        assert message["private"] is True and message["event"] == "position-update"
        assert message["payload"]["id"] == str(row["id"])
        assert message["payload"]["data"]["position"]["qty"] == 5
    else:
        assert broadcasts[before:] == []


@pytest.mark.parametrize("provider", ["pusher", "supabase"])
async def test_a_sync_publishes_what_changed_in_both_realtime_modes(
    stack: Stack,
    token,  # noqa: ANN001
    api,  # noqa: ANN001
    provider: str,
):
    """trading.sync served by a tRPC app whose publisher is `provider`: the broker's position
    reaches the owner's channel through that provider, published by the call itself."""
    assert stack.gateway is not None
    user, _, connection = await alpaca(stack, api)
    services = stack_services(stack, REALTIME_PROVIDER=provider)
    channel = f"private-user-{user}"
    before = len([m for m in stack.gateway.broadcasts if m["topic"] == f"user-{user}"])
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as client:
        synced = await client.post(
            "/api/trpc/trading.sync",
            json={"connectionId": connection},
            headers={"authorization": f"Bearer {token(user)}"},
        )
    assert synced.status_code == 200, synced.text
    assert synced.json()["result"]["data"]["changed"]["positions"] == 1
    (row,) = [r for r in outbox_rows(stack, channel) if r["event"] == "position-update"]
    assert row["published_at"] is not None  # by the call, not the relay
    broadcasts = [m for m in stack.gateway.broadcasts if m["topic"] == f"user-{user}"][before:]
    if provider == "supabase":
        assert "position-update" in [m["event"] for m in broadcasts]
        (message,) = [m for m in broadcasts if m["event"] == "position-update"]
        assert message["payload"]["data"]["position"]["symbol"] == "AAPL"
    else:
        assert broadcasts == []
