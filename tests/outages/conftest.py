"""Outage tests stop real processes, so each module gets a stack of its own (never the
session's shared one): fresh Postgres, PostgREST, gateway, realtime server and api on free
ports, stopped and removed afterwards. The process environment, which a stack's api functions
read at their first request, is restored afterwards so the session stack's functions are
unaffected."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator

import pytest

from dev.stack import Stack, StackConfig

OWN_ENV = {
    # 1,000 writes by one user in a minute is the point of these tests, not abuse.
    "MESSAGING_SEND_RATE_LIMIT": "100000",
}


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    saved = dict(os.environ)
    os.environ.update(OWN_ENV)
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    running = Stack(config).start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved)
