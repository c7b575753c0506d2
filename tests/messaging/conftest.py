"""Fixtures for the messaging tests: an httpx client, and `api(user)` -> a tRPC caller signed
in as `user` against the session stack's /api/trpc."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dev.stack import Stack
from tests.messaging.messaging_support import Trpc


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def api(stack: Stack, token, http: httpx.AsyncClient) -> Callable[[str], Trpc]:  # noqa: ANN001
    def signed_in(who: str) -> Trpc:
        return Trpc(http, f"{stack.api_url}/api/trpc", token(who), stack)

    return signed_in
