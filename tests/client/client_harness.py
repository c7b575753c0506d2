"""One harness for client/ in Node: build it once (tsc), run tests/js/client/driver.mjs as a
real user's app (pusher-js against the stack's Pusher-protocol server, or supabase-js against
its local Supabase Realtime server; @trpc/client and the history endpoint against the api of
that mode), and read what it observes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dev.stack import Stack
from lib.realtime.port import Publisher

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "js" / "client" / "driver.mjs"
TSC = ROOT / "node_modules" / ".bin" / "tsc"
WAIT = 15.0

Observation = dict[str, Any]


@dataclass(frozen=True)
class Mode:
    """One realtime mode of the backend, as a front end meets it."""

    provider: str
    """pusher | supabase (REALTIME_PROVIDER)."""
    api_url: str
    """The api functions running in this mode."""
    publisher: Publisher
    """What the api publishes with in this mode (for events a test queues itself)."""


def build_client() -> None:
    """client/ -> client/dist, as `npm run build` in client/ does."""
    done = subprocess.run(
        [str(TSC), "-p", "client"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr


class Driver:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.buffer: list[Observation] = []
        self._refs = 0

    async def send(self, op: str, **fields: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, kind: str, **match: object) -> Observation:
        """The first observation of `kind` whose fields equal `match` (buffered or to come)."""

        def fits(item: Observation) -> bool:
            return item.get("type") == kind and all(item.get(k) == v for k, v in match.items())

        for index, item in enumerate(self.buffer):
            if fits(item):
                return self.buffer.pop(index)
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    line = await self.process.stdout.readline()
                    assert line, f"driver exited waiting for {kind} {match}: {self.buffer[-5:]}"
                    item = json.loads(line)
                    if fits(item):
                        return item
                    self.buffer.append(item)
        except TimeoutError:
            raise AssertionError(f"no {kind} {match} in {WAIT} s; saw {self.buffer[-8:]}") from None

    def seen(self, kind: str, **match: object) -> list[Observation]:
        """Observations of `kind` already read (without waiting)."""
        return [
            o
            for o in self.buffer
            if o.get("type") == kind and all(o.get(k) == v for k, v in match.items())
        ]

    async def drain(self, seconds: float) -> None:
        """Read whatever arrives for `seconds` into the buffer (to show nothing more comes)."""
        assert self.process.stdout is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    line = await self.process.stdout.readline()
                    if not line:
                        return
                    self.buffer.append(json.loads(line))

    async def subscribe(self, channel: str, events: list[str], **options: object) -> None:
        await self.send("subscribe", channel=channel, events=events, **options)
        await self.expect("ready", channel=channel)

    async def call(self, op: str, **fields: object) -> Observation:
        self._refs += 1
        ref = self._refs
        await self.send(op, ref=ref, **fields)
        return await self.expect("result", ref=ref)

    async def events(self, channel: str, count: int) -> list[Observation]:
        return [await self.expect("event", channel=channel) for _ in range(count)]

    async def stats(self, channel: str) -> Observation:
        await self.send("stats", channel=channel)
        return await self.expect("stats", channel=channel)

    async def close(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def driver(
    stack: Stack, user: str, *, mode: Mode | None = None, ttl_s: int = 3600
) -> AsyncIterator[Driver]:
    """The driver as `user`, in `mode` (default: Pusher mode, the stack's own api)."""
    assert stack.realtime is not None
    options = {
        "baseUrl": mode.api_url if mode else stack.api_url,
        "provider": mode.provider if mode else "pusher",
        "supabaseUrl": stack.supabase_url,
        "anonKey": stack.config.anon_key,
        "key": stack.config.pusher_key,
        "host": stack.realtime.host,
        "port": stack.realtime.port,
        "secret": stack.config.jwt_secret,
        "user": user,
        "ttlS": ttl_s,
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(DRIVER),
        json.dumps(options),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    running = Driver(process)
    try:
        yield running
    finally:
        await running.close()
