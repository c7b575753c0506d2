"""POST /api/webhooks/broker/{connectionId}: a user's own bridge, a TradingView-style alert
or any sender posting positions, orders and balances for one connection.

On the one ingest path (lib.webhooks.ingest), with the verifier built per request: the
connection's secret is looked up and decrypted first (an unknown, disconnected or non-webhook
connection is answered 401 like a bad signature: nothing stored, nothing revealed), then

    body size (413) -> X-Webhook-Timestamp + X-Webhook-Signature v1=<hex HMAC-SHA256> over
    "{timestamp}.{body}" with that secret, 300 s tolerance (401; lib.webhooks.shared_secret)
    -> `prepare`: the body validated as a BrokerUpdate (400 when malformed, nothing stored),
    tagged with the connection -> webhook_ingest stores it once per (connection, event id;
    else a SHA-256 of the body) and runs trading_on_broker_event in the same transaction ->
    position-update / order-update / balance-update for the rows that changed.

Body: {"id"?: "evt-1", "type"?: "fill", "positions"?: [...], "orders"?: [...], "balance"?: {}}
(models.BrokerUpdate; docs/trading.md has an example).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.responses import Response

from lib.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized
from lib.features.trading.models import BrokerUpdate
from lib.features.trading.secrets import SecretBox
from lib.webhooks import ingest, providers
from lib.webhooks.endpoint import WebhookEndpoint
from lib.webhooks.shared_secret import SIGNATURE_HEADER, TIMESTAMP_HEADER
from lib.webhooks.verifiers import Verified, Verifier

if TYPE_CHECKING:
    from starlette.requests import Request

    from lib.services import Services

ROUTE = "/api/webhooks/broker"


def _per_connection(services: Services) -> Verifier:
    raise ServiceUnavailable("broker webhooks are verified per connection (webhook.receive)")


BROKER = WebhookEndpoint(
    route=ROUTE,
    provider="broker",
    verifier=_per_connection,
    processors={"*": "trading_on_broker_event"},
    retries="senders should retry non-2xx; failed events are retried by the webhooks-retry cron",
    url=f"{ROUTE}/{{connectionId}}",
)
"""The declaration (route, processor); `receive` binds its verifier to one connection."""


def connection_id(request: Request) -> str:
    """The connection named by the original path /api/webhooks/broker/<id> (Vercel rewrites
    keep it); 401 when it is not a connection id at all."""
    tail = request.url.path.rstrip("/").rpartition("/")[2]
    try:
        return str(uuid.UUID(tail))
    except ValueError:
        raise Unauthorized("post to /api/webhooks/broker/<connectionId>") from None


def _prepare(connection: str) -> Any:
    def prepare(verified: Verified, request: Request, services: Services) -> Verified:
        try:
            update = BrokerUpdate.model_validate(verified.payload)
        except ValidationError as exc:
            raise BadRequest(f"not a broker update: {exc.errors()[0]['msg']}") from exc
        body = update.model_dump(mode="json", exclude={"full"})
        canonical = json.dumps(verified.payload, sort_keys=True, separators=(",", ":"))
        key = update.id or "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
        return Verified(
            payload={**body, "connectionId": connection},
            event_id=f"{connection}:{key}",
            event_type=update.type,
        )

    return prepare


async def receive(request: Request, services: Services) -> Response:
    connection = connection_id(request)
    # Refuse what cannot pass before spending a database read on the connection's secret.
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BROKER.max_body_bytes:
        raise PayloadTooLarge(f"webhook bodies are at most {BROKER.max_body_bytes} bytes")
    if not (request.headers.get(SIGNATURE_HEADER) and request.headers.get(TIMESTAMP_HEADER)):
        raise Unauthorized(
            f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required (docs/trading.md)"
        )
    sealed = await services.db.rpc("trading_webhook_secret", p_connection=connection)
    if not sealed:
        raise Unauthorized("no such webhook connection, or it was disconnected")
    secret = SecretBox.of(services).open(str(sealed)).get()
    endpoint = replace(
        BROKER,
        verifier=lambda _services: providers.shared_secret([secret]),
        prepare=_prepare(connection),
    )
    outcome = await ingest.receive(request, services, endpoint)
    return ingest.default_answer(outcome, endpoint, request)
