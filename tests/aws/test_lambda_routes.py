"""The Lambda handler (aws.handler) against the local stack: every kind of event API Gateway
and function URLs send, answered as the Vercel path (the stack's api, dev/vercel.py) answers
the same request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aws.app import AllFunctions
from aws.handler import LambdaHandler
from aws.schedule import schedule_input
from dev.stack import Stack
from tests.aws.lambda_events import (
    Runtime,
    function_url,
    http_v2,
    response_json,
    rest_v1,
    vercel_json,
    without_request_id,
)
from tests.messaging.messaging_support import profiles
from tests.support import asgi_client, stack_env
from tests.webhooks.test_ingest import clerk_delivery, profile

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def aws(stack: Stack) -> Iterator[Runtime]:
    runtime = Runtime(LambdaHandler())
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def vercel(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header; a REST API (v1) answer keeps repeated ones in multiValueHeaders."""
    values = (response.get("multiValueHeaders") or {}).get(name)
    return ",".join(values) if values else response["headers"].get(name)


def test_health_answers_the_same_from_every_kind_of_event(aws: Runtime, vercel: httpx.Client):
    expected = vercel.get("/api/health")
    assert expected.status_code == 200
    for event in (
        http_v2("GET", "/api/health"),
        rest_v1("GET", "/api/health"),
        function_url("GET", "/api/health"),
    ):
        response = aws.invoke(event)
        assert response["statusCode"] == 200
        assert response_json(response) == expected.json()
        # vercel.json's headers rules apply here too
        assert "no-store" in str(header(response, "cache-control"))
        assert header(response, "x-content-type-options") == "nosniff"


def test_an_unknown_path_is_a_json_404(aws: Runtime):
    response = aws.invoke(http_v2("GET", "/api/nothing-here"))
    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "NOT_FOUND"


def test_trpc_mutation_query_and_batch_as_on_vercel(
    aws: Runtime, vercel: httpx.Client, stack: Stack, token: Any
):
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    stack_user = token(alice)
    profiles(stack, alice, bob)
    bearer = {"authorization": f"Bearer {stack_user}"}
    create = {"participants": [bob], "title": "lambda", "clientId": str(uuid.uuid4())}
    body = json.dumps(create).encode()

    # mutation: an HTTP API event with a base64 body (as API Gateway sends binary-safe bodies)
    created = aws.invoke(
        http_v2(
            "POST",
            "/api/trpc/messaging.createConversation",
            headers={**bearer, "content-type": "application/json"},
            body=body,
            base64_body=True,
        )
    )
    assert created["statusCode"] == 200, created
    answer = response_json(created)["result"]["data"]
    conversation = answer["conversation"]
    assert (conversation["title"], answer["duplicate"]) == ("lambda", False)
    # the same clientId through Vercel: the same conversation (idempotent), known as a retry
    again = vercel.post(
        "/api/trpc/messaging.createConversation",
        content=body,
        headers={**bearer, "content-type": "application/json"},
    )
    assert again.json()["result"]["data"] == {**answer, "duplicate": True}

    # query: a function URL event signed in by Clerk's __session cookie (cookies apart)
    listed = aws.invoke(
        function_url(
            "GET",
            "/api/trpc/messaging.conversations",
            cookies=["theme=dark", f"__session={stack_user}"],
        )
    )
    assert listed["statusCode"] == 200, listed
    on_vercel = vercel.get("/api/trpc/messaging.conversations", headers=bearer)
    assert response_json(listed) == on_vercel.json()
    ids = [c["id"] for c in response_json(listed)["result"]["data"]["conversations"]]
    assert conversation["id"] in ids

    # batch: a REST API (v1) event, multi-value headers and query string parameters
    batch_input = json.dumps({"0": None, "1": None})
    batched = aws.invoke(
        rest_v1(
            "GET",
            "/api/trpc/messaging.conversations,calls.list",
            query={"batch": ["1"], "input": [batch_input]},
            headers={
                "Authorization": [f"Bearer {stack_user}"],
                "Accept": ["application/json", "*/*"],
            },
            resource="/api/trpc/{proxy+}",
        )
    )
    assert batched["statusCode"] == 200, batched
    on_vercel = vercel.get(
        "/api/trpc/messaging.conversations,calls.list",
        params={"batch": "1", "input": batch_input},
        headers=bearer,
    )
    assert response_json(batched) == on_vercel.json()
    assert len(response_json(batched)) == 2


