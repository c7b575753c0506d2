"""Small helpers for tests that drive lib/ against the local stack (real PostgREST, real
Postgres): settings pointing at the stack, a superuser SQL connection for arranging rows,
and an httpx client for an inline ASGI app."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import httpx
import psycopg
from starlette.types import ASGIApp

from dev.stack import Stack
from lib.config import Settings, load_settings
from lib.services import Services


def stack_env(stack: Stack, **env: str) -> dict[str, str]:
    """The environment of an app served by `stack` (development), with overrides."""
    return {**stack.env(), "SOCKLESS_ENV": "development", **env}


def stack_services(stack: Stack, **env: str) -> Services:
    """Services for the enabled features against `stack` (the parts a test hands an app)."""
    from lib.features import BUNDLE

    return BUNDLE.services(stack_env(stack, **env))


def stack_settings(stack: Stack, **env: str) -> Settings:
    """Settings as the stack's functions read them, plus `env` overrides."""
    return load_settings({**stack.env(), "SOCKLESS_ENV": "development", **env})


@contextlib.contextmanager
def sql(stack: Stack) -> Iterator[psycopg.Connection]:
    """A superuser connection (autocommit) for arranging and inspecting rows."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, autocommit=True, connect_timeout=10) as conn:
        yield conn


@contextlib.contextmanager
def fresh_database(stack: Stack) -> Iterator[str]:
    """A new empty database in the session's cluster (dropped afterwards); yields its DSN."""
    assert stack.pg is not None
    name = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield stack.pg.dsn_for(user="postgres", password="postgres", dbname=name)
    finally:
        with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def asgi_client(app: ASGIApp) -> httpx.AsyncClient:
    """An httpx client calling `app` in-process, the way a browser calls the function."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fn.test")
