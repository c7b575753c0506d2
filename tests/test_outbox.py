"""The transactional outbox against the local stack (real Postgres behind PostgREST), with the
in-memory publisher: atomicity, publish + mark, failures and backoff, claims by concurrent
relays, per-channel order, history, retention. Delivery to real clients: test_outbox_delivery.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import psycopg
import pytest

from dev.stack import Stack
from lib.config import load_settings
from lib.db import Database
from lib.errors import BadRequest
from lib.events import Channel, Event
from lib.realtime import outbox
from lib.realtime.memory import MemoryPublisher
from lib.realtime.outbox import RelayPolicy, commit_events
from tests.outbox_support import outbox_rows, sql

FAST = RelayPolicy(backoff_base_s=0.05, backoff_cap_s=0.2, lease_s=30)


@pytest.fixture(scope="session")
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(load_settings(stack.env()))
    yield database
    await database.aclose()


def user() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


async def add_note(db: Database, who: str, body: str = "hello") -> dict:
    return await db.rpc("demo_note_add", p_user=who, p_body=body)


async def test_command_queues_its_event_and_commit_publishes_and_marks_it(stack, db):
    who = user()
    memory = MemoryPublisher()

    result = await add_note(db, who, "first note")
    outcome = await commit_events(db, memory, result["events"])

    (row,) = result["events"]
    assert row["channel"] == f"private-user-{who}" and row["event"] == "note-added"
    assert row["inline"] is True
    assert outcome.published == [row["id"]] and outcome.error is None
    (sent,) = memory.on(f"private-user-{who}")  # (other tests' stale rows may ride along)
    assert sent.envelope()["data"]["note"]["body"] == "first note"
    assert sent.envelope()["id"] == str(row["id"])
    (stored,) = outbox_rows(stack, f"private-user-{who}")
    assert stored["published_at"] is not None and stored["attempts"] == 0


@pytest.mark.parametrize(
    ("who", "body"),
    [
        ("bad user", "the insert succeeds, then the channel name is refused"),
        ("fine", ""),  # the insert itself is refused (empty body)
    ],
)
async def test_a_failing_command_leaves_neither_state_nor_event(stack, db, who, body):
    who = f"{who}-{uuid.uuid4().hex[:6]}"
    with pytest.raises(BadRequest):
        await add_note(db, who, body)
    with sql(stack) as conn:
        notes = conn.execute("select count(*) from public.demo_notes where user_id = %s", [who])
        assert notes.fetchone() == {"count": 0}
    assert outbox_rows(stack, f"private-user-{who}") == []


async def test_publish_failure_keeps_the_write_and_backs_the_rows_off(stack, db):
    who = user()
    failing = MemoryPublisher(failures=1)

    result = await add_note(db, who)
    outcome = await commit_events(db, failing, result["events"], policy=FAST)

    assert result["note"]["userId"] == who  # the write succeeded
    assert outcome.failed == [result["events"][0]["id"]] and outcome.published == []
    (stored,) = outbox_rows(stack, f"private-user-{who}")
    assert stored["published_at"] is None and stored["attempts"] == 1
    assert stored["last_error"] == "memory publisher told to fail"


async def test_a_write_does_not_overtake_its_channels_backlog(stack, db):
    who = user()
    memory = MemoryPublisher(failures=1)
    first = await add_note(db, who, "one")
    await commit_events(db, memory, first["events"], policy=FAST)  # fails: backlog of one

    second = await add_note(db, who, "two")
    assert second["events"][0]["inline"] is False  # left to the relay, behind "one"
    await asyncio.sleep(0.3)  # "one" is due again after its backoff
    outcome = await commit_events(db, memory, second["events"], policy=FAST)

    mine = [first["events"][0]["id"], second["events"][0]["id"]]
    assert [i for i in outcome.relayed if i in mine] == mine  # (and stale rows of others)
    assert [e.data["note"]["body"] for e in memory.on(f"private-user-{who}")] == ["one", "two"]


async def test_rows_queued_by_a_dead_function_are_relayed_after_a_few_seconds(stack, db):
    """A function that died after its command (never published) leaves an `inline` row; the
    relay takes it once it is stale (5 s), not before."""
    who = user()
    result = await add_note(db, who)
    memory = MemoryPublisher()

    await outbox.relay_all(db, memory)
    assert memory.on(f"private-user-{who}") == []  # still the function's to publish

    async with asyncio.timeout(15):
        while not memory.on(f"private-user-{who}"):
            await asyncio.sleep(0.5)
            await outbox.relay_all(db, memory)
    assert [e.id for e in memory.on(f"private-user-{who}")] == [result["events"][0]["id"]]


def _claim_as_service_role(conn: psycopg.Connection, limit: int) -> list[dict]:
    conn.execute("set local role service_role")
    row = conn.execute("select public.outbox_claim(%s, 30) as claimed", [limit]).fetchone()
    return row["claimed"]


async def _stale_backlog(
    db: Database, stack: Stack, users: Sequence[str], per_user: int
) -> list[int]:
    """Rows on the users' channels that are due for the relay, as if each function that
    queued one had died before publishing it (its 5 s inline window is skipped in SQL)."""
    ids = []
    for index in range(per_user):
        for who in users:
            result = await add_note(db, who, f"{who} {index}")
            ids.append(result["events"][0]["id"])
    with sql(stack) as conn:
        conn.execute("update public.outbox set next_attempt_at = now() where id = any(%s)", [ids])
    return ids


async def test_a_claim_held_by_one_relay_is_invisible_to_another(stack, db):
    """skip locked + per-channel order: while relay A's claim transaction is open, relay B
    gets none of A's rows and nothing queued behind them on the same channel."""
    a_user, b_user = user(), user()
    a_ids = await _stale_backlog(db, stack, [a_user], 3)

    with sql(stack, autocommit=False) as relay_a, relay_a.transaction(force_rollback=True):
        held = {r["id"] for r in _claim_as_service_role(relay_a, 1000)}
        assert set(a_ids) <= held
        # a write on A's channel meanwhile: deferred behind the backlog, and its own
        # opportunistic relay may not take it while A holds the rows before it
        later = await add_note(db, a_user, "behind the held rows")
        memory = MemoryPublisher()
        await commit_events(db, memory, later["events"], policy=FAST)
        assert later["events"][0]["inline"] is False
        assert memory.on(f"private-user-{a_user}") == []
        b_ids = await _stale_backlog(db, stack, [b_user], 2)

        with sql(stack, autocommit=False) as relay_b, relay_b.transaction(force_rollback=True):
            seen_by_b = {r["id"] for r in _claim_as_service_role(relay_b, 1000)}

    assert not seen_by_b & (held | {later["events"][0]["id"]})
    assert set(b_ids) <= seen_by_b


