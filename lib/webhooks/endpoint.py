"""A webhook endpoint, declared as data by core or a feature (`Feature(webhooks=...)`).

    WebhookEndpoint(
        route="/api/webhooks/stripe",
        provider="stripe",                      # the name stored in webhook_events
        verifier=providers.stripe,              # Services -> Verifier (keys from settings)
        processors={"invoice.paid": "billing_on_invoice_paid"},
        failure_status=500,                     # Stripe retries non-2xx for 3 days
    )

`processors` maps the provider's event type to a SQL function
`public.<name>(p_event jsonb) returns jsonb` that applies it (state + outbox rows) inside the
ingest transaction; `"*"` catches every type. A type with no processor is stored as
`ignored` and acknowledged. `prepare` turns the verified payload into what the processor gets
(default: the payload itself) and may raise BadRequest for a malformed one (nothing is
stored); a provider whose envelope is not uniform (HighLevel: invoices carry no `type`) returns
a `Verified` instead, whose event type and id then decide the processor and the dedupe key.
`respond` shapes the HTTP answer (default: JSON, see lib.webhooks.ingest).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from lib.services import Services
    from lib.webhooks.verifiers import Verified, Verifier

DEFAULT_MAX_BODY_BYTES = 262_144
"""256 KiB: larger than any provider's documented payload."""

Status = Literal["processed", "ignored", "failed", "parked"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What ingest did with one delivery."""

    provider: str
    event_id: str
    type: str
    id: int
    """The webhook_events row."""
    status: Status
    duplicate: bool
    result: Any = None
    """The processor's result without its events (a duplicate carries the first one's)."""
    error: str | None = None


Prepare = Callable[["Verified", "Request", "Services"], Any]
Respond = Callable[["Outcome", "Request", "Services"], Awaitable["Response | dict[str, Any]"]]


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    route: str
    provider: str
    verifier: Callable[[Services], Verifier]
    processors: Mapping[str, str] = field(default_factory=dict)
    prepare: Prepare | None = None
    respond: Respond | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    failure_status: int = 500
    """The answer when processing failed (the event is stored and retried by the cron either
    way): 5xx where the provider's own retries help, 200 where failures would trip a circuit
    breaker (HighLevel pauses a webhook under 90 % success)."""
    retries: str = ""
    """The provider's retry rule, for the docs."""
    url: str = ""
    """The public URL when it differs from `route` (path parameters: `.../{connectionId}`),
    for /api/openapi.json."""

    def processor_for(self, event_type: str) -> str | None:
        return self.processors.get(event_type) or self.processors.get("*")
