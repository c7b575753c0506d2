"""One client connection's state: identity, subscriptions, sign-in and its outgoing frames.

Sending never blocks the caller: frames go onto the connection's own queue, which a writer
task drains onto the socket. A client that falls too far behind is closed with 4100.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from .protocol import Code


def new_socket_id() -> str:
    """`\\d+\\.\\d+`, the shape the SDKs validate (random halves, like Pusher's)."""
    return f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}"


@dataclass(frozen=True, slots=True)
class Member:
    """A presence member as the connection's auth declared it."""

    user_id: str
    user_info: object


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user (`pusher:signin`)."""

    user_id: str
    user_data: str
    user_info: object


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


class TokenBucket:
    """`rate` events per second with a burst of `rate`."""

    def __init__(self, rate: int) -> None:
        self._rate = float(rate)
        self._tokens = float(rate)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Connection:
    def __init__(self, *, socket_id: str, max_pending: int, client_event_rate: int) -> None:
        self.socket_id = socket_id
        self.channels: dict[str, Member | None] = {}
        """Subscribed channel names, with the presence member each joined as."""
        self.user: User | None = None
        self.client_events = TokenBucket(client_event_rate)
        self._max_pending = max_pending
        self._outbox: asyncio.Queue[str | Close] = asyncio.Queue()
        self._closing = False

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, text: str) -> None:
        """Queue a frame; dropped once the connection is closing."""
        if self._closing:
            return
        if self._outbox.qsize() >= self._max_pending:
            # The client is not reading: its backlog would only grow. Drop the backlog and
            # close, so the close is the next frame the writer sends once the socket drains.
            while not self._outbox.empty():
                self._outbox.get_nowait()
            self.close(Code.OVER_CAPACITY, "Client is not reading its messages fast enough")
            return
        self._outbox.put_nowait(text)

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued; later sends are dropped."""
        if self._closing:
            return
        self._closing = True
        self._outbox.put_nowait(Close(code, reason))

    def abandon(self) -> None:
        """The peer is gone: stop queueing."""
        self._closing = True

    async def next_outgoing(self) -> str | Close:
        return await self._outbox.get()

    def __repr__(self) -> str:
        return f"Connection({self.socket_id}, user={self.user.user_id if self.user else None})"
