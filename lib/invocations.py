"""Function invocations by route, counted in memory and flushed at most once a minute.

Vercel bills invocations and their duration; the request log (one JSON line per request on
stdout) has them, but reading it back needs a log drain. So each app keeps a tally — a dict
update per request, no I/O — and after a response has been sent, when FLUSH_EVERY_S has passed
since the last flush, adds it to `usage_daily` in one call (public.usage_invocations_add): one
write per warm instance per minute at most, never one per request. What an instance holds when
it is recycled is lost, so the counts are a lower bound (at most a minute of one instance).

A route is the path cut to its function (`/api/trpc`, `/api/webhooks/stripe`,
`/api/cron/cleanup`); at most MAX_ROUTES distinct ones per day, the rest count as `other`, so
a caller inventing paths cannot grow the table.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FLUSH_EVERY_S = 60.0
MAX_ROUTES = 60
ROUTE_SEGMENTS = 3
"""`/api/<function>/<one more>`: enough for webhooks and cron jobs, not for ids."""

Flush = Callable[[list[dict[str, Any]]], Awaitable[object]]


def route_of(path: str) -> str:
    """The billing route of a request path: at most ROUTE_SEGMENTS segments, 100 chars.
    tRPC calls count under `/api/trpc` (the procedure names are not functions)."""
    parts = [p for p in path.split("/") if p][:ROUTE_SEGMENTS]
    if parts[:2] == ["api", "trpc"] or parts[:2] == ["api", "health"]:
        parts = parts[:2]
    return ("/" + "/".join(parts))[:100]


@dataclass
class _Count:
    count: int = 0
    ms: float = 0.0
    max_ms: float = 0.0


@dataclass
class InvocationTally:
    flush_every_s: float = FLUSH_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _counts: dict[tuple[str, str], _Count] = field(default_factory=dict)
    _last_flush: float | None = None

    def record(self, path: str, ms: float, *, now: datetime | None = None) -> None:
        day = (now or datetime.now(UTC)).date().isoformat()
        route = route_of(path)
        key = (day, route)
        if key not in self._counts and sum(d == day for d, _ in self._counts) >= MAX_ROUTES:
            key = (day, "other")
        entry = self._counts.setdefault(key, _Count())
        entry.count += 1
        entry.ms += ms
        entry.max_ms = max(entry.max_ms, ms)
        if self._last_flush is None:
            self._last_flush = self.clock()

    def due(self) -> bool:
        return (
            bool(self._counts)
            and self._last_flush is not None
            and self.clock() - self._last_flush >= self.flush_every_s
        )

    def drain(self) -> list[dict[str, Any]]:
        """The tally as usage_invocations_add rows; the tally starts again from zero."""
        rows = [
            {"day": day, "route": route, "count": c.count, "ms": round(c.ms, 1), "maxMs": c.max_ms}
            for (day, route), c in sorted(self._counts.items())
        ]
        self._counts.clear()
        self._last_flush = self.clock()
        return rows

    async def flush_if_due(self, flush: Flush) -> bool:
        """Flush when due. A failed flush puts the counts back for the next try."""
        if not self.due():
            return False
        rows = self.drain()
        try:
            await flush(rows)
        except Exception:
            for row in rows:
                entry = self._counts.setdefault((row["day"], row["route"]), _Count())
                entry.count += row["count"]
                entry.ms += row["ms"]
                entry.max_ms = max(entry.max_ms, row["maxMs"])
            raise
        return True
