"""RLS on the messaging tables, checked as Supabase checks it: `authenticated` (or `anon`) with
request.jwt.claims set, inside a transaction that is always rolled back. Participants read
their conversations, participants and messages; nobody else does; nobody writes directly;
the queue and presence tables are the service role's alone."""

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
class Chat:
    member: str
    other: str
    outsider: str
    conversation: str
    message: int


@pytest.fixture(scope="module")
def chat(stack: Stack) -> Chat:
    member, other, outsider = unique("member"), unique("other"), unique("outsider")
    conversation = str(uuid.uuid4())
    with sql(stack) as db:
        db.execute("insert into public.conversations (id, title) values (%s, 'T')", [conversation])
        for who in (member, other):
            db.execute(
                "insert into public.conversation_participants (conversation_id, user_id)"
                " values (%s, %s)",
                [conversation, who],
            )
        row = db.execute(
            "insert into public.messages (conversation_id, sender_id, client_id, body)"
            " values (%s, %s, 'c1', 'secret plans') returning id",
            [conversation, member],
        ).fetchone()
        assert row is not None
        db.execute(
            "insert into public.message_notifications (recipient_id, message_id, conversation_id)"
            " values (%s, %s, %s)",
            [other, row[0], conversation],
        )
        for who in (member, outsider):
            db.execute(
                "insert into public.notification_contacts (user_id, channel, email)"
                " values (%s, 'email', %s)",
                [who, f"{who}@example.com"],
            )
        db.execute(
            "insert into public.realtime_presence"
            " (user_id, channel, present, event_time_ms, event_index)"
            " values (%s, %s, true, 1, 0)",
            [member, f"private-user-{member}"],
        )
    return Chat(member, other, outsider, conversation, int(row[0]))


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


def count(stack: Stack, who: str | None, table: str, role: str = "authenticated") -> int:
    with as_user(stack, who, role) as conn:
        row = conn.execute(f"select count(*) from public.{table}").fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


def rows_in(stack: Stack, who: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with as_user(stack, who) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def refused(
    stack: Stack, who: str | None, statement: str, *params: object, role: str = "authenticated"
) -> None:
    with as_user(stack, who, role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)  # type: ignore[arg-type]


def test_participants_read_their_conversation_and_its_messages(stack: Stack, chat: Chat):
    for who in (chat.member, chat.other):
        assert rows_in(
            stack, who, "select id::text from public.conversations where id = %s", chat.conversation
        ) == [(chat.conversation,)]
        assert rows_in(
            stack,
            who,
            "select body from public.messages where conversation_id = %s",
            chat.conversation,
        ) == [("secret plans",)]
        participants = rows_in(
            stack,
            who,
            "select user_id, last_read_message_id from public.conversation_participants"
            " where conversation_id = %s order by user_id",
            chat.conversation,
        )
        assert sorted(p[0] for p in participants) == sorted([chat.member, chat.other])


def test_others_see_nothing(stack: Stack, chat: Chat):
    outsider = chat.outsider
    assert (
        rows_in(
            stack, outsider, "select 1 from public.conversations where id = %s", chat.conversation
        )
        == []
    )
    assert (
        rows_in(stack, outsider, "select 1 from public.messages where id = %s", chat.message) == []
    )
    assert (
        rows_in(
            stack,
            outsider,
            "select 1 from public.conversation_participants where conversation_id = %s",
            chat.conversation,
        )
        == []
    )
    refused(stack, None, "select * from public.messages", role="anon")
    refused(stack, None, "select * from public.conversations", role="anon")


def test_nobody_writes_messages_or_read_positions_directly(stack: Stack, chat: Chat):
    refused(
        stack,
        chat.member,
        "insert into public.messages (conversation_id, sender_id, client_id, body)"
        " values (%s, %s, 'forged', 'x')",
        chat.conversation,
        chat.member,
    )
    refused(
        stack, chat.member, "update public.messages set body = 'edited' where id = %s", chat.message
    )
    refused(stack, chat.member, "delete from public.messages where id = %s", chat.message)
    refused(
        stack,
        chat.member,
        "update public.conversation_participants set unread_count = 0 where user_id = %s",
        chat.member,
    )


def test_users_read_only_their_own_contact(stack: Stack, chat: Chat):
    assert rows_in(stack, chat.member, "select user_id from public.notification_contacts") == [
        (chat.member,)
    ]
    assert rows_in(stack, chat.other, "select user_id from public.notification_contacts") == []
    refused(
        stack,
        chat.member,
        "update public.notification_contacts set phone = '+15550000000' where user_id = %s",
        chat.member,
    )
    refused(
        stack,
        chat.other,
        "insert into public.notification_contacts (user_id, channel, phone)"
        " values (%s, 'sms', '+15550000000')",
        chat.other,
    )


@pytest.mark.parametrize(
    "table",
    [
        "message_notifications",
        "notification_batches",
        "realtime_presence",
        "realtime_webhook_deliveries",
    ],
)
def test_queues_and_presence_belong_to_the_service_role(stack: Stack, chat: Chat, table: str):
    for who in (chat.member, chat.other, chat.outsider):
        refused(stack, who, f"select * from public.{table}")  # noqa: S608
    refused(stack, None, f"select * from public.{table}", role="anon")  # noqa: S608
    with as_user(stack, None, role="service_role") as conn:
        conn.execute(f"select * from public.{table}")  # noqa: S608


@pytest.mark.parametrize(
    "call",
    [
        "select public.messaging_send('x', gen_random_uuid(), 'c', 'b')",
        "select public.messaging_mark_read('x', gen_random_uuid(), 1)",
        "select public.messaging_create_conversation('x', array['y'], '', null)",
        "select public.messaging_conversations('x', 10, null, null)",
        "select public.messaging_messages('x', gen_random_uuid(), null, null, 10)",
        "select public.messaging_notify_claim(10, 0)",
        "select public.messaging_notify_claim(10, 0, 600, 5)",
        "select public.messaging_notify_release(array[1::bigint])",
        "select public.messaging_notify_finish(1, 'sent', null, null, 0, 1)",
        "select public.messaging_notify_cleanup(30)",
        "select public.realtime_presence_apply(repeat('a', 64), 1, '[]')",
        "select public.realtime_presence_cleanup(86400)",
        "select private.is_user_online('x')",
    ],
)
def test_only_the_service_role_runs_the_functions(stack: Stack, chat: Chat, call: str):
    refused(stack, chat.member, call)
    refused(stack, None, call, role="anon")
