"""RLS on the CRM tables, as Supabase checks it: `authenticated` with request.jwt.claims set,
in a transaction that is always rolled back. Members of a location read its rows; nobody else
does; nobody writes; HighLevel users (emails) are the service role's alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

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

LOCATION_TABLES = [
    "crm_locations",
    "crm_user_locations",
    "crm_activity",
    "crm_contacts",
    "crm_notes",
    "crm_conversations",
    "crm_messages",
    "crm_opportunities",
    "crm_invoices",
    "crm_payments",
    "crm_appointments",
    "crm_appointment_reminders",
    "crm_tasks",
    "crm_email_stats",
]


@contextmanager
def as_user(
    stack: Stack, who: str | None, role: str = "authenticated"
) -> Iterator[psycopg.Connection]:
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            claims = {"sub": who, "role": role} if who else {"role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            conn.execute(f"set local role {role}")
            yield conn
        finally:
            conn.rollback()


def visible(stack: Stack, who: str, table: str, location: str) -> int:
    with as_user(stack, who) as conn:
        row = conn.execute(
            f"select count(*) from public.{table} where location_id = %s",  # noqa: S608
            [location],
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
async def filled(ghl: Ghl, place: Place) -> Place:
    loc, rep = place.location, place.rep
    contact = new_id("ct")
    await ghl.send(contact_create(loc, contact, assigned_to=rep))
    await ghl.send(
        {
            "type": "NoteCreate",
            "locationId": loc,
            "id": new_id("n"),
            "contactId": contact,
            "body": "private",
        }
    )
    await ghl.send(message(loc, contact, new_id("conv"), "hello"))
    await ghl.send(opportunity(loc, new_id("opp"), contact, rep))
    await ghl.send(invoice(loc, new_id("inv"), contact))
    await ghl.send(
        appointment(loc, new_id("apt"), contact, rep, datetime.now(UTC) + timedelta(days=1))
    )
    await ghl.send(task(loc, new_id("t"), contact, rep))
    await ghl.send(
        {"type": "LCEmailStats", "locationId": loc, "webhookPayload": {"event": "opened"}}
    )
    return place


async def test_members_read_their_location_and_outsiders_nothing(stack: Stack, filled: Place):
    for table in LOCATION_TABLES:
        assert visible(stack, filled.rep, table, filled.location) > 0, table
        assert visible(stack, filled.outsider, table, filled.location) == 0, table


@pytest.mark.parametrize("table", [*LOCATION_TABLES, "crm_users", "crm_user_links"])
def test_clients_never_write_and_anon_never_reads(stack: Stack, table: str):
    with as_user(stack, "someone") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"delete from public.{table}")  # noqa: S608
    with as_user(stack, None, "anon") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select 1 from public.{table}")  # noqa: S608


async def test_highlevel_users_are_private_and_links_are_their_owners(stack: Stack, filled: Place):
    with as_user(stack, filled.rep) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select email from public.crm_users")
    with as_user(stack, filled.rep) as conn:
        others = conn.execute(
            "select count(*) from public.crm_user_links where app_user_id <> %s", [filled.rep]
        ).fetchone()
    assert others is not None and others[0] == 0
