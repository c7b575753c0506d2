"""Row-level security of the poker and credit tables, checked as Supabase applies it: as
`authenticated` (or `service_role`) with request.jwt.claims set, in transactions that are
always rolled back. Members read their sessions, tasks and co-members; votes stay hidden
until the reveal; the ledger is append-only for every role; commands are service role only."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from dev.stack import Stack
from tests.poker.poker_harness import Trpc, as_role, grant, sql, subscribe, user


@dataclass(frozen=True)
class Room:
    facilitator: str
    member: str
    outsider: str
    session: str
    task: str


@pytest.fixture
async def room(trpc: Trpc) -> Room:
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    session = await trpc.session(alice, members=(bob,))
    task = session["tasks"][0]["id"]
    await trpc.mutate("poker.startTask", {"taskId": task}, as_user=alice)
    await trpc.mutate("poker.vote", {"taskId": task, "value": "5"}, as_user=bob)
    await trpc.mutate("poker.vote", {"taskId": task, "value": "8"}, as_user=alice)
    return Room(alice, bob, mallory, session["id"], task)


def count(stack: Stack, who: str, statement: str, *params: object) -> int:
    with as_role(stack, who) as conn:
        row = conn.execute(statement, list(params)).fetchone()
    assert row is not None
    return int(row["n"])


def refused(stack: Stack, who: str | None, statement: str, *params: object, role: str) -> bool:
    """Whether `statement` is refused for lack of privilege (or by the append-only trigger)."""
    with as_role(stack, who, role=role) as conn:
        try:
            conn.execute(statement, list(params))
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False


def test_members_read_their_session_tasks_and_co_members(stack: Stack, room: Room):
    sessions = "select count(*) as n from public.poker_sessions where id = %s"
    tasks = "select count(*) as n from public.poker_tasks where session_id = %s"
    members = "select count(*) as n from public.poker_members where session_id = %s"
    for who in (room.facilitator, room.member):
        assert count(stack, who, sessions, room.session) == 1
        assert count(stack, who, tasks, room.session) == 1
        assert count(stack, who, members, room.session) == 2
    assert count(stack, room.outsider, sessions, room.session) == 0
    assert count(stack, room.outsider, tasks, room.session) == 0
    assert count(stack, room.outsider, members, room.session) == 0


async def test_votes_are_each_voters_own_until_the_reveal(stack: Stack, trpc: Trpc, room: Room):
    visible = "select string_agg(value, ',' order by value) as n from public.poker_votes"

    def values(who: str) -> str | None:
        with as_role(stack, who) as conn:
            row = conn.execute(visible + " where task_id = %s", [room.task]).fetchone()
        assert row is not None
        return row["n"]

    assert values(room.member) == "5"
    assert values(room.facilitator) == "8"
    assert values(room.outsider) is None
    await trpc.mutate("poker.reveal", {"taskId": room.task}, as_user=room.facilitator)
    assert values(room.member) == "5,8"
    assert values(room.facilitator) == "5,8"
    assert values(room.outsider) is None


@pytest.mark.parametrize(
    "statement",
    [
        "insert into public.poker_sessions (name, facilitator_id) values ('x', %s)",
        "update public.poker_sessions set name = 'x' where facilitator_id = %s",
        "delete from public.poker_members where user_id = %s",
        "update public.poker_tasks set status = 'revealed' where %s::text is not null",
        "insert into public.poker_votes (task_id, user_id, value)"
        " select id, %s, '1' from public.poker_tasks limit 1",
        "delete from public.poker_votes where user_id = %s",
    ],
)
def test_users_write_no_poker_table_directly(stack: Stack, room: Room, statement: str):
    assert refused(stack, room.member, statement, room.member, role="authenticated")


def test_the_ledger_is_read_by_its_owner_only(stack: Stack):
    owner, other = user("owner"), user("other")
    grant(stack, owner, 3)
    mine = "select count(*) as n from public.credit_ledger where user_id = %s"
    assert count(stack, owner, mine, owner) == 1
    assert count(stack, other, mine, owner) == 0


@pytest.mark.parametrize("role", ["authenticated", "service_role", "anon"])
@pytest.mark.parametrize(
    "statement",
    [
        "insert into public.credit_ledger (user_id, delta, reason) values (%s, 100, 'gift')",
        "update public.credit_ledger set delta = 100 where user_id = %s",
        "delete from public.credit_ledger where user_id = %s",
    ],
)
def test_no_role_writes_the_ledger_directly(stack: Stack, role: str, statement: str):
    owner = user("owner")
    grant(stack, owner, 1)
    assert refused(stack, owner, statement, owner, role=role)


def test_even_the_table_owner_cannot_rewrite_the_ledger(stack: Stack):
    owner = user("owner")
    grant(stack, owner, 1)
    with sql(stack) as db:
        for statement in (
            "update public.credit_ledger set delta = 100 where user_id = %s",
            "delete from public.credit_ledger where user_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                db.execute(statement, [owner])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute("truncate public.credit_ledger")


def test_only_the_service_role_grants_or_reads_balances(stack: Stack):
    who = user("who")
    for function in (
        "select public.credit_grant(%s, 1000, 'gift', 'x')",
        "select public.credit_balance(%s)",
    ):
        assert refused(stack, who, function, who, role="authenticated")
        assert refused(stack, who, function, who, role="anon")
    assert not refused(stack, None, "select public.credit_balance(%s)", who, role="service_role")


def test_subscriptions_are_read_by_their_owner_and_written_by_the_service_role(stack: Stack):
    owner, other = user("owner"), user("other")
    subscribe(stack, owner, "active")
    mine = "select count(*) as n from public.subscriptions where user_id = %s"
    assert count(stack, owner, mine, owner) == 1
    assert count(stack, other, mine, owner) == 0
    write = "update public.subscriptions set status = 'active' where user_id = %s"
    assert refused(stack, owner, write, owner, role="authenticated")
    assert not refused(stack, None, write, owner, role="service_role")
    insert = (
        "insert into public.subscriptions (user_id, status, current_period_end)"
        " values (%s, 'active', now() + interval '1 year')"
    )
    assert refused(stack, owner, insert, owner, role="authenticated")


@pytest.mark.parametrize(
    "call",
    [
        "select public.poker_create(%s, 'x', 'fibonacci', array['1','2'], array[]::text[])",
        "select public.poker_join(%s, gen_random_uuid())",
        "select public.poker_vote(%s, gen_random_uuid(), '1')",
        "select public.poker_reveal(%s, gen_random_uuid())",
        "select public.poker_end(%s, gen_random_uuid())",
        "select public.poker_get(%s, gen_random_uuid())",
        "select public.poker_list(%s, 10, null)",
    ],
)
def test_poker_functions_are_for_the_service_role_only(stack: Stack, call: str):
    who = user("caller")
    assert refused(stack, who, call, who, role="authenticated")
    assert refused(stack, who, call, who, role="anon")
