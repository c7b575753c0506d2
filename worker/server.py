"""The bridge process: one asyncio `websockets` server on one port (several such processes
may share the port: worker/processes.py).

    GET /health   200 {"status": "healthy", "activeCalls": N, "uptime": S}
                  503 {"status": "draining", ...} once shutdown has begun
    GET /<BRIDGE_PATH_SECRET>/media   the provider's media-stream WebSocket (503 while draining)
    anything else 404, before any WebSocket upgrade (a wrong or missing secret included)

    async with Bridge(config).running(port=0) as bridge:   # tests, the local stack
        bridge.base_url     # ws://127.0.0.1:<port>/<secret>  -> BRIDGE_URL for the api
        bridge.media_url    # ws://127.0.0.1:<port>/<secret>/media

The secret path keeps scanners and stray clients off the stream endpoint (they never get a
socket); the stream token in `start` still decides which call a stream is, and a socket that
sends no valid `start` within `start_timeout_s` (2 s) is closed, so idle sockets cannot fill
the machine's connection limit.
    bridge.shutdown()                                      # what SIGTERM/SIGINT call

Shutdown (Fly sends SIGTERM, then kills after kill_timeout): the bridge stops taking calls
(health turns 503 so the proxy routes elsewhere, new streams get 503) but keeps serving
/health; active calls go on for up to `drain_s`; then each is ended politely (a goodbye from
the model, bounded by goodbye_timeout_s) and saved, with every save due before
`shutdown_timeout_s` (below kill_timeout). `wait_closed()` says whether every call was saved.
We handle the signal ourselves because uvicorn would close every WebSocket at once (1012).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from http import HTTPStatus

import httpx
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from worker.call import CallSession, Services
from worker.config import BridgeConfig
from worker.publish import PusherHttp
from worker.recording_store import RecordingStore
from worker.store import CallStore
from worker.wire import CoalescingConnection

log = logging.getLogger("worker")

HARD_FRAME_FACTOR = 16


class Bridge:
    def __init__(self, config: BridgeConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._given_http = http
        self._http: httpx.AsyncClient | None = None
        self._server: Server | None = None
        self._started = time.monotonic()
        self._sessions: set[CallSession] = set()
        self._no_sessions = asyncio.Event()
        self._no_sessions.set()
        self._active: dict[str, CallSession] = {}
        self._draining = False
        self._shutdown_task: asyncio.Task[bool] | None = None
        self.stopping = asyncio.Event()
        """Set when shutdown begins."""
        self.unsaved = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(
        self, host: str | None = None, port: int | None = None, *, reuse_port: bool = False
    ) -> None:
        """Listen; `reuse_port` lets several processes listen on one port (SO_REUSEPORT,
        worker/processes.py)."""
        http = self._given_http or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
        )
        self._http = http
        config = self.config
        self._services = Services(
            config=config,
            http=http,
            store=CallStore(
                supabase_url=config.supabase_url,
                service_key=config.supabase_service_role_key,
                http=http,
            ),
            pusher=PusherHttp(config, http=http) if config.publishes_directly else None,
            recordings=RecordingStore(config),
        )
        self._server = await serve(
            self._handle,
            config.host if host is None else host,
            config.port if port is None else port,
            process_request=self._process_request,
            max_size=config.max_frame_bytes * HARD_FRAME_FACTOR,
            compression=None,
            create_connection=CoalescingConnection,
            close_timeout=2,
            ping_interval=20,
            ping_timeout=20,
            reuse_port=reuse_port,
        )
        self._started = time.monotonic()
        log.info("bridge listening on %s", self.url)

    @contextlib.asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Bridge]:
        await self.start(host, port)
        try:
            yield self
        finally:
            await self.stop()

    async def stop(self) -> bool:
        """Shut down (as on SIGTERM) and wait; True if every call was saved."""
        self.shutdown()
        return await self.wait_closed()

    def shutdown(self) -> None:
        """Begin draining (idempotent; safe to call from a signal handler)."""
        if self._shutdown_task is None and self._server is not None:
            self._draining = True
            self.stopping.set()
            self._shutdown_task = asyncio.get_running_loop().create_task(
                self._drain(), name="bridge shutdown"
            )

    async def wait_closed(self) -> bool:
        if self._shutdown_task is None:
            raise RuntimeError("the bridge is not shutting down")
        return await self._shutdown_task

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        assert self._server is not None
        host = next(iter(self._server.sockets)).getsockname()[0]
        return f"ws://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What the api's BRIDGE_URL is for this bridge (with the path secret)."""
        return f"{self.url}{self.config.media_path.removesuffix('/media')}"

    @property
    def media_url(self) -> str:
        return f"{self.url}{self.config.media_path}"

    @property
    def health_url(self) -> str:
        return f"{self.url.replace('ws://', 'http://')}/health"

    @property
    def active_calls(self) -> int:
        return len(self._active)

    @property
    def draining(self) -> bool:
        return self._draining

    # -- HTTP and WebSocket --------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, object]]:
        status = "draining" if self._draining else "healthy"
        body: dict[str, object] = {
            "status": status,
            "activeCalls": self.active_calls,
            "uptime": round(time.monotonic() - self._started, 1),
        }
        return (503 if self._draining else 200), body

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/health":
            status, body = self.health()
            response = connection.respond(HTTPStatus(status), json.dumps(body) + "\n")
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
            return response
        if not hmac.compare_digest(path.encode(), self.config.media_path.encode()):
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if self._draining:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        session = CallSession(connection, self._services, self._active)
        self._sessions.add(session)
        self._no_sessions.clear()
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            if not self._sessions:
                self._no_sessions.set()
            if session.saved is False:
                self.unsaved += 1

    # -- draining --------------------------------------------------------------------------

    async def _until_idle(self, deadline: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self._no_sessions.wait()

    async def _drain(self) -> bool:
        config = self.config
        began = time.monotonic()
        hard = began + config.shutdown_timeout_s
        log.info("draining %d call(s): up to %.0f s", len(self._active), config.drain_s)
        for session in self._sessions:
            session.save_deadline = hard - 1.0
        await self._until_idle(began + config.drain_s)
        if self._sessions:
            log.info("ending %d call(s) for shutdown", len(self._sessions))
            for session in list(self._sessions):
                session.save_deadline = hard - 1.0
                session.request_end("shutdown")
        await self._until_idle(hard - 0.5)
        assert self._server is not None
        self._server.close(close_connections=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, hard - time.monotonic())):
                await self._server.wait_closed()
        if self._http is not None and self._given_http is None:
            await self._http.aclose()
        left = len(self._sessions)
        ok = left == 0 and self.unsaved == 0
        log.info("bridge stopped: %d unsaved, %d still open", self.unsaved, left)
        return ok
