"""Every CRM event family end to end: a signed HighLevel delivery to the stack's
POST /api/webhooks/ghl -> processor -> outbox -> the official pusher-js client, authorized by
the real /api/realtime/auth. The sales rep receives exactly the expected events on
private-user-{rep} and private-location-{location}; an outsider is refused the location's
channels and receives nothing at all. Then offline catch-up: the history endpoint returns
exactly what a disconnected client missed."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dev.stack import Stack
from tests.crm.conftest import Place
from tests.crm.crm_support import (
    Ghl,
    appointment,
    contact_create,
    invoice,
    message,
    new_id,
    opportunity,
    task,
)
from tests.outbox_support import pusher_js

LONG_BODY = "Hi! I'd like a quote for a full kitchen remodel, including cabinets and floors."


def auth_url(stack: Stack) -> str:
    return f"{stack.api_url}/api/realtime/auth"


async def test_every_family_reaches_the_rep_and_the_location_and_nobody_else(
    stack: Stack, token, ghl: Ghl, place: Place
):  # noqa: ANN001
    loc, rep = place.location, place.rep
    mine, room = f"private-user-{rep}", f"private-location-{loc}"
    contact, conversation = new_id("ct"), new_id("conv")
    assert stack.realtime is not None
    address, url = stack.realtime, auth_url(stack)
    async with (
        pusher_js(address, auth_endpoint=url, token=token(rep)) as js,
        pusher_js(address, auth_endpoint=url, token=token(place.outsider)) as outsider,
    ):
        for channel in (mine, room):
            assert (await js.subscribe(channel))["type"] == "subscribed"
        for channel in (room, f"presence-location-{loc}", mine):
            refused = await outsider.subscribe(channel)
            assert refused["type"] == "subscription_error", refused
            assert refused["error"]["status"] == 403
        own = await outsider.subscribe(f"private-user-{place.outsider}")
        assert own["type"] == "subscribed"

        got: list[dict[str, Any]] = []

        async def expect(channel: str, event: str) -> dict[str, Any]:
            seen = await js.expect("event", channel=channel, event=event)
            got.append(seen)
            envelope: dict[str, Any] = seen["data"]
            assert envelope["type"] == event
            return envelope["data"]

        # contacts: a form lead assigned to the rep
        await ghl.send(
            contact_create(loc, contact, assigned_to=rep, source="Website Form - Free Quote")
        )
        lead = await expect(room, "lead-alert")
        assert await expect(mine, "lead-alert") == lead
        assert lead["type"] == "form_submission" and lead["hot"] is True
        assert lead["formName"] == "Website Form - Free Quote"
        assert lead["contact"] == {
            "id": contact,
            "name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "+15550100999",
        }

        # conversations
        inbound = message(loc, contact, conversation, LONG_BODY)
        await ghl.send(inbound)
        new_message = await expect(mine, "new-message")
        assert new_message["message"]["body"] == LONG_BODY
        assert new_message["message"]["ghlMessageId"] == inbound["messageId"]
        assert new_message["contact"] == {
            "id": contact,
            "name": "Jane Doe",
            "phone": "+15550100999",
        }
        assert new_message["conversation"] == {"id": conversation, "unreadCount": 1}
        assert await expect(room, "location-message") == {
            "type": "SMS",
            "contactName": "Jane Doe",
            "preview": LONG_BODY[:50],
        }
        await ghl.send(
            {
                "type": "ConversationUnreadUpdate",
                "locationId": loc,
                "id": conversation,
                "contactId": contact,
                "unreadCount": 0,
                "inbox": True,
                "starred": False,
                "deleted": False,
            }
        )
        unread = await expect(mine, "unread-update")
        assert (unread["conversationId"], unread["unreadCount"]) == (conversation, 0)

        # opportunities: full snapshots, diffed
        opp = new_id("opp")
        await ghl.send(opportunity(loc, opp, contact, rep))
        assert (await expect(mine, "project-update"))["type"] == "created"
        await ghl.send(
            opportunity(
                loc,
                opp,
                contact,
                rep,
                type="OpportunityStatusUpdate",
                status="won",
                monetaryValue=6500,
            )
        )
        status = await expect(mine, "project-update")
        value = await expect(mine, "project-update")
        assert (status["type"], status["previous"]) == ("status_changed", "open")
        assert (value["type"], value["previous"]) == ("value_changed", 5000)
        assert status["project"] == {
            "id": opp,
            "name": "Kitchen remodel",
            "status": "won",
            "value": 6500,
            "stageId": "stage-new",
        }
        assert status["contact"] == {"name": "Jane Doe"}
        assert await expect(room, "project-won") == {
            "projectName": "Kitchen remodel",
            "value": 6500,
            "salesRep": "Sam Rep",
        }

        # invoices and payments: the invoice names only the contact (assigned to the rep)
        paid = invoice(loc, new_id("inv"), contact, amountPaid=1200, total=1200)
        await ghl.send(paid)
        payment = await expect(mine, "payment-received")
        assert payment == {
            "amount": 1200,
            "currency": "USD",
            "customerName": "Jane Doe",
            "invoiceNumber": "1001",
            "paymentMethod": None,
        }
        revenue = await expect(room, "revenue-update")
        assert (revenue["type"], revenue["amount"], revenue["total"]) == ("payment", 1200, 1200)
        await ghl.send(
            {
                "type": "InvoicePaymentFailed",
                **invoice(loc, new_id("inv"), contact),
                "status": "sent",
                "amountPaid": 0,
                "amountDue": 300,
                "total": 300,
            }
        )
        failed = await expect(mine, "payment-failed")
        assert (failed["amount"], failed["customerName"]) == (300, "Jane Doe")

        # contact activity: names only
        await ghl.send(
            {
                **contact_create(loc, contact, assigned_to=rep),
                "type": "ContactTagUpdate",
                "tags": ["vip"],
            }
        )
        await ghl.send(
            {
                "type": "NoteCreate",
                "locationId": loc,
                "id": new_id("note"),
                "contactId": contact,
                "body": "private: prefers evening calls",
                "dateAdded": "2026-01-01T10:00:00Z",
            }
        )
        tags = await expect(room, "contact-activity")
        note = await expect(room, "contact-activity")
        assert tags == {"type": "tags_updated", "contact": {"id": contact, "name": "Jane Doe"}}
        assert note == {"type": "note_added", "contact": {"id": contact, "name": "Jane Doe"}}

        # appointments and tasks
        visit = new_id("apt")
        await ghl.send(appointment(loc, visit, contact, rep, datetime.now(UTC) + timedelta(days=2)))
        update = await expect(mine, "appointment-update")
        assert (update["type"], update["appointment"]["title"]) == ("created", "Site visit")
        todo = new_id("task")
        await ghl.send(task(loc, todo, contact, rep))
        await ghl.send(task(loc, todo, contact, rep, "TaskComplete"))
        created = await expect(mine, "task-update")
        completed = await expect(mine, "task-update")
        assert (created["type"], completed["type"]) == ("created", "completed")
        assert completed["task"]["completed"] is True

        # email stats
        await ghl.send(
            {
                "type": "LCEmailStats",
                "locationId": loc,
                "companyId": "co1",
                "webhookPayload": {
                    "event": "delivered",
                    "recipient": "jane@example.com",
                    "id": str(uuid.uuid4()),
                },
            }
        )
        stats = await expect(room, "email-stats")
        assert (stats["event"], stats["delivered"], stats["opened"]) == ("delivered", 1, 0)

        # nothing else arrived: the rep got exactly these, the outsider nothing
        assert js.seen("event") == []
        assert outsider.seen("event") == []

    location_data = [e["data"]["data"] for e in got if e["channel"] == room]
    text = repr(location_data)
    assert "jane@example.com" not in text.replace(repr(lead["contact"]), "")
    assert "prefers evening" not in text and LONG_BODY not in text
    assert Counter((e["channel"], e["event"]) for e in got) == Counter(
        {
            (room, "lead-alert"): 1,
            (mine, "lead-alert"): 1,
            (mine, "new-message"): 1,
            (room, "location-message"): 1,
            (mine, "unread-update"): 1,
            (mine, "project-update"): 3,
            (room, "project-won"): 1,
            (mine, "payment-received"): 1,
            (room, "revenue-update"): 1,
            (mine, "payment-failed"): 1,
            (room, "contact-activity"): 2,
            (mine, "appointment-update"): 1,
            (mine, "task-update"): 2,
            (room, "email-stats"): 1,
        }
    )


async def history(
    http: httpx.AsyncClient, stack: Stack, bearer: str, channel: str, after: str
) -> httpx.Response:
    return await http.get(
        f"{stack.api_url}/api/realtime/history",
        params={"channel": channel, "after": after},
        headers={"Authorization": f"Bearer {bearer}"},
    )


async def test_offline_catch_up_returns_exactly_the_missed_events(
    stack: Stack, token, ghl: Ghl, place: Place, http: httpx.AsyncClient, api
):  # noqa: ANN001
    loc, rep = place.location, place.rep
    room, contact, conversation = f"private-location-{loc}", new_id("ct"), new_id("conv")
    await ghl.send(contact_create(loc, contact, assigned_to=rep))
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(rep)) as js:
        assert (await js.subscribe(room))["type"] == "subscribed"
        await ghl.send(message(loc, contact, conversation, "first"))
        last_seen = (await js.expect("event", channel=room, event="location-message"))["data"]
    # offline: three more things happen
    for text in ("second", "third"):
        await ghl.send(message(loc, contact, conversation, text))
    await ghl.send(invoice(loc, new_id("inv"), contact, amountPaid=50, total=50))

    missed = await history(http, stack, token(rep), room, last_seen["id"])
    assert missed.status_code == 200, missed.text
    events = missed.json()["events"]
    assert [(e["type"], e["data"].get("preview")) for e in events] == [
        ("location-message", "second"),
        ("location-message", "third"),
        ("revenue-update", None),
    ]
    assert missed.json()["more"] is False
    refused = await history(http, stack, token(place.outsider), room, "0")
    assert refused.status_code == 403

    # the feed query says the same, as feed items
    feed = await api(rep).query("crm.feed", {"locationId": loc, "since": 0})
    items = feed.json()["result"]["data"]["items"]
    assert [i["eventId"] for i in items][-3:] == [int(e["id"]) for e in events]
