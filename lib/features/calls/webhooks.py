"""The provider's voice webhooks (form posts signed as lib.features.calls.signature says).

    POST /api/voice/incoming[?callId=<id>]   a call to answer: inbound to one of our numbers,
                                             or an outbound call (calls.start) picked up
      -> TwiML: <Connect><Stream url="{BRIDGE_URL}/media"> with the call id and a stream token
         as <Parameter>s, then a spoken fallback; "not in service" for an unknown number
    POST /api/voice/status[?callId=<id>]     status callbacks -> 204

Order of checks: body size (413) -> signature over PUBLIC_BASE_URL + path + query (403, nothing
written) -> fields (400) -> one SQL function (calls_incoming / calls_status), which is
idempotent on the provider's call sid: a retried webhook answers the same call, and a status
only moves forward, so late or repeated callbacks change nothing.
If the database is unreachable while a call is ringing, the caller hears the fallback instead
of the provider's generic error.
"""

from __future__ import annotations

import logging
from typing import get_args
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from lib.config import Settings, settings
from lib.db import Database, database
from lib.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from lib.features.calls import signature, token, twiml
from lib.features.calls.models import CallId, CallStatus
from lib.features.calls.signature import signature_of

log = logging.getLogger("sockless.calls")

MAX_BODY_BYTES = 16_384
FORM = "application/x-www-form-urlencoded"
STATUSES = frozenset(get_args(CallStatus))
"""Provider call statuses we record (the same list as models.CallStatus)."""


def xml(document: str) -> Response:
    return Response(document, media_type="application/xml")


def public_url(config: Settings, request: Request) -> str:
    """The URL the provider called (and signed): our public base, the path, the raw query."""
    if not config.public_base_url:
        raise ServiceUnavailable("PUBLIC_BASE_URL is not set, so webhooks cannot be verified")
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{config.public_base_url}{path}" + (f"?{query}" if query else "")


async def verified_form(request: Request, config: Settings) -> dict[str, str]:
    """The posted fields, once the signature over them and our public URL checks out."""
    if not request.headers.get("content-type", "").startswith(FORM):
        raise UnsupportedMediaType(f"voice webhooks are {FORM}")
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"voice webhooks are at most {MAX_BODY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"voice webhooks are at most {MAX_BODY_BYTES} bytes")
    key = config.voice_signing_key.get()
    if not key:
        raise ServiceUnavailable(f"no {config.voice_provider} signing key is configured")
    params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if not signature.valid(key, public_url(config, request), params, signature_of(request.headers)):
        raise Forbidden("invalid webhook signature")
    return dict(params)


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


def stream_answer(config: Settings, call_id: str) -> str:
    """TwiML that streams the call to the bridge (or the fallback if it cannot)."""
    if config.environment == "production" and not config.bridge_url.startswith("wss://"):
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


async def incoming(
    request: Request, *, config: Settings | None = None, db: Database | None = None
) -> Response:
    config = config or settings()
    db = db or database(config)
    form = await verified_form(request, config)
    status = form.get("CallStatus")
    try:
        result = await db.rpc(
            "calls_incoming",
            p_provider=config.voice_provider,
            p_call_sid=required(form, "CallSid"),
            p_from=required(form, "From"),
            p_to=required(form, "To"),
            p_status=status if status in STATUSES else None,
            p_call_id=call_id_of(request),
        )
    except ServiceUnavailable as exc:
        log.error("voice webhook: database unavailable, answering with the fallback: %s", exc)
        return xml(twiml.say_and_hang_up(twiml.FALLBACK))
    call = (result or {}).get("call")
    if call is None:
        log.warning("voice webhook: no call for %s", form.get("To"))
        return xml(twiml.say_and_hang_up(twiml.NOT_IN_SERVICE))
    return xml(stream_answer(config, str(call["id"])))


async def status(
    request: Request, *, config: Settings | None = None, db: Database | None = None
) -> Response:
    config = config or settings()
    db = db or database(config)
    form = await verified_form(request, config)
    call_status = form.get("CallStatus", "")
    if call_status not in STATUSES:
        raise BadRequest(f"unknown CallStatus {call_status[:40]!r}")
    duration = form.get("CallDuration", "")
    await db.rpc(
        "calls_status",
        p_provider=config.voice_provider,
        p_call_sid=required(form, "CallSid"),
        p_status=call_status,
        p_duration_s=int(duration) if duration.isdigit() else None,
        p_call_id=call_id_of(request),
    )
    return Response(status_code=204)
