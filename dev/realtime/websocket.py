"""The WebSocket endpoint `/app/{key}`: handshake, the read loop with ping/idle timeout,
and the writer task that drains a connection's queue onto the socket."""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import protocol
from .channels import Hub
from .config import RealtimeConfig
from .connection import Close, Connection, new_socket_id
from .protocol import SUPPORTED_PROTOCOLS, Code
from .session import Session
from .webhooks import WebhookSink

logger = logging.getLogger("dev.realtime")

_CLOSE_GRACE = 10.0


class WebSocketEndpoint:
    def __init__(self, *, hub: Hub, config: RealtimeConfig, webhooks: WebhookSink) -> None:
        self._hub = hub
        self._config = config
        self._webhooks = webhooks

    async def handle(self, websocket: WebSocket) -> None:
        await websocket.accept()
        refusal = self._refusal(websocket)
        if refusal is not None:
            code, reason = refusal
            logger.debug("refused connection: %s", reason)
            await websocket.send_text(protocol.error(reason, code))
            await websocket.close(code, reason)
            return
        limits = self._config.limits
        conn = Connection(
            socket_id=new_socket_id(),
            max_pending=limits.max_pending_frames,
            client_event_rate=limits.client_events_per_second,
        )
        session = Session(conn, hub=self._hub, config=self._config, webhooks=self._webhooks)
        self._hub.add(conn)
        conn.send(protocol.connection_established(conn.socket_id, self._config.activity_timeout))
        writer = asyncio.create_task(
            _write(websocket, conn), name=f"realtime-write-{conn.socket_id}"
        )
        try:
            await self._read(websocket, conn, session)
        finally:
            self._hub.remove(conn)
            writer.cancel()
            await asyncio.wait({writer})
        if not writer.cancelled() and (error := writer.exception()) is not None:
            raise error

    def _refusal(self, websocket: WebSocket) -> tuple[int, str] | None:
        key = websocket.path_params.get("key", "")
        if key != self._config.key:
            return Code.UNKNOWN_APP, f"App key {key} does not exist"
        version = websocket.query_params.get("protocol", "")
        if not version.isdigit() or int(version) not in SUPPORTED_PROTOCOLS:
            return Code.UNSUPPORTED_PROTOCOL, f"Unsupported protocol version {version!r}"
        return None

    async def _read(self, websocket: WebSocket, conn: Connection, session: Session) -> None:
        """Read frames until the client disconnects.

        After `activity_timeout` seconds of silence the server sends pusher:ping; with no
        frame at all within `pong_timeout` after that, the connection is closed with 4201.
        Once the server is closing the connection, the client gets `_CLOSE_GRACE` seconds
        to take the close; a client that never reads is then given up on.
        """
        awaiting_pong = False
        while True:
            if conn.closing:
                timeout = _CLOSE_GRACE
            elif awaiting_pong:
                timeout = float(self._config.pong_timeout)
            else:
                timeout = float(self._config.activity_timeout)
            try:
                async with asyncio.timeout(timeout):
                    message = await websocket.receive()
            except TimeoutError:
                if conn.closing:
                    logger.debug("%s never took its close; dropping it", conn.socket_id)
                    return
                if awaiting_pong:
                    logger.debug("%s did not answer ping", conn.socket_id)
                    conn.close(Code.PONG_TIMEOUT, "Pong reply not received")
                else:
                    conn.send(protocol.ping())
                    awaiting_pong = True
                continue
            if message["type"] == "websocket.disconnect":
                return
            awaiting_pong = False
            text = message.get("text")
            if text is None:
                conn.send(protocol.error("Binary frames are not supported"))
                continue
            session.handle_text(text)


async def _write(websocket: WebSocket, conn: Connection) -> None:
    try:
        while True:
            item = await conn.next_outgoing()
            if isinstance(item, Close):
                logger.debug("closing %s with %d (%s)", conn.socket_id, item.code, item.reason)
                await websocket.close(item.code, item.reason)
                return
            await websocket.send_text(item)
    except (WebSocketDisconnect, OSError):
        conn.abandon()