async def test_two_concurrent_relays_never_publish_a_row_twice(stack, db):
    channels = [user() for _ in range(20)]
    ids = await _stale_backlog(db, stack, channels, 8)  # 160 rows, interleaved over 20 channels
    log: list[Event] = []

    class Logging(MemoryPublisher):
        async def publish(self, events: Sequence[Event]) -> None:
            await asyncio.sleep(0.005)  # give the other relay a chance to interleave
            await super().publish(events)
            log.extend(events)

    relays = [Logging(), Logging()]
    second_db = Database(load_settings(stack.env()))
    await second_db.rpc("health_check")  # connected before the race starts

    async def run(index: int, database: Database) -> None:
        for _ in range(200):
            outcome = await outbox.relay(database, relays[index], limit=5, policy=FAST)
            if not outcome.published and not outcome.failed:
                return

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(run(0, db), name="relay-a")
            group.create_task(run(1, second_db), name="relay-b")
    finally:
        await second_db.aclose()

    names = {f"private-user-{c}" for c in channels}
    published = [e.id for e in log if e.channel.name in names]
    assert sorted(published) == sorted(ids)  # all of them, none twice
    for name in names:
        on_channel = [e.id for e in log if e.channel.name == name]
        assert on_channel == sorted(on_channel)  # per-channel order across both relays
    assert all(r["published_at"] is not None for c in names for r in outbox_rows(stack, c))
    for relay in relays:  # both took part
        assert any(e.channel.name in names for e in relay.published)


