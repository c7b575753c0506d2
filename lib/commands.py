"""The one road for a state change: a SQL command function, then its events.

    result = await command(services, "poker_vote", p_user=..., p_task_id=..., p_value=...)

The SQL function is one transaction that changes state and queues its events as outbox rows
(returned under `events`); once it has committed, `commit_events` publishes them and marks
them published (a publish that fails leaves them to the relay: at-least-once). The result
comes back without `events` (`{}` for a SQL null). Every feature's commands and webhook
processors use this.

Group commit (lib.batching): a warm instance serving concurrent requests does not publish and
mark per request; what concurrent callers queued goes out in one Publisher call (Pusher
batches of 10) and is marked in one database call, and each caller returns once its own
events are through. Alone, a request flushes its own events at once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lib.batching import Coalescer
from lib.realtime.outbox import Outcome, commit_events

if TYPE_CHECKING:
    from lib.services import Services

Result = dict[str, Any]


async def command(services: Services, function: str, **params: Any) -> Result:
    """Call command `function`, publish the events it queued, return the rest."""
    result = await services.db.rpc(function, **params)
    if result is None:
        return {}
    if not isinstance(result, dict):
        return {"result": result}
    await publish_queued(services, result.pop("events", None))
    return result


MAX_FLUSH_ROWS = 200
"""Rows one flush publishes and marks at most (the rest wait for the next flush)."""

Rows = list[Mapping[str, Any]]

_group_commits: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Services, Coalescer[Rows, Outcome]]
] = weakref.WeakKeyDictionary()


def _group_commit(services: Services) -> Coalescer[Rows, Outcome]:
    per_loop = _group_commits.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    found = per_loop.get(services)
    if found is None:

        async def flush(parts: list[Rows]) -> list[Outcome]:
            rows = [row for part in parts for row in part]
            outcome = await commit_events(services.db, services.publisher, rows)
            return [outcome] * len(parts)

        found = per_loop[services] = Coalescer(flush, max_size=MAX_FLUSH_ROWS, size=len)
    return found


async def publish_queued(
    services: Services, events: Sequence[Mapping[str, Any]] | None
) -> Outcome | None:
    """Publish outbox rows a committed transaction returned (None for none); never raises
    for the realtime side (rows that could not be published wait for the relay)."""
    if not events:
        return None
    return await _group_commit(services).submit(list(events))
