from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dev.stack import Stack
from lib.config import load_settings
from lib.db import Database
from lib.realtime import publisher
from tests.client.client_harness import Mode, build_client


@pytest.fixture(scope="session")
def built_client() -> None:
    build_client()


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(load_settings(stack.env()))
    yield database
    await database.aclose()


@pytest.fixture(scope="module", params=["pusher", "supabase"])
async def mode(request: pytest.FixtureRequest, stack: Stack) -> Mode:
    """Each test of a module that asks for it runs in both realtime modes."""
    provider: str = request.param
    api = stack.api_url if provider == "pusher" else request.getfixturevalue("supabase_api")
    settings = load_settings({**stack.env(), "REALTIME_PROVIDER": provider})
    return Mode(provider, api, publisher(settings))
