"""RLS for Supabase Realtime private topics and the membership tables, checked the way
Supabase checks them: as `authenticated` with request.jwt.claims (and realtime.topic) set,
inside a transaction that is always rolled back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest

from dev.stack import Stack
from tests.support import sql, unique


@dataclass(frozen=True)
class Members:
    member: str
    outsider: str
    location: str
    poker: str
    conversation: str


@pytest.fixture
def members(stack: Stack) -> Members:
    member, outsider = unique("member"), unique("outsider")
    location, poker, conversation = unique("loc"), str(uuid.uuid4()), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute("insert into public.locations (id) values (%s)", [location])
        db.execute(
            "insert into public.location_members (location_id, user_id) values (%s, %s)",
            [location, member],
        )
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) values (%s, 'P', %s)",
            [poker, unique("facilitator")],
        )
        db.execute(
            "insert into public.poker_members (session_id, user_id) values (%s, %s)",
            [poker, member],
        )
        db.execute("insert into public.conversations (id) values (%s)", [conversation])
        db.execute(
            "insert into public.conversation_participants (conversation_id, user_id) "
            "values (%s, %s)",
            [conversation, member],
        )
    return Members(member, outsider, location, poker, conversation)


@contextmanager
def as_user(
    stack: Stack, user: str | None, *, topic: str | None = None, role: str = "authenticated"
) -> Iterator[psycopg.Connection]:
    """A transaction running as `role` with `user`'s JWT claims; rolled back at the end."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            claims = {"sub": user, "role": role} if user else {"role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            if topic is not None:
                conn.execute("select set_config('realtime.topic', %s, true)", [topic])
            conn.execute(f"set local role {role}")
            yield conn
        finally:
            conn.rollback()


def denied(
    stack: Stack,
    user: str,
    statement: str,
    *params: object,
    role: str = "authenticated",
    topic: str | None = None,
) -> bool:
    """Whether running `statement` as `user` is refused for lack of privilege."""
    with as_user(stack, user, role=role, topic=topic) as conn:
        try:
            conn.execute(statement, list(params))
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False


def topics(m: Members) -> list[str]:
    return [
        f"user-{m.member}",
        f"location-{m.location}",
        f"poker-{m.poker}",
        f"conversation-{m.conversation}",
        f"ops-{m.member}",
    ]


def broadcast_row(conn: psycopg.Connection, topic: str, event: str | None = "vote") -> None:
    conn.execute(
        "insert into realtime.messages (topic, extension, event, payload, private) "
        "values (%s, 'broadcast', %s, '{}', true)",
        [topic, event],
    )


def receives(stack: Stack, user: str, topic: str) -> int:
    """How many of the topic's messages `user` may read (one is stored first)."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            broadcast_row(conn, topic)
            claims = json.dumps({"sub": user, "role": "authenticated"})
            conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])
            conn.execute("select set_config('realtime.topic', %s, true)", [topic])
            conn.execute("set local role authenticated")
            row = conn.execute(
                "select count(*) from realtime.messages where topic = %s", [topic]
            ).fetchone()
            assert row is not None
            return int(row[0])
        finally:
            conn.rollback()


def sends(stack: Stack, user: str, topic: str, event: str | None = "client-typing") -> bool:
    """Whether `user` may insert a broadcast of `event` on `topic`; None = Realtime's own
    write check, which probes with (topic, extension) only, once per channel join."""
    with as_user(stack, user, topic=topic) as conn:
        try:
            broadcast_row(conn, topic, event)
        except psycopg.errors.InsufficientPrivilege:
            return False
        return True


def test_members_receive_on_their_private_topics(stack: Stack, members: Members):
    for topic in topics(members):
        assert receives(stack, members.member, topic) == 1, topic
        assert receives(stack, members.member, f"client:{topic}") == 1, topic


def test_outsiders_receive_nothing_on_private_topics(stack: Stack, members: Members):
    for topic in topics(members):
        assert receives(stack, members.outsider, topic) == 0, topic
        assert receives(stack, members.outsider, f"client:{topic}") == 0, topic


def test_reading_another_topic_than_the_channel_joined_gives_nothing(
    stack: Stack, members: Members
):
    """The select policy holds the row's topic to realtime.topic(), not just the member."""
    other = f"user-{members.outsider}"
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            broadcast_row(conn, other)
            claims = json.dumps({"sub": members.member, "role": "authenticated"})
            conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])
            conn.execute(
                "select set_config('realtime.topic', %s, true)", [f"user-{members.member}"]
            )
            conn.execute("set local role authenticated")
            query = "select count(*) from realtime.messages where topic = %s"
            assert count(conn, query, other) == 0
        finally:
            conn.rollback()


@pytest.mark.parametrize("event", ["new-message", "votes-revealed", "client-typing", None])
def test_nobody_but_the_server_sends_on_server_topics(
    stack: Stack, members: Members, event: str | None
):
    """A forged `new-message` or `votes-revealed` is refused even to members; so is Realtime's
    event-less write check, so a client's channel on a server topic is receive-only."""
    for topic in topics(members):
        assert not sends(stack, members.member, topic, event), (topic, event)
        assert not sends(stack, members.outsider, topic, event), (topic, event)


def test_members_send_client_events_on_client_topics(stack: Stack, members: Members):
    for topic in topics(members):
        assert sends(stack, members.member, f"client:{topic}", "client-typing"), topic
        assert sends(stack, members.member, f"client:{topic}", None), topic  # Realtime's probe
        assert not sends(stack, members.outsider, f"client:{topic}", "client-typing"), topic
        assert not sends(stack, members.outsider, f"client:{topic}", None), topic


