"""Realtime: who may subscribe to which channel (channels.py), the Publisher port and its
adapters (port.py; pusher.py, supabase.py, memory.py), the outbox publish and relay
(outbox.py), history (history.py). Each concept is its own module; importing this package
imports none of them (adapters load when `publisher()` picks one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from lib.config import Settings
    from lib.realtime.port import Publisher

_http: httpx.AsyncClient | None = None


def http_client() -> httpx.AsyncClient:
    """The process-wide client publishers share (created on first use, reused while warm)."""
    global _http
    if _http is None or _http.is_closed:
        import httpx

        _http = httpx.AsyncClient(
            timeout=5.0, limits=httpx.Limits(max_connections=20, max_keepalive_connections=10)
        )
    return _http


async def close_http() -> None:
    """Close the shared client (an app's lifespan shutdown); the next use makes a new one."""
    global _http
    client, _http = _http, None
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
