"""The poker service: each function is one SQL function call (one transaction: the state
change and its outbox event), through lib.commands.command, which publishes what that
transaction queued.

Commands take the app's Services and reads the database, both with the acting user as keyword
arguments; commands return the SQL function's JSON without its `events`. Expected failures come
back from SQL as PTxxx errcodes, which lib.db.map_error turns into our errors:
PaymentRequired, Forbidden, NotFound, PreconditionFailed, BadRequest.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from lib.commands import Result, command
from lib.db import Database
from lib.features.poker.decks import DeckType, cards
from lib.services import Services


async def create(
    services: Services,
    *,
    user_id: str,
    name: str,
    deck_type: DeckType,
    deck_values: list[str] | None,
    tasks: list[str],
) -> Result:
    return await command(
        services,
        "poker_create",
        p_user=user_id,
        p_name=name,
        p_deck_type=deck_type,
        p_deck=cards(deck_type, deck_values),
        p_tasks=tasks,
    )


async def join(services: Services, *, user_id: str, session_id: UUID) -> Result:
    return await command(services, "poker_join", p_user=user_id, p_session_id=str(session_id))


async def leave(services: Services, *, user_id: str, session_id: UUID) -> Result:
    return await command(services, "poker_leave", p_user=user_id, p_session_id=str(session_id))


async def add_task(services: Services, *, user_id: str, session_id: UUID, title: str) -> Result:
    return await command(
        services,
        "poker_add_task",
        p_user=user_id,
        p_session_id=str(session_id),
        p_title=title,
    )


async def start_task(services: Services, *, user_id: str, task_id: UUID) -> Result:
    return await command(services, "poker_start_task", p_user=user_id, p_task_id=str(task_id))


async def vote(services: Services, *, user_id: str, task_id: UUID, value: str) -> Result:
    return await command(
        services, "poker_vote", p_user=user_id, p_task_id=str(task_id), p_value=value
    )


async def reveal(services: Services, *, user_id: str, task_id: UUID) -> Result:
    return await command(services, "poker_reveal", p_user=user_id, p_task_id=str(task_id))


async def finalize(services: Services, *, user_id: str, task_id: UUID, estimate: str) -> Result:
    return await command(
        services,
        "poker_finalize",
        p_user=user_id,
        p_task_id=str(task_id),
        p_estimate=estimate,
    )


async def end(services: Services, *, user_id: str, session_id: UUID) -> Result:
    return await command(services, "poker_end", p_user=user_id, p_session_id=str(session_id))


# Reads: no events.


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
