"""The one road for a state change: a SQL command function, then its events.

    result = await command(services, "poker_vote", p_user=..., p_task_id=..., p_value=...)

The SQL function is one transaction that changes state and queues its events as outbox rows
(returned under `events`); once it has committed, `commit_events` publishes them and marks
them published (a publish that fails leaves them to the relay: at-least-once). The result
comes back without `events` (`{}` for a SQL null). Every feature's commands and webhook
processors use this.

Group commit: a warm instance serving concurrent requests (Vercel's in-function concurrency,
the Lambda target) does not publish and mark per request. Callers queue their events and one
of them at a time — whoever holds the flush lock — publishes everything queued so far in one
Publisher call (Pusher batches of 10) and marks it in one database call; each caller returns
once its own events are through. Alone, a request flushes its own events at once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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


class GroupCommit:
    """The events of concurrent callers on one loop, published and marked together."""

    def __init__(self) -> None:
        self._pending: list[tuple[Rows, asyncio.Future[Outcome]]] = []
        self._lock = asyncio.Lock()

    async def commit(self, services: Services, rows: Rows) -> Outcome:
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, done))
        async with self._lock:
            while not done.done():
                batch: list[tuple[Rows, asyncio.Future[Outcome]]] = []
                size = 0
                while self._pending and (
                    not batch or size + len(self._pending[0][0]) <= MAX_FLUSH_ROWS
                ):
                    batch.append(self._pending.pop(0))
                    size += len(batch[-1][0])
                try:
                    outcome = await commit_events(
                        services.db, services.publisher, [row for part, _ in batch for row in part]
                    )
                except BaseException as exc:
                    for _, waiter in batch:
                        if waiter is not done and not waiter.done():
                            waiter.set_exception(exc)
                    raise
                for _, waiter in batch:
                    waiter.set_result(outcome)
        return done.result()


_group_commits: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Services, GroupCommit]
] = weakref.WeakKeyDictionary()


async def publish_queued(
    services: Services, events: Sequence[Mapping[str, Any]] | None
) -> Outcome | None:
    """Publish outbox rows a committed transaction returned (None for none); never raises
    for the realtime side (rows that could not be published wait for the relay)."""
    if not events:
        return None
    per_loop = _group_commits.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    group = per_loop.get(services)
    if group is None:
        group = per_loop[services] = GroupCommit()
    return await group.commit(services, list(events))
