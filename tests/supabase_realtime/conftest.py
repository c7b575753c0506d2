"""Fixtures for the local Supabase Realtime server (dev/supabase_realtime) under the stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dev.stack import Stack
from tests.supabase_realtime.harness import SupabaseJsClients


@pytest.fixture
async def supabase_js(stack: Stack) -> AsyncIterator[SupabaseJsClients]:
    """Starts supabase-js clients (`await supabase_js(token)`); ends them all after."""
    clients = SupabaseJsClients(stack)
    try:
        yield clients
    finally:
        await clients.close()
