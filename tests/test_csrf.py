"""Cross-site request forgery with the session cookie (issue 10): the tRPC endpoint takes POST
bodies only as application/json (a form or text/plain post needs no preflight), and a
cookie-authenticated state change must come from this site or a CORS_ALLOWED_ORIGINS origin
(Origin, else Sec-Fetch-Site), on tRPC and on pusher-js's /api/realtime/auth and user-auth.
A bearer token in the Authorization header is no ambient credential: never checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from dev.stack import Stack
from lib.db import Database
from lib.realtime.pusher_auth import channel_auth, user_auth
from lib.rpc import Context, Procedure, router, trpc_app
from lib.services import Services
from lib.web import function
from tests.support import asgi_client, stack_services, unique

APP = "https://app.example.com"
EVIL = "https://evil.example.net"
SELF = "http://fn.test"
"""The origin asgi_client requests are addressed to."""
SOCKET_ID = "1234.5678"


class Touched(BaseModel):
    userId: str


async def touch(ctx: Context, input: None) -> Touched:
    return Touched(userId=ctx.user.user_id)


TOUCH = Procedure(path="notes.touch", kind="mutation", output=Touched, handler=touch)
"""A state change: a signed-in mutation."""


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    services = stack_services(stack, CORS_ALLOWED_ORIGINS=APP)
    database = Database(services.settings)
    try:
        yield services.replace(db=database)
    finally:
        await database.aclose()


async def mutate(services: Services, headers: dict[str, str], **request: Any) -> httpx.Response:
    app = trpc_app(router(TOUCH), services=services)
    async with asgi_client(app) as client:
        return await client.post("/api/trpc/notes.touch", headers=headers, **request)


def cookie(token: str) -> dict[str, str]:
    return {"cookie": f"__session={token}"}


def trpc_error(response: httpx.Response, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    return error["data"]["code"], error["message"]


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/x-www-form-urlencoded"]
)
async def test_trpc_posts_are_json_only(services: Services, token: Any, content_type: str | None):
    headers = cookie(token(unique("u")))
    if content_type is not None:
        headers["content-type"] = content_type
    response = await mutate(services, headers, content=b"")
    code, message = trpc_error(response, 415)
    assert code == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in message


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": EVIL},
        {"origin": "null"},
        {"origin": "https://fn.test"},  # another scheme is another origin
        {"origin": EVIL, "sec-fetch-site": "same-origin"},  # Origin decides when sent
        {"sec-fetch-site": "cross-site"},
    ],
)
async def test_a_cross_site_cookie_mutation_is_403(
    services: Services, token: Any, headers: dict[str, str]
):
    user = unique("u")
    response = await mutate(services, {**cookie(token(user)), **JSON, **headers})
    code, message = trpc_error(response, 403)
    assert code == "FORBIDDEN" and message.startswith("cross-site request refused: ")


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": SELF},
        {"origin": APP},  # listed in CORS_ALLOWED_ORIGINS
        {
            "origin": "https://shop.example",
            "x-forwarded-host": "shop.example",
            "x-forwarded-proto": "https",
        },  # the public host the proxy reports
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "none"},
        {},  # no browser: no Origin, no Sec-Fetch-Site
    ],
)
async def test_a_same_site_cookie_mutation_is_served(
    services: Services, token: Any, headers: dict[str, str]
):
    user = unique("u")
    response = await mutate(services, {**cookie(token(user)), **JSON, **headers})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["data"] == {"userId": user}


async def test_a_bearer_token_is_no_ambient_credential(services: Services, token: Any):
    user = unique("u")
    headers = {"authorization": f"Bearer {token(user)}", "origin": EVIL, **JSON}
    response = await mutate(services, headers)
    assert response.status_code == 200, response.text


async def test_cookie_queries_are_not_refused(services: Services, token: Any):
    """GET changes nothing (and its answer is unreadable cross-site without CORS)."""
    from lib.rpc import system

    app = trpc_app(router(*system.PROCEDURES), services=services)
    user = unique("u")
    async with asgi_client(app) as client:
        response = await client.get(
            "/api/trpc/system.whoami", headers={**cookie(token(user)), "origin": EVIL}
        )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["data"]["userId"] == user


@pytest.mark.parametrize(("path", "handler"), [("auth", channel_auth), ("user-auth", user_auth)])
async def test_pusher_auth_form_posts_with_the_cookie_from_another_site_are_403(
    services: Services, token: Any, path: str, handler: Any
):
    user = unique("u")
    app = function(POST=handler, services=services)
    form = {"socket_id": SOCKET_ID, "channel_name": f"private-user-{user}"}
    async with asgi_client(app) as client:
        forged = await client.post(
            f"/api/realtime/{path}", data=form, headers={**cookie(token(user)), "origin": EVIL}
        )
        own = await client.post(
            f"/api/realtime/{path}", data=form, headers={**cookie(token(user)), "origin": SELF}
        )
    assert forged.status_code == 403, forged.text
    assert forged.json()["error"]["message"].startswith("cross-site request refused: ")
    assert own.status_code == 200, own.text
    assert own.json()["auth"].startswith(f"{services.settings.pusher_key}:")


def test_the_stack_refuses_a_cross_site_cookie_post(stack: Stack, token: Any):
    user = unique("u")
    form = {"socket_id": SOCKET_ID, "channel_name": f"private-user-{user}"}
    url = f"{stack.api_url}/api/realtime/auth"
    with httpx.Client(timeout=10) as http:
        forged = http.post(url, data=form, headers={**cookie(token(user)), "origin": EVIL})
        own = http.post(url, data=form, headers={**cookie(token(user)), "origin": stack.api_url})
        rpc = http.post(f"{stack.api_url}/api/trpc/system.health", headers=cookie(token(user)))
    assert forged.status_code == 403, forged.text
    assert own.status_code == 200, own.text
    assert rpc.status_code == 415, rpc.text