def test_trpc_errors_keep_the_trpc_envelope(aws: Runtime, vercel: httpx.Client):
    response = aws.invoke(http_v2("GET", "/api/trpc/messaging.conversations"))
    expected = vercel.get("/api/trpc/messaging.conversations")
    assert response["statusCode"] == expected.status_code == 401
    assert without_request_id(response_json(response)) == vercel_json(expected)


def test_a_signed_webhook_with_a_base64_body(aws: Runtime, vercel: httpx.Client, stack: Stack):
    secret = stack_env(stack)["CLERK_WEBHOOK_SECRET"]
    user_id = f"user_{uuid.uuid4().hex[:16]}"
    user = {"id": user_id, "first_name": "Ada", "last_name": "Lambda", "image_url": None}
    body, headers = clerk_delivery("user.created", user, secret)
    response = aws.invoke(
        http_v2("POST", "/api/webhooks/clerk", headers=headers, body=body, base64_body=True)
    )
    assert response["statusCode"] == 200, response
    assert profile(stack, user_id) == ("Ada Lambda", None)
    # the same delivery through Vercel: a duplicate, answered alike
    again = vercel.post("/api/webhooks/clerk", content=body, headers=headers)
    assert again.status_code == 200
    assert without_request_id(response_json(response)).keys() == vercel_json(again).keys()

    forged, headers = clerk_delivery("user.created", user, "whsec_" + "Zm9yZ2Vk" * 4)
    refused = aws.invoke(
        rest_v1(
            "POST",
            "/api/webhooks/clerk",
            headers={k: [v] for k, v in headers.items()},
            body=forged,
            base64_body=True,
        )
    )
    expected = vercel.post("/api/webhooks/clerk", content=forged, headers=headers)
    assert refused["statusCode"] == expected.status_code == 401
    assert without_request_id(response_json(refused)) == vercel_json(expected)


def test_a_schedule_runs_its_cron_with_the_secret(aws: Runtime, vercel: httpx.Client, stack: Stack):
    ran = aws.invoke(schedule_input("/api/cron/outbox-relay", "* * * * *"))
    assert ran["statusCode"] == 200, ran
    on_vercel = vercel.get(
        "/api/cron/outbox-relay", headers={"authorization": f"Bearer {stack.config.cron_secret}"}
    )
    assert on_vercel.status_code == 200
    assert response_json(ran).keys() == on_vercel.json().keys()
    assert response_json(ran)["job"] == on_vercel.json()["job"] == "outbox-relay"


def test_a_cron_path_without_the_secret_is_refused(aws: Runtime, vercel: httpx.Client):
    for headers in ({}, {"authorization": "Bearer not-the-secret"}):
        response = aws.invoke(http_v2("GET", "/api/cron/outbox-relay", headers=headers))
        expected = vercel.get("/api/cron/outbox-relay", headers=headers)
        assert response["statusCode"] == expected.status_code == 401
        assert without_request_id(response_json(response)) == vercel_json(expected)


def test_a_schedule_for_a_path_that_is_no_cron_is_refused(aws: Runtime):
    with pytest.raises(ValueError, match="not a cron path"):
        aws.invoke(schedule_input("/api/health", "* * * * *"))


async def test_a_function_that_cannot_load_is_a_json_500_without_a_trace(tmp_path):  # noqa: ANN001
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "broken.py").write_text("raise RuntimeError('secret detail')\n")
    (tmp_path / "vercel.json").write_text(
        '{"rewrites": [{"source": "/b/:x", "destination": "/api/broken"}]}'
    )
    async with asgi_client(AllFunctions(tmp_path)) as client:
        for path in ("/api/broken", "/b/anything"):
            response = await client.get(path)
            assert response.status_code == 500
            assert response.json()["error"]["code"] == "FUNCTION_INVOCATION_FAILED"
            assert "secret detail" not in response.text
