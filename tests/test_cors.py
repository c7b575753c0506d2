"""CORS (lib.cors through lib.web): a browser app on another origin calling the functions.

Unconfigured, the local stack's own functions are called over HTTP (nothing changes). The
configured cases build the same apps with injected settings (the stack's processes read their
environment once) and call them in-process, against the stack's PostgREST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from dev.stack import Stack
from lib.config import load_settings
from lib.db import Database
from lib.realtime.pusher_auth import channel_auth
from lib.rpc import router, system, trpc_app
from lib.services import Services
from lib.web import function
from tests import trpc_testing as testing
from tests.support import asgi_client, stack_services, unique

APP = "https://app.example.com"
LOCAL = "http://localhost:3001"
OTHER = "https://evil.example.net"
SOCKET_ID = "1234.5678"


def preflight(origin: str, method: str, headers: str = "") -> dict[str, str]:
    asked = {"access-control-request-headers": headers} if headers else {}
    return {"origin": origin, "access-control-request-method": method, **asked}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def assert_allowed(response: httpx.Response, origin: str) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "x-request-id, retry-after"
    assert "origin" in response.headers["vary"].lower()
    assert response.headers["x-request-id"]


@pytest.fixture
async def configured(stack: Stack) -> AsyncIterator[Services]:
    services = stack_services(stack, CORS_ALLOWED_ORIGINS=f"{APP}, {LOCAL}/", CORS_MAX_AGE_S="300")
    database = Database(services.settings)
    try:
        yield services.replace(db=database)
    finally:
        await database.aclose()


def realtime_auth(services: Services):  # noqa: ANN201 - an ASGI app
    return function(POST=channel_auth, services=services)


def trpc(services: Services):  # noqa: ANN201 - an ASGI app
    return trpc_app(router(*system.PROCEDURES, *testing.PROCEDURES), services=services)


# -- not configured: the local stack as deployed ----------------------------------------------


def test_unconfigured_functions_send_no_cors_headers(stack: Stack) -> None:
    url = f"{stack.api_url}/api/trpc/system.health"
    response = httpx.get(url, headers={"origin": APP}, timeout=10)
    assert response.status_code == 200, response.text
    assert cors_headers(response) == {}
    assert "origin" not in response.headers.get("vary", "").lower()


def test_unconfigured_options_behaves_as_before(stack: Stack) -> None:
    auth = httpx.options(
        f"{stack.api_url}/api/realtime/auth", headers=preflight(APP, "POST"), timeout=10
    )
    assert auth.status_code == 405, auth.text
    assert auth.json()["error"]["code"] == "METHOD_NOT_SUPPORTED"
    assert cors_headers(auth) == {}
    rpc = httpx.options(
        f"{stack.api_url}/api/trpc/system.health", headers=preflight(APP, "GET"), timeout=10
    )
    assert rpc.status_code == 405, rpc.text
    assert rpc.json()["error"]["data"]["code"] == "METHOD_NOT_SUPPORTED"
    assert cors_headers(rpc) == {}


# -- preflight ----------------------------------------------------------------------------------


async def test_allowed_origin_preflight(configured: Services) -> None:
    async with asgi_client(realtime_auth(configured)) as client:
        response = await client.options(
            "/api/realtime/auth",
            headers=preflight(LOCAL, "POST", "Authorization, content-type, x-evil, X-Request-Id"),
        )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": LOCAL,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, content-type, x-request-id",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "300",
    }
    assert response.headers["vary"] == "Origin"
    assert response.headers["x-request-id"]


async def test_trpc_preflight_names_the_methods_the_client_uses(configured: Services) -> None:
    async with asgi_client(trpc(configured)) as client:
        response = await client.options(
            "/api/trpc/system.health,system.whoami?batch=1",
            headers=preflight(APP, "GET", "authorization, trpc-accept, x-trpc-source"),
        )
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, POST"
    assert response.headers["access-control-allow-headers"] == (
        "authorization, trpc-accept, x-trpc-source"
    )


@pytest.mark.parametrize("origin", [OTHER, "null", "https://app.example.com.evil.net"])
async def test_disallowed_origin_preflight_is_403_json(configured: Services, origin: str) -> None:
    async with asgi_client(realtime_auth(configured)) as client:
        response = await client.options("/api/realtime/auth", headers=preflight(origin, "POST"))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["requestId"] == response.headers["x-request-id"]
    assert cors_headers(response) == {}


async def test_options_without_preflight_headers_reaches_the_function(configured: Services) -> None:
    async with asgi_client(realtime_auth(configured)) as client:
        response = await client.options("/api/realtime/auth", headers={"origin": APP})
    assert response.status_code == 405
    assert_allowed(response, APP)


# -- actual requests ----------------------------------------------------------------------------


async def test_function_success_and_errors_carry_the_headers(configured: Services, token) -> None:
    user = unique("user")
    async with asgi_client(realtime_auth(configured)) as client:

        async def post(channel: str, bearer: str | None) -> httpx.Response:
            headers = {"origin": APP}
            if bearer:
                headers["authorization"] = f"Bearer {bearer}"
            form = {"socket_id": SOCKET_ID, "channel_name": channel}
            return await client.post("/api/realtime/auth", data=form, headers=headers)

        ok = await post(f"private-user-{user}", token(user))
        forbidden = await post(f"private-user-{unique('other')}", token(user))
        anonymous = await post(f"private-user-{user}", None)
        wrong_method = await client.get("/api/realtime/auth", headers={"origin": APP})
    assert ok.status_code == 200, ok.text
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert anonymous.status_code == 401
    assert wrong_method.status_code == 405
    for response in (ok, forbidden, anonymous, wrong_method):
        assert_allowed(response, APP)


async def test_trpc_envelopes_carry_the_headers(configured: Services) -> None:
    ip = {"x-forwarded-for": unique("ip")}
    async with asgi_client(trpc(configured)) as client:
        batch = await client.get(
            "/api/trpc/system.health,system.nope?batch=1&input={}", headers={"origin": LOCAL}
        )
        mutation = await client.post(
            "/api/trpc/testing.echo", json={"message": "hi"}, headers={"origin": APP, **ip}
        )
        invalid = await client.post(
            "/api/trpc/testing.echo", json={"message": ""}, headers={"origin": APP, **ip}
        )
    assert batch.status_code == 207, batch.text
    assert [("result" in item, "error" in item) for item in batch.json()] == [
        (True, False),
        (False, True),
    ]
    assert_allowed(batch, LOCAL)
    # one Vary header: tRPC's own plus Origin
    assert batch.headers.get_list("vary") == ["trpc-accept, accept, Origin"]
    assert mutation.status_code == 200, mutation.text
    assert mutation.json()["result"]["data"]["repeated"] == "hi"
    assert_allowed(mutation, APP)
    assert invalid.status_code == 400
    assert_allowed(invalid, APP)


async def test_other_origins_are_served_without_cors_headers(configured: Services) -> None:
    async with asgi_client(trpc(configured)) as client:
        other = await client.get("/api/trpc/system.health", headers={"origin": OTHER})
        same_origin = await client.get("/api/trpc/system.health")
    for response in (other, same_origin):
        assert response.status_code == 200, response.text
        assert cors_headers(response) == {}
        # a shared cache must not reuse these for an allowed origin
        assert "Origin" in response.headers["vary"]


# -- "*" ------------------------------------------------------------------------------------------


async def test_any_origin_without_credentials(stack: Stack) -> None:
    services = stack_services(stack, CORS_ALLOWED_ORIGINS="*")
    async with asgi_client(trpc(services)) as client:
        pre = await client.options(
            "/api/trpc/testing.echo", headers=preflight(OTHER, "POST", "content-type")
        )
        actual = await client.get("/api/trpc/system.health", headers={"origin": OTHER})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in pre.headers
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in actual.headers
    assert actual.headers["access-control-expose-headers"] == "x-request-id, retry-after"


# -- settings -------------------------------------------------------------------------------------


def test_origins_are_normalised() -> None:
    config = load_settings({"CORS_ALLOWED_ORIGINS": " https://App.example.com/ ,http://x:3001,"})
    assert config.cors_allowed_origins == ("https://app.example.com", "http://x:3001")
    assert config.cors_max_age_s == 600
    assert load_settings({}).cors_allowed_origins == ()


@pytest.mark.parametrize(
    "value",
    ["*, https://app.example.com", "https://app.example.com/path", "null", "app.example.com"],
)
def test_bad_origins_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="CORS_ALLOWED_ORIGINS"):
        load_settings({"CORS_ALLOWED_ORIGINS": value})
