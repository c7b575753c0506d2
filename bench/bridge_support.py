"""The parts of the voice bridge benchmark that are not the bridge, kept minimal so that the
bridge is what is measured: a bare WebSocket phone speaking the media-stream protocol, a bare
WebSocket OpenAI that echoes audio back, and a stub of the two PostgREST calls a call makes.

`python -m bench.bridge_support` serves the echo and the stub in their own process (so they do
not compete with the phones for one interpreter) and prints `echo=<port> rest=<port>`; it
stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field

from lib.features.calls import token

SECRET = "bench-stream-secret"  # noqa: S105 - a local benchmark key
PATH_SECRET = "bench-path-secret-0123456789"  # noqa: S105 - the bridge's stream path secret
FRAME_MS = 20
ZERO_MASK = bytes(4)
"""Client frames must be masked; on loopback a zero key keeps the XOR out of the measurement."""


async def rest_stub(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """PostgREST, as far as the bridge uses it: POST /rpc/calls_stream_start (the call),
    POST /rpc/calls_finish."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while line := await reader.readline():
            method, target = line.decode().split()[:2]
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            sent = await reader.readexactly(length)
            if method == "POST" and target.endswith("/rpc/calls_stream_start"):
                call = {
                    "id": json.loads(sent)["p_call_id"],
                    "owner_id": "bench",
                    "direction": "inbound",
                    "goal": "bench",
                    "context": {},
                    "finished_at": None,
                }
                body = {"started": True, "reason": None, "call": call}
            else:
                body = {"call": {}, "events": [], "duplicate": False}  # type: ignore[assignment]
            data = json.dumps(body).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    writer.close()


DELTA = (
    '{"type":"response.output_audio.delta","response_id":"r","item_id":"i",'
    '"output_index":0,"content_index":0,"delta":"'
)
APPEND = '{"type":"input_audio_buffer.append","audio":"'
MEDIA = '{"event":"media","streamSid":"MZ","media":{"payload":"'
MARK = '{"event":"mark","streamSid":"MZ","mark":{"name":"'
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FRAME_BYTES = 160
"""20 ms of 8 kHz μ-law; each frame a phone sends starts with its 8-byte sequence number."""


def chunks(audio: bytes) -> list[bytes]:
    return [audio[at : at + FRAME_BYTES] for at in range(0, len(audio), FRAME_BYTES)]


def server_frame(opcode: int, data: bytes) -> bytes:
    size = len(data)
    if size < 126:
        return bytes([0x80 | opcode, size]) + data
    if size < 65536:
        return bytes([0x80 | opcode, 126]) + size.to_bytes(2) + data
    return bytes([0x80 | opcode, 127]) + size.to_bytes(8) + data


