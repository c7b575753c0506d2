from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dev.stack import Stack
from lib.config import load_settings
from lib.db import Database
from lib.realtime import publisher
from lib.realtime.port import Publisher
from tests.client.client_harness import build_client


@pytest.fixture(scope="session")
def built_client() -> None:
    build_client()


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(load_settings(stack.env()))
    yield database
    await database.aclose()


@pytest.fixture(scope="module")
async def pusher(stack: Stack) -> Publisher:
    return publisher(load_settings({**stack.env(), "REALTIME_PROVIDER": "pusher"}))
