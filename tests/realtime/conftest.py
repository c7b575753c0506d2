"""Fixtures for the local realtime server (dev/realtime).

`realtime_server` is self-contained on purpose, so it can move to tests/conftest.py as is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from realtime_harness import AuthEndpoint, PusherJsClients, auth_endpoint

from dev.realtime import RealtimeConfig, ServerAddress, serve_in_thread


@pytest.fixture(scope="session")
def realtime_server() -> Iterator[ServerAddress]:
    """A local Pusher-compatible server on a free loopback port, in a background thread.

    Yields host, port, app_id, key, secret, http_url and ws_url.
    """
    config = RealtimeConfig(app_id="424242", key="test-key", secret="test-secret")
    with serve_in_thread(config, host="127.0.0.1", port=0) as address:
        yield address


@pytest.fixture(scope="session")
def realtime_auth(realtime_server: ServerAddress) -> Iterator[AuthEndpoint]:
    """The app's auth endpoint for pusher-js (official SDK signing), on a free port."""
    with auth_endpoint(realtime_server) as endpoint:
        yield endpoint


@pytest.fixture
async def pusher_js(
    realtime_server: ServerAddress, realtime_auth: AuthEndpoint
) -> AsyncIterator[PusherJsClients]:
    """Starts pusher-js clients (`await pusher_js(user_id="alice")`); ends them all after."""
    clients = PusherJsClients(realtime_server, realtime_auth)
    try:
        yield clients
    finally:
        await clients.close()
