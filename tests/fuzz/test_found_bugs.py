"""What the fuzzing found, pinned through the HTTP edge of the session stack: each of these
was a 5xx (or a plain-text 500 from the server) before it was fixed."""

from __future__ import annotations

import json
import uuid

import httpx

from dev.stack import Stack
from dev.token import user_token


def bearer(stack: Stack, who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {user_token(stack.config.jwt_secret, sub=who)}"}


def trpc_error(response: httpx.Response) -> dict:
    body = response.json()
    assert response.status_code == body["error"]["data"]["httpStatus"], body
    return body["error"]


def test_a_nul_character_in_text_is_a_400_not_a_database_500(stack: Stack):
    """Postgres text cannot hold U+0000: the database's refusal (SQLSTATE class 22, a value
    the caller sent) is the caller's BAD_REQUEST, not an INTERNAL_SERVER_ERROR."""
    response = httpx.post(
        f"{stack.api_url}/api/trpc/poker.addTask",
        json={"sessionId": str(uuid.uuid4()), "title": "a\u0000b"},
        headers=bearer(stack, f"p{uuid.uuid4().hex[:8]}"),
    )
    assert response.status_code == 400, response.text
    error = trpc_error(response)
    assert error["data"]["code"] == "BAD_REQUEST"
    assert "\\u0000 cannot be converted to text" in error["message"]


def test_broker_keys_that_cannot_travel_in_a_header_are_refused_as_input(stack: Stack):
    response = httpx.post(
        f"{stack.api_url}/api/trpc/trading.connect",
        json={"broker": "alpaca", "apiKey": "clé", "apiSecret": "sécret"},
        headers=bearer(stack, f"t{uuid.uuid4().hex[:8]}"),
    )
    assert response.status_code == 400
    fields = trpc_error(response)["data"]["zodError"]["fieldErrors"]
    assert set(fields) >= {"alpaca.apiKey", "alpaca.apiSecret"}


def test_a_superjson_path_with_a_non_ascii_digit_is_not_a_500(stack: Stack):
    envelope = {"json": {"limit": 5}, "meta": {"values": {"²": ["undefined"]}}}
    response = httpx.get(
        f"{stack.api_url}/api/trpc/messaging.conversations",
        params={"input": json.dumps(envelope)},
        headers=bearer(stack, f"s{uuid.uuid4().hex[:8]}"),
    )
    assert response.status_code == 200, response.text
    assert "json" in response.json()["result"]["data"]  # answered the superjson way


def test_a_backslash_in_a_rewritten_path_is_a_json_404(stack: Stack):
    response = httpx.get(
        f"{stack.api_url}/api/cron/%5Cc",
        headers={"authorization": f"Bearer {stack.config.cron_secret}"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
