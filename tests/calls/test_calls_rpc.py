"""calls.start / calls.get / calls.list over the tRPC wire, against the stack's database; the
provider's REST API is faked at the HTTP wire (httpx.MockTransport speaking its format).
Plus RLS on calls and call_numbers, as users reach them through PostgREST."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features.calls import procedures as calls
from lib.realtime.memory import MemoryPublisher
from lib.rpc import router, trpc_app
from lib.services import Services
from tests.calls.harness import PUBLIC, api_services, e164
from tests.support import asgi_client, sql, unique

Provider = Callable[[httpx.Request], httpx.Response]


def placed(request: httpx.Request) -> httpx.Response:
    sid = "CA" + unique("x").replace("-", "")
    return httpx.Response(201, json={"sid": sid, "status": "queued", "to": "+1", "from": "+1"})


class Rpc:
    """One tRPC endpoint serving calls.*, with the provider behind `provider` (the app's
    http client speaks to it; realtime events go to a memory publisher)."""

    def __init__(self, services: Services, provider: Provider) -> None:
        self.requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return provider(request)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
        self.publisher = MemoryPublisher()
        services = services.replace(http=self.http, publisher=self.publisher)
        self.app = trpc_app(router(*calls.PROCEDURES), services=services)

    async def call(self, path: str, user: str | None, body: Any = None, *, token=None) -> Any:
        headers = {"authorization": f"Bearer {token(user)}"} if user and token else {}
        async with asgi_client(self.app) as client:
            if path == "calls.start":
                response = await client.post(f"/api/trpc/{path}", json=body, headers=headers)
            else:
                query = f"?input={quote(json.dumps(body))}" if body is not None else ""
                response = await client.get(f"/api/trpc/{path}{query}", headers=headers)
        return response.json()


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    services = api_services(
        stack,
        "wss://bridge.example",
        "secret",
        SIGNALWIRE_PROJECT_ID="project-1",
        SIGNALWIRE_API_TOKEN="api-token",
        SIGNALWIRE_SPACE_URL="example.signalwire.com",
        VOICE_FROM_NUMBER="+15550100000",
    )
    db = Database(services.settings)
    try:
        yield services.replace(db=db)
    finally:
        await db.aclose()


def code(body: Any) -> str:
    return str(body["error"]["data"]["code"])


def owned_number(stack: Stack, owner: str, number: str | None = None) -> str:
    """Give `owner` a call number (calls go out only from the caller's own numbers)."""
    number = number or e164()
    with sql(stack) as conn:
        conn.execute(
            "insert into public.call_numbers (number, owner_id) values (%s, %s)", [number, owner]
        )
    return number


async def test_calls_start_asks_the_provider_to_dial_and_returns_the_queued_call(
    stack: Stack, services: Services, token
):
    db = services.db
    rpc = Rpc(services, placed)
    user = unique("user")
    mine = owned_number(stack, user)
    body = await rpc.call(
        "calls.start",
        user,
        {"to": "+15550123456", "goal": "Confirm the delivery", "context": {"name": "Ada"}},
        token=token,
    )
    call = body["result"]["data"]
    assert (call["direction"], call["status"], call["toNumber"], call["fromNumber"]) == (
        "outbound",
        "queued",
        "+15550123456",
        mine,
    )
    assert call["goal"] == "Confirm the delivery" and call["context"] == {"name": "Ada"}
    [request] = rpc.requests
    assert str(request.url) == (
        "https://example.signalwire.com/api/laml/2010-04-01/Accounts/project-1/Calls.json"
    )
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(b"project-1:api-token").decode()
    )
    form = parse_qs(request.content.decode())
    assert form["To"] == ["+15550123456"] and form["From"] == [mine]
    assert form["Url"] == [f"{PUBLIC}/api/voice/incoming?callId={call['id']}"]
    assert form["StatusCallback"] == [f"{PUBLIC}/api/voice/status?callId={call['id']}"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    row = await db.select("calls", "owner_id,provider_call_sid", id=call["id"])
    assert row[0]["owner_id"] == user and row[0]["provider_call_sid"].startswith("CA")
    await rpc.http.aclose()


async def test_twilio_is_the_same_protocol_under_its_own_base_url(stack: Stack, token):
    services = api_services(
        stack,
        "wss://bridge.example",
        "secret",
        VOICE_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID="AC1",
        TWILIO_AUTH_TOKEN="tw",
    )
    db = Database(services.settings)
    rpc = Rpc(services.replace(db=db), placed)
    user = unique("user")
    mine = owned_number(stack, user)
    body = await rpc.call(
        "calls.start",
        user,
        {"to": "+15550123456", "goal": "Say hi", "fromNumber": mine},
        token=token,
    )
    await db.aclose()
    await rpc.http.aclose()
    assert body["result"]["data"]["fromNumber"] == mine
    assert str(rpc.requests[0].url) == "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"


async def test_a_refused_call_is_marked_failed_and_reported(
    stack: Stack, services: Services, token
):
    db = services.db

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": 21211, "message": "Invalid 'To' Phone Number"})

    rpc = Rpc(services, refuse)
    user = unique("user")
    owned_number(stack, user)
    body = await rpc.call("calls.start", user, {"to": "+15550000001", "goal": "g"}, token=token)
    assert code(body) == "BAD_REQUEST"
    assert "Invalid 'To' Phone Number" in body["error"]["message"]
    [row] = await db.select("calls", "status,end_reason", owner_id=user)
    assert row == {"status": "failed", "end_reason": "provider_error"}

    rpc_down = Rpc(services, lambda request: httpx.Response(503))
    body = await rpc_down.call(
        "calls.start", user, {"to": "+15550000001", "goal": "g"}, token=token
    )
    assert code(body) == "SERVICE_UNAVAILABLE"
    await rpc.http.aclose()
    await rpc_down.http.aclose()


async def test_calls_start_validates_authenticates_and_rate_limits(
    stack: Stack, services: Services, token
):
    rpc = Rpc(services, placed)
    good = {"to": "+15550123456", "goal": "g"}
    assert code(await rpc.call("calls.start", None, good)) == "UNAUTHORIZED"
    user = unique("user")
    owned_number(stack, user)
    for bad in ({"to": "0123", "goal": "g"}, {"to": "+15550123456", "goal": ""}, {**good, "x": 1}):
        assert code(await rpc.call("calls.start", user, bad, token=token)) == "BAD_REQUEST"
    big = {**good, "context": {"notes": "x" * 5000}}
    assert code(await rpc.call("calls.start", user, big, token=token)) == "BAD_REQUEST"
    # invalid input is refused before the limit counts: 10 calls go through, the 11th does not
    results = [await rpc.call("calls.start", user, good, token=token) for _ in range(11)]
    assert all("result" in result for result in results[:10])
    assert code(results[10]) == "TOO_MANY_REQUESTS"
    assert len(rpc.requests) == 10  # the refused call never reached the provider
    await rpc.http.aclose()


async def test_calls_get_and_list_show_only_the_callers_calls(
    stack: Stack, services: Services, token
):
    db = services.db
    rpc = Rpc(services, placed)
    alice, bob = unique("alice"), unique("bob")
    owned_number(stack, alice)
    made = []
    for n in range(3):
        body = await rpc.call(
            "calls.start", alice, {"to": "+15550123456", "goal": f"goal {n}"}, token=token
        )
        made.append(body["result"]["data"]["id"])
    finished = made[0]
    await db.rpc(
        "calls_finish",
        p_call_id=finished,
        p_transcript=[{"role": "caller", "text": "hi", "atMs": 5}],
        p_outcome="not_interested",
        p_outcome_notes="busy",
        p_summary="They were busy.",
        p_end_reason="end_call",
        p_started_at="2026-11-21T10:00:00Z",
        p_ended_at="2026-11-21T10:00:30Z",
        p_stats={},
        p_summary_kind="ai",
    )
    got = (await rpc.call("calls.get", alice, {"id": finished}, token=token))["result"]["data"]
    assert got["summaryKind"] == "ai"
    assert got["transcript"] == [{"role": "caller", "text": "hi", "atMs": 5, "interrupted": False}]
    assert (got["outcome"], got["summary"], got["durationS"]) == (
        "not_interested",
        "They were busy.",
        30,
    )
    assert code(await rpc.call("calls.get", bob, {"id": finished}, token=token)) == "NOT_FOUND"
    assert code(await rpc.call("calls.get", alice, {"id": "nope"}, token=token)) == "BAD_REQUEST"

    page = (await rpc.call("calls.list", alice, {"limit": 2}, token=token))["result"]["data"]
    assert [c["id"] for c in page["calls"]] == [made[2], made[1]]
    assert "transcript" not in page["calls"][0]
    rest = await rpc.call("calls.list", alice, {"limit": 2, "before": page["next"]}, token=token)
    assert [c["id"] for c in rest["result"]["data"]["calls"]] == [made[0]]
    assert rest["result"]["data"]["calls"][0]["summaryKind"] == "ai"
    assert page["calls"][0]["summaryKind"] is None  # not finished: no summary yet
    assert rest["result"]["data"]["next"] is None
    empty = await rpc.call("calls.list", bob, {}, token=token)
    assert empty["result"]["data"] == {"calls": [], "next": None}
    await rpc.http.aclose()


async def test_the_stack_serves_calls_procedures(stack: Stack, token):
    async with httpx.AsyncClient(base_url=f"{stack.api_url}/api/trpc", timeout=10) as http:
        response = await http.get(
            "/calls.list", headers={"authorization": f"Bearer {token(unique('user'))}"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"result": {"data": {"calls": [], "next": None}}}


def test_users_read_only_their_own_calls_and_numbers_through_postgrest(stack: Stack, token):
    alice, bob = unique("alice"), unique("bob")
    with sql(stack) as conn:
        conn.execute(
            "insert into public.calls (owner_id, provider, direction, from_number, to_number)"
            " values (%s, 'twilio', 'inbound', '+1', '+2')",
            [alice],
        )
        conn.execute(
            "insert into public.call_numbers (number, owner_id) values (%s, %s)",
            ["+1555" + str(abs(hash(alice)))[:7].ljust(7, "0"), alice],
        )
    rest = f"{stack.supabase_url}/rest/v1"

    def as_user(user: str | None) -> dict[str, str]:
        bearer = token(user) if user else stack.config.anon_key
        return {"apikey": stack.config.anon_key, "authorization": f"Bearer {bearer}"}

    with httpx.Client(timeout=10) as http:
        mine = http.get(f"{rest}/calls?select=owner_id", headers=as_user(alice)).json()
        theirs = http.get(f"{rest}/calls?select=owner_id", headers=as_user(bob)).json()
        numbers = http.get(f"{rest}/call_numbers?select=owner_id", headers=as_user(alice)).json()
        anon = http.get(f"{rest}/calls?select=owner_id", headers=as_user(None))
        write = http.post(
            f"{rest}/calls",
            json={
                "owner_id": alice,
                "provider": "twilio",
                "direction": "inbound",
                "from_number": "+1",
                "to_number": "+2",
            },
            headers=as_user(alice),
        )
        update = http.patch(
            f"{rest}/calls?owner_id=eq.{alice}", json={"summary": "forged"}, headers=as_user(alice)
        )
        finish = http.post(
            f"{rest}/rpc/calls_finish", json={"p_call_id": None}, headers=as_user(alice)
        )
    assert mine == [{"owner_id": alice}]
    assert theirs == [] and [n["owner_id"] for n in numbers] == [alice]
    assert anon.status_code in (401, 403) or anon.json() == []
    assert write.status_code in (401, 403) and update.status_code in (401, 403)
    assert finish.status_code in (401, 403, 404)