async def test_transient_failures_are_retried_without_limit(stack, db):
    who = user()
    policy = RelayPolicy(backoff_base_s=0.05, backoff_cap_s=0.05, max_attempts=2)
    failing = MemoryPublisher(failures=3)  # unreachable, three times
    result = await add_note(db, who)
    await commit_events(db, failing, result["events"], policy=policy)
    for _ in range(2):
        await asyncio.sleep(0.2)
        await outbox.relay_all(db, failing, policy=policy)

    (row,) = outbox_rows(stack, f"private-user-{who}")
    assert row["attempts"] == 3 and row["next_attempt_at"] != "infinity"


async def test_rows_refused_by_the_provider_are_parked_and_stop_blocking(stack, db):
    who = user()
    policy = RelayPolicy(backoff_base_s=0.05, backoff_cap_s=0.05, max_attempts=2)
    failing = MemoryPublisher(failures=2, failure_status=400)
    first = await add_note(db, who, "doomed")
    await commit_events(db, failing, first["events"], policy=policy)  # attempt 1
    await asyncio.sleep(0.2)
    await outbox.relay_all(db, failing, policy=policy)  # attempt 2 -> parked
    second = await add_note(db, who, "next")
    memory = MemoryPublisher()

    await commit_events(db, memory, second["events"], policy=policy)

    parked, published = outbox_rows(stack, f"private-user-{who}")
    assert parked["attempts"] == 2 and parked["next_attempt_at"] == "infinity"
    assert published["published_at"] is not None
    assert [e.data["note"]["body"] for e in memory.on(f"private-user-{who}")] == ["next"]


async def test_history_returns_the_channel_after_an_id_with_full_data(stack, db):
    who = user()
    memory = MemoryPublisher()
    ids = []
    for body in ["a", "b" * 50_000, "c"]:
        result = await add_note(db, who, body)
        await commit_events(db, memory, result["events"])
        ids.append(result["events"][0]["id"])
    await add_note(db, user(), "another channel")

    events = await outbox.history(db, Channel(f"private-user-{who}"), after=ids[0], limit=10)

    assert [e.id for e in events] == ids[1:]
    assert len(events[0].data["note"]["body"]) == 50_000
    assert [
        e.id for e in await outbox.history(db, Channel(f"private-user-{who}"), after=0, limit=1)
    ] == ids[:1]


async def test_each_event_names_the_previous_event_on_its_channel(stack, db):
    """Ids are global (other channels' events fall between), so clients detect a gap by
    `prev`: every envelope names the event before it on the same channel, also published
    references of oversized events."""
    who, other = user(), user()
    memory = MemoryPublisher()
    ids = []
    for body in ["a", "b" * 20_000, "c"]:
        result = await add_note(db, who, body)
        await add_note(db, other, "in between")
        await commit_events(db, memory, result["events"])
        ids.append(result["events"][0]["id"])

    events = await outbox.history(db, Channel(f"private-user-{who}"), after=0, limit=10)

    assert [e.id for e in events] == ids and ids[1] - ids[0] > 1
    assert [e.envelope().get("prev") for e in events] == [None, str(ids[0]), str(ids[1])]
    sent = memory.on(f"private-user-{who}")
    assert sent[1].published()["ref"] and sent[1].published()["prev"] == str(ids[0])


async def test_cleanup_deletes_published_rows_past_retention_only(stack, db):
    who = user()
    memory = MemoryPublisher()
    for body in ["old", "new"]:
        result = await add_note(db, who, body)
        await commit_events(db, memory, result["events"])
    channel = f"private-user-{who}"
    old_id = outbox_rows(stack, channel)[0]["id"]
    with sql(stack) as conn:
        conn.execute(
            "update public.outbox set published_at = now() - interval '8 days' where id = %s",
            [old_id],
        )

    deleted = await outbox.cleanup(db)

    assert deleted >= 1
    assert [r["data"]["note"]["body"] for r in outbox_rows(stack, channel)] == ["new"]


async def test_outbox_functions_are_service_role_only(stack, token):
    with sql(stack, autocommit=False) as conn, conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select public.outbox_enqueue('room-1', 'vote', '{}')")
    with sql(stack, autocommit=False) as conn, conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from public.outbox")
