"""A TTL cache of JSON values in Postgres (public.cache_entries, migration
20261121020500_cache), for results that are expensive to fetch and fine to reuse for a while
(a broker's positions, an exchange rate).

    await cache.put(db, "positions:alice", positions, ttl_s=60)
    await cache.get(db, "positions:alice")        # -> the value, or `default` once expired
    await cache.delete(db, "positions:alice")

An expired entry is never returned; the `cleanup` cron deletes expired rows (cache_expire).
A cached JSON null is a hit: `get` returns None for it, so pass a sentinel `default` when the
difference matters.
"""

from __future__ import annotations

from typing import Any

from lib.db import Database
from lib.errors import BadRequest

MAX_KEY_LENGTH = 512


def _key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"cache keys are 1..{MAX_KEY_LENGTH} characters")
    return key


async def get(db: Database, key: str, default: Any = None) -> Any:
    """The live value cached under `key`, else `default`."""
    found = await db.rpc("cache_get", p_key=_key(key))
    if not isinstance(found, dict) or "value" not in found:
        return default
    return found["value"]


async def put(db: Database, key: str, value: Any, *, ttl_s: int) -> None:
    """Cache a JSON-able `value` under `key` for `ttl_s` seconds (replacing any entry)."""
    if ttl_s < 1:
        raise BadRequest("cache ttl_s must be at least 1")
    await db.rpc("cache_put", p_key=_key(key), p_value=value, p_ttl_s=ttl_s)


async def delete(db: Database, key: str) -> bool:
    """Forget `key`; True if there was an entry."""
    return bool(await db.rpc("cache_delete", p_key=_key(key)))


async def expire(db: Database) -> int:
    """Delete every expired entry; returns how many (the `cleanup` cron calls this)."""
    return int(await db.rpc("cache_expire"))
