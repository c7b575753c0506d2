"""RLS on the trading tables, as Supabase checks it: `authenticated` with request.jwt.claims
set, in a transaction that is always rolled back. Owners read their rows; nobody else does;
nobody writes; the encrypted secret columns are the server's alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from dev.stack import Stack
from tests.trading.trading_support import Trader, fill, new_user, order, position, push

TABLES = [
    "trading_connections",
    "trading_positions",
    "trading_orders",
    "trading_balances",
    "trading_sync_logs",
    "trading_fills",
]


@contextmanager
def as_user(stack: Stack, who: str | None) -> Iterator[psycopg.Connection]:
    assert stack.pg is not None
    role = "authenticated" if who else "anon"
    with psycopg.connect(stack.pg.dsn, connect_timeout=10) as conn:
        try:
            claims = {"sub": who, "role": role} if who else {"role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            conn.execute(f"set local role {role}")
            yield conn
        finally:
            conn.rollback()


@pytest.fixture
async def filled(http: httpx.AsyncClient, trader: Trader) -> Trader:
    update = {
        "id": "1",
        "positions": [position("AAPL", 1)],
        "orders": [order("o", "new")],
        "balance": {"cash": 1},
        "fills": [fill("f")],
    }
    assert (await push(http, trader, update)).status_code == 200
    return trader


@pytest.mark.parametrize("table", TABLES)
def test_owners_read_their_rows_and_nobody_elses(stack: Stack, filled: Trader, table: str):
    with as_user(stack, filled.user) as conn:
        rows = conn.execute(f"select user_id from public.{table}").fetchall()  # noqa: S608
        assert rows and {r[0] for r in rows} == {filled.user}
    with as_user(stack, new_user()) as conn:
        assert conn.execute(f"select 1 from public.{table}").fetchall() == []  # noqa: S608


@pytest.mark.parametrize("table", TABLES)
def test_nobody_writes(stack: Stack, filled: Trader, table: str):
    with as_user(stack, filled.user) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"delete from public.{table}")  # noqa: S608


def test_anon_reads_nothing(stack: Stack, filled: Trader):
    for table in TABLES:
        with as_user(stack, None) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select 1 from public.{table}")  # noqa: S608


@pytest.mark.parametrize("column", ["webhook_secret", "access_token", "refresh_token"])
def test_the_ciphertext_columns_are_not_selectable(stack: Stack, filled: Trader, column: str):
    with as_user(stack, filled.user) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select {column} from public.trading_connections")  # noqa: S608


@pytest.mark.parametrize(
    "call",
    [
        "select public.trading_connections('x')",
        "select public.trading_webhook_secret(gen_random_uuid())",
        "select public.trading_on_broker_event('{}'::jsonb)",
        "select public.trading_fills('x', null, null, 10)",
        "select public.trading_fills_cleanup(1)",
    ],
)
def test_the_functions_are_the_service_roles(stack: Stack, filled: Trader, call: str):
    with as_user(stack, filled.user) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(call)
