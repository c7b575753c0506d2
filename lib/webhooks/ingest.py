"""The one road every webhook body takes:

    raw body, at most `max_body_bytes`               413 JSON over it
    -> the provider's verifier                       401 JSON when missing/invalid/stale;
                                                     nothing stored
    -> prepare (the processor's input)               400 JSON when malformed; nothing stored
    -> ONE SQL call, public.webhook_ingest:          insert into webhook_events (unique per
                                                     provider + event id) and process it in
                                                     the same transaction (concurrent
                                                     deliveries on a warm instance share one
                                                     webhook_ingest_many call, each in its own
                                                     subtransaction: lib.batching)
    -> publish the events the processor queued       (lib.commands.publish_queued)
    -> answer                                        200 {"ok": true, "status": ...};
                                                     a duplicate: 200 {"duplicate": true};
                                                     unknown type: 200 {"status": "ignored"};
                                                     processing failed: `failure_status`

The event id is the provider's (Stripe `evt_...`, Svix `msg_...`, HighLevel `webhookId`), else a
SHA-256 of the raw body, so a byte-identical redelivery is a duplicate either way. A failed
event is retried by the `webhooks-retry` cron (and by the provider's own redelivery) with
backoff, and parked after MAX_ATTEMPTS; `webhooks.replay` re-runs one by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from lib.batching import Coalescer
from lib.commands import publish_queued
from lib.errors import PayloadTooLarge, SocklessError
from lib.web import error_body, json_response, request_id
from lib.webhooks.endpoint import Outcome, WebhookEndpoint
from lib.webhooks.verifiers import Delivery, Verified

if TYPE_CHECKING:
    from lib.services import Services

MAX_ATTEMPTS = 8
RETRY_BATCH = 50
MAX_GROUP = 50
"""Deliveries one webhook_ingest_many call stores at most."""

Row = dict[str, Any]


class ProcessingFailed(SocklessError):
    """The delivery was stored but its processing failed (it will be retried)."""

    code = "WEBHOOK_PROCESSING_FAILED"


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or PayloadTooLarge as soon as it is over `limit` bytes."""
    too_large = PayloadTooLarge(f"webhook bodies are at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def public_url(request: Request, base: str) -> str:
    """The URL the provider called (and the form scheme signs): our public base, the raw
    path, the raw query. Blank when PUBLIC_BASE_URL is not set."""
    if not base:
        return ""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{base}{path}" + (f"?{query}" if query else "")


async def receive(request: Request, services: Services, endpoint: WebhookEndpoint) -> Outcome:
    """Verify, store and process one delivery; raises our errors for the edge to answer."""
    body = await read_body(request, endpoint.max_body_bytes)
    verifier = endpoint.verifier(services)
    delivery = Delivery(
        body=body,
        headers=request.headers,
        url=public_url(request, services.settings.public_base_url),
        now=time.time(),
    )
    verified = verifier.verify(delivery)
    payload = verified.payload
    if endpoint.prepare is not None:
        payload = endpoint.prepare(verified, request, services)
        if isinstance(payload, Verified):  # the envelope normalised: its type picks the processor
            verified, payload = payload, payload.payload
    event_id = verified.event_id or "sha256:" + hashlib.sha256(body).hexdigest()
    answer = await _ingest_group(services).submit(
        {
            "provider": endpoint.provider,
            "eventId": event_id[:255],
            "type": verified.event_type[:200],
            "payload": payload,
            "processor": endpoint.processor_for(verified.event_type),
        }
    )
    if answer.get("status") == "refused":
        raise SocklessError(f"the {endpoint.provider} delivery could not be stored")
    return Outcome(
        provider=endpoint.provider,
        event_id=event_id,
        type=verified.event_type,
        id=int(answer["id"]),
        status=answer["status"],
        duplicate=bool(answer.get("duplicate")),
        result=answer.get("result"),
        error=answer.get("error"),
    )


_ingest_groups: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Services, Coalescer[Row, Row]]
] = weakref.WeakKeyDictionary()


def _ingest_group(services: Services) -> Coalescer[Row, Row]:
    """Concurrent deliveries on this loop stored and processed by one webhook_ingest_many call
    (each in its own subtransaction), their events published together (lib.batching)."""
    per_loop = _ingest_groups.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    found = per_loop.get(services)
    if found is None:

        async def flush(deliveries: list[Row]) -> list[Row]:
            answer: dict[str, Any] = await services.db.rpc(
                "webhook_ingest_many", p_deliveries=deliveries, p_max_attempts=MAX_ATTEMPTS
            )
            await publish_queued(services, answer.get("events"))
            outcomes: list[Row] = answer["outcomes"]
            return outcomes

        found = per_loop[services] = Coalescer(flush, max_size=MAX_GROUP)
    return found


def default_answer(outcome: Outcome, endpoint: WebhookEndpoint, request: Request) -> Response:
    if outcome.duplicate:
        return json_response({"ok": True, "duplicate": True, "status": outcome.status})
    if outcome.status in ("failed", "parked"):
        if endpoint.failure_status < 300:
            return json_response({"ok": False, "status": outcome.status, "retrying": True})
        error = ProcessingFailed(
            f"{outcome.provider} event {outcome.event_id} was stored but processing failed; "
            "it will be retried",
            details={"status": outcome.status, "webhookEvent": outcome.id},
        )
        return json_response(error_body(error, request_id(request)), endpoint.failure_status)
    return json_response({"ok": True, "duplicate": False, "status": outcome.status})


def handler(endpoint: WebhookEndpoint) -> Any:
    """The POST handler an api/webhooks function serves for `endpoint`."""

    async def webhook(request: Request, services: Services) -> Response | dict[str, Any]:
        outcome = await receive(request, services, endpoint)
        if endpoint.respond is not None:
            return await endpoint.respond(outcome, request, services)
        return default_answer(outcome, endpoint, request)

    return webhook


async def retry_due(services: Services) -> dict[str, Any]:
    """The `webhooks-retry` cron: failed events whose backoff has passed, processed again."""
    answer: dict[str, Any] = await services.db.rpc(
        "webhook_retry_due", p_limit=RETRY_BATCH, p_max_attempts=MAX_ATTEMPTS
    )
    await publish_queued(services, answer.pop("events", None))
    return answer


async def replay(services: Services, event: int) -> dict[str, Any]:
    """Re-run one failed or parked event now (an operator's `webhooks.replay`)."""
    answer: dict[str, Any] = await services.db.rpc(
        "webhook_replay", p_id=event, p_max_attempts=MAX_ATTEMPTS
    )
    await publish_queued(services, answer.pop("events", None))
    return answer
