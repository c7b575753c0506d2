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
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.protocol import State


class CoalescingConnection(ServerConnection):
    """A server connection that writes the frames queued together in one transport write."""

    def send_data(self) -> None:
        writes = self.protocol.writes
        # b"" asks for a half-close (EOF): the library's own loop must see it
        if len(writes) > 1 and all(writes):
            self.protocol.writes = [b"".join(writes)]
        super().send_data()


def _ready(connection: Connection) -> bool:
    return (
        connection.protocol.state is State.OPEN
        and connection.fragmented_send_waiter is None
        and not connection.paused
        and not connection.transport.is_closing()
    )


async def send_texts(connection: Connection, texts: Sequence[str]) -> None:
    """Send each of `texts` as its own text message, in order (one write on a
    `CoalescingConnection`). Raises ConnectionClosed like `Connection.send`."""
    if _ready(connection):
        for text in texts:
            connection.protocol.send_text(text.encode())
        connection.send_data()
        return
    if len(texts) == 1:
        await connection.send(texts[0])
        return
    async with connection.send_context():
        for text in texts:
            connection.protocol.send_text(text.encode())
