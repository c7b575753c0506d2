"""supabase/migrations and supabase/seed.sql, applied in order to a fresh database shaped like a
hosted Supabase project (dev/sql/bootstrap.sql: auth.uid() returning uuid, default privileges
for the API roles on everything new in public, extensions in their own schema, a partitioned
realtime.messages), then RLS checked there as the API roles.

Both hosted shapes are covered: "default privileges" (what older projects have and the
dashboard option still gives: anon and authenticated get every new table and function in
public, so migrations must revoke and rely on RLS) and "not exposed" (the default for new
projects since 2026-05-30: nothing granted, so migrations must grant explicitly)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import psycopg
import pytest

from dev import migrate
from dev.stack import Stack
from tests.support import fresh_database

Shape = Literal["default-privileges", "not-exposed"]

NOT_EXPOSED = """
alter default privileges in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges in schema public revoke all on functions from anon, authenticated, service_role;
alter default privileges in schema public revoke all on sequences from anon, authenticated, service_role;
"""  # noqa: E501 - SQL kept one statement per line

# Security definer functions `authenticated` may execute: the membership checks the RLS
# policies call. They live in `private`, which PostgREST does not expose.
POLICY_HELPERS = {
    "private.can_access_topic",
    "private.has_active_subscription",
    "private.is_conversation_participant",
    "private.is_location_member",
    "private.is_poker_member",
    "private.poker_votes_visible",
}


@pytest.fixture(scope="module", params=["default-privileges", "not-exposed"])
def hosted(request: pytest.FixtureRequest, stack: Stack) -> Iterator[tuple[Shape, str]]:
    """Every migration and the seed, applied to a fresh hosted-shaped database."""
    shape: Shape = request.param
    with fresh_database(stack) as dsn:
        migrate.bootstrap(dsn)
        if shape == "not-exposed":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(NOT_EXPOSED)
        applied = migrate.apply_migrations(dsn)
        assert applied == [m.path.name for m in migrate.discover()]
        assert migrate.apply_seed(dsn) is True
        yield shape, dsn


@contextmanager
def as_role(dsn: str, role: str, sub: str | None = None) -> Iterator[psycopg.Connection]:
    """A transaction as `role` with a JWT `sub` as PostgREST sets it; always rolled back."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        try:
            claims = {"role": role} | ({"sub": sub} if sub is not None else {})
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            conn.execute(f"set local role {role}")
            yield conn
        finally:
            conn.rollback()


def one(conn: psycopg.Connection, query: str, *params: object) -> object:
    row = conn.execute(query, list(params)).fetchone()
    assert row is not None
    return row[0]


def test_auth_uid_is_a_uuid_as_on_supabase(hosted: tuple[Shape, str]) -> None:
    _, dsn = hosted
    with psycopg.connect(dsn) as conn:
        assert one(conn, "select pg_get_function_result('auth.uid()'::regprocedure)") == "uuid"
        assert one(conn, "select pg_get_function_result('auth.jwt()'::regprocedure)") == "jsonb"
        assert one(conn, "select pg_get_function_result('auth.role()'::regprocedure)") == "text"
    user = uuid.uuid4()
    with as_role(dsn, "authenticated", str(user)) as conn:
        assert one(conn, "select auth.uid()") == user
        assert one(conn, "select auth.jwt() ->> 'sub'") == str(user)
        assert one(conn, "select auth.role()") == "authenticated"
    with as_role(dsn, "authenticated", "user_2abcClerk") as conn:
        assert one(conn, "select auth.jwt() ->> 'sub'") == "user_2abcClerk"
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("select auth.uid()")  # why no policy may call it


def test_the_hosted_extras_are_there(hosted: tuple[Shape, str]) -> None:
    shape, dsn = hosted
    with psycopg.connect(dsn) as conn:
        # the shape is real: an identity sequence no migration grants is the API roles' or not
        sequence = "select has_sequence_privilege('anon', 'public.cron_runs_id_seq', 'usage')"
        assert one(conn, sequence) is (shape == "default-privileges")
        schemas = dict(
            conn.execute(
                "select e.extname, n.nspname from pg_extension e"
                " join pg_namespace n on n.oid = e.extnamespace"
                " where e.extname in ('pgcrypto', 'uuid-ossp')"
            ).fetchall()
        )
        available = {
            row[0]
            for row in conn.execute(
                "select name from pg_available_extensions where name in ('pgcrypto', 'uuid-ossp')"
            )
        }  # all of them on a Postgres with contrib (the Debian one the tests run on)
        assert schemas == dict.fromkeys(available, "extensions")
        messages = conn.execute(
            "select relkind::text, pg_get_partkeydef(oid), relrowsecurity from pg_class"
            " where oid = 'realtime.messages'::regclass"
        ).fetchone()
        assert messages == ("p", "RANGE (inserted_at)", True)
        assert one(conn, "select realtime.topic()") is None


def test_migrations_never_call_auth_uid(hosted: tuple[Shape, str]) -> None:
    """User ids are text: policies and functions read (select auth.jwt() ->> 'sub')."""
    _, dsn = hosted
    with psycopg.connect(dsn) as conn:
        policies = conn.execute(
            "select schemaname || '.' || tablename || ': ' || policyname from pg_policies"
            " where coalesce(qual, '') || coalesce(with_check, '') like '%%auth.uid()%%'"
        ).fetchall()
        functions = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('public', 'private') and p.prosrc like '%%auth.uid()%%'"
        ).fetchall()
    assert policies == [] and functions == []


