"""Shared pieces of the realtime benchmarks: the server in its own process, loopback
clients, signed HTTP API calls, /proc readings. Everything bounded and self-stopping."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

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


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


async def open_client(address: ServerAddress) -> ClientConnection:
    ws = await connect(
        f"{address.ws_url}/app/{address.key}?protocol=7",
        open_timeout=WAIT,
        ping_interval=None,
        compression=None,
        max_queue=None,
    )
    await asyncio.wait_for(ws.recv(), WAIT)  # pusher:connection_established
    return ws


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


async def open_clients(
    address: ServerAddress, count: int, *, concurrency: int = 100
) -> list[ClientConnection]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> ClientConnection:
        async with gate:
            return await open_client(address)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(), name=f"bench-connect-{n}") for n in range(count)]
    return [task.result() for task in tasks]


async def subscribe(ws: ClientConnection, channel: str) -> None:
    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await ws.recv())
            if message["event"] == "pusher_internal:subscription_succeeded":
                return


async def close_all(clients: list[ClientConnection]) -> None:
    async with asyncio.TaskGroup() as group:
        for n, ws in enumerate(clients):
            group.create_task(ws.close(), name=f"bench-close-{n}")


async def post_signed(
    client: httpx.AsyncClient, address: ServerAddress, path: str, body: object
) -> httpx.Response:
    """A signed HTTP API call, signed exactly like the official SDK signs it."""
    content = json.dumps(body).encode()
    params = sign_request(
        key=address.key,
        secret=address.secret,
        method="POST",
        path=path,
        params={},
        body=content,
        timestamp=int(time.time()),
    )
    return await client.post(
        f"{address.http_url}{path}",
        params=params,
        content=content,
        headers={"Content-Type": "application/json"},
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}"
