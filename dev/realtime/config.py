"""Settings for the local realtime server: one app, Pusher's limits, read once and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Pusher's published limits (shared clusters), answered the way Pusher answers them."""

    max_data_bytes: int = 10_240
    """Event payload (HTTP API and client events); over it the HTTP API answers 413."""
    max_channels_per_trigger: int = 100
    max_batch_events: int = 10
    max_presence_members: int = 100
    max_user_id_length: int = 128
    max_user_info_bytes: int = 1_024
    client_events_per_second: int = 10
    """Per connection; the burst allowance is the same number."""
    max_request_bytes: int = 262_144
    """Whole HTTP request body; bigger bodies get 413 before they are parsed."""
    max_frame_bytes: int = 65_536
    """Largest WebSocket frame a client may send."""
    max_pending_frames: int = 1_000
    """Frames queued for one slow client before it is disconnected with 4100 (over capacity)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RealtimeConfig:
    app_id: str
    key: str
    secret: str = field(repr=False)
    webhook_url: str | None = None
    activity_timeout: int = 120
    """Seconds of silence before the server pings a client (sent in connection_established)."""
    pong_timeout: int = 30
    """Seconds a pinged client has to answer before it is closed with 4201."""
    timestamp_tolerance: int = 600
    """How far `auth_timestamp` on an HTTP API request may be from the server clock, in seconds."""
    cache_ttl: int = 1_800
    """How long a cache channel keeps its last event, in seconds (Pusher keeps it 30 minutes)."""
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not self.app_id.isdigit():
            raise ValueError(
                f"app_id must be digits (the Pusher SDKs require it), got {self.app_id!r}"
            )
        if not self.key or not self.secret:
            raise ValueError("key and secret must be non-empty")
        if self.activity_timeout < 1 or self.pong_timeout < 1:
            raise ValueError("activity_timeout and pong_timeout are whole seconds, at least 1")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> RealtimeConfig:
        """Read PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET and PUSHER_WEBHOOK_URL.

        `overrides` (e.g. values from the command line) win over the environment;
        a missing required value raises ValueError naming the variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "app_id": env.get("PUSHER_APP_ID"),
            "key": env.get("PUSHER_KEY"),
            "secret": env.get("PUSHER_SECRET"),
            "webhook_url": env.get("PUSHER_WEBHOOK_URL") or None,
        }
        values.update({name: value for name, value in overrides.items() if value is not None})
        for name, variable in (
            ("app_id", "PUSHER_APP_ID"),
            ("key", "PUSHER_KEY"),
            ("secret", "PUSHER_SECRET"),
        ):
            if not values.get(name):
                raise ValueError(f"{variable} is not set (or pass --{name.replace('_', '-')})")
        return cls(**values)  # type: ignore[arg-type]
