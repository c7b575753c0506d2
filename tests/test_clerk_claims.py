"""Clerk tokens must be this instance's, for this app, for this service (issue 10): in
production `iss` is CLERK_ISSUER, `azp` one of CLERK_AUTHORIZED_PARTIES, and an `aud` one of
CLERK_AUDIENCE; in development an unset one is not checked. Driven through the tRPC endpoint
(system.whoami) with RS256 tokens signed by a key generated here."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from lib.config import load_settings
from lib.rpc import router, system, trpc_app
from lib.services import Services
from tests.support import asgi_client
from tests.test_auth import APP_ORIGIN, CLERK_ISS, RSA_KEY, clerk_token, public_pem

KEY = public_pem(RSA_KEY).replace("\n", "\\n")
PRODUCTION = {
    "SOCKLESS_ENV": "production",
    "CLERK_JWT_KEY": KEY,
    "CLERK_ISSUER": CLERK_ISS + "/",  # a trailing slash in the setting is no difference
    "CLERK_AUTHORIZED_PARTIES": APP_ORIGIN,
}


DROP = object()
"""A claim the token does not carry."""


def mint(**claims: Any) -> str:
    """clerk_token() with `claims` changed (DROP: left out), signed with the same key."""
    body = jwt.decode(clerk_token(), options={"verify_signature": False})
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not DROP}
    return jwt.encode(body, RSA_KEY, algorithm="RS256", headers={"kid": "clerk-1"})


async def whoami(env: dict[str, str], token: str) -> httpx.Response:
    app = trpc_app(router(*system.PROCEDURES), services=Services(load_settings(env)))
    async with asgi_client(app) as client:
        return await client.get(
            "/api/trpc/system.whoami", headers={"authorization": f"Bearer {token}"}
        )


def unauthorized(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["data"]["code"] == "UNAUTHORIZED"
    return str(error["message"])


async def test_production_accepts_this_instances_token_for_this_app():
    response = await whoami(PRODUCTION, clerk_token())
    assert response.status_code == 200, response.text
    assert response.json()["result"]["data"]["provider"] == "clerk"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (
            {"iss": "https://clerk.other-tenant.test"},
            "token issuer 'https://clerk.other-tenant.test'",
        ),
        ({"iss": DROP}, "token issuer None is not 'https://clerk.example.test'"),
        ({"azp": "https://evil.example.test"}, "token azp 'https://evil.example.test' is not"),
        ({"azp": None}, "token azp None is not an authorized party"),
        (
            {"aud": "https://api.other-service.test"},
            "token audience 'https://api.other-service.test'",
        ),
        ({"aud": ["a", "b"]}, "token audience ['a', 'b'] is not one of CLERK_AUDIENCE"),
    ],
)
async def test_production_refuses_other_issuers_parties_and_audiences(
    claims: dict[str, Any], message: str
):
    token = mint(**claims)
    assert unauthorized(await whoami(PRODUCTION, token)).startswith(message)


async def test_an_audience_listed_in_clerk_audience_is_accepted():
    env = {**PRODUCTION, "CLERK_AUDIENCE": "https://api.example.test, other"}
    token = clerk_token(aud=["https://api.example.test", "x"])
    assert (await whoami(env, token)).status_code == 200
    assert "audience" in unauthorized(await whoami(env, clerk_token(aud="x")))


@pytest.mark.parametrize("missing", ["CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES"])
async def test_production_without_the_instance_settings_accepts_no_clerk_token(missing: str):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    assert unauthorized(await whoami(env, clerk_token())) == (
        f"Clerk tokens are not accepted: {missing} is not set"
    )


async def test_development_keeps_its_leniency_for_what_is_not_set():
    env = {"SOCKLESS_ENV": "development", "CLERK_JWT_KEY": KEY}
    lenient = clerk_token(iss="https://anything.test", azp=None, aud="whatever")
    assert (await whoami(env, lenient)).status_code == 200
    strict = {**env, "CLERK_ISSUER": CLERK_ISS}  # what is set is checked everywhere
    assert "token issuer" in unauthorized(await whoami(strict, lenient))
