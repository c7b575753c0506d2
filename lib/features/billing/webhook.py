"""POST /api/webhooks/stripe: Stripe's events -> the billing processors.

On the one ingest path (lib.webhooks.ingest): body size (413) -> Stripe-Signature checked by
the SDK, 300 s (401, nothing stored; lib.webhooks.stripe) -> `prepare`: the event plus
`sockless_plan` (the plan amounts of BillingSettings, for objects that carry none) ->
webhook_ingest stores it once (deduped on the event id `evt_...`) and runs its processor in
the same transaction -> the queued `billing-updated` events are published. A processing
failure answers 500: Stripe retries for 3 days, and so does our webhooks-retry cron.

    checkout.session.completed, .async_payment_succeeded, .async_payment_failed
                                              -> billing_on_checkout_session
    customer.subscription.created, .updated, .deleted, .trial_will_end
                                              -> billing_on_subscription
    invoice.paid, .payment_failed, .payment_action_required  -> billing_on_invoice
    charge.refunded                           -> billing_on_charge_refunded
    charge.dispute.created                    -> billing_on_dispute_created

Any other type is stored as ignored. The processors' contract (order, duplicates, stale
updates, refunds below zero): supabase/migrations/20261130700200_billing_processors.sql.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.features.billing.settings import BillingSettings
from lib.webhooks import providers
from lib.webhooks.endpoint import WebhookEndpoint

if TYPE_CHECKING:
    from starlette.requests import Request

    from lib.services import Services
    from lib.webhooks.verifiers import Verified

PROCESSORS = {
    "checkout.session.completed": "billing_on_checkout_session",
    "checkout.session.async_payment_succeeded": "billing_on_checkout_session",
    "checkout.session.async_payment_failed": "billing_on_checkout_session",
    "customer.subscription.created": "billing_on_subscription",
    "customer.subscription.updated": "billing_on_subscription",
    "customer.subscription.deleted": "billing_on_subscription",
    "customer.subscription.trial_will_end": "billing_on_subscription",
    "invoice.paid": "billing_on_invoice",
    "invoice.payment_failed": "billing_on_invoice",
    "invoice.payment_action_required": "billing_on_invoice",
    "charge.refunded": "billing_on_charge_refunded",
    "charge.dispute.created": "billing_on_dispute_created",
}


def prepare(verified: Verified, request: Request, services: Services) -> dict[str, Any]:
    """The event as Stripe sent it, plus the plan's amounts under `sockless_plan`."""
    event: dict[str, Any] = dict(verified.payload)
    event["sockless_plan"] = services.feature(BillingSettings).plan_payload()
    return event


STRIPE = WebhookEndpoint(
    route="/api/webhooks/stripe",
    provider="stripe",
    verifier=providers.stripe,
    processors=PROCESSORS,
    prepare=prepare,
    failure_status=500,
    retries="Stripe retries non-2xx with backoff for 3 days",
)
