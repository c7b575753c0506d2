"""lib.auth through a three-line function app: Supabase HS256/JWKS and Clerk RS256 tokens.

Clerk and Supabase's JWKS endpoints are clouds we cannot reach, so their key sets are served
by httpx.MockTransport; every key is generated here, nothing of ours is patched.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.requests import Request

from lib.auth import Authenticator
from lib.config import load_settings
from lib.errors import Unauthorized
from lib.jwks import MIN_REFRESH_S, Jwks
from lib.services import Services
from lib.web import function
from tests.support import asgi_client

SECRET = "local-jwt-secret-" + "x" * 24
DEV = {"SOCKLESS_ENV": "development"}
"""These tests check verification itself; production's extra Clerk requirements are
tests/test_clerk_claims.py's."""
SUPABASE_ISS = "https://project.supabase.co/auth/v1"
CLERK_ISS = "https://clerk.example.test"
APP_ORIGIN = "https://app.example.test"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    data = json.loads(algorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


def supabase_token(*, secret: str = SECRET, ttl_s: int = 3600, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "sub": "alice",
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl_s,
        "email": "alice@example.test",
        **claims,
    }
    return jwt.encode(body, secret, algorithm="HS256")


def clerk_token(*, key: Any = RSA_KEY, ttl_s: int = 60, kid: str = "clerk-1", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "sub": "user_2abc",
        "sid": "sess_1",
        "azp": APP_ORIGIN,
        "iss": CLERK_ISS,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def whoami_app(authenticator: Authenticator):
    async def whoami(request: Request, services: Services) -> dict[str, Any]:
        principal = await authenticator.authenticate(request)
        return {
            "user_id": principal.user_id,
            "provider": principal.provider,
            "email": principal.email,
        }

    return function(GET=whoami, services=Services(load_settings(DEV)))


async def call(
    authenticator: Authenticator,
    token: str | None = None,
    *,
    cookie: str | None = None,
    header: str | None = None,
) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if header is not None:
        headers["authorization"] = header
    if cookie is not None:
        headers["cookie"] = f"__session={cookie}"
    async with asgi_client(whoami_app(authenticator)) as client:
        return await client.get("/api/whoami", headers=headers)


def unauthorized(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    return str(error["message"])


@pytest.fixture
def supabase_auth() -> Authenticator:
    return Authenticator(load_settings({**DEV, "SUPABASE_JWT_SECRET": SECRET}))


@pytest.fixture
def clerk_auth() -> Authenticator:
    config = load_settings(
        {
            **DEV,
            "SUPABASE_JWT_SECRET": SECRET,
            "CLERK_JWT_KEY": public_pem(RSA_KEY).replace("\n", "\\n"),  # as a one-line env value
            "CLERK_AUTHORIZED_PARTIES": f"{APP_ORIGIN}, http://localhost:3000",
        }
    )
    return Authenticator(config)


async def test_supabase_token_gives_the_user(supabase_auth: Authenticator):
    response = await call(supabase_auth, supabase_token())
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "alice",
        "provider": "supabase",
        "email": "alice@example.test",
    }


async def test_missing_token_is_401_saying_what_to_send(supabase_auth: Authenticator):
    assert "missing bearer token" in unauthorized(await call(supabase_auth))


async def test_non_bearer_authorization_is_401(supabase_auth: Authenticator):
    message = unauthorized(await call(supabase_auth, header="Basic YWxpY2U6cHc="))
    assert "Bearer <token>" in message


async def test_forged_token_is_401(supabase_auth: Authenticator):
    forged = supabase_token(secret="someone-elses-secret-" + "y" * 20)
    assert unauthorized(await call(supabase_auth, forged)) == "token signature is invalid"


async def test_expired_token_is_401(supabase_auth: Authenticator):
    expired = supabase_token(ttl_s=-60)
    assert unauthorized(await call(supabase_auth, expired)) == "token has expired"


async def test_token_within_the_leeway_is_accepted(supabase_auth: Authenticator):
    response = await call(supabase_auth, supabase_token(ttl_s=-1))
    assert response.status_code == 200


async def test_wrong_audience_is_401(supabase_auth: Authenticator):
    wrong = supabase_token(aud="some-other-api")
    assert unauthorized(await call(supabase_auth, wrong)) == "token audience is not 'authenticated'"


async def test_api_keys_are_not_user_tokens(supabase_auth: Authenticator):
    anon_key = jwt.encode({"role": "anon", "exp": int(time.time()) + 60}, SECRET, "HS256")
    assert unauthorized(await call(supabase_auth, anon_key)) == "token has no 'sub' claim"


async def test_token_without_subject_is_401(supabase_auth: Authenticator):
    now = int(time.time())
    no_sub = jwt.encode({"aud": "authenticated", "exp": now + 60}, SECRET, "HS256")
    assert unauthorized(await call(supabase_auth, no_sub)) == "token has no 'sub' claim"


async def test_garbage_is_401(supabase_auth: Authenticator):
    assert unauthorized(await call(supabase_auth, "not.a.jwt")) == "token is not a JWT"


async def test_clerk_token_is_accepted(clerk_auth: Authenticator):
    response = await call(clerk_auth, clerk_token())
    assert response.status_code == 200
    assert response.json() == {"user_id": "user_2abc", "provider": "clerk", "email": None}


async def test_clerk_session_cookie_is_read(clerk_auth: Authenticator):
    response = await call(clerk_auth, cookie=clerk_token())
    assert response.json()["user_id"] == "user_2abc"


async def test_clerk_token_for_another_app_is_401(clerk_auth: Authenticator):
    stranger = clerk_token(azp="https://evil.example.test")
    message = unauthorized(await call(clerk_auth, stranger))
    assert message == "token azp 'https://evil.example.test' is not an authorized party"


async def test_clerk_token_without_azp_is_401_when_parties_are_set(clerk_auth: Authenticator):
    assert "azp None" in unauthorized(await call(clerk_auth, clerk_token(azp=None)))


async def test_clerk_token_signed_by_another_key_is_401(clerk_auth: Authenticator):
    forged = clerk_token(key=OTHER_RSA_KEY)
    assert unauthorized(await call(clerk_auth, forged)) == "token signature is invalid"


async def test_expired_clerk_token_is_401(clerk_auth: Authenticator):
    assert unauthorized(await call(clerk_auth, clerk_token(ttl_s=-30))) == "token has expired"


async def test_clerk_token_not_yet_valid_is_401(clerk_auth: Authenticator):
    future = clerk_token(nbf=int(time.time()) + 120)
    assert "not valid yet" in unauthorized(await call(clerk_auth, future))


async def test_rs256_token_without_clerk_configured_is_401(supabase_auth: Authenticator):
    message = unauthorized(await call(supabase_auth, clerk_token()))
    assert "CLERK_JWT_KEY" in message


class JwksServer:
    """A JWKS endpoint (the issuer's cloud) behind httpx.MockTransport; counts fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": self.keys})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


async def test_clerk_jwks_keys_are_fetched_once_for_many_tokens():
    server = JwksServer([jwk(RSA_KEY, "clerk-1", "RS256")])
    config = load_settings(
        {**DEV, "CLERK_JWKS_URL": "https://clerk.example.test/.well-known/jwks.json"}
    )
    async with server.client() as http:
        auth = Authenticator(config, http=http)
        for _ in range(3):
            assert (await call(auth, clerk_token())).status_code == 200
    assert server.fetches == 1


async def test_jwks_follows_key_rotation_but_not_made_up_key_ids():
    server = JwksServer([jwk(RSA_KEY, "clerk-1", "RS256")])
    now = [1000.0]
    async with server.client() as http:
        keys = Jwks("https://clerk.example.test/jwks", http=http, clock=lambda: now[0])
        assert (await keys.key("clerk-1")).key_id == "clerk-1"
        server.keys.append(jwk(OTHER_RSA_KEY, "clerk-2", "RS256"))
        with pytest.raises(Unauthorized):  # just fetched: an unknown kid does not refetch
            await keys.key("clerk-2")
        now[0] += MIN_REFRESH_S
        assert (await keys.key("clerk-2")).key_id == "clerk-2"  # rotation picked up
        assert server.fetches == 2
        with pytest.raises(Unauthorized, match="unknown key"):
            await keys.key("made-up")
        assert server.fetches == 2


async def test_supabase_es256_token_is_verified_with_the_projects_jwks():
    server = JwksServer([jwk(EC_KEY, "sb-1", "ES256")])
    config = load_settings({**DEV, "SUPABASE_JWKS_URL": f"{SUPABASE_ISS}/.well-known/jwks.json"})
    now = int(time.time())
    claims = {"sub": "0b6f-uuid", "aud": "authenticated", "iss": SUPABASE_ISS, "exp": now + 60}
    token = jwt.encode(claims, EC_KEY, algorithm="ES256", headers={"kid": "sb-1"})
    wrong_aud = jwt.encode(
        {**claims, "aud": "x"}, EC_KEY, algorithm="ES256", headers={"kid": "sb-1"}
    )
    async with server.client() as http:
        auth = Authenticator(config, http=http)
        response = await call(auth, token)
        assert response.json()["provider"] == "supabase"
        assert "audience" in unauthorized(await call(auth, wrong_aud))


async def test_unreachable_jwks_is_503_not_401():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    config = load_settings(
        {**DEV, "CLERK_JWKS_URL": "https://clerk.example.test/.well-known/jwks.json"}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        response = await call(Authenticator(config, http=http), clerk_token())
    assert response.status_code == 503
    assert response.headers["retry-after"]
