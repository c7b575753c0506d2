"""The voice pieces of the local stack, on their own event loop in a background thread: the
bridge (worker/) and, unless a real OpenAI Realtime URL is configured, the fake OpenAI.

    with serve_voice_in_thread(env, bridge_port=8080) as voice:
        voice.bridge_url    # ws://127.0.0.1:8080/<BRIDGE_PATH_SECRET>  -> BRIDGE_URL for the api
        voice.openai_url    # ws://127.0.0.1:8081/v1/realtime (the fake), or the real URL

`env` is what the bridge reads (worker/config.py): the stack's Supabase and Pusher settings,
BRIDGE_TOKEN_SECRET, BRIDGE_PATH_SECRET (streams are accepted only under it), OPENAI_*.
With OPENAI_API_KEY set and OPENAI_REALTIME_URL off loopback, the real service is used and no
fake is started; a loopback OPENAI_REALTIME_URL gets the fake on that URL's port
(`openai_port` overrides it; 0 = any free port). Stopping ends active calls quickly (a short
drain: this is a developer's Ctrl-C, not a deploy).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dev.fake_openai import FakeOpenAI
from worker.config import load
from worker.server import Bridge

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 20.0
LOCAL_SHUTDOWN = {"BRIDGE_DRAIN_S": "0", "BRIDGE_GOODBYE_TIMEOUT_S": "3"}


@dataclass(frozen=True)
class VoiceAddress:
    bridge_url: str
    openai_url: str
    fake: bool


class _Runner:
    def __init__(
        self, env: Mapping[str, str], host: str, bridge_port: int, openai_port: int | None
    ) -> None:
        self._env, self._host = dict(env), host
        self._bridge_port, self._openai_port = bridge_port, openai_port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.address: VoiceAddress | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        url = self._env.get("OPENAI_REALTIME_URL") or "ws://127.0.0.1:8081/v1/realtime"
        use_fake = urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
        async with contextlib.AsyncExitStack() as stack:
            if use_fake:
                port = self._openai_port
                if port is None:
                    port = urlsplit(url).port or 8081
                fake = await stack.enter_async_context(FakeOpenAI().running(self._host, port))
                url = fake.url
            config = load({**self._env, **LOCAL_SHUTDOWN, "OPENAI_REALTIME_URL": url})
            bridge = await stack.enter_async_context(
                Bridge(config).running(self._host, self._bridge_port)
            )
            self.address = VoiceAddress(bridge.base_url, url, use_fake)
            self._ready.set()
            await self._stop.wait()

    def wait_ready(self) -> None:
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError(f"the voice bridge did not start within {START_TIMEOUT_S:g}s")

    def request_stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                self._loop.call_soon_threadsafe(self._stop.set)


@contextlib.contextmanager
def serve_voice_in_thread(
    env: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    bridge_port: int = 8080,
    openai_port: int | None = None,
) -> Iterator[VoiceAddress]:
    """Start the bridge (and the fake OpenAI) in a daemon thread; stop them on exit."""
    runner = _Runner(env, host, bridge_port, openai_port)
    thread = threading.Thread(target=runner.run, name="voice-bridge", daemon=True)
    thread.start()
    try:
        runner.wait_ready()
        if runner.error is not None or runner.address is None:
            raise RuntimeError(f"the voice bridge failed to start: {runner.error!r}")
        yield runner.address
    finally:
        runner.request_stop()
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"the voice bridge did not stop within {STOP_TIMEOUT_S:g}s")
