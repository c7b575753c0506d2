"""Rate limits shared by every function: a counter per key in Postgres, no Redis needed.

`enforce(db, "realtime-auth:alice", limit=120, window_s=60)` counts one call and raises
TooManyRequests (429, `Retry-After` = seconds until the window resets) once the key has made
more than `limit` calls in its window. The window is fixed and opens with the key's first
call (public.rate_limit_hit, migration 20261121020400_rate_limits: one upsert over an UNLOGGED
table, atomic under concurrency). Refused calls count too, so hammering does not help.
Closed windows are deleted by the `cleanup` cron.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lib.db import Database
from lib.errors import BadRequest, TooManyRequests

MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    reset_at: datetime
    retry_after: int
    """Seconds until the window resets (at least 1)."""


async def hit(db: Database, key: str, *, limit: int, window_s: int) -> Decision:
    """Count one call for `key` and say whether it is within the limit."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"rate limit keys are 1..{MAX_KEY_LENGTH} characters")
    row: dict[str, Any] = await db.rpc(
        "rate_limit_hit", p_key=key, p_limit=limit, p_window_s=window_s
    )
    return Decision(
        allowed=bool(row["allowed"]),
        remaining=int(row["remaining"]),
        reset_at=datetime.fromisoformat(row["reset_at"]),
        retry_after=int(row["retry_after"]),
    )


async def enforce(db: Database, key: str, *, limit: int, window_s: int) -> None:
    """Count one call for `key`; TooManyRequests (429 + Retry-After) past `limit` per window."""
    decision = await hit(db, key, limit=limit, window_s=window_s)
    if not decision.allowed:
        raise TooManyRequests(
            f"too many requests: at most {limit} per {window_s} s; "
            f"retry in {decision.retry_after} s",
            retry_after=decision.retry_after,
        )
