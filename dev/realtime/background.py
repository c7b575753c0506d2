"""Run a RealtimeServer on its own event loop in a background thread, for synchronous code
(the pytest fixture, dev/stack.py, benchmarks).

    with serve_in_thread(config, port=0) as address:
        Pusher(address.app_id, address.key, address.secret,
               host=address.host, port=address.port, ssl=False).trigger(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from .config import RealtimeConfig
from .server import RealtimeServer, ServerAddress

_JOIN_TIMEOUT = 30.0


class _Runner:
    def __init__(self, config: RealtimeConfig, host: str, port: int) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.address: ServerAddress | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread, which re-raises it
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = RealtimeServer(self._config)
        await server.start(self._host, self._port)
        try:
            self.address = server.address
            self._ready.set()
            await self._stop.wait()
        finally:
            await server.stop()

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout):
            raise TimeoutError(f"realtime server did not start within {timeout}s")

    def request_stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished on its own meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)


@contextlib.contextmanager
def serve_in_thread(
    config: RealtimeConfig, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 15.0
) -> Iterator[ServerAddress]:
    """Start the server in a daemon thread; yield its address; stop it (bounded) on exit."""
    runner = _Runner(config, host, port)
    thread = threading.Thread(target=runner.run, name="realtime-server", daemon=True)
    thread.start()
    try:
        runner.wait_ready(startup_timeout)
        if runner.error is not None or runner.address is None:
            raise RuntimeError("realtime server failed to start") from runner.error
        yield runner.address
    finally:
        runner.request_stop()
        thread.join(_JOIN_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"realtime server thread did not stop within {_JOIN_TIMEOUT}s")
    if runner.error is not None:
        raise RuntimeError("realtime server failed while running") from runner.error
