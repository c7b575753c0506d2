"""SIGTERM with calls in flight, the way Fly stops a machine: `python -m worker` as a real
process with 50 active calls (20 in the default run). Health turns to draining, new streams are
refused, every call is ended with a goodbye and saved, and the process exits by itself within
its shutdown timeout (exit status 0 = every call saved)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from dev.fake_openai import FakeOpenAI
from dev.phone import Phone
from dev.stack import Stack
from tests.calls.conftest import FAST
from tests.calls.harness import VoiceWorld, api_services, eventually
from tests.support import unique

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("SOCKLESS_TEST_FULL") == "1"
CALLS = 50 if FULL else 20
"""50 active calls in the full run (make test FULL=1, docs/reliability.md), 20 by default."""
SHUTDOWN_TIMEOUT_S = 15


def worker_env(stack: Stack, fake: FakeOpenAI, secret: str, path: str) -> dict[str, str]:
    assert stack.realtime is not None
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "TWILIO_"))}
    return {
        **keep,
        "BRIDGE_TOKEN_SECRET": secret,
        "BRIDGE_PATH_SECRET": path,
        "BRIDGE_URL": "",  # the stack's own (another secret) is in os.environ
        "SUPABASE_URL": stack.supabase_url,
        "SUPABASE_SERVICE_ROLE_KEY": stack.config.service_role_key,
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "OPENAI_REALTIME_URL": fake.url,
        "REALTIME_PROVIDER": "pusher",
        "PUSHER_APP_ID": stack.config.pusher_app_id,
        "PUSHER_KEY": stack.config.pusher_key,
        "PUSHER_SECRET": stack.config.pusher_secret,
        "PUSHER_HOST": stack.realtime.host,
        "PUSHER_PORT": str(stack.realtime.port),
        "CALL_MAX_DURATION_S": "120",
        "BRIDGE_DRAIN_S": "1",
        "BRIDGE_GOODBYE_TIMEOUT_S": "5",
        "BRIDGE_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
    }


async def health(client: httpx.AsyncClient, url: str) -> tuple[int, dict[str, object]]:
    response = await client.get(url)
    return response.status_code, response.json()


async def test_sigterm_with_active_calls_drains_saves_them_all_and_exits(
    stack: Stack, tmp_path: Path
):
    secret = unique("secret") * 2
    path = secrets.token_urlsafe(24)
    log = tmp_path / "worker.log"
    async with FakeOpenAI(FAST).running() as fake:
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                cwd=ROOT,
                env=worker_env(stack, fake, secret, path),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            match = re.search(r"listening on (ws://\S+)", line)
            assert match, line
            assert path not in line  # the path secret stays out of the logs
            bridge_url = match[1]
            health_url = bridge_url.replace("ws://", "http://") + "/health"
            world = VoiceWorld(
                stack,
                fake=fake,
                bridge=None,
                services=api_services(stack, f"{bridge_url}/{path}", secret),
            )
            number = world.number(unique("owner"))
            answers = await asyncio.gather(*(world.incoming(to=number) for _ in range(CALLS)))
            async with (
                contextlib.AsyncExitStack() as calls,
                httpx.AsyncClient(timeout=5) as http,
            ):
                phones = [await calls.enter_async_context(world.phone(a)) for a in answers]
                await asyncio.gather(*(phone.wait_heard(200) for phone in phones))
                status, body = await health(http, health_url)
                assert (status, body["status"], body["activeCalls"]) == (200, "healthy", CALLS)
                assert body["uptime"] > 0

                process.send_signal(signal.SIGTERM)

                async def draining() -> bool:
                    return (await health(http, health_url))[0] == 503

                await eventually(draining, within_s=5)
                status, body = await health(http, health_url)
                assert (status, body["status"]) == (503, "draining")
                with pytest.raises(InvalidStatus) as refused:
                    async with Phone.call(answers[0].stream_url, call_id="x", token="y"):
                        pass
                assert refused.value.response.status_code == 503

                closes = await asyncio.gather(
                    *(phone.wait_closed(within_s=SHUTDOWN_TIMEOUT_S) for phone in phones)
                )
            assert set(closes) == {(1000, "shutdown")}
            returncode = await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await world.db.aclose()

    assert returncode == 0, log.read_text()[-3000:]
    assert "bridge stopped: 0 unsaved, 0 still open" in log.read_text()
    rows = [world.row(answer.call_id) for answer in answers]
    assert all(row is not None and row["finished_at"] is not None for row in rows)
    assert {row["end_reason"] for row in rows if row} == {"shutdown"}
    for row in rows:
        assert row is not None
        assert "Goodbye" in row["transcript"][-1]["text"], row["transcript"]


MULTI_CALLS = 16


async def test_two_worker_processes_share_the_port_and_each_saves_its_calls_on_sigterm(
    stack: Stack, tmp_path: Path
):
    """`python -m worker --workers 2`: two bridge processes listen on one port (SO_REUSEPORT),
    the kernel spreads the calls over both, and SIGTERM to the supervisor (what Fly signals)
    drains both: every call saved, exit 0. (16 calls all landing on one of two processes
    would be a 1-in-30,000 draw.)"""
    secret = unique("secret") * 2
    path = secrets.token_urlsafe(24)
    log = tmp_path / "worker.log"
    async with FakeOpenAI(FAST).running() as fake:
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--workers",
                "2",
                cwd=ROOT,
                env=worker_env(stack, fake, secret, path),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            match = re.search(r"listening on (ws://\S+) \(2 processes", line)
            assert match, line
            bridge_url = match[1]
            world = VoiceWorld(
                stack,
                fake=fake,
                bridge=None,
                services=api_services(stack, f"{bridge_url}/{path}", secret),
            )
            number = world.number(unique("owner"))
            answers = await asyncio.gather(*(world.incoming(to=number) for _ in range(MULTI_CALLS)))
            async with contextlib.AsyncExitStack() as calls:
                phones = [await calls.enter_async_context(world.phone(a)) for a in answers]
                await asyncio.gather(*(phone.wait_heard(200) for phone in phones))
                process.send_signal(signal.SIGTERM)
                closes = await asyncio.gather(
                    *(phone.wait_closed(within_s=SHUTDOWN_TIMEOUT_S) for phone in phones)
                )
            assert set(closes) == {(1000, "shutdown")}
            returncode = await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await world.db.aclose()

    text = log.read_text()
    assert returncode == 0, text[-3000:]
    for index in (0, 1):
        assert f"[worker {index}] worker: bridge stopped: 0 unsaved, 0 still open" in text, text
        assert re.search(rf"\[worker {index}\] worker\.call: call \S+ saved \(shutdown\)", text)
    saved = re.findall(r"worker\.call: call (\S+) saved \(shutdown\)", text)
    assert sorted(saved) == sorted(answer.call_id for answer in answers)
    rows = [world.row(answer.call_id) for answer in answers]
    assert all(row is not None and row["end_reason"] == "shutdown" for row in rows)
