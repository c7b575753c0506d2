"""Sending text messages on the audio hot path with fewer system calls and less overhead.

Every 20 ms chunk of a call costs the bridge an `input_audio_buffer.append` to OpenAI and a
`media` frame, usually followed by a `mark`, to the caller. Two things made those sends the
largest share of the bridge's CPU (docs/benchmarks.md, "Voice bridge"):

- websockets writes each frame to the transport on its own, and with TCP_NODELAY (asyncio's
  default) every write is a send(2); on loopback the receiver's side of TCP runs inside the
  sender's system call. `send_texts` queues the messages as separate, unchanged frames and
  `CoalescingConnection` hands what is queued to the transport as one buffer: the same bytes on
  the wire, one system call.
- `Connection.send` goes through an async context manager even when nothing can block.
  `send_texts` takes the direct path only when that path is exactly what `send` would do: the
  connection is open, no fragmented message is being sent and the transport is neither
  closing nor paused (so `send`'s drain would not wait). Otherwise it is `send` as usual, with
  its waiting and its ConnectionClosed.

And receiving: each message normally travels websockets' queue (a future, a task wake-up, an
`await recv()`) before the call's task sees it. `intercept` lets the call take the messages it
can handle on the spot (audio both ways, mark echoes) inside `data_received`, with no queue and
no task switch, writing on with `send_now`. A message is offered only when nothing is ahead of
it: the queue is empty and the call's task is parked waiting for the next message, so the call
sees every message in order either way. The interceptor returns False to leave a message to the
queue (anything it does not handle, or when the socket it would write to is not ready).
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Sequence

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, Side, State

try:
    from websockets.speedups import apply_mask  # C, as websockets itself uses
except ImportError:  # a build without the C extension
    from websockets.utils import apply_mask

log = logging.getLogger("worker.wire")

Interceptor = Callable[[str], bool]
"""Takes one text message now (True) or leaves it to the queue (False). Must not raise."""


def _idle(connection: Connection) -> bool:
    """Nothing queued, and the reader parked waiting for the next message."""
    frames = connection.recv_messages.frames
    waiter = frames.get_waiter
    return not frames.queue and waiter is not None and not waiter.done()


def _offer(connection: Connection, intercept: Interceptor | None, event: Event) -> bool:
    if (
        intercept is None
        or not isinstance(event, Frame)
        or event.opcode is not Opcode.TEXT
        or not event.fin
        or not _idle(connection)
    ):
        return False
    try:
        text = str(event.data, "utf-8")
    except UnicodeDecodeError:
        return False  # the queue's own decoding closes the connection (1007)
    try:
        return intercept(text)
    except Exception:  # a bug in the interceptor: the message is lost, the call goes on
        log.exception("intercepting a message failed")
        return True


class CoalescingConnection(ServerConnection):
    """A server connection that writes the frames queued together in one transport write
    and offers its messages to `intercept`."""

    intercept: Interceptor | None = None

    def send_data(self) -> None:
        writes = self.protocol.writes
        # b"" asks for a half-close (EOF): the library's own loop must see it
        if len(writes) > 1 and all(writes):
            self.protocol.writes = [b"".join(writes)]
        super().send_data()

    def process_event(self, event: Event) -> None:
        if not _offer(self, self.intercept, event):
            super().process_event(event)


class InterceptingClientConnection(ClientConnection):
    """A client connection (to OpenAI) that offers its messages to `intercept`."""

    intercept: Interceptor | None = None

    def process_event(self, event: Event) -> None:
        if not _offer(self, self.intercept, event):
            super().process_event(event)


def ready(connection: Connection) -> bool:
    """Whether a send would go out now, without waiting (what `send_now` needs)."""
    return (
        connection.protocol.state is State.OPEN
        and connection.fragmented_send_waiter is None
        and not connection.paused
        and not connection.transport.is_closing()
    )


def send_now(connection: Connection, texts: Sequence[str]) -> None:
    """Send `texts` (each its own message) in one write, right now; only when `ready`.

    The frames are the ones `protocol.send_text` would queue (one final text frame each, no
    extensions: the bridge turns compression off), built here without its per-frame objects,
    and a client's masking keys come from `_masks` rather than a system call each."""
    protocol = connection.protocol
    if protocol.extensions or protocol.expect_continuation_frame:
        for text in texts:
            protocol.send_text(text.encode())
    else:
        client = protocol.side is Side.CLIENT
        protocol.writes.extend(text_frame(text.encode(), masked=client) for text in texts)
    connection.send_data()


class _Masks:
    """Masking keys for client frames: unpredictable, as RFC 6455 (section 5.3) requires, and
    drawn from the OS's CSPRNG (os.urandom, which websockets calls for each frame) 4 KiB at a
    time, one system call per 1,024 frames."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(4096), 0
        key = self._pool[self._at : self._at + 4]
        self._at += 4
        return key


_masks = _Masks()


def text_frame(data: bytes, *, masked: bool) -> bytes:
    """One final text frame (RFC 6455 section 5.2) carrying `data`."""
    size = len(data)
    bit = 0x80 if masked else 0
    if size < 126:
        header = bytes((0x81, bit | size))
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, bit | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, bit | 127, size)
    if not masked:
        return header + data
    key = _masks.next()
    return header + key + apply_mask(data, key)


async def send_texts(connection: Connection, texts: Sequence[str]) -> None:
    """Send each of `texts` as its own text message, in order (one write on a
    `CoalescingConnection`). Raises ConnectionClosed like `Connection.send`."""
    if ready(connection):
        send_now(connection, texts)
        return
    if len(texts) == 1:
        await connection.send(texts[0])
        return
    async with connection.send_context():
        for text in texts:
            connection.protocol.send_text(text.encode())
