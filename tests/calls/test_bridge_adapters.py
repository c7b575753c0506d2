"""The bridge's HTTP adapters against their real wire formats through httpx.MockTransport:
summaries (Anthropic, OpenAI, the extractive fallback), Pusher's HTTP API signing, the
Supabase store's retries, the provider hang-up."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest

from dev.realtime.signing import hmac_hex, request_string
from worker import hangup
from worker.config import BridgeConfig, Secret
from worker.publish import PusherHttp, envelope, publish_saved
from worker.store import CallStore, FinishedCall, StoreError
from worker.summary import extractive, summarize
from worker.transcript import Entry

Handler = Callable[[httpx.Request], httpx.Response]

ENTRIES = [
    Entry("assistant", "Hello, this is the bistro.", 0, "a"),
    Entry("caller", "A table for two at seven.", 1500, "c1"),
    Entry("assistant", "Booked. See you tonight!", 4000, "a2"),
]


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_the_extractive_summary_names_goal_outcome_and_what_was_said():
    text = extractive(ENTRIES, goal="Book a table", outcome="goal_achieved", notes="7 pm, two")
    assert text.startswith("Goal: Book a table. Outcome: goal achieved. Notes: 7 pm, two.")
    assert '"A table for two at seven."' in text and '"Booked. See you tonight!"' in text
    empty = extractive([], goal="", outcome=None, notes=None)
    assert "Outcome: not recorded" in empty and "said nothing" in empty


async def test_anthropic_summarises_when_its_key_is_set():
    seen: list[httpx.Request] = []

    def anthropic(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"content": [{"type": "text", "text": "Booked for 7."}]})

    config = BridgeConfig(anthropic_api_key=Secret("ak"), openai_api_key=Secret("ok"))
    async with client(anthropic) as http:
        summary = await summarize(
            ENTRIES, goal="Book", outcome="goal_achieved", notes=None, config=config, http=http
        )
    assert (summary.text, summary.kind) == ("Booked for 7.", "ai")
    [request] = seen
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "ak" and request.headers["anthropic-version"]
    body = json.loads(request.content)
    assert body["model"] == config.anthropic_model
    assert "caller: A table for two at seven." in body["messages"][0]["content"]


async def test_openai_summarises_without_an_anthropic_key_and_failures_fall_back():
    def openai(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer ok"
        return httpx.Response(200, json={"choices": [{"message": {"content": " Done. "}}]})

    config = BridgeConfig(openai_api_key=Secret("ok"))
    async with client(openai) as http:
        done = await summarize(
            ENTRIES, goal="g", outcome=None, notes=None, config=config, http=http
        )
    assert (done.text, done.kind) == ("Done.", "ai")
    async with client(lambda request: httpx.Response(529, json={"error": "overloaded"})) as http:
        fallback = await summarize(
            ENTRIES, goal="g", outcome=None, notes=None, config=config, http=http
        )
    assert fallback.text == extractive(ENTRIES, goal="g", outcome=None, notes=None)
    assert fallback.kind == "extractive"


async def test_call_ended_is_triggered_on_pusher_signed_like_the_sdk_signs():
    requests: list[httpx.Request] = []
    marked: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/rpc/outbox_mark_published"):
            marked.append(json.loads(request.content))
            return httpx.Response(200, json={"due": 0})
        requests.append(request)
        return httpx.Response(200, json={})

    config = BridgeConfig(
        pusher_app_id="42",
        pusher_key="key",
        pusher_secret=Secret("secret"),
        pusher_host="pusher.test",
    )
    row = {
        "id": 7,
        "channel": "private-user-ann",
        "event": "call-ended",
        "data": {"call": {"id": "c"}},
        "at": "2026-11-21T10:00:00.000000Z",
        "inline": True,
    }
    big = {**row, "id": 8, "data": {"call": {"summary": "x" * 11_000}}}
    backlog = {**row, "id": 9, "inline": False}
    async with client(handler) as http:
        store = CallStore(supabase_url="http://db.test", service_key=Secret("sr"), http=http)
        published = await publish_saved(
            [row, big, backlog], pusher=PusherHttp(config, http=http), store=store
        )
    assert published == [7] and marked == [{"p_ids": [7]}]
    [request] = requests
    assert f"{request.url.scheme}://{request.url.host}{request.url.path}" == (
        "http://pusher.test/apps/42/events"
    )
    params = dict(parse_qsl(request.url.query.decode()))
    signed = request_string("POST", "/apps/42/events", params)
    assert params["auth_signature"] == hmac_hex("secret", signed)
    body = json.loads(request.content)
    assert body["name"] == "call-ended" and body["channels"] == ["private-user-ann"]
    assert (
        json.loads(body["data"])
        == json.loads(envelope(row))
        == {
            "id": "7",
            "type": "call-ended",
            "at": "2026-11-21T10:00:00.000000Z",
            "data": {"call": {"id": "c"}},
        }
    )


def finished() -> FinishedCall:
    now = datetime.now(UTC)
    return FinishedCall("c", [], None, None, "s", "caller_hangup", now, now)


async def test_saves_retry_transient_failures_and_stop_at_permanent_ones():
    statuses = [503, 502, 200]

    def flaky(request: httpx.Request) -> httpx.Response:
        assert request.headers["apikey"] == "sr" and request.headers["authorization"] == "Bearer sr"
        assert json.loads(request.content)["p_end_reason"] == "caller_hangup"
        status = statuses.pop(0)
        return httpx.Response(status, json={"call": {}, "events": []} if status == 200 else {})

    async with client(flaky) as http:
        store = CallStore(supabase_url="http://db.test", service_key=Secret("sr"), http=http)
        assert await store.finish(finished(), attempts=3) == {"call": {}, "events": []}
    assert statuses == []

    calls = 0

    def refused(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"code": "P0002", "message": "unknown call"})

    async with client(refused) as http:
        store = CallStore(supabase_url="http://db.test", service_key=Secret("sr"), http=http)
        with pytest.raises(StoreError, match="400") as caught:
            await store.finish(finished(), attempts=5)
    assert calls == 1 and not caught.value.retryable


async def test_the_hang_up_completes_the_call_on_the_providers_rest_api():
    seen: list[httpx.Request] = []

    def twilio(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"sid": "CA9", "status": "completed"})

    config = BridgeConfig(
        voice_provider="twilio", twilio_account_sid="AC1", twilio_auth_token=Secret("tok")
    )
    async with client(twilio) as http:
        assert await hangup.hang_up(config, http, "CA9")
        assert not await hangup.hang_up(BridgeConfig(), http, "CA9")  # nothing configured
    [request] = seen
    assert str(request.url) == "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA9.json"
    assert request.content == b"Status=completed"
