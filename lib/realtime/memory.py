"""In-memory Publisher for unit tests: records what was published; can be told to fail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lib.events import Event
from lib.realtime.port import PublishError


@dataclass
class MemoryPublisher:
    published: list[Event] = field(default_factory=list)
    calls: int = 0
    failures: int = 0
    """The next `failures` calls raise PublishError (nothing delivered) instead of recording."""
    failure_status: int | None = None
    """The provider status those failures report (None: unreachable; 400: a permanent refusal)."""

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise PublishError("memory publisher told to fail", status=self.failure_status)
        self.published.extend(events)

    def on(self, channel: str) -> list[Event]:
        """Events published on `channel`, in publish order."""
        return [e for e in self.published if any(c.name == channel for c in e.channels)]

    @property
    def ids(self) -> list[int]:
        return [event.id for event in self.published]
