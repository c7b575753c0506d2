"""Realtime: who may subscribe to which channel (channels.py), the Publisher port and its
adapters (port.py; pusher.py, supabase.py, memory.py), the outbox publish and relay
(outbox.py), history (history.py). Each concept is its own module; importing this package
imports none of them (adapters load when `publisher()` picks one)."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from lib.config import Settings
    from lib.realtime.port import Publisher

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def http_client() -> httpx.AsyncClient:
    """The client publishers share on the running loop (created on first use, reused while
    warm). Connections belong to the loop that opened them, hence one client per loop."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        import httpx

        client = httpx.AsyncClient(
            timeout=5.0, limits=httpx.Limits(max_connections=20, max_keepalive_connections=10)
        )
        _clients[loop] = client
    return client


async def close_http() -> None:
    """Close this loop's shared client (lifespan shutdown); the next use makes a new one."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def publisher(config: Settings, *, http: httpx.AsyncClient | None = None) -> Publisher:
    """The Publisher REALTIME_PROVIDER names, on `http` (default: the shared client)."""
    if config.realtime_provider == "pusher":
        from lib.realtime.pusher import PusherPublisher

        return PusherPublisher.from_settings(config, http=http or http_client())
    if config.realtime_provider == "supabase":
        from lib.realtime.supabase import SupabasePublisher

        return SupabasePublisher.from_settings(config, http=http or http_client())
    from lib.realtime.memory import MemoryPublisher

    return MemoryPublisher()
