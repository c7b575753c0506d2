"""The provider's voice webhooks, on the one ingest path (lib.webhooks.ingest).

    POST /api/voice/incoming[?callId=<id>]   a call to answer: inbound to one of our numbers,
                                             or an outbound call (calls.start) picked up
      -> TwiML: <Connect><Stream url="{BRIDGE_URL}/media"> with the call id and a stream token
         as <Parameter>s, then a spoken fallback; "not in service" for an unknown number
    POST /api/voice/status[?callId=<id>]     status callbacks -> 204

Order of checks: body size (413) -> the form signature over PUBLIC_BASE_URL + path + query
(401, nothing written) -> fields (400, nothing written) -> webhook_ingest, which stores the
delivery (deduped on a SHA-256 of the body: the provider sends no event id) and runs
calls_on_incoming / calls_on_status in the same transaction. Those are idempotent on the
provider's call sid: a retried webhook answers the same call, and a status only moves
forward, so late or repeated callbacks change nothing.
If the database is unreachable while a call is ringing, the caller hears the fallback instead
of the provider's generic error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response

from lib.errors import BadRequest, DatabaseUnavailable
from lib.features.calls import token, twiml
from lib.features.calls.models import CallId, CallStatus
from lib.features.calls.settings import CallsSettings
from lib.services import Services
from lib.webhooks import ingest, providers
from lib.webhooks.endpoint import Outcome, WebhookEndpoint
from lib.webhooks.verifiers import Verified, Verifier

log = logging.getLogger("sockless.calls")

MAX_BODY_BYTES = 16_384
STATUSES = frozenset(get_args(CallStatus))
"""Provider call statuses we record (the same list as models.CallStatus)."""


def xml(document: str) -> Response:
    return Response(document, media_type="application/xml")


def call_id_of(request: Request) -> str | None:
    value = request.query_params.get("callId")
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    try:
        return str(TypeAdapter(CallId).validate_python(value))
    except ValidationError as exc:
        raise BadRequest("callId must be a call id") from exc


def required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > 64:
        raise BadRequest(f"{name} is required (at most 64 characters)")
    return value


def stream_answer(services: Services, call_id: str) -> str:
    """TwiML that streams the call to the bridge (or the fallback if it cannot)."""
    config = services.feature(CallsSettings)
    if services.settings.environment == "production" and not config.bridge_url.startswith("wss://"):
        log.error("BRIDGE_URL must be wss:// in production; answering with the fallback")
        return twiml.say_and_hang_up(twiml.FALLBACK)
    if not config.bridge_token_secret:
        log.error("BRIDGE_TOKEN_SECRET is not set; answering with the fallback")
        return twiml.say_and_hang_up(twiml.FALLBACK)
    stream_token = token.mint(
        config.bridge_token_secret.get(), call_id, ttl_s=config.bridge_token_ttl_s
    )
    codec = twiml.L16_CODEC if config.voice_stream_codec == "l16" else None
    return twiml.connect_stream(
        f"{config.bridge_url}/media", {"callId": call_id, "token": stream_token}, codec=codec
    )


def _call_fields(verified: Verified, request: Request, services: Services) -> dict[str, Any]:
    """What both processors need; the call sid is unique per provider (VOICE_PROVIDER)."""
    form: dict[str, str] = verified.payload
    status = form.get("CallStatus")
    return {
        "provider": services.settings.voice_provider,
        "callSid": required(form, "CallSid"),
        "status": status if status in STATUSES else None,
        "callId": call_id_of(request),
    }


def prepare_incoming(verified: Verified, request: Request, services: Services) -> dict[str, Any]:
    form: dict[str, str] = verified.payload
    return {
        **_call_fields(verified, request, services),
        "from": required(form, "From"),
        "to": required(form, "To"),
    }


def prepare_status(verified: Verified, request: Request, services: Services) -> dict[str, Any]:
    form: dict[str, str] = verified.payload
    call_status = form.get("CallStatus", "")
    if call_status not in STATUSES:
        raise BadRequest(f"unknown CallStatus {call_status[:40]!r}")
    duration = form.get("CallDuration", "")
    duration_s = int(duration) if duration.isdigit() else None
    return {**_call_fields(verified, request, services), "durationS": duration_s}


async def answer_call(outcome: Outcome, request: Request, services: Services) -> Response:
    if outcome.status != "processed":
        log.error(
            "voice webhook: processing failed, answering with the fallback: %s", outcome.error
        )
        return xml(twiml.say_and_hang_up(twiml.FALLBACK))
    call = (outcome.result or {}).get("call")
    if call is None:
        log.warning("voice webhook: no call for this number")
        return xml(twiml.say_and_hang_up(twiml.NOT_IN_SERVICE))
    return xml(stream_answer(services, str(call["id"])))


async def acknowledge(outcome: Outcome, request: Request, services: Services) -> Response:
    return Response(status_code=204)


def _provider_form(event_type: str) -> Callable[[Services], Verifier]:
    def verifier(services: Services) -> Verifier:
        return providers.form(services, event_type=event_type)

    return verifier


INCOMING = WebhookEndpoint(
    route="/api/voice/incoming",
    provider="voice",
    verifier=_provider_form("call.incoming"),
    processors={"call.incoming": "calls_on_incoming"},
    prepare=prepare_incoming,
    respond=answer_call,
    max_body_bytes=MAX_BODY_BYTES,
    retries="the provider does not retry a failed answer: the caller hears the fallback",
)
STATUS = WebhookEndpoint(
    route="/api/voice/status",
    provider="voice",
    verifier=_provider_form("call.status"),
    processors={"call.status": "calls_on_status"},
    prepare=prepare_status,
    respond=acknowledge,
    max_body_bytes=MAX_BODY_BYTES,
    failure_status=200,
    retries="status callbacks are not retried; a later status carries the call forward",
)


async def incoming(request: Request, services: Services) -> Response:
    try:
        outcome = await ingest.receive(request, services, INCOMING)
    except DatabaseUnavailable as exc:
        log.error("voice webhook: database unavailable, answering with the fallback: %s", exc)
        return xml(twiml.say_and_hang_up(twiml.FALLBACK))
    return await answer_call(outcome, request, services)


async def status(request: Request, services: Services) -> Response:
    outcome = await ingest.receive(request, services, STATUS)
    return await acknowledge(outcome, request, services)
