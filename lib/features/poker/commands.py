"""The poker service: each function is one SQL function call (one transaction: the state
change and its outbox event), then `commit_events` publishes what that transaction queued.

Functions take the database, the publisher (commands only) and the acting user as keyword
arguments, and return the SQL function's JSON without its `events`. Expected failures come
back from SQL as PTxxx errcodes, which lib.db.map_error turns into our errors:
PaymentRequired, Forbidden, NotFound, PreconditionFailed, BadRequest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from lib.db import Database
from lib.features.poker.decks import DeckType, cards
from lib.realtime.outbox import commit_events
from lib.realtime.port import Publisher

Result = dict[str, Any]


async def run(db: Database, publisher: Publisher, function: str, **params: Any) -> Result:
    """Call command `function`, publish the events it queued, return the rest."""
    result: Result = await db.rpc(function, **params)
    events = result.pop("events", None) or []
    if events:
        await commit_events(db, publisher, events)
    return result


async def create(
    db: Database,
    publisher: Publisher,
    *,
    user_id: str,
    name: str,
    deck_type: DeckType,
    deck_values: list[str] | None,
    tasks: list[str],
) -> Result:
    return await run(
        db,
        publisher,
        "poker_create",
        p_user=user_id,
        p_name=name,
        p_deck_type=deck_type,
        p_deck=cards(deck_type, deck_values),
        p_tasks=tasks,
    )


async def join(db: Database, publisher: Publisher, *, user_id: str, session_id: UUID) -> Result:
    return await run(db, publisher, "poker_join", p_user=user_id, p_session_id=str(session_id))


async def leave(db: Database, publisher: Publisher, *, user_id: str, session_id: UUID) -> Result:
    return await run(db, publisher, "poker_leave", p_user=user_id, p_session_id=str(session_id))


async def add_task(
    db: Database, publisher: Publisher, *, user_id: str, session_id: UUID, title: str
) -> Result:
    return await run(
        db,
        publisher,
        "poker_add_task",
        p_user=user_id,
        p_session_id=str(session_id),
        p_title=title,
    )


async def start_task(db: Database, publisher: Publisher, *, user_id: str, task_id: UUID) -> Result:
    return await run(db, publisher, "poker_start_task", p_user=user_id, p_task_id=str(task_id))


async def vote(
    db: Database, publisher: Publisher, *, user_id: str, task_id: UUID, value: str
) -> Result:
    return await run(
        db, publisher, "poker_vote", p_user=user_id, p_task_id=str(task_id), p_value=value
    )


async def reveal(db: Database, publisher: Publisher, *, user_id: str, task_id: UUID) -> Result:
    return await run(db, publisher, "poker_reveal", p_user=user_id, p_task_id=str(task_id))


async def finalize(
    db: Database, publisher: Publisher, *, user_id: str, task_id: UUID, estimate: str
) -> Result:
    return await run(
        db,
        publisher,
        "poker_finalize",
        p_user=user_id,
        p_task_id=str(task_id),
        p_estimate=estimate,
    )


async def end(db: Database, publisher: Publisher, *, user_id: str, session_id: UUID) -> Result:
    return await run(db, publisher, "poker_end", p_user=user_id, p_session_id=str(session_id))


# Reads: no events, no publisher.


async def get(db: Database, *, user_id: str, session_id: UUID) -> Result:
    session: Result = await db.rpc("poker_get", p_user=user_id, p_session_id=str(session_id))
    return session


async def list_sessions(
    db: Database, *, user_id: str, limit: int, before: datetime | None
) -> list[Result]:
    """Up to `limit` of the user's sessions, newest first, created before `before`."""
    rows: list[Result] = await db.rpc(
        "poker_list",
        p_user=user_id,
        p_limit=limit,
        p_before=before.isoformat() if before else None,
    )
    return rows
