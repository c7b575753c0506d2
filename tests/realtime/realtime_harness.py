"""Test harness for dev.realtime: official clients on real loopback servers, nothing mocked.

- `PusherJs`: one official pusher-js client in a Node process (tests/js/pusher/client.js),
  driven over stdin/stdout; every wait is bounded and the process is always ended.
- `RawSocket`: a plain WebSocket client for protocol-level checks (close codes, pings).
- `AuthEndpoint`: the app's auth endpoint, signing with the official `pusher` SDK.
- `WebhookReceiver`: records webhook deliveries.
- `signed_request`: an HTTP API request signed exactly like the SDK signs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import httpx
import pusher
from websockets.asyncio.client import ClientConnection, connect

from dev.realtime import ServerAddress
from dev.realtime.signing import sign_request

ROOT = Path(__file__).resolve().parents[2]
CLIENT_JS = ROOT / "tests" / "js" / "pusher" / "client.js"
WAIT = 10.0
"""Upper bound for any single wait in these tests (never an assertion about speed)."""
ENCRYPTION_MASTER_KEY = base64.b64encode(b"k" * 32).decode()

Observation = dict[str, Any]


def sdk(
    address: ServerAddress, *, secret: str | None = None, encrypted: bool = False
) -> pusher.Pusher:
    """The official server SDK pointed at the local server."""
    return pusher.Pusher(
        address.app_id,
        address.key,
        secret or address.secret,
        host=address.host,
        port=address.port,
        ssl=False,
        encryption_master_key_base64=ENCRYPTION_MASTER_KEY if encrypted else None,
    )


def signed_request(
    address: ServerAddress,
    method: str,
    path: str,
    *,
    body: object = None,
    params: dict[str, str] | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    raw_body: bytes | None = None,
) -> httpx.Response:
    """Send one HTTP API request signed like the SDK. `body` is JSON-encoded unless it is
    bytes; `raw_body`, if given, is sent instead of the signed body (tampering)."""
    if isinstance(body, bytes):
        signed_body = body
    else:
        signed_body = b"" if body is None else json.dumps(body).encode()
    query = sign_request(
        key=address.key,
        secret=secret or address.secret,
        method=method,
        path=path,
        params=params or {},
        body=signed_body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    content = signed_body if raw_body is None else raw_body
    headers = {"Content-Type": "application/json"} if content else {}
    return httpx.request(
        method,
        f"{address.http_url}{path}",
        params=query,
        content=content,
        headers=headers,
        timeout=WAIT,
    )


# pusher-js in Node


@dataclass
class PusherJs:
    process: asyncio.subprocess.Process
    socket_id: str = ""
    buffer: list[Observation] = field(default_factory=list)

    @classmethod
    async def start(
        cls, address: ServerAddress, auth: AuthEndpoint | None = None, **params: str
    ) -> PusherJs:
        options = {
            "host": address.host,
            "port": address.port,
            "key": address.key,
            "authEndpoint": auth.channel_url if auth else None,
            "userAuthEndpoint": auth.user_url if auth else None,
            "params": params,
            "lifetimeMs": 45_000,
        }
        process = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT_JS),
            json.dumps(options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        client = cls(process)
        try:
            client.socket_id = (await client.expect("connected"))["socket_id"]
        except BaseException:
            await client.close()
            raise
        return client

    async def send(self, op: str, **fields: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()

    async def subscribe(self, channel: str) -> Observation:
        """Subscribe and return the first outcome: `subscribed` or `subscription_error`."""
        await self.send("subscribe", channel=channel)
        return await self.expect_any({"subscribed", "subscription_error"}, channel=channel)

    async def expect(self, kind: str, **match: object) -> Observation:
        return await self.expect_any({kind}, **match)

    async def expect_any(self, kinds: set[str], **match: object) -> Observation:
        """The first observation (already buffered or still to come) of one of `kinds` whose
        fields equal `match`; fails after WAIT seconds."""

        def fits(item: Observation) -> bool:
            return item.get("type") in kinds and all(item.get(k) == v for k, v in match.items())

        for index, item in enumerate(self.buffer):
            if fits(item):
                return self.buffer.pop(index)
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"pusher-js exited; saw {self.buffer}")
                item = cast(Observation, json.loads(line))
                if fits(item):
                    return item
                self.buffer.append(item)

    def seen(self, kind: str, **match: object) -> list[Observation]:
        return [
            item
            for item in self.buffer
            if item.get("type") == kind and all(item.get(k) == v for k, v in match.items())
        ]

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.send("disconnect")
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class PusherJsClients:
    """Starts pusher-js clients for one test and always ends their processes."""

    def __init__(self, address: ServerAddress, auth: AuthEndpoint) -> None:
        self._address = address
        self._auth = auth
        self._clients: list[PusherJs] = []

    async def __call__(self, **params: str) -> PusherJs:
        client = await PusherJs.start(self._address, self._auth, **params)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


# Raw WebSocket


def _decoded(text: str | bytes) -> Observation:
    message: Observation = json.loads(text)
    if isinstance(message.get("data"), str):
        with contextlib.suppress(ValueError):
            message["data"] = json.loads(message["data"])
    return message


class RawSocket:
    """A bare protocol-7 client; `frames()` decode `data` strings like pusher-js does."""

    def __init__(self, ws: ClientConnection, first: Observation) -> None:
        self.ws = ws
        self.first = first
        """The server's first frame (connection_established or pusher:error), decoded."""
        data = first.get("data")
        self.socket_id: str = data.get("socket_id", "") if isinstance(data, dict) else ""

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        address: ServerAddress,
        *,
        key: str | None = None,
        query: str = "protocol=7",
        receive_buffer: int | None = None,
    ) -> AsyncIterator[RawSocket]:
        """`receive_buffer` shrinks the kernel's receive buffer (a client that reads slowly
        then backs up into the server quickly)."""
        url = f"{address.ws_url}/app/{key or address.key}?{query}"
        sock = None
        if receive_buffer is not None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.settimeout(WAIT)
            sock.connect((address.host, address.port))
            sock.setblocking(False)
        async with connect(
            url,
            sock=sock,
            open_timeout=WAIT,
            close_timeout=2,
            max_size=2**21,
            max_queue=None,
        ) as ws:
            yield cls(ws, _decoded(await asyncio.wait_for(ws.recv(), WAIT)))

    async def send(self, event: str, data: object = None, channel: str | None = None) -> None:
        message: dict[str, object] = {"event": event, "data": data}
        if channel is not None:
            message["channel"] = channel
        await self.ws.send(json.dumps(message))

    async def recv(self) -> Observation:
        return _decoded(await asyncio.wait_for(self.ws.recv(), WAIT))

    async def recv_event(self, event: str) -> Observation:
        """Skip frames until `event` arrives (bounded)."""
        async with asyncio.timeout(WAIT):
            while True:
                message = await self.recv()
                if message["event"] == event:
                    return message

    async def subscribe(
        self, channel: str, *, auth: str | None = None, channel_data: str | None = None
    ) -> Observation:
        data: dict[str, object] = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send("pusher:subscribe", data)
        async with asyncio.timeout(WAIT):
            while True:
                message = await self.recv()
                if message.get("channel") == channel and message["event"] in (
                    "pusher_internal:subscription_succeeded",
                    "pusher:subscription_error",
                ):
                    return message

    async def closed_with(self) -> int | None:
        """Read until the server closes the socket; return its close code."""
        async with asyncio.timeout(WAIT):
            with contextlib.suppress(Exception):
                while True:
                    await self.ws.recv()
        await self.ws.wait_closed()
        return self.ws.close_code


