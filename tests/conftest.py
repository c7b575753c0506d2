"""One local stack per test session (fresh Postgres cluster, PostgREST, gateway, api) on free
ports, so the tests run beside a developer's `make dev`."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator

import pytest

from dev.stack import Stack, StackConfig
from dev.token import user_token


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    running = Stack(config).start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def token(stack: Stack):  # noqa: ANN201 - a small factory
    """token("alice") -> a user JWT the stack accepts (PostgREST and lib.auth)."""

    def mint(sub: str, **kwargs: object) -> str:
        return user_token(stack.config.jwt_secret, sub=sub, **kwargs)  # type: ignore[arg-type]

    return mint


@pytest.fixture(scope="session")
def supabase_api(stack: Stack) -> Iterator[str]:
    """The api functions (and the demo app) with REALTIME_PROVIDER=supabase, in a process of
    their own (dev/api_host.py); the stack's own api runs in Pusher mode."""
    from dev.api_host import api_process

    with api_process(stack, REALTIME_PROVIDER="supabase") as host:
        yield host.url
