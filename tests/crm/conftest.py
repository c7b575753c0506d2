"""Fixtures for the CRM tests: `ghl` (signed HighLevel deliveries to the stack's
/api/webhooks/ghl), `api(user)` (a tRPC caller against the stack's /api/trpc) and `place`: a
fresh installed location with a sales rep (GHL user = app user) and a second member."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest

from dev.stack import Stack
from tests.crm.crm_support import Ghl, install, location_create, new_id, signing_key, user_create
from tests.messaging.messaging_support import Trpc


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture
def ghl(stack: Stack, http: httpx.AsyncClient) -> Ghl:
    return Ghl(http, f"{stack.api_url}/api/webhooks/ghl", signing_key(stack))


@pytest.fixture
def api(stack: Stack, token, http: httpx.AsyncClient) -> Callable[[str], Trpc]:  # noqa: ANN001
    def signed_in(who: str) -> Trpc:
        return Trpc(http, f"{stack.api_url}/api/trpc", token(who))

    return signed_in


@dataclass(frozen=True)
class Place:
    location: str
    rep: str
    """A HighLevel user who is also the app user of the same id (the default link)."""
    colleague: str
    outsider: str
    """An app user of no location."""


@pytest.fixture
async def place(ghl: Ghl) -> Place:
    location, rep, colleague = new_id("loc"), new_id("usr"), new_id("usr")
    await ghl.send(install(location, installer=rep))
    await ghl.send(location_create(location, name="Acme Remodeling", timezone="America/Denver"))
    await ghl.send(user_create(rep, [location], name="Sam Rep"))
    await ghl.send(user_create(colleague, [location], name="Cole League"))
    return Place(location, rep, colleague, new_id("usr"))
