"""Group commit: what concurrent callers on one event loop submit is handled in batches.

    coalescer = Coalescer(flush, max_size=200)     # flush(items) -> one result per item
    result = await coalescer.submit(item)

A warm instance serving concurrent requests (Vercel's in-function concurrency, the Lambda
target, the bench) pays one round trip per batch instead of one per request. One caller at a
time flushes — whoever holds the lock takes everything queued so far (at most `max_size` by
`size`), calls `flush` once, and hands each waiting caller its own result (or the exception);
callers whose items another caller took simply wait for their result. Alone, a caller flushes
its own item at once: no timer, no added latency, no background task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Entry[T, R]:
    item: T
    done: asyncio.Future[R]
    taken: bool = field(default=False)


class Coalescer[T, R]:
    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_size: int,
        size: Callable[[T], int] = lambda _: 1,
    ) -> None:
        self._flush = flush
        self._max_size = max_size
        self._size = size
        self._pending: list[_Entry[T, R]] = []
        self._lock = asyncio.Lock()

    async def submit(self, item: T) -> R:
        entry: _Entry[T, R] = _Entry(item, asyncio.get_running_loop().create_future())
        self._pending.append(entry)
        while not entry.taken:
            async with self._lock:
                if entry.taken:
                    break
                await self._flush_some()
        return await entry.done

    def _take(self) -> list[_Entry[T, R]]:
        batch: list[_Entry[T, R]] = []
        total = 0
        while self._pending:
            weight = self._size(self._pending[0].item)
            if batch and total + weight > self._max_size:
                break
            batch.append(self._pending.pop(0))
            batch[-1].taken = True
            total += weight
        return batch

    async def _flush_some(self) -> None:
        batch = self._take()
        try:
            results = await self._flush([entry.item for entry in batch])
        except Exception as exc:
            for entry in batch:
                entry.done.set_exception(exc)  # each caller raises it from its own future
            return
        except BaseException:  # this caller was cancelled mid-flush: so is what it carried
            for entry in batch:
                entry.done.cancel()
            raise
        for entry, result in zip(batch, results, strict=True):
            entry.done.set_result(result)
