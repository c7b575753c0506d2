"""Pusher Channels adapter: the official `pusher` SDK signs, one httpx.AsyncClient sends.

- `HttpxBackend` plugs into the SDK (`backend=` takes any class with `__init__(client, **opts)`
  and `send_request(request)`): every SDK request method returns a coroutine sent with the
  injected, reused `httpx.AsyncClient` instead of a new session per call.
- `PusherPublisher.publish(events)`: single-channel events go out through `batch_events`,
  at most 10 per call (the SDK does not enforce Pusher's limit); an event on several channels
  goes out through `trigger`, at most 100 channels per call. Calls are built in event order,
  then up to `concurrency` run at once; a call waits for the previous call on any of its
  channels, so per-channel order holds (and a call whose predecessor failed is not sent).
- Envelopes over 10 KB (after encryption, for `private-encrypted-` channels) are sent as
  references (lib.events). Encrypted channels are encrypted here with the SDK's crypto.
- SDK bug worked around: `terminate_user_connections` posts to `/users/{id}/...` without the
  `/apps/{app_id}` prefix (we sign the documented route ourselves). Channel authorization
  (and the SDK's `bytes` shared_secret) lives in lib.realtime.pusher_auth.

The SDK is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from lib.config import Settings
from lib.events import MAX_EVENT_BYTES, Channel, Event, encode
from lib.realtime.port import PublishError, chunked

if TYPE_CHECKING:
    from pusher.authentication_client import AuthenticationClient
    from pusher.http import Request
    from pusher.pusher_client import PusherClient

MAX_BATCH = 10
MAX_CHANNELS = 100
DEFAULT_CONCURRENCY = 4


class HttpxBackend:
    """An SDK backend whose `send_request` is a coroutine on a shared httpx.AsyncClient."""

    def __init__(self, client: Any, *, http: httpx.AsyncClient) -> None:
        self.client = client
        self.http = http

    async def send_request(self, request: Request) -> Any:
        try:
            response = await self.http.request(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,
                timeout=self.client.timeout,
            )
        except httpx.HTTPError as exc:
            raise PublishError(f"Pusher is unreachable: {type(exc).__name__}") from exc
        if response.status_code not in (200, 202):
            raise PublishError(
                f"Pusher answered {response.status_code}: {response.text[:200]}",
                status=response.status_code,
            )
        return response.json() if response.content else {}


@dataclass(frozen=True, slots=True)
class _Call:
    """One HTTP call's worth of events: a batch (single channels) or a multi-channel trigger."""

    items: list[dict[str, str]] = field(default_factory=list)
    trigger: tuple[list[str], str, str] | None = None
    ids: list[int] = field(default_factory=list)

    @property
    def channels(self) -> set[str]:
        if self.trigger is not None:
            return set(self.trigger[0])
        return {item["channel"] for item in self.items}


