"""POST /api/webhooks/ghl: HighLevel's webhooks -> the CRM processors.

On the one ingest path (lib.webhooks.ingest): body size (413) -> X-GHL-Signature (Ed25519),
else the legacy X-WH-Signature (RSA) (401, nothing stored; lib.webhooks.ghl) -> `prepare`:
the envelope made uniform (envelope.py), and a delivery for another Marketplace app refused
(403, nothing stored) when GHL_APP_ID is set -> webhook_ingest stores it once (deduped on
`webhookId`, else a SHA-256 of the body) and runs its processor (envelope.PROCESSORS) in the
same transaction -> the queued events are published.

HighLevel pauses a webhook whose success rate falls under 90 %, so a processing failure is
still answered 200 (`{"ok": false, "retrying": true}`): the event is kept and retried by the
`webhooks-retry` cron. The answer also fires due appointment reminders when no processor ran
(reminders.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lib.errors import Forbidden, SocklessError
from lib.features.crm import reminders
from lib.features.crm.envelope import PROCESSORS, normalise
from lib.features.crm.settings import CrmSettings
from lib.webhooks import providers
from lib.webhooks.endpoint import Outcome, WebhookEndpoint
from lib.webhooks.ingest import default_answer
from lib.webhooks.verifiers import Verified

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from lib.services import Services

log = logging.getLogger("sockless.crm")


def prepare(verified: Verified, request: Request, services: Services) -> Verified:
    """The delivery with its type and envelope normalised (what processors get)."""
    payload: dict[str, Any] = verified.payload
    if not services.feature(CrmSettings).accepts(payload.get("appId")):
        raise Forbidden("this HighLevel delivery is for another app (appId is not GHL_APP_ID)")
    envelope = normalise(payload)
    return Verified(
        payload=envelope.as_json(), event_id=verified.event_id, event_type=envelope.type
    )


async def answer(outcome: Outcome, request: Request, services: Services) -> Response:
    if outcome.duplicate or outcome.status != "processed":
        # no processor ran, so none claimed the due reminders: claim them here. The delivery
        # is stored either way; a failure here is the cron's to make up for.
        try:
            await reminders.fire(services)
        except SocklessError as exc:
            log.warning("crm reminders not fired after a delivery: %s", exc.message)
    return default_answer(outcome, GHL, request)


GHL = WebhookEndpoint(
    route="/api/webhooks/ghl",
    provider="ghl",
    verifier=providers.ghl,
    processors=PROCESSORS,
    prepare=prepare,
    respond=answer,
    failure_status=200,
    retries="HighLevel retries non-2xx up to 12 times with backoff and pauses a webhook under "
    "90 % success; we answer 200 and retry failed events ourselves",
)