# HTTP servers the tests own


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@dataclass(frozen=True)
class AuthEndpoint:
    channel_url: str
    user_url: str


@contextlib.contextmanager
def auth_endpoint(address: ServerAddress) -> Iterator[AuthEndpoint]:
    """The app's auth endpoint, as a real app writes it with the official SDK.

    Form params from pusher-js: `socket_id`, `channel_name`, plus `user_id` (who the
    client claims to be) and `bad=1` (sign with a wrong secret).
    """
    good = sdk(address, encrypted=True)
    bad = sdk(address, secret="not-the-secret", encrypted=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            client = bad if form.get("bad") == "1" else good
            user_id = form.get("user_id", "anonymous")
            if self.path == "/auth/user":
                answer = client.authenticate_user(
                    form["socket_id"], {"id": user_id, "user_info": {"name": user_id.title()}}
                )
            else:
                channel = form["channel_name"]
                custom = (
                    {"user_id": user_id, "user_info": {"name": user_id.title()}}
                    if channel.startswith("presence-")
                    else None
                )
                answer = client.authenticate(channel, form["socket_id"], custom)
                if isinstance(answer.get("shared_secret"), bytes):  # SDK quirk: bytes
                    answer["shared_secret"] = answer["shared_secret"].decode()
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return None

    with _serving(Handler) as url:
        yield AuthEndpoint(channel_url=f"{url}/auth/channel", user_url=f"{url}/auth/user")


@dataclass
class WebhookReceiver:
    url: str
    deliveries: queue.Queue[tuple[dict[str, str], bytes]]
    failures_left: list[int]
    """Answer 500 this many times before accepting, to exercise retries."""
    pending: list[Observation] = field(default_factory=list)
    """Events delivered but not yet claimed by `wait_for`."""

    async def next_delivery(self) -> tuple[dict[str, str], bytes]:
        """The next accepted delivery (headers, raw body), bounded by WAIT."""
        return await asyncio.to_thread(self.deliveries.get, True, WAIT)

    async def wait_for(self, name: str, **match: object) -> Observation:
        """Claim the first delivered event named `name` whose fields equal `match`."""

        def fits(event: Observation) -> bool:
            return event["name"] == name and all(event.get(k) == v for k, v in match.items())

        async with asyncio.timeout(WAIT):
            while True:
                for index, event in enumerate(self.pending):
                    if fits(event):
                        return self.pending.pop(index)
                _, body = await self.next_delivery()
                self.pending.extend(json.loads(body)["events"])


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
    failures_left = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if failures_left[0] > 0:
                failures_left[0] -= 1
                self.send_response(500)
            else:
                deliveries.put((dict(self.headers.items()), body))
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    with _serving(Handler) as url:
        yield WebhookReceiver(f"{url}/pusher/webhooks", deliveries, failures_left)