class PusherPublisher:
    """Publisher for Pusher Channels (or any server speaking its HTTP API)."""

    def __init__(
        self,
        *,
        app_id: str,
        key: str,
        secret: str,
        http: httpx.AsyncClient,
        host: str | None = None,
        port: int | None = None,
        cluster: str | None = "mt1",
        ssl: bool = True,
        encryption_master_key_base64: str | None = None,
        timeout_s: float = 5.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._options: dict[str, Any] = {
            "app_id": app_id,
            "key": key,
            "secret": secret,
            "ssl": ssl,
            "host": host,
            "port": port,
            "cluster": cluster,
            "timeout": timeout_s,
            "encryption_master_key_base64": encryption_master_key_base64 or None,
        }
        self._http = http
        self._concurrency = max(1, concurrency)
        self._max_event_bytes = max_event_bytes
        self._api: PusherClient | None = None
        self._auth: AuthenticationClient | None = None

    @classmethod
    def from_settings(cls, config: Settings, *, http: httpx.AsyncClient) -> PusherPublisher:
        """Local/self-hosted servers (PUSHER_HOST) speak plain HTTP unless on port 443."""
        return cls(
            app_id=config.pusher_app_id,
            key=config.pusher_key,
            secret=config.pusher_secret.get(),
            http=http,
            host=config.pusher_host,
            port=config.pusher_port,
            cluster=config.pusher_cluster or None,
            ssl=config.pusher_host is None or config.pusher_port in (None, 443),
            encryption_master_key_base64=config.pusher_encryption_master_key.get(),
        )

    # -- the SDK, built on first use ------------------------------------------------------------
    def api(self) -> PusherClient:
        if self._api is None:
            from pusher.pusher_client import PusherClient

            self._api = PusherClient(backend=HttpxBackend, http=self._http, **self._options)
        return self._api

    def auth(self) -> AuthenticationClient:
        if self._auth is None:
            from pusher.authentication_client import AuthenticationClient

            self._auth = AuthenticationClient(
                backend=HttpxBackend, http=self._http, **self._options
            )
        return self._auth

    # -- publishing -----------------------------------------------------------------------------
    async def publish(self, events: Sequence[Event]) -> None:
        calls = self._calls(events)
        if not calls:
            return
        after = _predecessors(calls)
        finished = [asyncio.Event() for _ in calls]
        sent = [False] * len(calls)
        errors: list[PublishError] = []
        slots = asyncio.Semaphore(self._concurrency)

        async def run(index: int) -> None:
            try:
                for earlier in after[index]:
                    await finished[earlier].wait()
                if all(sent[earlier] for earlier in after[index]):
                    async with slots:
                        await self._send(calls[index])
                    sent[index] = True
            except PublishError as exc:
                errors.append(exc)
            finally:
                finished[index].set()

        async with asyncio.TaskGroup() as group:
            for index in range(len(calls)):
                group.create_task(run(index), name=f"pusher-call-{index}")
        if errors:
            ok = {i for call, done in zip(calls, sent, strict=True) if done for i in call.ids}
            ok -= {i for call, done in zip(calls, sent, strict=True) if not done for i in call.ids}
            raise PublishError(errors[0].message, delivered=ok, status=errors[0].provider_status)

    async def _send(self, call: _Call) -> None:
        try:
            if call.trigger is not None:
                channels, name, data = call.trigger
                await self.api().trigger(channels, name, data)
            else:
                await self.api().trigger_batch(call.items, already_encoded=True)
        except (TypeError, ValueError) as exc:  # the SDK's own validation
            raise PublishError(f"Pusher SDK refused the request: {exc}") from exc

    def _calls(self, events: Iterable[Event]) -> list[_Call]:
        """Batches of <= 10 single-channel items in order; fan-out events become triggers of
        <= 100 channels (encrypted channels, and oversized envelopes, go in batches)."""
        calls: list[_Call] = []
        batch = _Call()

        def flush() -> None:
            nonlocal batch
            if batch.items:
                calls.append(batch)
                batch = _Call()

        for event in events:
            shared = [c for c in event.channels if c.kind != "encrypted"]
            fan_out = len(shared) > 1 and not event.oversized(limit=self._max_event_bytes)
            if fan_out:
                flush()
                data = encode(event.envelope())
                for group in chunked(shared, MAX_CHANNELS):
                    names = [c.name for c in group]
                    calls.append(_Call(trigger=(names, event.type, data), ids=[event.id]))
            for channel in event.channels:
                if fan_out and channel.kind != "encrypted":
                    continue
                data = self._data(event, channel)
                batch.items.append({"channel": channel.name, "name": event.type, "data": data})
                if event.id not in batch.ids:
                    batch.ids.append(event.id)
                if len(batch.items) == MAX_BATCH:
                    flush()
        flush()
        return calls

    def _data(self, event: Event, channel: Channel) -> str:
        if channel.kind != "encrypted":
            return event.wire(channel, limit=self._max_event_bytes)
        sealed = self._encrypt(channel, encode(event.envelope()))
        if len(sealed.encode()) <= self._max_event_bytes:
            return sealed
        return self._encrypt(channel, encode(event.reference(channel)))

    def _encrypt(self, channel: Channel, data: str) -> str:
        from pusher.crypto import encrypt, parse_master_key

        key = parse_master_key(None, self._options["encryption_master_key_base64"])
        if key is None:
            raise PublishError(
                f"{channel.name} is encrypted but PUSHER_ENCRYPTION_MASTER_KEY_BASE64 is not set"
            )
        return json.dumps(encrypt(channel.name, data, key), ensure_ascii=False)

    async def trigger(self, channels: Sequence[Channel], name: str, data: dict[str, Any]) -> None:
        """An ephemeral event (no outbox, no id) on many channels: <= 100 per call."""
        text = encode(data)
        for group in chunked([c.name for c in channels], MAX_CHANNELS):
            await self.api().trigger(list(group), name, text)

    # -- other HTTP API calls -----------------------------------------------------------------
    async def terminate_user_connections(self, user_id: str) -> None:
        """POST /apps/{id}/users/{user}/terminate_connections (the SDK drops `/apps/{id}`)."""
        from pusher.http import POST, Request
        from pusher.util import validate_user_id

        api = self.api()
        path = f"/apps/{api.app_id}/users/{validate_user_id(user_id)}/terminate_connections"
        await api.http.send_request(Request(api, POST, path, {}))


def _predecessors(calls: Sequence[_Call]) -> list[list[int]]:
    """For each call, the earlier calls it must follow: the last one on each of its channels."""
    last: dict[str, int] = {}
    before: list[list[int]] = []
    for index, call in enumerate(calls):
        channels = call.channels
        before.append(sorted({last[c] for c in channels if c in last}))
        last.update(dict.fromkeys(channels, index))
    return before