class Echo(asyncio.Protocol):
    """A bare WebSocket server (no library, so the load generator stays light):
    /v1/realtime is OpenAI echoing each appended chunk as an audio delta; /direct echoes
    media-stream frames straight back (the baseline)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.direct: bool | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if self.direct is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode()
            del self.buffer[: end + 4]
            key = re.search(r"(?i)sec-websocket-key:\s*(\S+)", head)
            handshake = ((key[1] if key else "") + GUID).encode()
            accept = base64.b64encode(hashlib.sha1(handshake, usedforsecurity=False).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.direct = head.split()[1].startswith("/direct")
            if not self.direct:
                self.transport.write(server_frame(1, b'{"type":"session.created","session":{}}'))
        while len(self.buffer) >= 6:
            length, offset = self.buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(self.buffer[2:4]), 4
            elif length == 127:
                length, offset = int.from_bytes(self.buffer[2:10]), 10
            if len(self.buffer) < offset + 4 + length:
                return
            opcode, mask = self.buffer[0] & 0x0F, bytes(self.buffer[offset : offset + 4])
            masked = bytes(self.buffer[offset + 4 : offset + 4 + length])
            del self.buffer[: offset + 4 + length]
            if mask == ZERO_MASK:
                payload = masked
            else:
                repeated = (mask * (length // 4 + 1))[:length]
                payload = (int.from_bytes(masked) ^ int.from_bytes(repeated)).to_bytes(length)
            self.on_frame(opcode, payload)

    def on_frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 0x8:
            self.transport.write(server_frame(0x8, payload[:2]))
            self.transport.close()
        elif opcode == 0x9:
            self.transport.write(server_frame(0xA, payload))
        elif opcode == 0x1 and self.direct:
            at = payload.find(b'"payload":"')
            if at >= 0:
                audio = payload[at + 11 : payload.index(b'"', at + 11)]
                self.transport.write(server_frame(1, MEDIA.encode() + audio + b'"}}'))
        elif opcode == 0x1 and b'"input_audio_buffer.append"' in payload:
            # one 20 ms delta per 20 ms of audio, whatever size the bridge appended in, so a
            # bridge that batches its appends is not also handed fewer, larger deltas
            if payload.startswith(APPEND.encode()):
                audio = base64.b64decode(payload[len(APPEND) : -2])
            else:  # any other spelling of the JSON (the naive bridge's json.dumps)
                audio = base64.b64decode(json.loads(payload)["audio"])
            self.transport.write(
                b"".join(
                    server_frame(1, DELTA.encode() + base64.b64encode(chunk) + b'"}')
                    for chunk in chunks(audio)
                )
            )


@dataclass
class Samples:
    sent: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    recording: bool = False
    since: int = 0
    """perf_counter_ns() when recording began: only frames sent since then are counted."""


class LightPhone(asyncio.Protocol):
    """A bare client WebSocket speaking the media-stream protocol (masked text frames out,
    server frames in; no JSON decoding on the hot path)."""

    def __init__(self, index: int, path: str, start: str, samples: Samples) -> None:
        self.index, self.path, self.start, self.samples = index, path, start, samples
        self.buffer = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.frames = 0
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter_ns()
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(bytes(self.buffer[:end]).decode()))
                return
            del self.buffer[: end + 4]
            self.upgraded.set_result(None)
            self.send(self.start)
        while len(self.buffer) >= 2:
            length, offset = self.buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(self.buffer[2:4]), 4
            elif length == 127:
                length, offset = int.from_bytes(self.buffer[2:10]), 10
            if len(self.buffer) < offset + length:
                return
            opcode = self.buffer[0] & 0x0F
            payload = bytes(self.buffer[offset : offset + length])
            del self.buffer[: offset + length]
            if opcode == 0x1:
                self.on_text(payload, arrived)

    def on_text(self, text: bytes, arrived: int) -> None:
        media = text.find(b'"payload"')
        if media >= 0:
            start = text.index(b'"', media + 9) + 1  # `"payload":"` or `"payload": "`
            audio = base64.b64decode(text[start : text.index(b'"', start)])
            for chunk in chunks(audio):
                sent = self.samples.sent.pop(int.from_bytes(chunk[:8]), None)
                if sent is not None and self.samples.recording and sent >= self.samples.since:
                    self.samples.latencies_ms.append((arrived - sent) / 1e6)
        elif b'"mark"' in text:
            name_at = text.index(b'"', text.index(b'"name"') + 6) + 1
            name = text[name_at:].split(b'"', 1)[0].decode()
            self.send(MARK + name + '"}}')

    def send(self, text: str) -> None:
        assert self.transport is not None
        data = text.encode()
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        else:
            header += bytes([0x80 | 126]) + len(data).to_bytes(2)
        self.transport.write(header + ZERO_MASK + data)

    def send_frame(self) -> None:
        self.frames += 1
        sequence = self.index << 32 | self.frames
        payload = base64.b64encode(sequence.to_bytes(8) + b"\xff" * (FRAME_BYTES - 8)).decode()
        self.samples.sent[sequence] = time.perf_counter_ns()
        n = str(self.frames)
        self.send(
            f'{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}",'
            f'"timestamp":"{self.frames * FRAME_MS}","payload":"{payload}"}},"streamSid":"MZ"}}'
        )

    def hang_up(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send('{"event":"stop","streamSid":"MZ","stop":{}}')
            mask = os.urandom(4)
            code = (1000).to_bytes(2)
            self.transport.write(
                b"\x88\x82" + mask + bytes(b ^ mask[i] for i, b in enumerate(code))
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


def start_message(call_id: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "streamSid": "MZ",
                "callSid": "CA",
                "accountSid": "AC",
                "tracks": ["inbound"],
                "customParameters": {
                    "callId": call_id,
                    "token": token.mint(SECRET, call_id, ttl_s=600),
                },
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": "MZ",
        }
    )


async def serve() -> None:
    loop = asyncio.get_running_loop()
    rest = await asyncio.start_server(rest_stub, "127.0.0.1", 0)
    echo = await loop.create_server(Echo, "127.0.0.1", 0)
    ports = (echo.sockets[0].getsockname()[1], rest.sockets[0].getsockname()[1])
    print(f"echo={ports[0]} rest={ports[1]}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # until the benchmark closes our stdin
    echo.close()
    rest.close()


if __name__ == "__main__":
    asyncio.run(serve())