@pytest.mark.parametrize("event", ["new-message", "votes-revealed", "vote"])
def test_client_topics_carry_client_events_only(stack: Stack, members: Members, event: str):
    for topic in topics(members):
        assert not sends(stack, members.member, f"client:{topic}", event), topic


def test_sending_on_a_topic_other_than_the_channel_joined_is_refused(
    stack: Stack, members: Members
):
    joined = f"client:conversation-{members.conversation}"
    with (
        as_user(stack, members.member, topic=joined) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        broadcast_row(conn, f"client:user-{members.outsider}", "client-typing")


def test_a_user_topic_is_only_that_users(stack: Stack, members: Members):
    assert sends(stack, members.outsider, f"client:user-{members.outsider}")
    assert not sends(stack, members.outsider, f"client:user-{members.member}")


def test_unknown_topics_are_closed(stack: Stack, members: Members):
    assert not sends(stack, members.member, "client:poker-not-a-uuid")
    assert not sends(stack, members.member, f"client:lobby-{members.location}")
    assert not sends(stack, members.member, f"client:client:user-{members.member}")
    assert receives(stack, members.member, f"lobby-{members.location}") == 0


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_clients_without_a_subject_send_and_receive_nothing(stack: Stack, role: str):
    """anon has the table grants Supabase gives it, but no policy."""
    topic = "client:user-x"
    insert = (
        "insert into realtime.messages (topic, extension, event, private) "
        "values (%s, 'broadcast', 'client-typing', true)"
    )
    with (
        as_user(stack, None, role=role, topic=topic) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(insert, [topic])


def test_presence_extension_is_not_covered(stack: Stack, members: Members):
    topic = f"client:location-{members.location}"
    insert = (
        "insert into realtime.messages (topic, extension, private) values (%s, 'presence', true)"
    )
    assert denied(stack, members.member, insert, topic, topic=topic)


def test_every_channel_family_in_the_topics_table_is_checked_here(members: Members):
    """lib.realtime.topics is the one list of families; a family added there must get its
    can_access_topic branch (and a line in `topics()` above) before this passes."""
    from lib.realtime.topics import FAMILIES, family_of_topic

    covered = {family_of_topic(topic) for topic in topics(members)}
    assert covered == set(FAMILIES)


def test_members_track_and_see_presence_on_presence_families_only(stack: Stack, members: Members):
    """Realtime asks presence questions with probe rows of extension 'presence' (migration
    20261130900000): members may track and see on poker-/location- topics; nobody else, and
    nobody on topics without presence."""
    from lib.realtime.topics import family_of_topic

    insert = (
        "insert into realtime.messages (topic, extension, private) values (%s, 'presence', true)"
    )
    for topic in topics(members):
        family = family_of_topic(topic)
        assert family is not None
        member_may = not denied(stack, members.member, insert, topic, topic=topic)
        assert member_may is family.presence, topic
        assert denied(stack, members.outsider, insert, topic, topic=topic), topic
        assert sees_presence(stack, members.member, topic) is family.presence, topic
        assert not sees_presence(stack, members.outsider, topic), topic


def sees_presence(stack: Stack, user: str, topic: str) -> bool:
    """Realtime's read probe for presence: a row stored first, then selected as `user`."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            probe = conn.execute(
                "insert into realtime.messages (topic, extension, private)"
                " values (%s, 'presence', true) returning id",
                [topic],
            ).fetchone()
            assert probe is not None
            claims = json.dumps({"sub": user, "role": "authenticated"})
            conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])
            conn.execute("select set_config('realtime.topic', %s, true)", [topic])
            conn.execute("set local role authenticated")
            return (
                count(conn, "select count(*) from realtime.messages where id = %s", probe[0]) == 1
            )
        finally:
            conn.rollback()


def count(conn: psycopg.Connection, query: str, *params: object) -> int:
    row = conn.execute(query, list(params)).fetchone()
    assert row is not None
    return int(row[0])


def test_members_read_their_memberships_and_outsiders_nothing(stack: Stack, members: Members):
    queries = [
        ("select count(*) from public.locations where id = %s", members.location),
        ("select count(*) from public.location_members where location_id = %s", members.location),
        ("select count(*) from public.poker_sessions where id = %s", members.poker),
        ("select count(*) from public.poker_members where session_id = %s", members.poker),
        ("select count(*) from public.conversations where id = %s", members.conversation),
        (
            "select count(*) from public.conversation_participants where conversation_id = %s",
            members.conversation,
        ),
    ]
    for query, param in queries:
        with as_user(stack, members.member) as conn:
            assert count(conn, query, param) == 1, query
        with as_user(stack, members.outsider) as conn:
            assert count(conn, query, param) == 0, query


@pytest.mark.parametrize(
    "table", ["locations", "location_members", "poker_members", "conversation_participants"]
)
def test_users_cannot_write_memberships(stack: Stack, members: Members, table: str):
    assert denied(stack, members.outsider, f"delete from public.{table}")


@pytest.mark.parametrize("table", ["cron_runs", "cron_leases", "rate_limits", "cache_entries"])
@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_service_tables_are_closed_to_clients(stack: Stack, table: str, role: str):
    assert denied(stack, unique("user"), f"select count(*) from public.{table}", role=role)


@pytest.mark.parametrize(
    "call",
    [
        "public.can_subscribe('u', 'user-u')",
        "public.rate_limit_hit('k', 1, 1)",
        "public.cache_get('k')",
        "public.cron_lease_acquire('j', gen_random_uuid(), 1)",
    ],
)
@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_service_functions_are_closed_to_clients(stack: Stack, call: str, role: str):
    """Closed although the default privileges grant anon/authenticated every new function."""
    assert denied(stack, unique("user"), f"select {call}", role=role)
