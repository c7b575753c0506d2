"""One socket's Phoenix channels: join, leave, broadcast, presence, access_token, heartbeat.

Mirrors RealtimeWeb.RealtimeChannel for what Sockless uses. Replies and refusals carry the
reasons hosted Realtime gives (`Unauthorized: You do not have permissions to read from this
Channel topic: X`), and a channel whose token expires or is replaced by one that may no
longer read is ended as Realtime ends it: a `system` message with status `error`, then
`phx_close`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .frames import Broadcast, Frame, encode, ws_frame
from .hub import Hub, TopicKey
from .policies import Authorizer, Policies
from .tokens import Claims, TokenRefused, verify

logger = logging.getLogger("dev.supabase_realtime")

TOPIC_PREFIX = "realtime:"
CONFIRM_TOKEN_EVERY_S = 300.0
"""Realtime re-checks a channel's token every 5 minutes, or when it expires if sooner."""
MAX_PENDING = 10_000
MAX_BUFFERED_BYTES = 8 * 1024 * 1024


class DirectWriter(Protocol):
    def writable(self) -> bool: ...
    def buffered(self) -> int: ...
    def write(self, frame: bytes) -> None: ...


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


class Connection:
    """The outgoing side of one socket: a queue the writer task drains, or, when the socket
    has nothing queued and its transport takes writes, the frame written at once
    (`direct`, see server.py): a fan-out to 1,000 sockets then costs 1,000 transport writes
    of one pre-built frame instead of 1,000 task switches through the ASGI send path."""

    def __init__(self, vsn: str, apikey: str, direct: DirectWriter | None = None) -> None:
        self.vsn = vsn
        self.apikey = apikey
        self.queue: asyncio.Queue[str | bytes | Close] = asyncio.Queue()
        self.closed = False
        self.direct = direct

    def encode(self, frame: Frame) -> str | bytes | None:
        return encode(frame, self.vsn)

    def send(self, frame: Frame) -> None:
        data = self.encode(frame)
        if data is not None:
            self.send_encoded(data)

    def send_encoded(self, data: str | bytes, frame: bytes | None = None) -> None:
        """Queue `data`, or write it now: `frame` is its WebSocket frame if already built."""
        if self.closed:
            return
        direct = self.direct
        if direct is not None and self.queue.empty() and direct.writable():
            if direct.buffered() > MAX_BUFFERED_BYTES:
                self.close(1008, "client is not reading")
                return
            direct.write(frame if frame is not None else ws_frame(data))
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.close(1008, "client is not reading")
            return
        self.queue.put_nowait(data)

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(Close(code, reason))


@dataclass(eq=False)
class Join:
    """One joined channel (Phoenix: one channel process)."""

    conn: Connection
    topic: str
    join_ref: str | None
    private: bool
    self_broadcast: bool
    ack: bool
    presence_key: str
    presence_enabled: bool
    claims: Claims
    policies: Policies | None = None
    timer: asyncio.TimerHandle | None = None

    @property
    def sub_topic(self) -> str:
        return self.topic.removeprefix(TOPIC_PREFIX)

    @property
    def key(self) -> TopicKey:
        return (self.sub_topic, self.private)

    @property
    def may_read_broadcast(self) -> bool:
        return self.policies is None or self.policies.broadcast_read

    @property
    def may_read_presence(self) -> bool:
        return self.policies is None or self.policies.presence_read

    def push(self, event: str, payload: Any) -> None:
        self.conn.send(Frame(self.topic, event, payload, None, self.join_ref))


