"""Shared pieces of the realtime benchmarks: the server in its own process, loopback
clients, signed HTTP API calls, /proc readings. Everything bounded and self-stopping."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

from dev.realtime import ServerAddress
from dev.realtime.signing import sign_request

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0


@contextlib.contextmanager
def server_process(**env_overrides: str) -> Iterator[tuple[ServerAddress, int]]:
    """`python -m dev.realtime --port 0` in a child process; yields (address, pid)."""
    app_id, key, secret = "4242", "bench-key", "bench-secret"
    env = {
        **os.environ,
        "PUSHER_APP_ID": app_id,
        "PUSHER_KEY": key,
        "PUSHER_SECRET": secret,
        **env_overrides,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.realtime", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], WAIT)
        if not ready:
            raise TimeoutError("realtime server did not start")
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1].split()[0])
        yield ServerAddress("127.0.0.1", port, app_id, key, secret), process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


class LightClient(asyncio.Protocol):
    """A minimal protocol-7 WebSocket client: plain HTTP upgrade, masked text frames out,
    unmasked server frames in. Each complete text frame is handed to `on_frame` with the
    `perf_counter_ns()` at which its bytes arrived, before any JSON decoding, so a
    benchmark measures the server rather than a client library."""

    def __init__(self, path: str, on_frame: Callable[[str, int], None]) -> None:
        self._path = path
        self._on_frame = on_frame
        self._buffer = bytearray()
        self._upgraded = False
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter_ns()
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self._buffer.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(bytes(self._buffer[:end]).decode(errors="replace"))
            del self._buffer[: end + 4]
            self._upgraded = True
        while len(self._buffer) >= 2:
            length, offset = self._buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(self._buffer[2:4]), 4
            elif length == 127:
                length, offset = int.from_bytes(self._buffer[2:10]), 10
            if len(self._buffer) < offset + length:
                return
            opcode = self._buffer[0] & 0x0F
            payload = bytes(self._buffer[offset : offset + length])
            del self._buffer[: offset + length]
            if opcode == 0x1:
                text = payload.decode()
                if not self.ready.done():
                    self.ready.set_result(text)
                else:
                    self._on_frame(text, arrived)

    def send_text(self, text: str) -> None:
        assert self.transport is not None
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2)
        repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
        masked = (int.from_bytes(payload) ^ int.from_bytes(repeated)).to_bytes(len(payload))
        self.transport.write(header + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before handshake"))


async def open_light_clients(
    address: ServerAddress,
    count: int,
    on_frame: Callable[[str, int], None],
    *,
    concurrency: int = 200,
) -> list[LightClient]:
    """`count` LightClients, each past pusher:connection_established."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    path = f"/app/{address.key}?protocol=7"

    async def one() -> LightClient:
        async with gate:
            _, client = await loop.create_connection(
                lambda: LightClient(path, on_frame), address.host, address.port
            )
            await asyncio.wait_for(client.ready, WAIT)
            return client

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(), name=f"bench-light-{n}") for n in range(count)]
    return [task.result() for task in tasks]


class LightHttp:
    """One keep-alive HTTP/1.1 connection that POSTs signed HTTP API requests, without a
    client library's overhead (the benchmarks measure the server, not httpx)."""

    def __init__(
        self, address: ServerAddress, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._address = address
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, address: ServerAddress) -> LightHttp:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(address, reader, writer)

    async def post(self, path: str, body: object) -> tuple[int, bytes]:
        content = json.dumps(body).encode()
        params = sign_request(
            key=self._address.key,
            secret=self._address.secret,
            method="POST",
            path=path,
            params={},
            body=content,
            timestamp=int(time.time()),
        )
        head = (
            f"POST {path}?{urlencode(params)} HTTP/1.1\r\nHost: {self._address.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
        )
        self._writer.write(head.encode() + content)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def machine() -> str:
    """The machine, read from the system (bench.machine)."""
    from bench.machine import describe

    return describe()
