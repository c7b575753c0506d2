"""RealtimeServer: the HTTP API and the sockets on one port, plus its owned background tasks.

    server = RealtimeServer(config)
    async with server.running("127.0.0.1", port=0) as running:
        running.address.ws_url   # ws://127.0.0.1:<free port>

`start()`/`stop()` are the same thing in two calls; `serve_in_thread` (background.py) wraps
it for synchronous code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import WebSocketRoute

from .channels import Hub
from .config import RealtimeConfig
from .errors import ApiError
from .http_api import HttpApi
from .protocol import Code
from .webhooks import NoWebhooks, WebhookDispatcher, WebhookSink
from .websocket import WebSocketEndpoint

logger = logging.getLogger("dev.realtime")

_STARTUP_TIMEOUT = 10.0
_SOCKET_CLOSE_GRACE = 2.0
_STOP_TIMEOUT = 15.0
_WEBHOOK_DRAIN = 2.0


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where a running server listens and which app it serves."""

    host: str
    port: int
    app_id: str
    key: str
    secret: str

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL for clients; they connect to `{ws_url}/app/{key}?protocol=7`."""
        return f"ws://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"ServerAddress({self.http_url}, app_id={self.app_id}, key={self.key}, secret=***)"


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers (the owner decides when to stop), closing our
    sockets with 4200 before uvicorn's own shutdown would close them with 1012."""

    def __init__(
        self, config: uvicorn.Config, *, before_shutdown: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._before_shutdown()
        await super().shutdown(sockets)


def _render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return PlainTextResponse(f"{exc.reason}\n", status_code=exc.status)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket. `proto=IPPROTO_TCP` matters: asyncio enables TCP_NODELAY only
    on sockets that say so (accepted ones inherit it), and without it Nagle's algorithm
    plus delayed ACKs add ~40 ms to every HTTP response and small WebSocket frame."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(4096)
    except OSError:
        sock.close()
        raise
    return sock


class RealtimeServer:
    """A local, in-memory Pusher Channels server for one app. Never deployed."""

    def __init__(
        self, config: RealtimeConfig, *, webhook_client: httpx.AsyncClient | None = None
    ) -> None:
        """`webhook_client` is used for webhook delivery when given (and then not closed here)."""
        self.config = config
        self._given_client = webhook_client
        self._owned_client: httpx.AsyncClient | None = None
        self._hub: Hub | None = None
        self._uvicorn: _Uvicorn | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._webhooks: WebhookDispatcher | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._address: ServerAddress | None = None
        self._sock: socket.socket | None = None

    @property
    def address(self) -> ServerAddress:
        if self._address is None:
            raise RuntimeError("RealtimeServer is not running")
        return self._address

    @property
    def port(self) -> int:
        return self.address.port

    @contextlib.asynccontextmanager
    async def running(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> AsyncIterator[RealtimeServer]:
        await self.start(host, port)
        try:
            yield self
        finally:
            await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 picks a free port) and return once connections are accepted."""
        if self._serve_task is not None:
            raise RuntimeError("RealtimeServer is already running")
        sock = self._sock = _bind(host, port)
        bound_host, bound_port = sock.getsockname()[:2]
        webhooks = self._start_webhooks()
        hub = self._hub = Hub(
            webhooks=webhooks,
            cache_ttl=self.config.cache_ttl,
            max_presence_members=self.config.limits.max_presence_members,
        )
        sockets = WebSocketEndpoint(hub=hub, config=self.config, webhooks=webhooks)
        app = Starlette(
            routes=[
                *HttpApi(hub=hub, config=self.config).routes(),
                WebSocketRoute("/app/{key}", sockets.handle),
            ],
            exception_handlers={ApiError: _render_api_error},
        )
        uv_config = uvicorn.Config(
            app,
            lifespan="off",
            http="h11",
            ws="websockets-sansio",
            ws_ping_interval=None,
            ws_per_message_deflate=False,  # like Pusher; deflating per subscriber costs CPU
            ws_max_size=self.config.limits.max_frame_bytes,
            log_config=None,
            access_log=False,
            backlog=4096,
            timeout_graceful_shutdown=5,
        )
        self._uvicorn = _Uvicorn(uv_config, before_shutdown=self._close_sockets)
        self._serve_task = asyncio.create_task(
            self._uvicorn.serve(sockets=[sock]), name="realtime-uvicorn"
        )
        try:
            async with asyncio.timeout(_STARTUP_TIMEOUT):
                while not self._uvicorn.started:
                    if self._serve_task.done():
                        await self._serve_task
                        raise RuntimeError("uvicorn exited during startup")
                    await asyncio.sleep(0.01)
        except BaseException:
            await self.stop()
            raise
        self._address = ServerAddress(
            bound_host, bound_port, self.config.app_id, self.config.key, self.config.secret
        )
        logger.info(
            "realtime server listening on %s (app %s)", self._address.http_url, self.config.app_id
        )

    async def stop(self) -> None:
        """Close every socket with 4200, stop listening, flush webhooks (bounded). Idempotent."""
        if self._uvicorn is not None and self._serve_task is not None:
            self._uvicorn.should_exit = True
            done, _ = await asyncio.wait({self._serve_task}, timeout=_STOP_TIMEOUT)
            if not done:
                logger.error("uvicorn did not stop within %.0fs; cancelling it", _STOP_TIMEOUT)
                self._uvicorn.force_exit = True
                self._serve_task.cancel()
                await asyncio.wait({self._serve_task})
            elif self._serve_task.exception() is not None:
                logger.error("uvicorn failed: %r", self._serve_task.exception())
        if self._webhooks is not None and self._webhook_task is not None:
            try:
                async with asyncio.timeout(_WEBHOOK_DRAIN):
                    await self._webhooks.drain()
            except TimeoutError:
                logger.warning("webhooks still pending at shutdown were dropped")
            self._webhook_task.cancel()
            await asyncio.wait({self._webhook_task})
            if not self._webhook_task.cancelled() and self._webhook_task.exception() is not None:
                logger.error("webhook delivery stopped: %r", self._webhook_task.exception())
        if self._owned_client is not None:
            await self._owned_client.aclose()
        if self._sock is not None:
            self._sock.close()  # uvicorn closes it too once started; closing twice is harmless
        self._uvicorn = self._serve_task = self._webhooks = self._webhook_task = None
        self._owned_client = self._hub = self._address = self._sock = None

    def _start_webhooks(self) -> WebhookSink:
        url = self.config.webhook_url
        if url is None:
            return NoWebhooks()
        client = self._given_client
        if client is None:
            client = self._owned_client = httpx.AsyncClient(timeout=5.0)
        self._webhooks = WebhookDispatcher(
            url=url, key=self.config.key, secret=self.config.secret, client=client
        )
        self._webhook_task = asyncio.create_task(self._webhooks.run(), name="realtime-webhooks")
        return self._webhooks

    async def _close_sockets(self) -> None:
        """Called by uvicorn's shutdown: close clients with 4200 so pusher-js reconnects."""
        hub = self._hub
        if hub is None or not hub.connections:
            return
        logger.info("closing %d connections (4200)", len(hub.connections))
        hub.close_all(Code.SERVER_SHUTDOWN, "Server shutting down")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SOCKET_CLOSE_GRACE):
                await hub.wait_empty()
