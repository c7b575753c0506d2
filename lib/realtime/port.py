"""The Publisher port: send events to the realtime provider, or say which were not sent.

    class Publisher(Protocol):
        async def publish(self, events: Sequence[Event]) -> None

Adapters: `pusher.PusherPublisher` (Pusher Channels HTTP API), `supabase.SupabasePublisher`
(Supabase Realtime broadcast REST), `memory.MemoryPublisher` (unit tests). Pick one with
`lib.realtime.publisher(config)`.

Contract: events are sent in the order given, and per channel in that order (an adapter may
send different channels concurrently). On failure `publish` raises `PublishError` whose
`delivered` holds the ids the provider accepted before the failure; the caller marks those
published and retries the rest later (at-least-once: an unknown outcome counts as not sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from lib.errors import ServiceUnavailable
from lib.events import Event

RETRY_AFTER_S = 5
PERMANENT_STATUSES = frozenset({400, 404, 413, 422})


class PublishError(ServiceUnavailable):
    """The provider did not accept every event (unreachable, 4xx/5xx, timeout)."""

    def __init__(
        self,
        message: str = "the realtime provider did not accept the events",
        *,
        delivered: Iterable[int] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(message, retry_after=RETRY_AFTER_S)
        self.delivered = frozenset(delivered)
        self.provider_status = status

    @property
    def permanent(self) -> bool:
        """The provider refused the request itself (bad input, too large): retrying the same
        events will not help. Unreachable, 5xx, 429 and credential errors are transient."""
        return self.provider_status in PERMANENT_STATUSES


@runtime_checkable
class Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None:
        """Send `events`; raise PublishError naming what was delivered if not all were."""
        ...


def chunked[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
