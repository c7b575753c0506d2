"""lib.web: the error contract every api/ function shares."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.requests import Request

from lib import config
from lib.errors import Conflict, TooManyRequests
from lib.services import Services
from lib.web import function


async def conflict(request: Request, services: Services) -> dict[str, str]:
    raise Conflict("that vote was already counted")


async def limited(request: Request, services: Services) -> dict[str, str]:
    raise TooManyRequests("slow down", retry_after=7)


async def crash(request: Request, services: Services) -> dict[str, str]:
    raise KeyError("secret-internal-detail")


async def ok(request: Request, services: Services) -> dict[str, str]:
    return {"hello": "world"}


def client_for(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://fn")


def services(**env: str) -> Services:
    return Services(config.load_settings(env), env=env)


DEV = services(SOCKLESS_ENV="development")
PRODUCTION = services(SOCKLESS_ENV="production")


async def test_handler_result_is_json_with_a_request_id():
    client = client_for(function(GET=ok, services=DEV))
    response = await client.get("/", headers={"x-request-id": "req-123"})
    assert response.json() == {"hello": "world"}
    assert response.headers["x-request-id"] == "req-123"


async def test_known_errors_keep_their_status_code_and_message():
    client = client_for(function(POST=conflict, GET=limited, services=DEV))
    response = await client.post("/")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "CONFLICT" and error["message"] == "that vote was already counted"
    assert error["requestId"] == response.headers["x-request-id"]
    limited_response = await client.get("/")
    assert limited_response.status_code == 429
    assert limited_response.headers["retry-after"] == "7"


async def test_unexpected_errors_are_json_500_without_a_trace_in_production():
    client = client_for(function(GET=crash, services=PRODUCTION))
    response = await client.get("/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text


async def test_wrong_method_is_a_json_405():
    client = client_for(function(GET=ok, services=DEV))
    response = await client.delete("/")
    assert response.status_code == 405
    assert json.loads(response.text)["error"]["code"] == "METHOD_NOT_SUPPORTED"


def test_settings_mask_secrets_in_repr():
    loaded = config.load_settings({"SUPABASE_SERVICE_ROLE_KEY": "very-secret", "CRON_SECRET": "c"})
    assert "very-secret" not in repr(loaded)
    assert loaded.supabase_service_role_key.get() == "very-secret"
    with pytest.raises(ValueError, match="REALTIME_PROVIDER"):
        config.load_settings({"REALTIME_PROVIDER": "carrier-pigeon"})
