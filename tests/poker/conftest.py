"""Fixtures for the poker tests: raw tRPC calls against the session's stack, and pusher-js
clients that authorize through its /api/realtime/auth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from dev.stack import Stack
from tests.poker.poker_harness import Browsers, Trpc, browsers


@pytest.fixture
async def trpc(stack: Stack, token) -> AsyncIterator[Trpc]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        yield Trpc(http, token, stack)


@pytest.fixture
async def clients(stack: Stack, token) -> AsyncIterator[Browsers]:
    async with browsers(stack, token) as opened:
        yield opened
