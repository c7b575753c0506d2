"""`python -m dev.realtime` as `make dev` runs it: starts, serves, stops cleanly on signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import pytest
from realtime_harness import ROOT, WAIT, RawSocket, sdk

from dev.realtime import ServerAddress


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_and_stops_cleanly_on_signal(stop_signal: signal.Signals) -> None:
    env = {
        **os.environ,
        "PUSHER_APP_ID": "31",
        "PUSHER_KEY": "cli-key",
        "PUSHER_SECRET": "cli-secret",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dev.realtime",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+) app_id=31", line)
        assert match, line
        address = ServerAddress("127.0.0.1", int(match[1]), "31", "cli-key", "cli-secret")

        async with RawSocket.connect(address) as socket:
            await socket.subscribe("cli-room")
            sdk(address).trigger("cli-room", "hello", "world")
            assert (await socket.recv_event("hello"))["data"] == "world"

            process.send_signal(stop_signal)
            assert await socket.closed_with() == 4200
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_refuses_to_start_without_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHER_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dev.realtime",
        "--port",
        "0",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 2
    assert b"PUSHER_APP_ID" in stderr
