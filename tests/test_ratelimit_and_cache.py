"""lib.ratelimit and lib.cache against the real database through PostgREST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dev.stack import Stack
from lib import cache, ratelimit
from lib.db import Database
from lib.errors import TooManyRequests
from tests.support import sql, stack_settings, unique


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(stack_settings(stack))
    try:
        yield database
    finally:
        await database.aclose()


async def test_calls_within_the_limit_pass_and_the_next_is_refused(db: Database):
    key = unique("test-limit")
    for _ in range(5):
        await ratelimit.enforce(db, key, limit=5, window_s=600)
    with pytest.raises(TooManyRequests) as refused:
        await ratelimit.enforce(db, key, limit=5, window_s=600)
    assert refused.value.status == 429
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 600
    await ratelimit.enforce(db, unique("test-limit"), limit=5, window_s=600)  # others unaffected


async def test_remaining_counts_down(db: Database):
    key = unique("test-limit")
    seen = [(await ratelimit.hit(db, key, limit=3, window_s=600)).remaining for _ in range(4)]
    assert seen == [2, 1, 0, 0]


async def test_concurrent_calls_never_exceed_the_limit(db: Database):
    key = unique("test-limit")
    decisions = await asyncio.gather(
        *(ratelimit.hit(db, key, limit=10, window_s=600) for _ in range(25))
    )
    assert sum(d.allowed for d in decisions) == 10


async def test_a_closed_window_starts_afresh(stack: Stack, db: Database):
    key = unique("test-limit")
    for _ in range(2):
        await ratelimit.enforce(db, key, limit=2, window_s=600)
    with sql(stack) as conn:  # the window's time has passed
        conn.execute(
            "update public.rate_limits set reset_at = now() - interval '1 second' where key = %s",
            [key],
        )
    decision = await ratelimit.hit(db, key, limit=2, window_s=600)
    assert decision.allowed and decision.remaining == 1


async def test_cache_put_then_get(db: Database):
    key = unique("test-cache")
    assert await cache.get(db, key) is None
    await cache.put(db, key, {"positions": [{"symbol": "AAPL", "qty": 3}]}, ttl_s=60)
    assert await cache.get(db, key) == {"positions": [{"symbol": "AAPL", "qty": 3}]}
    await cache.put(db, key, [1, 2], ttl_s=60)
    assert await cache.get(db, key) == [1, 2]


async def test_cached_null_is_a_hit(db: Database):
    key, missing = unique("test-cache"), object()
    await cache.put(db, key, None, ttl_s=60)
    assert await cache.get(db, key, default=missing) is None
    assert await cache.get(db, unique("test-cache"), default=missing) is missing


async def test_expired_entries_are_misses_and_expire_deletes_them(stack: Stack, db: Database):
    stale, fresh = unique("test-cache"), unique("test-cache")
    await cache.put(db, stale, "old", ttl_s=60)
    await cache.put(db, fresh, "new", ttl_s=60)
    with sql(stack) as conn:  # the entry's time has passed
        conn.execute(
            "update public.cache_entries set expires_at = now() - interval '1 second' "
            "where key = %s",
            [stale],
        )
    assert await cache.get(db, stale, default="miss") == "miss"
    assert await cache.expire(db) >= 1
    assert await cache.get(db, fresh) == "new"
    with sql(stack) as conn:
        assert conn.execute(
            "select count(*) from public.cache_entries where key = %s", [stale]
        ).fetchone() == (0,)


async def test_cache_delete(db: Database):
    key = unique("test-cache")
    await cache.put(db, key, 1, ttl_s=60)
    assert await cache.delete(db, key) is True
    assert await cache.get(db, key) is None
    assert await cache.delete(db, key) is False
