"""Calls in Supabase, through PostgREST with the service role (a small httpx client: the bridge
does not import lib/ and its supabase-py dependencies).

    stream_start(call_id, stream_id)  POST /rest/v1/rpc/calls_stream_start -> StreamStart
    finish(finished)                  POST /rest/v1/rpc/calls_finish -> {"call", "events", ...}
    dead_letter(finished, error)      POST /rest/v1/rpc/calls_dead_letter
    mark_published(ids)               POST /rest/v1/rpc/outbox_mark_published

Transient failures (unreachable, timeouts, 5xx, 429) are retried with exponential backoff up to
`attempts` and, when given, a monotonic `deadline`; anything else (4xx: an unknown call, a
constraint) is raised at once. calls_finish is idempotent, so a retry after a lost response
is safe: it returns the already-saved call and its `call-ended` event; so is
calls_stream_start for the same stream id.

What is sent is cleaned first (`clean`): Postgres text and jsonb cannot hold NUL, and a lone
surrogate cannot even be encoded as UTF-8, so either would lose the whole record to one
character of a transcript.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from worker.config import Secret

log = logging.getLogger("worker.store")

TIMEOUT_S = 5.0
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL and surrogates: in a Python str a surrogate code point is always a lone one."""


def clean(value: Any) -> Any:
    """`value` (JSON-like) with NUL and lone surrogates removed from every string and key."""
    if isinstance(value, str):
        return UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {clean(str(key)): clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


class StoreError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class CallRecord:
    id: str
    owner_id: str
    direction: str
    goal: str
    context: dict[str, Any]
    finished: bool


@dataclass(frozen=True)
class StreamStart:
    """calls_stream_start's answer: the call, or why its stream may not start."""

    record: CallRecord | None
    refused: str | None
    """unknown, finished or already_started"""


@dataclass(frozen=True)
class FinishedCall:
    call_id: str
    transcript: list[dict[str, Any]]
    outcome: str | None
    outcome_notes: str | None
    summary: str
    end_reason: str
    started_at: datetime
    ended_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)
    summary_kind: str | None = None
    """'ai' or 'extractive' (worker.summary)"""
    recording: dict[str, Any] | None = None
    """Where the call's audio is, or why it is missing (worker.call._record_audio):
    {"status": "stored", "key", "durationMs", "sampleRate", "bytes"} or
    {"status": "failed" | "off" | "empty", "error"}"""

    def params(self) -> dict[str, Any]:
        """calls_finish's arguments, cleaned (see `clean`)."""
        params: dict[str, Any] = clean(
            {
                "p_call_id": self.call_id,
                "p_transcript": self.transcript,
                "p_outcome": self.outcome,
                "p_outcome_notes": self.outcome_notes,
                "p_summary": self.summary,
                "p_end_reason": self.end_reason,
                "p_started_at": self.started_at.isoformat(),
                "p_ended_at": self.ended_at.isoformat(),
                "p_stats": self.stats,
                "p_summary_kind": self.summary_kind,
                "p_recording": self.recording,
            }
        )
        return params


async def retrying[T](
    operation: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    deadline: float | None = None,
    what: str,
) -> T:
    """`operation()` until it succeeds, raises a non-retryable StoreError, or attempts/deadline
    run out (then the last error is raised)."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except StoreError as exc:
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            out_of_time = deadline is not None and time.monotonic() + delay > deadline
            if not exc.retryable or attempt == attempts or out_of_time:
                raise
            log.warning("%s failed (attempt %d/%d): %s", what, attempt, attempts, exc)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


class CallStore:
    def __init__(self, *, supabase_url: str, service_key: Secret, http: httpx.AsyncClient) -> None:
        self._rest = f"{supabase_url.rstrip('/')}/rest/v1"
        self._headers = {
            "apikey": service_key.get(),
            "Authorization": f"Bearer {service_key.get()}",
        }
        self._http = http

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(
                method, f"{self._rest}{path}", headers=self._headers, timeout=TIMEOUT_S, **kwargs
            )
        except httpx.HTTPError as exc:
            raise StoreError(f"Supabase unreachable: {exc!r}", retryable=True) from exc
        except (TypeError, ValueError) as exc:  # a body that cannot be encoded as JSON / UTF-8
            message = f"{method} {path}: unencodable body: {exc!r}"
            raise StoreError(message, retryable=False) from exc
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise StoreError(
                f"{method} {path} -> {response.status_code}: {response.text[:300]}",
                retryable=retryable,
            )
        return response.json() if response.content else None

    async def stream_start(self, call_id: str, stream_id: str, *, attempts: int = 3) -> StreamStart:
        """Claim the call for this stream (once per call, atomically, in the database)."""

        async def once() -> Any:
            return await self._request(
                "POST",
                "/rpc/calls_stream_start",
                json={"p_call_id": call_id, "p_stream_id": stream_id},
            )

        result = dict(await retrying(once, attempts=attempts, what="start stream") or {})
        row = result.get("call")
        if not result.get("started") or not isinstance(row, dict):
            return StreamStart(None, str(result.get("reason") or "refused"))
        record = CallRecord(
            id=str(row["id"]),
            owner_id=str(row["owner_id"]),
            direction=str(row["direction"]),
            goal=str(row.get("goal") or ""),
            context=dict(row.get("context") or {}),
            finished=row.get("finished_at") is not None,
        )
        return StreamStart(record, None)

    async def finish(
        self, finished: FinishedCall, *, attempts: int, deadline: float | None = None
    ) -> dict[str, Any]:
        async def once() -> Any:
            return await self._request("POST", "/rpc/calls_finish", json=finished.params())

        result = await retrying(once, attempts=attempts, deadline=deadline, what="save call")
        return dict(result or {})

    async def dead_letter(
        self, finished: FinishedCall, error: str, *, attempts: int, deadline: float | None = None
    ) -> int:
        """Keep a record calls_finish refused, with the error (calls_dead_letters); returns the
        dead letter's id."""
        payload = json.loads(json.dumps(finished.params(), default=str))

        async def once() -> Any:
            return await self._request(
                "POST",
                "/rpc/calls_dead_letter",
                json={"p_call_id": finished.call_id, "p_payload": payload, "p_error": error},
            )

        return int(await retrying(once, attempts=attempts, deadline=deadline, what="dead letter"))

    async def mark_published(self, ids: list[int]) -> None:
        await self._request("POST", "/rpc/outbox_mark_published", json={"p_ids": ids})
