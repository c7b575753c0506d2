"""Appointment reminders without a running process: a reminder row 15 minutes before each
start (moved with the appointment, cancelled with it), claimed `for update skip locked` by
the crm-reminders cron and by every HighLevel delivery, published exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dev.stack import Stack
from lib.features.crm import reminders
from lib.realtime.memory import MemoryPublisher
from tests.crm.conftest import Place
from tests.crm.crm_support import Ghl, appointment, contact_create, new_id, outbox
from tests.outbox_support import pusher_js, sql
from tests.support import stack_services


def reminder(stack: Stack, appointment_id: str) -> dict[str, Any] | None:
    with sql(stack) as conn:
        return conn.execute(
            "select r.status, r.remind_at, a.starts_at from public.crm_appointment_reminders r"
            " join public.crm_appointments a on a.id = r.appointment_id"
            " where r.appointment_id = %s",
            [appointment_id],
        ).fetchone()


def make_due(stack: Stack, appointment_id: str, *, starts_in: timedelta) -> None:
    """The clock moved on: the appointment starts in `starts_in`, its reminder is due now."""
    with sql(stack) as conn:
        conn.execute(
            "update public.crm_appointments set starts_at = now() + %s where id = %s",
            [starts_in, appointment_id],
        )
        conn.execute(
            "update public.crm_appointment_reminders set remind_at = now() - interval '1 second'"
            " where appointment_id = %s",
            [appointment_id],
        )


def fired(stack: Stack, channel: str, appointment_id: str) -> list[dict[str, Any]]:
    return [
        row["data"]
        for row in outbox(stack, channel, "appointment-reminder")
        if row["data"]["appointmentId"] == appointment_id
    ]


async def test_reminders_follow_their_appointment(ghl: Ghl, stack: Stack, place: Place):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    visit, contact = new_id("apt"), new_id("ct")
    await ghl.send(appointment(place.location, visit, contact, place.rep, start))
    row = reminder(stack, visit)
    assert row is not None
    assert (row["status"], row["remind_at"]) == ("scheduled", start - timedelta(minutes=15))

    later = start + timedelta(hours=1)
    await ghl.send(
        appointment(place.location, visit, contact, place.rep, later, type="AppointmentUpdate")
    )
    row = reminder(stack, visit)
    assert row is not None
    assert (row["status"], row["remind_at"]) == ("scheduled", later - timedelta(minutes=15))

    await ghl.send(
        appointment(place.location, visit, contact, place.rep, later, type="AppointmentDelete")
    )
    row = reminder(stack, visit)
    assert row is not None and row["status"] == "cancelled"

    # a reminder nobody claimed before the start is not sent after it
    gone = new_id("apt")
    await ghl.send(appointment(place.location, gone, contact, place.rep, start))
    make_due(stack, gone, starts_in=timedelta(minutes=-1))
    assert await reminders.fire(stack_services(stack).replace(publisher=MemoryPublisher()))
    row = reminder(stack, gone)
    assert row is not None and row["status"] == "missed"
    assert fired(stack, f"private-user-{place.rep}", gone) == []


def cron(stack: Stack, http: httpx.AsyncClient) -> Any:
    return http.get(
        f"{stack.api_url}/api/cron/crm-reminders",
        headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
    )


async def test_a_due_reminder_fires_once_whoever_claims_it(
    ghl: Ghl, stack: Stack, place: Place, token, http: httpx.AsyncClient
):  # noqa: ANN001
    contact, visit = new_id("ct"), new_id("apt")
    mine = f"private-user-{place.rep}"
    await ghl.send(contact_create(place.location, contact, assigned_to=place.rep))
    start = datetime.now(UTC) + timedelta(hours=3)
    await ghl.send(appointment(place.location, visit, contact, place.rep, start))
    make_due(stack, visit, starts_in=timedelta(minutes=15))
    services = stack_services(stack)
    assert stack.realtime is not None
    url = f"{stack.api_url}/api/realtime/auth"
    async with pusher_js(stack.realtime, auth_endpoint=url, token=token(place.rep)) as js:
        assert (await js.subscribe(mine))["type"] == "subscribed"
        # two cron runs, two direct claimers and a HighLevel delivery, all at once
        answers = await asyncio.gather(
            cron(stack, http),
            cron(stack, http),
            reminders.fire(services),
            reminders.fire(services),
            ghl.send(contact_create(place.location, new_id("ct"), assigned_to=None)),
        )
        assert [a.status_code for a in answers[:2]] == [200, 200]
        event = await js.expect("event", channel=mine, event="appointment-reminder")
        assert event["data"]["data"] == {
            "appointmentId": visit,
            "title": "Site visit",
            "contactName": "Jane Doe",
            "startsIn": 15,
            "startTime": event["data"]["data"]["startTime"],
            "location": {"id": place.location, "name": "Acme Remodeling"},
        }
        assert await reminders.fire(services) == {"fired": 0}
        assert js.seen("event", event="appointment-reminder") == []
    assert len(fired(stack, mine, visit)) == 1
    row = reminder(stack, visit)
    assert row is not None and row["status"] == "sent"


async def test_every_delivery_claims_due_reminders_even_a_duplicate(
    ghl: Ghl, stack: Stack, place: Place
):
    contact = new_id("ct")
    mine = f"private-user-{place.rep}"
    lead = contact_create(place.location, contact, assigned_to=place.rep, webhookId=new_id("wh"))
    await ghl.send(lead)
    start = datetime.now(UTC) + timedelta(hours=3)
    first, second = new_id("apt"), new_id("apt")
    for visit in (first, second):
        await ghl.send(appointment(place.location, visit, contact, place.rep, start))

    make_due(stack, first, starts_in=timedelta(minutes=15))
    assert (await ghl.send(lead))["duplicate"] is True  # no processor ran: the answer claims
    assert len(fired(stack, mine, first)) == 1

    make_due(stack, second, starts_in=timedelta(minutes=15))
    await ghl.send({"type": "TaskDelete", "locationId": place.location, "id": new_id("t")})
    assert len(fired(stack, mine, second)) == 1
    assert len(fired(stack, mine, first)) == 1