def test_every_public_table_has_rls_and_anon_gets_nothing(hosted: tuple[Shape, str]) -> None:
    _, dsn = hosted
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "select c.oid::regclass::text, c.relrowsecurity,"
            " has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate')"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        ).fetchall()
    assert tables, "no tables?"
    assert [name for name, rls, _ in tables if not rls] == []
    assert [name for name, _, anon in tables if anon] == []


def test_service_role_functions_are_closed_to_clients(hosted: tuple[Shape, str]) -> None:
    """With default privileges, every new function in public is executable by anon and
    authenticated unless its migration revokes it: each security definer function must."""
    _, dsn = hosted
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select n.nspname || '.' || p.proname, p.oid::regprocedure::text,"
            " has_function_privilege('anon', p.oid, 'execute'),"
            " has_function_privilege('authenticated', p.oid, 'execute'),"
            " has_function_privilege('service_role', p.oid, 'execute')"
            " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('public', 'private') and p.prosecdef"
        ).fetchall()
    assert len(rows) > 20
    assert [sig for _, sig, anon, _, _ in rows if anon] == []
    assert [sig for name, sig, _, auth, _ in rows if auth and name not in POLICY_HELPERS] == []
    assert {name for name, _, _, auth, _ in rows if auth} == POLICY_HELPERS
    # only other definer functions (or triggers) call these
    closed_to_service = {
        "private.credit_spend",
        "private.webhook_process",
        "private.profiles_from_auth_user",
        "private.profile_display_name",
    }
    assert [sig for n, sig, *_, svc in rows if not svc and n not in closed_to_service] == []


@pytest.mark.parametrize(
    "call",
    [
        "public.poker_vote('u', gen_random_uuid(), '3')",
        "public.messaging_send('u', gen_random_uuid(), 'c', 'forged')",
        "public.credit_grant('u', 1000, 'forged', 'r')",
        "public.outbox_enqueue('private-user-u', 'new-message', '{}')",
        "public.can_subscribe('u', 'user-u')",
    ],
)
@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_clients_cannot_run_commands(hosted: tuple[Shape, str], role: str, call: str) -> None:
    _, dsn = hosted
    with as_role(dsn, role, "u") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select {call}")


def test_rls_with_text_user_ids(hosted: tuple[Shape, str]) -> None:
    """Profiles by a Clerk-style id and by a Supabase uuid: each user sees and writes only
    their own row; anon sees nothing (the seed's rows are there)."""
    _, dsn = hosted
    clerk, supa = "user_2abcClerk", str(uuid.uuid4())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "insert into public.profiles (id, display_name) values (%s, 'C'), (%s, 'S')",
            [clerk, supa],
        )
        assert one(conn, "select count(*) from public.profiles where id = 'alice'") == 1  # seed
    for me, other in ((clerk, supa), (supa, clerk)):
        with as_role(dsn, "authenticated", me) as conn:
            visible = [r[0] for r in conn.execute("select id from public.profiles")]
            assert visible == [me]
            conn.execute("update public.profiles set display_name = 'x' where id = %s", [other])
            assert one(conn, "select count(*) from public.profiles where display_name = 'x'") == 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("insert into public.profiles (id) values (%s)", [f"{other}-2"])
    with as_role(dsn, "anon") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select id from public.profiles")


def test_realtime_rls_on_the_hosted_shape(hosted: tuple[Shape, str]) -> None:
    """A participant receives on the conversation topic, may not forge a server event there,
    and may send a client event on the client topic; an outsider may do neither."""
    _, dsn = hosted
    member, outsider = "user_2member", str(uuid.uuid4())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conversation = one(conn, "insert into public.conversations default values returning id")
        conn.execute(
            "insert into public.conversation_participants (conversation_id, user_id)"
            " values (%s, %s)",
            [conversation, member],
        )
    topic = f"conversation-{conversation}"
    insert = (
        "insert into realtime.messages (topic, extension, event, payload, private)"
        " values (%s, 'broadcast', %s, '{}', true)"
    )

    def sends(user: str, on: str, event: str) -> bool:
        with as_role(dsn, "authenticated", user) as conn:
            conn.execute("select set_config('realtime.topic', %s, true)", [on])
            try:
                conn.execute(insert, [on, event])
            except psycopg.errors.InsufficientPrivilege:
                return False
            return True

    assert not sends(member, topic, "new-message")
    assert sends(member, f"client:{topic}", "client-typing")
    assert not sends(member, f"client:{topic}", "new-message")
    assert not sends(outsider, f"client:{topic}", "client-typing")
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        try:
            conn.execute(insert, [topic, "new-message"])  # the server's own event
            conn.execute("select set_config('realtime.topic', %s, true)", [topic])
            for user, expected in ((member, 1), (outsider, 0)):
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true)",
                    [json.dumps({"sub": user, "role": "authenticated"})],
                )
                conn.execute("set local role authenticated")
                seen = one(conn, "select count(*) from realtime.messages where topic = %s", topic)
                assert seen == expected, user
                conn.execute("reset role")
        finally:
            conn.rollback()
