"""Who is connected and subscribed where: channels, presence members, signed-in users, cache.

All state lives on one event loop and every method is synchronous, so no method can be
interleaved with another. Publishing only queues frames on connections (see connection.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from . import protocol
from .connection import Connection, Member, User
from .names import ChannelType, channel_type
from .protocol import Code
from .webhooks import WebhookSink

logger = logging.getLogger("dev.realtime")


class SubscriptionRefused(Exception):
    """Answered to the client as `pusher:subscription_error {type, error, status}`."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(slots=True)
class PresenceEntry:
    user_info: object
    sockets: set[str]


@dataclass(eq=False, slots=True)
class Channel:
    name: str
    type: ChannelType
    subscribers: dict[str, Connection] = field(default_factory=dict)
    members: dict[str, PresenceEntry] = field(default_factory=dict)

    def presence(self) -> dict[str, object]:
        """The `presence` object of pusher_internal:subscription_succeeded."""
        ids = list(self.members)
        return {
            "ids": ids,
            "hash": {user_id: entry.user_info for user_id, entry in self.members.items()},
            "count": len(ids),
        }


@dataclass(frozen=True, slots=True)
class _Cached:
    frame: str
    expires_at: float


class Hub:
    def __init__(
        self, *, webhooks: WebhookSink, max_presence_members: int, cache_ttl: float
    ) -> None:
        self._webhooks = webhooks
        self._max_members = max_presence_members
        self._cache_ttl = cache_ttl
        self.connections: dict[str, Connection] = {}
        self.channels: dict[str, Channel] = {}
        self._users: dict[str, dict[str, Connection]] = {}
        self._cache: dict[str, _Cached] = {}
        self._empty = asyncio.Event()
        self._empty.set()

    # Connections

    def add(self, conn: Connection) -> None:
        self.connections[conn.socket_id] = conn
        self._empty.clear()
        logger.debug("connected %s (%d open)", conn.socket_id, len(self.connections))

    def remove(self, conn: Connection) -> None:
        """Forget a closed connection: leave its channels, sign it out."""
        conn.abandon()
        for name in list(conn.channels):
            self.leave(conn, name)
        self.sign_out(conn)
        self.connections.pop(conn.socket_id, None)
        if not self.connections:
            self._empty.set()
        logger.debug("disconnected %s (%d open)", conn.socket_id, len(self.connections))

    def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.connections.values()):
            conn.close(code, reason)

    async def wait_empty(self) -> None:
        """Return once no connection is open (callers bound the wait)."""
        await self._empty.wait()

    # Users

    def sign_in(self, conn: Connection, user: User) -> None:
        self.sign_out(conn)
        conn.user = user
        self._users.setdefault(user.user_id, {})[conn.socket_id] = conn
        logger.debug("signed in %s as user %s", conn.socket_id, user.user_id)

    def sign_out(self, conn: Connection) -> None:
        if conn.user is None:
            return
        sockets = self._users.get(conn.user.user_id, {})
        sockets.pop(conn.socket_id, None)
        if not sockets:
            self._users.pop(conn.user.user_id, None)
        conn.user = None

    def terminate_user(self, user_id: str) -> int:
        """Close every connection signed in as `user_id` with 4009; returns how many."""
        conns = list(self._users.get(user_id, {}).values())
        for conn in conns:
            conn.close(Code.UNAUTHORIZED, "Connection terminated by the server")
        logger.debug("terminated %d connections of user %s", len(conns), user_id)
        return len(conns)

    # Subscriptions

    def join(self, conn: Connection, name: str, member: Member | None) -> Channel:
        """Subscribe `conn` (already authorized) to `name`; announce a new presence member.

        Raises SubscriptionRefused when a presence channel already has its maximum of members.
        """
        channel = self.channels.get(name) or Channel(name, channel_type(name))
        new_user = member is not None and member.user_id not in channel.members
        if new_user and len(channel.members) >= self._max_members:
            raise SubscriptionRefused(
                "LimitReached",
                f"The maximum of {self._max_members} members per presence channel was reached",
                Code.OVER_CAPACITY,
            )
        if not channel.subscribers:
            self.channels[name] = channel
            self._webhooks.emit({"name": "channel_occupied", "channel": name})
        channel.subscribers[conn.socket_id] = conn
        conn.channels[name] = member
        if member is not None:
            entry = channel.members.setdefault(
                member.user_id, PresenceEntry(member.user_info, set())
            )
            entry.sockets.add(conn.socket_id)
            if new_user:
                added = protocol.member_added(name, member.user_id, member.user_info)
                self._broadcast(channel, added, exclude=conn.socket_id)
                self._webhooks.emit(
                    {"name": "member_added", "channel": name, "user_id": member.user_id}
                )
        logger.debug("subscribed %s to %s", conn.socket_id, name)
        return channel

    def leave(self, conn: Connection, name: str) -> None:
        if name not in conn.channels:
            return
        member = conn.channels.pop(name)
        channel = self.channels[name]
        del channel.subscribers[conn.socket_id]
        if member is not None:
            entry = channel.members[member.user_id]
            entry.sockets.discard(conn.socket_id)
            if not entry.sockets:
                del channel.members[member.user_id]
                self._broadcast(channel, protocol.member_removed(name, member.user_id))
                self._webhooks.emit(
                    {"name": "member_removed", "channel": name, "user_id": member.user_id}
                )
        if not channel.subscribers:
            del self.channels[name]
            self._webhooks.emit({"name": "channel_vacated", "channel": name})
        logger.debug("unsubscribed %s from %s", conn.socket_id, name)

    # Events

    def publish(
        self,
        name: str,
        event: str,
        data: object,
        *,
        exclude: str | None = None,
        user_id: str | None = None,
        cache: bool = False,
    ) -> None:
        """Send an event to every subscriber of `name` except the socket `exclude`.

        With `cache`, a cache channel also remembers it for later subscribers.
        """
        frame = protocol.channel_event(name, event, data, user_id=user_id)
        if cache and channel_type(name).cached:
            self._cache[name] = _Cached(frame, time.monotonic() + self._cache_ttl)
        channel = self.channels.get(name)
        count = self._broadcast(channel, frame, exclude=exclude) if channel else 0
        logger.debug("event %s on %s -> %d subscribers", event, name, count)

    def cached_frame(self, name: str) -> str | None:
        """The last cached event of a cache channel, if it has not expired."""
        cached = self._cache.get(name)
        if cached is None:
            return None
        if cached.expires_at < time.monotonic():
            del self._cache[name]
            return None
        return cached.frame

    def _broadcast(self, channel: Channel, frame: str, *, exclude: str | None = None) -> int:
        count = 0
        for socket_id, conn in channel.subscribers.items():
            if socket_id != exclude:
                conn.send(frame)
                count += 1
        return count
