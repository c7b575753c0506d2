"""GET /api/health through the Vercel emulation, with the real stack behind it."""

from __future__ import annotations

import time

import httpx

from dev.stack import Stack


def test_health_is_ok_with_the_stack_up(stack: Stack):
    response = httpx.get(f"{stack.api_url}/api/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"db": "ok"}
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