class Session:
    def __init__(
        self, conn: Connection, *, hub: Hub, authorizer: Authorizer, jwt_secret: str
    ) -> None:
        self.conn = conn
        self.hub = hub
        self.authorizer = authorizer
        self.jwt_secret = jwt_secret
        self.joins: dict[str, Join] = {}

    def reply(self, frame: Frame, status: str, response: Any = None) -> None:
        self.conn.send(
            Frame(
                frame.topic,
                "phx_reply",
                {"status": status, "response": {} if response is None else response},
                frame.ref,
                frame.join_ref,
            )
        )

    async def handle(self, frame: Frame) -> None:
        if frame.topic == "phoenix":
            if frame.event == "heartbeat":
                self.reply(frame, "ok")
            return
        if frame.event == "phx_join":
            await self.join(frame)
            return
        join = self.joins.get(frame.topic)
        if join is None:
            self.reply(frame, "error", {"reason": "unmatched topic"})
            return
        handlers: dict[str, Callable[[Join, Frame], Any]] = {
            "phx_leave": self.leave,
            "broadcast": self.broadcast,
            "presence": self.presence,
            "access_token": self.access_token,
        }
        handler = handlers.get(frame.event)
        if handler is None:
            logger.info("unexpected %s on %s", frame.event, frame.topic)
            return
        result = handler(join, frame)
        if asyncio.iscoroutine(result):
            await result

    # -- join / leave -------------------------------------------------------------------

    async def join(self, frame: Frame) -> None:
        params = frame.payload if isinstance(frame.payload, dict) else {}
        if not frame.topic.startswith(TOPIC_PREFIX) or frame.topic == TOPIC_PREFIX:
            self.reply(
                frame, "error", {"reason": "TopicNameRequired: You must provide a topic name"}
            )
            return
        config = params.get("config") if isinstance(params.get("config"), dict) else {}
        broadcast = _dict(config.get("broadcast"))
        presence = _dict(config.get("presence"))
        token = params.get("access_token") or params.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = self.conn.apikey
        try:
            claims = verify(token, self.jwt_secret)
        except TokenRefused as exc:
            self.reply(frame, "error", {"reason": exc.reason})
            return
        previous = self.joins.pop(frame.topic, None)
        if previous is not None:  # Phoenix: a second join of a topic replaces the first
            self._end(previous)
            previous.push("phx_close", {})
        join = Join(
            conn=self.conn,
            topic=frame.topic,
            join_ref=frame.join_ref or frame.ref,
            private=config.get("private") is True,
            self_broadcast=broadcast.get("self") is True,
            ack=broadcast.get("ack") is True,
            presence_key=str(presence.get("key") or uuid.uuid1()),
            presence_enabled=presence.get("enabled") is True,
            claims=claims,
        )
        if join.private:
            join.policies = await self.authorizer.read(join.sub_topic, claims)
            if not (join.policies.broadcast_read or join.policies.presence_read):
                self.reply(frame, "error", {"reason": _cannot_read(join.sub_topic)})
                return
        self.joins[join.topic] = join
        self.hub.add(join)
        self._schedule_confirm(join)
        self.reply(frame, "ok", {"postgres_changes": []})
        if join.presence_enabled and join.may_read_presence:
            join.push("presence_state", self.hub.state(join.key))

    def leave(self, join: Join, frame: Frame) -> None:
        self.joins.pop(join.topic, None)
        self._end(join)
        self.reply(frame, "ok")

    def _end(self, join: Join) -> None:
        if join.timer is not None:
            join.timer.cancel()
        self.hub.remove(join)

    def shutdown(self, join: Join, message: str) -> None:
        """End a channel as Realtime's shutdown_response does."""
        if self.joins.get(join.topic) is not join:
            return
        del self.joins[join.topic]
        self._end(join)
        join.push(
            "system",
            {
                "extension": "system",
                "status": "error",
                "message": message,
                "channel": join.sub_topic,
            },
        )
        join.push("phx_close", {})

    def close_all(self) -> None:
        for join in list(self.joins.values()):
            self._end(join)
        self.joins.clear()

    # -- broadcast / presence ---------------------------------------------------------------

    async def broadcast(self, join: Join, frame: Frame) -> None:
        message = frame.payload if isinstance(frame.payload, Broadcast) else _json_broadcast(frame)
        if message is None:
            if join.ack:
                self.reply(frame, "error", {"reason": "invalid broadcast payload"})
            return
        if join.private:
            assert join.policies is not None
            if join.policies.broadcast_write is None:
                await self.authorizer.write(join.sub_topic, join.claims, join.policies)
            if not join.policies.broadcast_write:
                return  # as Realtime: dropped without a reply, so an acked send times out
        self.hub.broadcast(join.key, message, sender=join)
        if join.ack:
            self.reply(frame, "ok")

    async def presence(self, join: Join, frame: Frame) -> None:
        payload = _dict(frame.payload)
        event = str(payload.get("event", "")).lower()
        if event == "untrack":
            self.hub.untrack(join)
            self.reply(frame, "ok")
            return
        if event != "track":
            self.reply(frame, "error", {"reason": f"unknown presence event {event!r}"})
            return
        meta = payload.get("payload", {})
        if not isinstance(meta, dict):
            self.reply(frame, "error", {"reason": "Presence track payload must be a map"})
            return
        if join.private:
            assert join.policies is not None
            if join.policies.presence_write is None:
                await self.authorizer.write(join.sub_topic, join.claims, join.policies)
            if not join.policies.presence_write:
                self.reply(frame, "error")
                return
        join.presence_enabled = True
        self.hub.track(join, meta)
        self.reply(frame, "ok")

    # -- tokens -----------------------------------------------------------------------------

    async def access_token(self, join: Join, frame: Frame) -> None:
        token = _dict(frame.payload).get("access_token")
        if not isinstance(token, str) or token.startswith("sb_") or token == join.claims.token:
            return
        try:
            claims = verify(token, self.jwt_secret)
        except TokenRefused as exc:
            self.shutdown(join, exc.reason.split(": ", 1)[-1])
            return
        join.claims = claims
        if join.private:
            before = join.policies
            join.policies = await self.authorizer.read(join.sub_topic, claims)
            revoked = before is not None and (
                (before.broadcast_read and not join.policies.broadcast_read)
                or (before.presence_read and not join.policies.presence_read)
            )
            if revoked:
                self.shutdown(join, _no_longer(join.sub_topic))
                return
        self._schedule_confirm(join)

    def _schedule_confirm(self, join: Join) -> None:
        if join.timer is not None:
            join.timer.cancel()
        delay = max(0.0, min(CONFIRM_TOKEN_EVERY_S, join.claims.expires_in_s + 0.05))
        join.timer = asyncio.get_running_loop().call_later(delay, self._confirm, join)

    def _confirm(self, join: Join) -> None:
        try:
            verify(join.claims.token, self.jwt_secret)
        except TokenRefused as exc:
            self.shutdown(join, exc.reason.split(": ", 1)[-1])
            return
        self._schedule_confirm(join)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_broadcast(frame: Frame) -> Broadcast | None:
    payload = _dict(frame.payload)
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        return None
    return Broadcast(event=event, payload=payload.get("payload"))


def _cannot_read(topic: str) -> str:
    return f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"


def _no_longer(topic: str) -> str:
    return f"You no longer have permission to read from this Channel topic: {topic}"
