"""Supabase Realtime adapter: broadcast through the REST batch endpoint, no socket held.

    POST {SUPABASE_URL}/realtime/v1/api/broadcast
    apikey: <service role key>, Authorization: Bearer <service role key>
    {"messages": [{"topic": "user-42", "event": "note-added", "payload": {...envelope},
                   "private": true}, ...]}                                  -> 202

Channels map to topics by lib.events.Channel (`private-user-42` -> `user-42`, private).
Supabase has no end-to-end encryption: a `private-encrypted-` channel is sent as a private
topic in clear (RLS on realtime.messages still decides who receives it).
Messages go in order, at most `max_messages` (and about `max_body_bytes`) per request, one
request at a time. Envelopes over 10 KB are sent as references, as with Pusher, so clients
behave the same on either provider.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from lib.config import Settings
from lib.events import MAX_EVENT_BYTES, Channel, Event, encode
from lib.realtime.port import PublishError

BROADCAST_PATH = "/realtime/v1/api/broadcast"


class SupabasePublisher:
    def __init__(
        self,
        *,
        url: str,
        service_role_key: str,
        http: httpx.AsyncClient,
        timeout_s: float = 5.0,
        max_messages: int = 100,
        max_body_bytes: int = 512 * 1024,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._endpoint = url.rstrip("/") + BROADCAST_PATH
        self._headers = {
            "apikey": service_role_key,
            "Authorization": f"Bearer {service_role_key}",
            "Content-Type": "application/json",
        }
        self._http = http
        self._timeout_s = timeout_s
        self._max_messages = max_messages
        self._max_body_bytes = max_body_bytes
        self._max_event_bytes = max_event_bytes

    @classmethod
    def from_settings(cls, config: Settings, *, http: httpx.AsyncClient) -> SupabasePublisher:
        return cls(
            url=config.supabase_url,
            service_role_key=config.supabase_service_role_key.get(),
            http=http,
            timeout_s=config.db_timeout_s,
        )

    async def publish(self, events: Sequence[Event]) -> None:
        delivered: set[int] = set()
        for ids, body in self._requests(events):
            try:
                response = await self._http.post(
                    self._endpoint, content=body, headers=self._headers, timeout=self._timeout_s
                )
            except httpx.HTTPError as exc:
                raise PublishError(
                    f"Supabase Realtime is unreachable: {type(exc).__name__}",
                    delivered=delivered - ids,
                ) from exc
            if response.status_code not in (200, 202):
                raise PublishError(
                    f"Supabase Realtime answered {response.status_code}: {response.text[:200]}",
                    delivered=delivered - ids,
                    status=response.status_code,
                )
            delivered.update(ids)

    def _requests(self, events: Sequence[Event]) -> Iterator[tuple[set[int], bytes]]:
        """(ids in the request, JSON body) for each request, in order. An event's messages
        may span two requests; it counts as delivered only once both went through."""
        messages: list[bytes] = []
        ids: set[int] = set()
        size = 0
        for event in events:
            for channel in event.channels:
                message = encode(self._message(event, channel)).encode()
                if messages and (
                    len(messages) >= self._max_messages
                    or size + len(message) > self._max_body_bytes
                ):
                    yield ids, b'{"messages":[' + b",".join(messages) + b"]}"
                    messages, ids, size = [], set(), 0
                messages.append(message)
                ids.add(event.id)
                size += len(message) + 1
        if messages:
            yield ids, b'{"messages":[' + b",".join(messages) + b"]}"

    def _message(self, event: Event, channel: Channel) -> dict[str, Any]:
        return {
            "topic": channel.topic,
            "event": event.type,
            "payload": event.published(channel, limit=self._max_event_bytes),
            "private": channel.private,
        }
