"""GET /api/health through the Vercel emulation, with the real stack behind it: a dead
database, and a broken one (a function gone, a migration not applied)."""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from dev.env import ROOT
from dev.migrate import MIGRATIONS
from dev.stack import Stack
from lib.features import BUNDLE
from tests.support import sql


def test_health_is_ok_with_the_stack_up(stack: Stack):
    response = httpx.get(f"{stack.api_url}/api/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"db": "ok", "schema": "ok"}
    assert body["version"]
    assert response.headers["x-request-id"]


def test_health_is_503_naming_the_db_while_postgrest_is_down(stack: Stack):
    assert stack.postgrest is not None
    stack.postgrest.stop()
    try:
        response = httpx.get(f"{stack.api_url}/api/health", timeout=15)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["db"].startswith("failing")
    finally:
        stack.postgrest.start()
    deadline = time.monotonic() + 20
    while httpx.get(f"{stack.api_url}/api/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "health did not recover after PostgREST restarted"
        time.sleep(0.2)


def test_health_rejects_other_methods_with_a_json_error(stack: Stack):
    response = httpx.post(f"{stack.api_url}/api/health", timeout=10)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_SUPPORTED"


def test_health_is_503_naming_a_function_the_features_call_that_is_gone(stack: Stack):
    with sql(stack) as conn:
        conn.execute("alter function public.messaging_notify_cleanup rename to gone_for_a_test")
        try:
            response = httpx.get(f"{stack.api_url}/api/health", timeout=10)
        finally:
            conn.execute("alter function public.gone_for_a_test rename to messaging_notify_cleanup")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["db"] == "ok"
    assert body["checks"]["schema"] == "failing: missing messaging_notify_cleanup"
    assert httpx.get(f"{stack.api_url}/api/health", timeout=10).status_code == 200


def test_health_is_503_naming_the_migration_when_the_newest_is_not_applied(stack: Stack):
    older = str(int(BUNDLE.migration) - 1)
    move = "update supabase_migrations.schema_migrations set version = %s where version = %s"
    with sql(stack) as conn:
        assert conn.execute(move, (older, BUNDLE.migration)).rowcount == 1
        try:
            response = httpx.get(f"{stack.api_url}/api/health", timeout=10)
        finally:
            conn.execute(move, (BUNDLE.migration, older))
    assert response.status_code == 503
    assert response.json()["checks"]["schema"] == (
        f"failing: newest migration applied is {older}, expected {BUNDLE.migration}"
    )


def test_the_migration_health_expects_is_the_newest_file():
    newest = max(path.name.split("_", 1)[0] for path in MIGRATIONS.glob("*.sql"))
    assert newest == BUNDLE.migration, "a migration was added: its feature's `migration` says so"


def sql_names_called(root: Path) -> Iterator[tuple[str, str]]:
    """(file, name) for every string literal handed to rpc(), command() or table() in lib/."""
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("rpc", "command", "table"):
                for arg in node.args[:2]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield str(path.relative_to(ROOT)), arg.value


def test_every_sql_object_the_code_calls_is_declared_for_the_health_check():
    declared = set(BUNDLE.schema)
    called = set(sql_names_called(ROOT / "lib"))
    assert len(called) > 40  # the scan sees the calls (a broken scan would pass vacuously)
    processors = {name for hook in BUNDLE.webhooks.values() for name in hook.processors.values()}
    undeclared = sorted(f"{file}: {name}" for file, name in called if name not in declared)
    assert not undeclared, "add these to the feature's `schema`"
    assert processors <= declared
