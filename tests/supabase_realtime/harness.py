"""Official Supabase Realtime clients against the stack's local Realtime server.

`SupabaseJs`: one @supabase/supabase-js client in a Node process (tests/js/supabase/client.js),
driven over stdin/stdout; every wait is bounded by WAIT and the process is always ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dev.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
CLIENT_JS = ROOT / "tests" / "js" / "supabase" / "client.js"
WAIT = 10.0
"""Upper bound for any single wait (never an assertion about speed)."""

Observation = dict[str, Any]


@dataclass
class SupabaseJs:
    process: asyncio.subprocess.Process
    buffer: list[Observation] = field(default_factory=list)

    @classmethod
    async def start(
        cls, stack: Stack, token: str | None, *, vsn: str = "2.0.0", lifetime_s: int = 45
    ) -> SupabaseJs:
        options = {
            "url": stack.supabase_url,
            "anonKey": stack.config.anon_key,
            "token": token,
            "vsn": vsn,
            "lifetimeMs": lifetime_s * 1000,
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
            await client.expect("ready")
        except BaseException:
            await client.close()
            raise
        return client

    async def send(self, op: str, **fields: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.process.stdin.drain()

    async def subscribe(self, topic: str, **config: object) -> Observation:
        """Join and return the outcome: status SUBSCRIBED, CHANNEL_ERROR or TIMED_OUT."""
        await self.send("subscribe", topic=topic, **config)
        return await self.expect("status", topic=topic)

    async def expect(self, kind: str, **match: object) -> Observation:
        """The first observation of `kind` whose fields equal `match` (buffered or still to
        come); fails after WAIT seconds."""

        def fits(item: Observation) -> bool:
            return item.get("type") == kind and all(item.get(k) == v for k, v in match.items())

        for index, item in enumerate(self.buffer):
            if fits(item):
                return self.buffer.pop(index)
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"supabase-js exited; saw {self.buffer}")
                item = cast(Observation, json.loads(line))
                if fits(item):
                    return item
                self.buffer.append(item)

    async def drain(self, seconds: float = 0.3) -> None:
        """Read whatever arrives within `seconds` into the buffer (to check absence)."""
        assert self.process.stdout is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while line := await self.process.stdout.readline():
                    self.buffer.append(json.loads(line))

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


class SupabaseJsClients:
    """Starts supabase-js clients for one test and always ends their processes."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._clients: list[SupabaseJs] = []

    async def __call__(self, token: str | None, *, vsn: str = "2.0.0") -> SupabaseJs:
        client = await SupabaseJs.start(self._stack, token, vsn=vsn)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self._clients))
