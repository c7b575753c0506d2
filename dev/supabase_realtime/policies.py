"""Private channel authorization, done the way hosted Realtime does it: by the RLS policies
on realtime.messages, in the real database (Realtime.Tenants.Authorization).

- may read (receive broadcast / presence): in one transaction, insert a probe row per
  extension (as the connecting admin), then `set_config('role', <role claim>)`,
  `request.jwt.claims`, `request.jwt.claim.sub/role` and `realtime.topic`, select the probe
  rows back: a row the policies let through means read. Rolled back.
- may write (send broadcast / track presence): same settings, then insert a row per
  extension under the caller's role; `insufficient_privilege` means no. Rolled back.

The service role (BYPASSRLS) passes every check, as it does on hosted Supabase.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from psycopg import errors

from .tokens import Claims

EXTENSIONS = ("broadcast", "presence")
POOL_SIZE = 4


@dataclass
class Policies:
    broadcast_read: bool = False
    presence_read: bool = False
    broadcast_write: bool | None = None
    """None until the first send asks (Realtime checks writes lazily, then remembers)."""
    presence_write: bool | None = None


class Authorizer:
    """Policy checks over a few connections of the connecting admin (the stack's superuser)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._idle: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()
        self._opened = 0
        self._all: list[psycopg.AsyncConnection[tuple[object, ...]]] = []

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        if self._idle.empty() and self._opened < POOL_SIZE:
            self._opened += 1
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            except BaseException:
                self._opened -= 1
                raise
            self._all.append(conn)
        else:
            conn = await self._idle.get()
        try:
            yield conn
        finally:
            if conn.closed:
                self._all.remove(conn)
                self._opened -= 1
            else:
                self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
        self._opened = 0

    async def read(self, topic: str, claims: Claims) -> Policies:
        ids = {ext: uuid.uuid4() for ext in EXTENSIONS}
        async with self._connection() as conn, conn.transaction(force_rollback=True):
            for ext, id_ in ids.items():
                await conn.execute(
                    "insert into realtime.messages (id, topic, extension, private) "
                    "values (%s, %s, %s, true)",
                    [id_, topic, ext],
                )
            try:
                async with conn.transaction():
                    await _as_caller(conn, topic, claims)
                    cursor = await conn.execute(
                        "select extension from realtime.messages where id = any(%s)",
                        [list(ids.values())],
                    )
                    seen = {str(row[0]) for row in await cursor.fetchall()}
            except psycopg.Error:  # an unknown role claim, a policy that raises: no access
                seen = set()
        return Policies(broadcast_read="broadcast" in seen, presence_read="presence" in seen)

    async def write(self, topic: str, claims: Claims, policies: Policies) -> None:
        """Fill in `policies`' write answers."""
        allowed: dict[str, bool] = {}
        async with self._connection() as conn, conn.transaction(force_rollback=True):
            try:
                await _as_caller(conn, topic, claims)
            except psycopg.Error:
                allowed = dict.fromkeys(EXTENSIONS, False)
            for ext in EXTENSIONS:
                if ext in allowed:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(
                            "insert into realtime.messages (topic, extension, private) "
                            "values (%s, %s, true)",
                            [topic, ext],
                        )
                    allowed[ext] = True
                except (errors.InsufficientPrivilege, errors.CheckViolation):
                    allowed[ext] = False
        policies.broadcast_write = allowed["broadcast"]
        policies.presence_write = allowed["presence"]


async def _as_caller(
    conn: psycopg.AsyncConnection[tuple[object, ...]], topic: str, claims: Claims
) -> None:
    await conn.execute(
        "select set_config('role', %s, true), set_config('realtime.topic', %s, true), "
        "set_config('request.jwt.claims', %s, true), "
        "set_config('request.jwt.claim.sub', %s, true), "
        "set_config('request.jwt.claim.role', %s, true)",
        [claims.role, topic, json.dumps(claims.claims), claims.sub or "", claims.role],
    )
