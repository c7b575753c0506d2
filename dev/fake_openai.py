"""A stand-in for the OpenAI Realtime API (GA shape) on loopback, for `make dev`, the tests and
the benchmarks. `python -m dev.fake_openai --port 8081`; in code:

    async with FakeOpenAI(Behaviour(script=["Hi", "Goodbye"])).running() as fake:
        fake.url          # ws://127.0.0.1:<port>/v1/realtime  (OPENAI_REALTIME_URL)

What it does, per connection (`FakeSession`):
- needs `Authorization: Bearer ...` (401 otherwise; the exact key if one is configured); an
  `OpenAI-Beta` header gets the real service's answer: close 4000 beta_api_shape_disabled;
- `session.created`, then `session.updated` for each GA `session.update` (type "realtime");
- energy VAD on the appended audio (μ-law or 24 kHz PCM, timed by audio length):
  speech_started / speech_stopped / committed, then an input transcription whose text is the
  next line of the behaviour's script (deterministic, whatever was said), then a response;
- responses stream `response.output_audio.delta` (a tone as long as the reply) faster than
  real time, with the transcript and `response.done`; speech during a response cancels it;
- tool calls when the scripted caller line asks for them (`TRIGGERS`: "goodbye" -> end_call,
  "works for me" -> record_outcome goal_achieved, ...), answered by a reply after the
  function output; "long story" gets a long reply (barge-in tests);
- `conversation.item.truncate` past the audio generated for the item is an error, as on the
  real service ("Audio content of Xms is already shorter than Yms").
Test controls: `sessions` (what each connection did), `drop_all()`, `wait_until()`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from dev.fake_openai_session import DEFAULT_SCRIPT, TRIGGERS, Behaviour, Connection, FakeSession

__all__ = ["DEFAULT_SCRIPT", "TRIGGERS", "Behaviour", "FakeOpenAI", "FakeSession"]


class FakeOpenAI:
    def __init__(self, behaviour: Behaviour | None = None, *, api_key: str | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.api_key = api_key
        self.sessions: list[FakeSession] = []
        self._connections: dict[ServerConnection, Connection] = {}
        self._server: Server | None = None
        self._tick = asyncio.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/v1/realtime"

    @contextlib.asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FakeOpenAI]:
        await self.start(host, port)
        try:
            yield self
        finally:
            await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check,
            max_size=16 * 2**20,
            compression=None,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != "/v1/realtime":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not key or (self.api_key and key != self.api_key):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid api key\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        headers = {name.lower(): value for name, value in ws.request.headers.raw_items()}
        record = FakeSession(headers=headers)
        self.sessions.append(record)
        connection = self._connections[ws] = Connection(ws, self, record)
        try:
            await connection.run()
        except* ConnectionClosed:
            pass
        finally:
            record.closed = True
            self._connections.pop(ws, None)
            self.changed()

    def changed(self) -> None:
        """Wake whoever waits in `wait_until` (called on every event in or out)."""
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def wait_until(self, predicate: Callable[[], bool], within_s: float = 10.0) -> None:
        """Return once `predicate()` (over what the fake saw) holds; TimeoutError after
        `within_s` seconds."""
        async with asyncio.timeout(within_s):
            while not predicate():
                await self._tick.wait()

    async def drop_all(self, code: int = 1011, reason: str = "server_error") -> None:
        """Close every connection, as the service does when it fails."""
        for ws in list(self._connections):
            await ws.close(code, reason)

    async def fail_all(self, kind: str = "server_error", message: str = "internal error") -> None:
        """Send every connection an `error` event of type `kind` (the socket stays open)."""
        for connection in list(self._connections.values()):
            await connection.send({"type": "error", "error": {"type": kind, "message": message}})


async def _main(port: int, host: str) -> None:
    async with FakeOpenAI().running(host, port) as fake:
        print(f"fake OpenAI Realtime: {fake.url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.fake_openai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.port, args.host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
