"""Fixtures for the local realtime server (dev/realtime).

`realtime_server` is self-contained on purpose, so it can move to tests/conftest.py as is.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# Until pytest.ini sets `pythonpath = .`, make the repo root importable (dev.realtime).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from realtime_harness import AuthEndpoint, PusherJs, auth_endpoint  # noqa: E402

from dev.realtime import RealtimeConfig, ServerAddress, serve_in_thread  # noqa: E402


@pytest.fixture(scope="session")
def realtime_server() -> Iterator[ServerAddress]:
    """A local Pusher-compatible server on a free loopback port, in a background thread.

    Yields host, port, app_id, key, secret, http_url and ws_url.
    """
    config = RealtimeConfig(app_id="424242", key="test-key", secret="test-secret")
    with serve_in_thread(config, host="127.0.0.1", port=0) as address:
        yield address


@pytest.fixture(scope="session")
def auth(realtime_server: ServerAddress) -> Iterator[AuthEndpoint]:
    with auth_endpoint(realtime_server) as endpoint:
        yield endpoint


class PusherJsClients:
    """Starts pusher-js clients for one test and always ends their processes."""

    def __init__(self, address: ServerAddress, auth: AuthEndpoint) -> None:
        self._address = address
        self._auth = auth
        self._clients: list[PusherJs] = []

    async def __call__(self, **params: str) -> PusherJs:
        client = await PusherJs.start(self._address, self._auth, **params)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


@pytest.fixture
async def pusher_js(
    realtime_server: ServerAddress, auth: AuthEndpoint
) -> AsyncIterator[PusherJsClients]:
    clients = PusherJsClients(realtime_server, auth)
    try:
        yield clients
    finally:
        await clients.close()
