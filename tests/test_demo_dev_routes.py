"""The dev-only routes the demo app signs in with (dev/demo.py, served under /_dev/ by the
local Vercel emulation of a development stack): a token for a seeded or new user, the public
realtime settings, and precise JSON errors for bad input."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        yield client


async def test_a_new_user_gets_a_token_the_api_accepts(stack, http):
    who = f"new{uuid.uuid4().hex[:8]}"
    minted = await http.post("/_dev/token", json={"sub": who, "ttl": 60})
    token = minted.json()["token"]
    claims = jwt.decode(
        token, stack.config.jwt_secret, algorithms=["HS256"], audience="authenticated"
    )

    me = await http.get("/api/trpc/system.whoami", headers={"authorization": f"Bearer {token}"})

    assert minted.status_code == 200 and claims["sub"] == who
    assert claims["exp"] - claims["iat"] == 60
    assert me.json()["result"]["data"]["userId"] == who


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"sub": ""}', b'{"sub": "a b"}', b'{"sub": "ok", "ttl": 0}', b"[]"],
)
async def test_bad_input_is_a_json_400(http, body):
    answer = await http.post("/_dev/token", content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BAD_REQUEST"


async def test_config_names_the_local_pusher_server(stack, http):
    config = (await http.get("/_dev/config")).json()
    assert stack.realtime is not None
    assert config["provider"] in ("pusher", "supabase")
    assert config["pusher"] == {
        "key": stack.config.pusher_key,
        "wsHost": stack.realtime.host,
        "wsPort": stack.realtime.port,
    }
