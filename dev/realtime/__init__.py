"""A local Pusher Channels-compatible server (protocol 7 + HTTP API + webhooks) for
`make dev` and the tests. In memory, one app, never deployed. See README.md."""

from __future__ import annotations

from .background import serve_in_thread
from .bridge import InvalidTopic, topic_to_channel
from .config import Limits, RealtimeConfig
from .server import RealtimeServer, ServerAddress

__all__ = [
    "InvalidTopic",
    "Limits",
    "RealtimeConfig",
    "RealtimeServer",
    "ServerAddress",
    "serve_in_thread",
    "topic_to_channel",
]
