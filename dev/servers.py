"""Run an ASGI app under uvicorn on a background thread (own event loop), for the stack and tests.

The caller binds the socket (dev.ports.bind_socket), so port 0 works and a busy port is
reported before anything starts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 15.0


class BackgroundServer:
    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        name: str,
        log_level: str = "warning",
        lifespan: str = "off",
    ):
        self.name = name
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level=log_level,
            lifespan=lifespan,  # type: ignore[arg-type]
            access_log=False,
            ws="websockets-sansio",
            loop="asyncio",  # uvloop is installed for the voice bridge; the stack keeps asyncio
            timeout_graceful_shutdown=3,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"server-{name}", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # surfaced by start()/stop()
            self.error = exc

    def start(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if self.error or not self.thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in {START_TIMEOUT_S:.0f}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
