"""A local Supabase Realtime server (Phoenix channels) for `make dev` and the tests, served by
the gateway at /realtime/v1/websocket. In memory, loopback, never deployed. See README.md."""

from __future__ import annotations

from .server import WEBSOCKET_PATH, SupabaseRealtime

__all__ = ["WEBSOCKET_PATH", "SupabaseRealtime"]
