"""Publishing the `call-ended` event the save queued, straight through Pusher's HTTP API.

calls_finish() queues the event in the outbox in the same transaction as the save and returns
the row. The bridge then triggers it on Pusher (the envelope `{"id","type","at","data"}` every
client receives) and marks it published. If any of that fails, or the event is not ours to
publish inline (its channel has a backlog) or is over Pusher's 10 KB limit, it stays in the
outbox and the `outbox-relay` cron delivers it: at-least-once either way; clients dedupe on the
envelope id. With REALTIME_PROVIDER=supabase the relay always delivers it.

Signing (Pusher HTTP API): auth_signature = hex HMAC-SHA256(secret,
"POST\\n/apps/{app_id}/events\\nauth_key=..&auth_timestamp=..&auth_version=1.0&body_md5=..").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from worker.config import BridgeConfig
from worker.store import CallStore, StoreError

log = logging.getLogger("worker.publish")

MAX_EVENT_BYTES = 10_240
TIMEOUT_S = 5.0


class PublishFailed(Exception):
    pass


def envelope(row: Mapping[str, Any]) -> str:
    """The JSON every client receives for one outbox row (as lib.events builds it)."""
    body = {"id": str(row["id"]), "type": row["event"], "at": row["at"], "data": row["data"]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class PusherHttp:
    def __init__(self, config: BridgeConfig, *, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        if config.pusher_host:
            port = config.pusher_port or 80
            scheme = "https" if port == 443 else "http"
            self._base = f"{scheme}://{config.pusher_host}:{port}"
        else:
            self._base = f"https://api-{config.pusher_cluster}.pusher.com"

    def _signed_query(self, path: str, body: bytes) -> dict[str, str]:
        params = {
            "auth_key": self._config.pusher_key,
            "auth_timestamp": str(int(time.time())),
            "auth_version": "1.0",
            "body_md5": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        }
        query = "&".join(f"{key}={params[key]}" for key in sorted(params))
        secret = self._config.pusher_secret.get().encode()
        signature = hmac.new(secret, f"POST\n{path}\n{query}".encode(), hashlib.sha256)
        return {**params, "auth_signature": signature.hexdigest()}

    async def trigger(self, channel: str, event: str, data: str) -> None:
        path = f"/apps/{self._config.pusher_app_id}/events"
        body = json.dumps({"name": event, "channels": [channel], "data": data}).encode()
        try:
            response = await self._http.post(
                f"{self._base}{path}",
                params=self._signed_query(path, body),
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            raise PublishFailed(f"Pusher unreachable: {exc!r}") from exc
        if response.status_code != 200:
            raise PublishFailed(f"Pusher answered {response.status_code}: {response.text[:200]}")


async def publish_saved(
    rows: Sequence[Mapping[str, Any]], *, pusher: PusherHttp | None, store: CallStore
) -> list[int]:
    """Publish the rows a save returned; the ids published (the rest stay for the relay)."""
    published: list[int] = []
    if pusher is None:
        return published
    for row in rows:
        data = envelope(row)
        if not row.get("inline", True) or len(data.encode()) > MAX_EVENT_BYTES:
            continue
        try:
            await pusher.trigger(str(row["channel"]), str(row["event"]), data)
        except PublishFailed as exc:
            log.warning("call-ended not published; the outbox relay will: %s", exc)
            continue
        published.append(int(row["id"]))
    if published:
        try:
            await store.mark_published(published)
        except StoreError as exc:  # the relay may publish it again: clients dedupe
            log.warning("could not mark %s published: %s", published, exc)
    return published
