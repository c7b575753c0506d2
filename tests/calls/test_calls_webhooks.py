"""POST /api/voice/incoming and /api/voice/status against the stack's database, signed the way
SignalWire / Twilio sign them (over PUBLIC_BASE_URL + path, not the URL the request hit)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from twilio.request_validator import RequestValidator

from dev.stack import Stack
from lib.features.calls import twiml
from lib.features.calls.webhooks import incoming
from lib.web import function
from tests.calls.harness import PUBLIC, VoiceWorld, api_services
from tests.support import asgi_client, unique
from worker import token as bridge_token

BRIDGE = "wss://bridge.example"
SECRET = "stream-token-secret"


@pytest.fixture
async def hooks(stack: Stack) -> AsyncIterator[VoiceWorld]:
    """Webhooks only (no bridge, no OpenAI): what a provider sees of the api."""
    world = VoiceWorld(stack, fake=None, bridge=None, services=api_services(stack, BRIDGE, SECRET))
    try:
        yield world
    finally:
        await world.db.aclose()


def sid() -> str:
    return f"CA{secrets.token_hex(16)}"


def count(world: VoiceWorld, call_sid: str) -> int:
    with world.sql() as conn:
        row = conn.execute(
            "select count(*) as n from public.calls where provider_call_sid = %s", [call_sid]
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def test_a_signed_call_to_our_number_is_recorded_and_streamed_to_the_bridge(
    hooks: VoiceWorld,
):
    owner = unique("owner")
    number = hooks.number(owner, goal="Take a message", context='{"office": "Lyon"}')
    call_sid = sid()
    answer = await hooks.incoming(to=number, sid=call_sid)
    assert answer.status == 200, answer.body
    assert answer.stream_url == f"{BRIDGE}/media"  # no query string: values are parameters
    assert bridge_token.verify(SECRET, answer.token, call_id=answer.call_id)
    assert answer.body.endswith(f"</Connect><Say>{twiml.FALLBACK}</Say><Hangup/></Response>")
    row = hooks.row(answer.call_id)
    assert row is not None
    assert (row["owner_id"], row["direction"], row["provider"]) == (owner, "inbound", "signalwire")
    assert (row["from_number"], row["to_number"], row["provider_call_sid"]) == (
        "+15550009999",
        number,
        call_sid,
    )
    assert (row["goal"], row["context"], row["status"]) == (
        "Take a message",
        {"office": "Lyon"},
        "ringing",
    )


async def test_the_same_call_sid_answers_the_same_call(hooks: VoiceWorld):
    number = hooks.number(unique("owner"))
    call_sid = sid()
    first = await hooks.incoming(to=number, sid=call_sid)
    again = await hooks.incoming(to=number, sid=call_sid)
    assert first.call_id == again.call_id
    assert count(hooks, call_sid) == 1


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong key", "signed for the proxy's url", "tampered"],
)
async def test_a_webhook_not_signed_for_our_public_url_is_refused_and_writes_nothing(
    hooks: VoiceWorld, how: str
):
    number = hooks.number(unique("owner"))
    call_sid = sid()
    form = {"CallSid": call_sid, "From": "+15550001111", "To": number, "CallStatus": "ringing"}
    key = hooks.services.settings.voice_signing_key.get()
    if how == "unsigned":
        response = await hooks.post("/api/voice/incoming", form, signed=False)
    elif how == "wrong key":
        response = await hooks.post("/api/voice/incoming", form, key="not-the-signing-key")
    elif how == "tampered":
        original = RequestValidator(key).compute_signature(f"{PUBLIC}/api/voice/incoming", form)
        response = await hooks.post(
            "/api/voice/incoming", {**form, "To": "+15550000000"}, signature_value=original
        )
    else:  # the URL the request hit (behind a proxy), not the configured public one
        response = await hooks.post("/api/voice/incoming", form, signed_url_base="http://fn.test")
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert count(hooks, call_sid) == 0


async def test_a_call_to_an_unknown_number_is_told_so_and_not_recorded(hooks: VoiceWorld):
    call_sid = sid()
    answer = await hooks.incoming(to="+15559990000", sid=call_sid)
    assert answer.status == 200
    assert twiml.NOT_IN_SERVICE in answer.body and "<Hangup/>" in answer.body
    assert "<Stream" not in answer.body
    assert count(hooks, call_sid) == 0


async def test_voice_webhooks_take_form_posts_only(hooks: VoiceWorld):
    app = function(POST=incoming, services=hooks.services)
    async with asgi_client(app) as client:
        # a signed JSON post (the provider's bodySHA256 scheme, which we do not take)
        response = await client.post(
            "/api/voice/incoming",
            json={"CallSid": "x"},
            headers={"x-signalwire-signature": "c2lnbmVkIGFzIEpTT04="},
        )
        too_big = await client.post(
            "/api/voice/incoming",
            content=b"a=" + b"x" * 20_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 415
    assert too_big.status_code == 413


async def test_status_callbacks_only_move_a_call_forward(hooks: VoiceWorld):
    number = hooks.number(unique("owner"))
    call_sid = sid()
    answer = await hooks.incoming(to=number, sid=call_sid)

    async def callback(status: str, **extra: str) -> int:
        form = {"CallSid": call_sid, "CallStatus": status, **extra}
        return (await hooks.post("/api/voice/status", form)).status_code

    assert await callback("in-progress") == 204
    assert await callback("completed", CallDuration="42") == 204
    assert await callback("ringing") == 204  # late and out of order
    assert await callback("in-progress") == 204
    assert await callback("completed", CallDuration="42") == 204  # delivered twice
    row = hooks.row(answer.call_id)
    assert row is not None
    assert (row["status"], row["duration_s"]) == ("completed", 42)
    assert row["answered_at"] is not None and row["ended_at"] is not None
    assert await callback("not-a-status") == 400
    unknown = await hooks.post("/api/voice/status", {"CallSid": sid(), "CallStatus": "ringing"})
    assert unknown.status_code == 204
    unsigned = await hooks.post(
        "/api/voice/status", {"CallSid": call_sid, "CallStatus": "failed"}, signed=False
    )
    assert unsigned.status_code == 401


async def test_an_outbound_call_learns_its_sid_from_whichever_webhook_comes_first(
    hooks: VoiceWorld,
):
    owner = unique("owner")
    created = await hooks.db.rpc(
        "calls_create_outbound",
        p_owner=owner,
        p_provider="signalwire",
        p_from=hooks.number(owner),
        p_to="+15550002222",
        p_goal="Confirm the delivery",
        p_context={},
    )
    call_id, call_sid = str(created["id"]), sid()
    status = await hooks.post(
        "/api/voice/status",
        {"CallSid": call_sid, "CallStatus": "initiated"},
        query=f"callId={call_id}",
    )
    assert status.status_code == 204
    answered = await hooks.post(
        "/api/voice/incoming",
        {
            "CallSid": call_sid,
            "From": "+15550001111",
            "To": "+15550002222",
            "CallStatus": "in-progress",
        },
        query=f"callId={call_id}",
    )
    assert answered.status_code == 200 and f'value="{call_id}"' in answered.text
    row = hooks.row(call_id)
    assert row is not None
    assert (row["provider_call_sid"], row["status"]) == (call_sid, "in-progress")
    # another call cannot claim this call's TwiML by naming its id
    hijack = await hooks.post(
        "/api/voice/incoming",
        {"CallSid": sid(), "From": "+1555", "To": "+1555", "CallStatus": "in-progress"},
        query=f"callId={call_id}",
    )
    assert "<Stream" not in hijack.text
    bad_id = await hooks.post(
        "/api/voice/incoming",
        {"CallSid": sid(), "From": "+1555", "To": "+1555"},
        query="callId=not-a-uuid",
    )
    assert bad_id.status_code == 400
    assert hooks.row(str(uuid.uuid4())) is None


async def test_the_caller_hears_the_fallback_when_the_database_is_down(stack: Stack):
    down = api_services(stack, BRIDGE, SECRET, SUPABASE_URL="http://127.0.0.1:9")
    world = VoiceWorld(stack, fake=None, bridge=None, services=down)
    try:
        answer = await world.incoming(to="+15550003333")
    finally:
        await world.db.aclose()
    assert answer.status == 200
    assert f"<Say>{twiml.FALLBACK}</Say><Hangup/>" in answer.body
