"""Helpers for the outbox tests: SQL access to the stack, outbox rows, pusher-js clients that
authorize through the real /api/realtime/auth, and staying clear of the stack's cron."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row

from dev.realtime import ServerAddress
from dev.stack import Stack
from tests.realtime.realtime_harness import CLIENT_JS, ROOT, PusherJs


@contextlib.contextmanager
def sql(stack: Stack, *, autocommit: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the stack's database."""
    assert stack.pg is not None
    with psycopg.connect(
        stack.pg.dsn, autocommit=autocommit, connect_timeout=10, row_factory=dict_row
    ) as conn:
        yield conn


def outbox_rows(stack: Stack, channel: str) -> list[dict[str, Any]]:
    """Every outbox row of `channel`, oldest first (next_attempt_at as text: it may be
    'infinity', which Python's datetime cannot hold)."""
    with sql(stack) as conn:
        return conn.execute(
            "select id, event, data, published_at, attempts, last_error,"
            " next_attempt_at::text as next_attempt_at"
            " from public.outbox where channel = %s order by id",
            [channel],
        ).fetchall()


@contextlib.asynccontextmanager
async def pusher_js(
    address: ServerAddress, *, auth_endpoint: str, token: str, lifetime_s: int = 120
) -> AsyncIterator[PusherJs]:
    """One pusher-js client whose channelAuthorization calls `auth_endpoint` with the user's
    bearer token (the way a browser app configures it); always ended."""
    options = {
        "host": address.host,
        "port": address.port,
        "key": address.key,
        "authEndpoint": auth_endpoint,
        "userAuthEndpoint": auth_endpoint.replace("/auth", "/user-auth"),
        "headers": {"Authorization": f"Bearer {token}"},
        "params": {},
        "lifetimeMs": lifetime_s * 1000,
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(CLIENT_JS),
        json.dumps(options),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    client = PusherJs(process)
    try:
        client.socket_id = (await client.expect("connected"))["socket_id"]
        yield client
    finally:
        await client.close()
