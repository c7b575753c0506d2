"""Webhooks, signed like Pusher's, delivered off the socket loop.

`emit()` only appends to a bounded queue. One background task, owned and named by the
server, drains it: it POSTs `{time_ms, events}` with `X-Pusher-Key` and
`X-Pusher-Signature` (hex HMAC-SHA256 of the raw body), retries failures with exponential
backoff, and logs what it finally drops. Nothing here ever blocks a connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Protocol

import httpx

from .signing import webhook_signature

logger = logging.getLogger("dev.realtime.webhooks")

WebhookEvent = dict[str, object]


class WebhookSink(Protocol):
    def emit(self, event: WebhookEvent) -> None: ...


class NoWebhooks:
    """Used when no webhook URL is configured."""

    def emit(self, event: WebhookEvent) -> None:
        return None


class WebhookDispatcher:
    def __init__(
        self,
        *,
        url: str,
        key: str,
        secret: str,
        client: httpx.AsyncClient,
        attempts: int = 4,
        backoff: float = 0.25,
        max_queued: int = 10_000,
        max_batch: int = 50,
    ) -> None:
        self._url = url
        self._key = key
        self._secret = secret
        self._client = client
        self._attempts = attempts
        self._backoff = backoff
        self._max_batch = max_batch
        self._queue: asyncio.Queue[WebhookEvent] = asyncio.Queue(maxsize=max_queued)

    def emit(self, event: WebhookEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.error("webhook queue full, dropping %s event", event.get("name"))

    async def run(self) -> None:
        """Deliver queued events until cancelled. Run as one owned task."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._deliver(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def drain(self) -> None:
        """Return once everything emitted so far was delivered or dropped (callers bound it)."""
        await self._queue.join()

    async def _deliver(self, events: list[WebhookEvent]) -> None:
        body = json.dumps({"time_ms": int(time.time() * 1000), "events": events}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Pusher-Key": self._key,
            "X-Pusher-Signature": webhook_signature(self._secret, body),
        }
        names = ",".join(str(event.get("name")) for event in events)
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    logger.debug("webhook delivered: %s", names)
                    return
                problem = f"HTTP {response.status_code}"
            logger.warning(
                "webhook attempt %d/%d to %s failed (%s): %s",
                attempt,
                self._attempts,
                self._url,
                names,
                problem,
            )
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        logger.error("webhook dropped after %d attempts: %s", self._attempts, names)
