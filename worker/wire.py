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
from websockets.protocol import Event, Protocol, Side, State
from websockets.streams import StreamReader

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
    ):
        return False
    return _offer_text(connection, intercept, event.data)


def _offer_text(
    connection: Connection, intercept: Interceptor | None, data: bytes | bytearray | memoryview
) -> bool:
    if intercept is None or not _idle(connection):
        return False
    try:
        text = str(data, "utf-8")
    except UnicodeDecodeError:
        return False  # the queue's own decoding closes the connection (1007)
    try:
        return intercept(text)
    except Exception:  # a bug in the interceptor: the message is lost, the call goes on
        log.exception("intercepting a message failed")
        return True


_AT_EOF = StreamReader.at_eof.__code__


def _at_frame_boundary(protocol: Protocol) -> bool:
    """The protocol's parser has consumed whole frames and waits for the next one: its
    buffer is empty and its generator is parked in `reader.at_eof()`, which it calls only
    between frames (websockets.protocol.Protocol.parse)."""
    inner = protocol.parser  # a server's parser delegates to Protocol.parse after the request
    while (deeper := getattr(inner, "gi_yieldfrom", None)) is not None:
        inner = deeper
    return (
        protocol.state is State.OPEN
        and not protocol.reader.buffer
        and protocol.cur_size is None
        and getattr(inner, "gi_code", None) is _AT_EOF
    )


class _FastFrames(Connection):
    """Incoming bytes split into frames here: a complete, final, correctly masked text frame
    (all of a call's messages) goes straight to `intercept` or the message queue, as
    websockets' own parser would put it there; every other complete frame (ping, pong, close,
    fragments, anything invalid) is handed to websockets' protocol whole, so its parser stays
    between frames. Engaged only from a moment the protocol is between frames; anything it
    cannot follow (a frame over max_size, the protocol leaving OPEN) hands the rest back to
    websockets for good. Saves the generator-based parser's per-frame cost (about a fifth of
    the bridge's CPU in py-spy profiles: docs/calls.md, "Capacity")."""

    intercept: Interceptor | None = None
    _frames: bytearray | None = None
    _frames_off: bool = False

    def send_data(self) -> None:
        """What is queued goes out in one transport write (one system call)."""
        writes = self.protocol.writes
        # b"" asks for a half-close (EOF): the library's own loop must see it
        if len(writes) > 1 and all(writes):
            self.protocol.writes = [b"".join(writes)]
        super().send_data()

    def _slow(self, data: bytes) -> None:
        super().data_received(data)

    def data_received(self, data: bytes) -> None:
        # what the messages of this read send (send_now) goes out once they are all handled:
        # one write per socket per read, however many messages the read held
        _held.append([])
        try:
            self._read(data)
        finally:
            for connection in _held.pop():
                connection.send_data()

    def _read(self, data: bytes) -> None:
        buffer = self._frames
        if buffer is None:
            if self._frames_off or not _at_frame_boundary(self.protocol):
                self._slow(data)
                return
            buffer = self._frames = bytearray()
        buffer += data
        protocol = self.protocol
        masked_in = protocol.side is Side.SERVER
        limit = protocol.max_size
        at, size_all = 0, len(buffer)
        while size_all - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size_all - at < 4:
                    break
                length, head = int.from_bytes(buffer[at + 2 : at + 4]), 4
            elif length == 127:
                if size_all - at < 10:
                    break
                length, head = int.from_bytes(buffer[at + 2 : at + 10]), 10
            masked = bool(second & 0x80)
            head += 4 if masked else 0
            if limit is not None and length > limit:
                self._give_up(buffer, at)  # websockets refuses it (1009)
                return
            end = at + head + length
            if end > size_all:
                break
            if (
                first == 0x81
                and masked == masked_in
                and protocol.state is State.OPEN
                and protocol.cur_size is None
            ):
                payload = bytes(buffer[at + head : end])
                if masked:
                    payload = apply_mask(payload, bytes(buffer[at + head - 4 : at + head]))
                if not _offer_text(self, self.intercept, payload):
                    self.recv_messages.put(Frame(Opcode.TEXT, payload))
            else:
                self._slow(bytes(buffer[at:end]))
                if not _at_frame_boundary(protocol):
                    self._give_up(buffer, end)
                    return
            at = end
        del buffer[:at]

    def _give_up(self, buffer: bytearray, at: int) -> None:
        rest = bytes(buffer[at:])
        self._frames, self._frames_off = None, True
        if rest:
            self._slow(rest)


class CoalescingConnection(_FastFrames, ServerConnection):
    """A server connection (the caller's) that reads its frames itself, writes the frames
    queued together in one transport write (`_FastFrames`) and offers its messages to
    `intercept`."""

    intercept: Interceptor | None = None

    def process_event(self, event: Event) -> None:
        if not _offer(self, self.intercept, event):
            super().process_event(event)


class InterceptingClientConnection(_FastFrames, ClientConnection):
    """A client connection (to OpenAI) that reads its frames itself (`_FastFrames`) and offers
    its messages to `intercept`."""

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
    """Send `texts` (each its own message) in one write, now (or, while a read's messages are
    being handled, together with what the others send once they are); only when `ready`.

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
    if not _held:
        connection.send_data()
    elif connection not in _held[-1]:
        _held[-1].append(connection)


_held: list[list[Connection]] = []
"""While a read's messages are handled (`_FastFrames.data_received`): the connections
`send_now` queued frames on, written once the read is done."""


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
