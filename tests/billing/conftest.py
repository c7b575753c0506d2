"""Fixtures for the billing tests: tRPC as a user, a browser on the local Stripe's pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from dev.stack import Stack
from tests.billing.billing_harness import Billing, Browser
from tests.poker.poker_harness import Trpc


@pytest.fixture
async def trpc(stack: Stack, token) -> AsyncIterator[Trpc]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        yield Trpc(http, token, stack)


@pytest.fixture
async def billing(stack: Stack, trpc: Trpc) -> AsyncIterator[Billing]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Billing(trpc, Browser(http), stack)
