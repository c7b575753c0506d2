"""SupabaseRealtime: the `/realtime/v1/websocket` endpoint and REST broadcast delivery.

    realtime = SupabaseRealtime(jwt_secret=..., dsn=<postgres superuser dsn>)
    await realtime.asgi(scope, receive, send)           # the gateway routes WEBSOCKET_PATH here
    await realtime.broadcast(messages)                 # POST /realtime/v1/api/broadcast
    await realtime.close()                             # at shutdown

Clients connect to `ws://<gateway>/realtime/v1/websocket?apikey=<anon key>&vsn=1.0.0|2.0.0`
(what `createClient(url, anonKey)` does). The apikey must be a JWT signed with the
project's secret, as on hosted Supabase; otherwise the upgrade is refused (403).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .frames import V1, VERSIONS, Broadcast, FrameError, decode
from .hub import Hub
from .policies import Authorizer
from .session import Close, Connection, Session
from .tokens import TokenRefused, verify

logger = logging.getLogger("dev.supabase_realtime")

WEBSOCKET_PATH = "/realtime/v1/websocket"
IDLE_TIMEOUT_S = 60.0
"""Phoenix closes a socket that sent nothing (not even a heartbeat) for 60 s."""


class SupabaseRealtime:
    def __init__(self, *, jwt_secret: str, dsn: str) -> None:
        self.jwt_secret = jwt_secret
        self.hub = Hub()
        self._dsn = dsn
        self._authorizer: Authorizer | None = None
        self.sessions: set[Session] = set()
        self.fanout_ms: deque[float] = deque(maxlen=1000)
        """How long each REST broadcast took to hand its frames to every socket (bench)."""

    @property
    def authorizer(self) -> Authorizer:
        if self._authorizer is None:  # created in the serving loop, on first use
            self._authorizer = Authorizer(self._dsn)
        return self._authorizer

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app for WEBSOCKET_PATH (called with the server's own `send`)."""
        await self.websocket(WebSocket(scope, receive, send))

    async def close(self) -> None:
        for session in list(self.sessions):
            session.conn.close(1001, "server shutting down")
        if self._authorizer is not None:
            await self._authorizer.close()

    def broadcast(self, messages: list[dict[str, Any]]) -> int:
        """Deliver REST broadcast messages ({topic, event, payload, private}); returns how
        many deliveries were made."""
        delivered = 0
        started = time.perf_counter()
        for message in messages:
            delivered += self.hub.broadcast(
                (message["topic"], bool(message.get("private"))),
                Broadcast(event=message["event"], payload=message.get("payload", {})),
            )
        self.fanout_ms.append((time.perf_counter() - started) * 1000)
        return delivered

    async def websocket(self, websocket: WebSocket) -> None:
        apikey = websocket.query_params.get("apikey") or websocket.headers.get("apikey") or ""
        vsn = websocket.query_params.get("vsn") or V1
        try:
            verify(apikey, self.jwt_secret)
        except TokenRefused:
            await websocket.close(1008)  # before accept: the upgrade is answered 403
            return
        if vsn not in VERSIONS:
            await websocket.close(1008)
            return
        await websocket.accept()
        conn = Connection(vsn, apikey, _direct_writer(websocket))
        session = Session(
            conn, hub=self.hub, authorizer=self.authorizer, jwt_secret=self.jwt_secret
        )
        self.sessions.add(session)
        writer = asyncio.create_task(_write(websocket, conn))
        try:
            await _read(websocket, session)
        finally:
            self.sessions.discard(session)
            session.close_all()
            conn.close(1000, "")
            await asyncio.wait({writer}, timeout=2)
            writer.cancel()


class _UvicornDirect:
    """Writes whole frames to uvicorn's transport for this socket (its websockets-sansio
    protocol writes each frame with one transport.write too, so frames never interleave)."""

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def writable(self) -> bool:
        p = self._protocol
        return bool(
            p.writable.is_set()
            and not p.disconnected
            and not p.close_sent
            and not p.transport.is_closing()
        )

    def buffered(self) -> int:
        return int(self._protocol.transport.get_write_buffer_size())

    def write(self, frame: bytes) -> None:
        self._protocol.transport.write(frame)


def _direct_writer(websocket: WebSocket) -> _UvicornDirect | None:
    """Direct frame writes when the socket is served by uvicorn's websockets-sansio protocol
    (what dev.servers.BackgroundServer runs); None (queue only) under anything else."""
    protocol = getattr(websocket._send, "__self__", None)  # noqa: SLF001 - the ASGI server's send
    needed = ("writable", "disconnected", "close_sent", "transport")
    if protocol is None or not all(hasattr(protocol, name) for name in needed):
        return None
    if not isinstance(protocol.transport, asyncio.Transport):
        return None
    return _UvicornDirect(protocol)


async def _read(websocket: WebSocket, session: Session) -> None:
    while not session.conn.closed:
        try:
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                message = await websocket.receive()
        except TimeoutError:
            session.conn.close(1000, "heartbeat timeout")
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        try:
            frame = decode(data, session.conn.vsn)
        except FrameError as exc:
            session.conn.close(1007, str(exc)[:120])
            return
        try:
            await session.handle(frame)
        except Exception:
            logger.exception("frame %s on %s failed", frame.event, frame.topic)
            session.reply(frame, "error", {"reason": "Unknown Error on Channel"})


async def _write(websocket: WebSocket, conn: Connection) -> None:
    try:
        while True:
            item = await conn.queue.get()
            if isinstance(item, Close):
                await websocket.close(item.code, item.reason)
                return
            if isinstance(item, bytes):
                await websocket.send_bytes(item)
            else:
                await websocket.send_text(item)
    except (WebSocketDisconnect, OSError, RuntimeError):
        conn.closed = True
