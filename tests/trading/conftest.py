"""Fixtures for the trading tests: `http`, `api(user)` (a tRPC caller against the stack's
/api/trpc) and `trader`: a fresh user with one webhook connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dev.stack import Stack
from tests.messaging.messaging_support import Trpc
from tests.trading.trading_support import Trader, connect, new_user


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def api(stack: Stack, token, http: httpx.AsyncClient) -> Callable[[str], Trpc]:  # noqa: ANN001
    def signed_in(who: str) -> Trpc:
        return Trpc(http, f"{stack.api_url}/api/trpc", token(who))

    return signed_in


@pytest.fixture
async def trader(stack: Stack, api: Callable[[str], Trpc]) -> Trader:
    user = new_user()
    return await connect(stack, api(user), user)
