"""The one road for a state change: a SQL command function, then its events.

    result = await command(services, "poker_vote", p_user=..., p_task_id=..., p_value=...)

The SQL function is one transaction that changes state and queues its events as outbox rows
(returned under `events`); once it has committed, `commit_events` publishes them and marks
them published (a publish that fails leaves them to the relay: at-least-once). The result
comes back without `events` (`{}` for a SQL null). Every feature's commands and webhook
processors use this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lib.realtime.outbox import commit_events

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


async def publish_queued(services: Services, events: Sequence[Mapping[str, Any]] | None) -> None:
    """Publish outbox rows a committed transaction returned (no-op for none)."""
    if events:
        await commit_events(services.db, services.publisher, list(events))
