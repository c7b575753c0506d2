"""POST /api/webhooks/ghl through the stack's api function: HighLevel's signatures (a
`cryptography` Ed25519 key standing in for HighLevel's), its non-uniform envelope, replays,
GHL_APP_ID, and identity (installs, users, links -> location members)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dev.stack import Stack
from lib.features import BUNDLE
from lib.rpc import trpc_app
from lib.web import function
from lib.webhooks import ingest
from tests.crm.conftest import Place
from tests.crm.crm_support import (
    Ghl,
    contact_create,
    install,
    invoice,
    members,
    new_id,
    outbox,
    sign,
    stored_events,
    user_create,
)
from tests.support import asgi_client, stack_services


def channel_auth(stack: Stack, token: str, channel: str) -> int:
    response = httpx.post(
        f"{stack.api_url}/api/realtime/auth",
        data={"socket_id": "1234.5678", "channel_name": channel},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda key, body: {}, 401),
        (lambda key, body: {"x-ghl-signature": "N/A", "x-wh-signature": "N/A"}, 401),
        (lambda key, body: {"x-ghl-signature": sign(key, body + b" ")}, 401),
        (lambda key, body: {"x-ghl-signature": sign(Ed25519PrivateKey.generate(), body)}, 401),
        (lambda key, body: {"x-ghl-signature": sign(key, body), "x-wh-signature": "N/A"}, 200),
    ],
    ids=["unsigned", "N/A", "tampered", "other-key", "signed"],
)
async def test_only_highlevel_signed_bodies_are_stored(
    ghl: Ghl, stack: Stack, headers: Any, status: int
):
    webhook_id = str(uuid.uuid4())
    payload = contact_create(new_id("loc"), new_id("ct"), assigned_to=None, webhookId=webhook_id)
    body = json.dumps(payload).encode()
    response = await ghl.post(body, headers(ghl.key, body))
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert stored_events(stack, webhook_id) == []
    else:
        assert [e["status"] for e in stored_events(stack, webhook_id)] == ["processed"]


async def test_a_replayed_delivery_is_one_event(ghl: Ghl, stack: Stack, place: Place):
    payload = contact_create(
        place.location, new_id("ct"), assigned_to=place.rep, webhookId=str(uuid.uuid4())
    )
    first = await ghl.send(payload)
    again = await ghl.send(payload)
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    alerts = outbox(stack, f"private-location-{place.location}", "lead-alert")
    assert [a["data"]["contact"]["id"] for a in alerts] == [payload["id"]]

    # no webhookId: the body's hash is the key; a new webhookId for the same contact is a new
    # delivery, but the lead was announced already
    bare = contact_create(place.location, new_id("ct"), assigned_to=None)
    assert (await ghl.send(bare, webhook_id=False))["duplicate"] is False
    assert (await ghl.send(bare, webhook_id=False))["duplicate"] is True
    assert (await ghl.send(bare))["status"] == "processed"
    alerts = outbox(stack, f"private-location-{place.location}", "lead-alert")
    assert [a["data"]["contact"]["id"] for a in alerts] == [payload["id"], bare["id"]]


async def test_the_envelope_is_normalised_before_a_processor_is_picked(
    ghl: Ghl, stack: Stack, place: Place
):
    paid = invoice(place.location, new_id("inv"), new_id("ct"), webhookId=str(uuid.uuid4()))
    assert "type" not in paid and "locationId" not in paid
    assert (await ghl.send(paid))["status"] == "processed"
    [stored] = stored_events(stack, paid["webhookId"])
    assert (stored["type"], stored["processor"]) == ("InvoicePaid", "crm_on_payment")
    [revenue] = outbox(stack, f"private-location-{place.location}", "revenue-update")
    assert revenue["data"]["amount"] == 1200

    unknown = {"type": "CampaignStatusUpdate", "locationId": place.location, "webhookId": "x"}
    unknown["webhookId"] = str(uuid.uuid4())
    assert (await ghl.send(unknown))["status"] == "ignored"

    broken = contact_create("", new_id("ct"), assigned_to=None, webhookId=str(uuid.uuid4()))
    answer = await ghl.send(broken)  # 200 all the same: HighLevel pauses failing webhooks
    assert answer == {"ok": False, "status": "failed", "retrying": True}
    [failed] = stored_events(stack, broken["webhookId"])
    assert failed["status"] == "failed" and "locationId" in failed["error"]


async def test_deliveries_for_another_app_are_refused_when_ghl_app_id_is_set(stack: Stack, ghl):
    services = stack_services(stack, GHL_APP_ID="ourapp-1a2b3c")
    app = function(POST=ingest.handler(BUNDLE.webhook("/api/webhooks/ghl")), services=services)
    async with asgi_client(app) as client:
        ours, theirs = new_id("loc"), new_id("loc")
        for location, app_id, status in [(ours, "ourapp", 200), (theirs, "theirapp", 403)]:
            payload = {**install(location), "appId": app_id, "webhookId": str(uuid.uuid4())}
            body = json.dumps(payload).encode()
            response = await client.post(
                "/api/webhooks/ghl", content=body, headers={"x-ghl-signature": sign(ghl.key, body)}
            )
            assert response.status_code == status, response.text
            assert len(stored_events(stack, payload["webhookId"])) == (status == 200)


async def test_installs_and_users_make_members_links_move_them_uninstall_ends_them(
    ghl: Ghl, stack: Stack, place: Place, token
):  # noqa: ANN001
    location = place.location
    assert members(stack, location) == sorted([place.rep, place.colleague])
    assert channel_auth(stack, token(place.rep), f"private-location-{location}") == 200
    assert channel_auth(stack, token(place.rep), f"presence-location-{location}") == 200
    assert channel_auth(stack, token(place.outsider), f"private-location-{location}") == 403

    # an explicit link: app user `app_user` signs in as themself but is the colleague in GHL
    operator, app_user = new_id("op"), new_id("app")
    services = stack_services(stack, ADMIN_USER_IDS=operator)
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as rpc:

        async def link(who: str) -> httpx.Response:
            return await rpc.post(
                "/api/trpc/crm.linkUser",
                json={"appUserId": app_user, "ghlUserId": place.colleague},
                headers={"authorization": f"Bearer {token(who)}"},
            )

        refused = await link(place.rep)
        assert refused.json()["error"]["data"]["code"] == "FORBIDDEN"
        linked = (await link(operator)).json()["result"]["data"]
    assert linked == {"appUserId": app_user, "ghlUserId": place.colleague, "locations": [location]}
    assert members(stack, location) == sorted([place.rep, app_user])

    # a new location for the colleague reaches the linked app user
    second = new_id("loc")
    await ghl.send(install(second))
    await ghl.send(user_create(place.colleague, [location, second], name="Cole League"))
    assert members(stack, second) == [app_user]

    await ghl.send({"type": "UNINSTALL", "appId": "app123", "locationId": location})
    assert members(stack, location) == []
    assert channel_auth(stack, token(place.rep), f"private-location-{location}") == 403
    await ghl.send(install(location))
    assert members(stack, location) == sorted([place.rep, app_user])
