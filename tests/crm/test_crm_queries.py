"""crm.* queries through the stack's /api/trpc: what HighLevel told us, read back by members
(paged, typed), and FORBIDDEN for anyone else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.crm.conftest import Place
from tests.crm.crm_support import (
    Ghl,
    appointment,
    contact_create,
    invoice,
    iso,
    message,
    new_id,
    opportunity,
    task,
)
from tests.messaging.messaging_support import Trpc, data, error

Api = Callable[[str], Trpc]


@pytest.fixture
async def busy(ghl: Ghl, place: Place) -> dict[str, str]:
    """A location with a lead, a conversation, a won deal, a payment, an appointment, tasks."""
    loc, rep = place.location, place.rep
    ids = {k: new_id(k) for k in ("ct", "conv", "opp", "inv", "apt", "open", "done")}
    await ghl.send(contact_create(loc, ids["ct"], assigned_to=rep))
    await ghl.send(message(loc, ids["ct"], ids["conv"], "Is Tuesday OK for the visit?"))
    await ghl.send(message(loc, ids["ct"], ids["conv"], "Also: budget is 20k"))
    await ghl.send(opportunity(loc, ids["opp"], ids["ct"], rep, status="won"))
    await ghl.send(
        invoice(
            loc,
            ids["inv"],
            ids["ct"],
            amountPaid=400,
            total=1000,
            status="partially_paid",
            amountDue=600,
        )
    )
    start = datetime.now(UTC) + timedelta(days=1)
    await ghl.send(appointment(loc, ids["apt"], ids["ct"], rep, start))
    await ghl.send(task(loc, ids["open"], ids["ct"], rep))
    await ghl.send(task(loc, ids["done"], ids["ct"], rep))
    await ghl.send(task(loc, ids["done"], ids["ct"], rep, "TaskComplete"))
    return ids


async def test_members_read_their_location(api: Api, place: Place, busy: dict[str, str]):
    rep, loc = api(place.rep), place.location

    first = data(await rep.query("crm.feed", {"locationId": loc, "limit": 2}))
    rest = data(await rep.query("crm.feed", {"locationId": loc, "since": first["next"]}))
    events = [i["event"] for i in first["items"] + rest["items"]]
    assert events == [
        "lead-alert",
        "location-message",
        "location-message",
        "project-won",
        "revenue-update",
    ]
    assert rest["next"] is None

    page = data(await rep.query("crm.conversations", {"locationId": loc}))
    [conversation] = page["conversations"]
    assert conversation["id"] == busy["conv"] and conversation["unreadCount"] == 2
    assert conversation["contact"] == {"id": busy["ct"], "name": "Jane Doe"}
    assert conversation["lastMessagePreview"] == "Also: budget is 20k"
    assert (page["totalUnread"], page["next"]) == (2, None)

    messages = data(await rep.query("crm.messages", {"conversationId": busy["conv"]}))
    bodies = [m["body"] for m in messages["messages"]]
    assert bodies == ["Is Tuesday OK for the visit?", "Also: budget is 20k"]
    newer = data(
        await rep.query(
            "crm.messages", {"conversationId": busy["conv"], "since": messages["messages"][0]["id"]}
        )
    )
    assert [m["body"] for m in newer["messages"]] == ["Also: budget is 20k"]

    revenue = data(await rep.query("crm.revenueToday", {"locationId": loc}))
    today = datetime.now(ZoneInfo("America/Denver")).date().isoformat()
    assert revenue == {
        "locationId": loc,
        "day": today,
        "timeZone": "America/Denver",
        "total": 400.0,
        "payments": 1,
        "currency": "USD",
    }

    pipeline = data(await rep.query("crm.pipeline", {"locationId": loc}))
    assert pipeline["stages"] == [
        {
            "pipelineId": "pipe1",
            "stageId": "stage-new",
            "open": 0,
            "won": 1,
            "lost": 0,
            "openValue": 0.0,
        }
    ]
    assert [o["id"] for o in pipeline["opportunities"]] == [busy["opp"]]

    window = {"from": iso(datetime.now(UTC)), "to": iso(datetime.now(UTC) + timedelta(days=7))}
    mine = data(await rep.query("crm.appointments", window))
    assert [a["id"] for a in mine["appointments"]] == [busy["apt"]]
    colleague = data(await api(place.colleague).query("crm.appointments", window))
    assert colleague["appointments"] == []
    theirs = data(
        await api(place.colleague).query("crm.appointments", {**window, "locationId": loc})
    )
    assert [a["id"] for a in theirs["appointments"]] == [busy["apt"]]

    open_tasks = data(await rep.query("crm.tasks", {"status": "open"}))
    done = data(await rep.query("crm.tasks", {"status": "completed", "limit": 1}))
    assert [t["id"] for t in open_tasks["tasks"]] == [busy["open"]]
    assert [t["id"] for t in done["tasks"]] == [busy["done"]]
    assert done["tasks"][0]["contact"]["name"] == "Jane Doe"


async def test_non_members_are_refused(api: Api, place: Place, busy: dict[str, str]):
    outsider, loc = api(place.outsider), place.location
    window = {"from": iso(datetime.now(UTC)), "to": iso(datetime.now(UTC) + timedelta(days=7))}
    for path, input in [
        ("crm.feed", {"locationId": loc}),
        ("crm.conversations", {"locationId": loc}),
        ("crm.messages", {"conversationId": busy["conv"]}),
        ("crm.revenueToday", {"locationId": loc}),
        ("crm.pipeline", {"locationId": loc}),
        ("crm.appointments", {**window, "locationId": loc}),
        ("crm.tasks", {"locationId": loc}),
    ]:
        assert error(await outsider.query(path, input))["code"] == "FORBIDDEN", path
    # their own calendar and tasks are simply empty
    assert data(await outsider.query("crm.appointments", window))["appointments"] == []
    assert data(await outsider.query("crm.tasks"))["tasks"] == []
    anonymous = Trpc(outsider.http, outsider.base, None)
    assert error(await anonymous.query("crm.feed", {"locationId": loc}))["code"] == "UNAUTHORIZED"


async def test_bad_input_is_refused_by_name(api: Api, place: Place):
    rep = api(place.rep)
    now = datetime.now(UTC)
    backwards = {"from": iso(now), "to": iso(now - timedelta(days=1))}
    assert error(await rep.query("crm.appointments", backwards))["code"] == "BAD_REQUEST"
    too_long = {"from": iso(now), "to": iso(now + timedelta(days=200))}
    assert error(await rep.query("crm.appointments", too_long))["code"] == "BAD_REQUEST"
    bad = await rep.query("crm.feed", {"locationId": "no spaces", "since": 0})
    assert error(bad)["code"] == "BAD_REQUEST"
