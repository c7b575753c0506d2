"""Sending from the app (crm.sendMessage) through the HighLevel REST stand-in (dev/ghl_api.py,
served by the test stack): the location is connected through the OAuth redirect
(/api/crm/oauth/callback), the message is stored pending under HighLevel's messageId, and the
stand-in's signed OutboundMessage webhook reconciles it — the official pusher-js client sees
one `new-message` carrying the clientId. Failures, retries, membership, token refresh (on
demand, on a 401, by the cron) and tokens encrypted at rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from dev.stack import Stack
from tests.crm.conftest import Place
from tests.crm.crm_support import (
    Ghl,
    api_calls,
    connect_location,
    contact_create,
    message,
    new_id,
    sends,
)
from tests.messaging.messaging_support import Trpc, data, error
from tests.outbox_support import pusher_js, sql
from tests.support import stack_env


@dataclass(frozen=True)
class Chat:
    place: Place
    contact: str
    conversation: str


async def open_chat(ghl: Ghl, place: Place) -> Chat:
    contact, conversation = new_id("ct"), new_id("conv")
    await ghl.send(contact_create(place.location, contact, assigned_to=place.rep))
    await ghl.send(message(place.location, contact, conversation, "Is Tuesday OK?"))
    return Chat(place, contact, conversation)


@pytest.fixture
async def chat(stack: Stack, http: httpx.AsyncClient, ghl: Ghl, place: Place) -> Chat:
    """A conversation with a contact assigned to the rep, in a connected location."""
    await connect_location(http, stack, place.location, user=place.rep)
    return await open_chat(ghl, place)


def send_input(chat: Chat, client_id: str, body: str = "Tuesday at 10 works") -> dict[str, Any]:
    return {"conversationId": chat.conversation, "clientId": client_id, "body": body}


def stored(stack: Stack, conversation: str) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select id, client_id, ghl_message_id, status, direction, sent_by, error"
            " from public.crm_messages where conversation_id = %s order by id",
            [conversation],
        ).fetchall()


def token_row(stack: Stack, location: str) -> dict[str, Any]:
    with sql(stack) as conn:
        row = conn.execute(
            "select access_token, refresh_token, expires_at, refresh_error"
            " from public.crm_oauth_tokens where location_id = %s",
            [location],
        ).fetchone()
    assert row is not None
    return row


def auth_url(stack: Stack) -> str:
    return f"{stack.api_url}/api/realtime/auth"


async def test_an_optimistic_send_is_reconciled_by_message_id_once(
    stack: Stack, token, http: httpx.AsyncClient, ghl: Ghl, chat: Chat, api: Callable[[str], Trpc]
):  # noqa: ANN001
    rep, mine = chat.place.rep, f"private-user-{chat.place.rep}"
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(rep)) as js:
        assert (await js.subscribe(mine))["type"] == "subscribed"
        sent = data(await api(rep).mutation("crm.sendMessage", send_input(chat, "tmp-1")))
        assert sent["duplicate"] is False
        pending = sent["message"]
        assert (pending["clientId"], pending["direction"]) == ("tmp-1", "outbound")
        assert pending["status"] in ("pending", "delivered")  # the webhook may win the race
        assert pending["ghlMessageId"]

        seen = await js.expect("event", channel=mine, event="new-message")
        reconciled = seen["data"]["data"]
        assert reconciled["message"]["clientId"] == "tmp-1"
        assert reconciled["message"]["ghlMessageId"] == pending["ghlMessageId"]
        assert reconciled["message"]["id"] == pending["id"]
        assert reconciled["message"]["status"] == "delivered"
        assert reconciled["conversation"] == {"id": chat.conversation, "unreadCount": 1}

        calls = sends(await api_calls(http, stack, conversationId=chat.conversation))
        assert len(calls) == 1
        assert calls[0]["body"] == "Tuesday at 10 works"
        assert (calls[0]["contactId"], calls[0]["userId"]) == (chat.contact, rep)

        again = data(await api(rep).mutation("crm.sendMessage", send_input(chat, "tmp-1")))
        assert again["duplicate"] is True and again["message"]["id"] == pending["id"]
        assert len(sends(await api_calls(http, stack, conversationId=chat.conversation))) == 1

        # the next message on the channel is the next one: nothing else carried tmp-1
        await ghl.send(message(chat.place.location, chat.contact, chat.conversation, "Great!"))
        after = await js.expect("event", channel=mine, event="new-message")
        assert after["data"]["data"]["message"]["body"] == "Great!"
        assert [e for e in js.seen("event", channel=mine) if "tmp-1" in str(e["data"])] == []

    rows = [r for r in stored(stack, chat.conversation) if r["client_id"] == "tmp-1"]
    assert [(r["status"], r["ghl_message_id"]) for r in rows] == [
        ("delivered", pending["ghlMessageId"])
    ]


async def test_a_failed_send_is_marked_failed_published_and_retried_with_its_client_id(
    stack: Stack, token, http: httpx.AsyncClient, chat: Chat, api: Callable[[str], Trpc]
):  # noqa: ANN001
    rep, mine = chat.place.rep, f"private-user-{chat.place.rep}"
    await http.post(
        f"{stack.ghl_api_url}/__fake__/fail",
        json={"conversationId": chat.conversation, "status": 400, "message": "Contact is DND"},
    )
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(rep)) as js:
        assert (await js.subscribe(mine))["type"] == "subscribed"
        failed = data(await api(rep).mutation("crm.sendMessage", send_input(chat, "tmp-f")))
        assert failed["message"]["status"] == "failed"
        assert "Contact is DND" in failed["message"]["error"]
        event = (await js.expect("event", channel=mine, event="message-failed"))["data"]["data"]
        assert event == {
            "id": failed["message"]["id"],
            "clientId": "tmp-f",
            "conversationId": chat.conversation,
            "reason": failed["message"]["error"],
        }
        assert [r["status"] for r in stored(stack, chat.conversation) if r["client_id"]] == [
            "failed"
        ]

        retried = data(await api(rep).mutation("crm.sendMessage", send_input(chat, "tmp-f")))
        assert retried["duplicate"] is False
        assert retried["message"]["id"] == failed["message"]["id"]
        assert retried["message"]["error"] is None
        seen = await js.expect("event", channel=mine, event="new-message")
        assert seen["data"]["data"]["message"]["clientId"] == "tmp-f"
    statuses = [call.get("status") for call in sends(await api_calls(http, stack))
                if call["conversationId"] == chat.conversation]  # fmt: skip
    assert statuses == [400, None]


async def test_a_colleague_who_sends_gets_the_reconciliation_on_their_own_channel(
    stack: Stack, token, http: httpx.AsyncClient, chat: Chat, api: Callable[[str], Trpc]
):  # noqa: ANN001
    """The message names its sender (userId), so its `new-message` goes to the sender, not
    to the contact's rep (the first half's assignee rule)."""
    colleague = chat.place.colleague
    assert stack.realtime is not None
    url = auth_url(stack)
    async with pusher_js(stack.realtime, auth_endpoint=url, token=token(colleague)) as js:
        assert (await js.subscribe(f"private-user-{colleague}"))["type"] == "subscribed"
        data(await api(colleague).mutation("crm.sendMessage", send_input(chat, "tmp-c")))
        seen = await js.expect("event", channel=f"private-user-{colleague}", event="new-message")
        assert seen["data"]["data"]["message"]["clientId"] == "tmp-c"
    calls = sends(await api_calls(http, stack, conversationId=chat.conversation))
    assert [call["userId"] for call in calls] == [colleague]


async def test_only_members_send_and_nothing_reaches_highlevel_otherwise(
    stack: Stack, http: httpx.AsyncClient, chat: Chat, api: Callable[[str], Trpc]
):
    refused = error(await api(chat.place.outsider).mutation(
        "crm.sendMessage", send_input(chat, "tmp-x")
    ))  # fmt: skip
    assert refused["code"] == "FORBIDDEN"
    unknown = error(await api(chat.place.rep).mutation(
        "crm.sendMessage", {**send_input(chat, "tmp-y"), "conversationId": new_id("conv")}
    ))  # fmt: skip
    assert unknown["code"] == "NOT_FOUND"
    bad = error(await api(chat.place.rep).mutation(
        "crm.sendMessage", {**send_input(chat, "tmp-z"), "type": "Fax"}
    ))  # fmt: skip
    assert bad["code"] == "BAD_REQUEST"
    assert sends(await api_calls(http, stack, conversationId=chat.conversation)) == []
    assert [r for r in stored(stack, chat.conversation) if r["client_id"]] == []


async def test_a_location_never_connected_fails_the_send_with_the_reason(
    stack: Stack, ghl: Ghl, place: Place, api: Callable[[str], Trpc]
):
    chat = await open_chat(ghl, place)  # no OAuth install
    failed = data(await api(place.rep).mutation("crm.sendMessage", send_input(chat, "tmp-n")))
    assert failed["message"]["status"] == "failed"
    assert "not connected" in failed["message"]["error"]


# tokens ------------------------------------------------------------------------------------


async def test_tokens_are_encrypted_at_rest_with_crm_token_key(stack: Stack, chat: Chat):
    assert stack.ghl is not None
    connection = stack.ghl.connections[chat.place.location]
    row = token_row(stack, chat.place.location)
    for raw, clear in ((row["access_token"], connection.access),
                       (row["refresh_token"], connection.refresh)):  # fmt: skip
        assert clear not in raw and raw != clear
        key = stack_env(stack)["CRM_TOKEN_KEY"].encode()
        assert Fernet(key).decrypt(raw.encode()).decode() == clear


async def test_an_expired_token_is_refreshed_before_the_call(
    stack: Stack, http: httpx.AsyncClient, chat: Chat, api: Callable[[str], Trpc]
):
    location = chat.place.location
    with sql(stack) as conn:
        conn.execute(
            "update public.crm_oauth_tokens set expires_at = now() - interval '1 minute'"
            " where location_id = %s",
            [location],
        )
    before = token_row(stack, location)
    sent = data(await api(chat.place.rep).mutation("crm.sendMessage", send_input(chat, "tmp-e")))
    assert sent["message"]["status"] in ("pending", "delivered")
    calls = await api_calls(http, stack, locationId=location)
    assert [(c["kind"], c.get("grantType"), c["serial"]) for c in calls] == [
        ("grant", "authorization_code", 1),
        ("grant", "refresh_token", 2),
        ("send", None, 2),  # with the new token
    ]
    after = token_row(stack, location)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] > before["expires_at"]


async def test_a_token_highlevel_rejects_is_refreshed_and_the_send_tried_once_more(
    stack: Stack, http: httpx.AsyncClient, chat: Chat, api: Callable[[str], Trpc]
):
    location = chat.place.location
    await http.post(f"{stack.ghl_api_url}/__fake__/revoke", json={"locationId": location})
    sent = data(await api(chat.place.rep).mutation("crm.sendMessage", send_input(chat, "tmp-r")))
    assert sent["message"]["status"] in ("pending", "delivered")
    calls = await api_calls(http, stack, locationId=location)
    assert [(c["kind"], c.get("grantType"), c["serial"]) for c in calls[1:]] == [
        ("grant", "refresh_token", 2),
        ("send", None, 2),
    ]  # the refused call never reached a send: the revoked token matched no connection


async def test_the_cron_refreshes_the_tokens_near_expiry_only(
    stack: Stack, http: httpx.AsyncClient, place: Place
):
    soon, later = place.location, new_id("loc")
    await connect_location(http, stack, soon, user=place.rep)
    await connect_location(http, stack, later)
    with sql(stack) as conn:
        conn.execute(
            "update public.crm_oauth_tokens set expires_at = now() + case location_id"
            " when %s then interval '1 hour' else interval '20 hours' end"
            " where location_id in (%s, %s)",
            [soon, soon, later],
        )
    answer = await http.get(
        f"{stack.api_url}/api/cron/crm-token-refresh",
        headers={"authorization": f"Bearer {stack.config.cron_secret}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["refreshed"] >= 1
    grants = {
        location: [c["grantType"] for c in await api_calls(http, stack, locationId=location)]
        for location in (soon, later)
    }
    assert grants == {
        soon: ["authorization_code", "refresh_token"],
        later: ["authorization_code"],
    }
    assert token_row(stack, soon)["refresh_error"] is None


async def test_the_oauth_callback_refuses_a_code_highlevel_did_not_issue(
    stack: Stack, http: httpx.AsyncClient
):
    answer = await http.get(f"{stack.api_url}/api/crm/oauth/callback", params={"code": "nope"})
    assert answer.status_code == 400
    assert "refused the OAuth grant" in answer.json()["error"]["message"]
    missing = await http.get(f"{stack.api_url}/api/crm/oauth/callback")
    assert missing.status_code == 400
