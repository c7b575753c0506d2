"""Billing: Stripe Checkout for a subscription and credit packs, the Billing Portal, and the
credit ledger kept right by Stripe's webhooks, whatever their order.

    plans.py       what we sell, as data (a subscription, credit packs); signup credits
    settings.py    BillingSettings: STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_PRICE_*,
                   SUBSCRIPTION_MONTHLY_CREDITS, CREDITS_PER_PACK, SIGNUP_FREE_CREDITS, ...
    gateway.py     the official SDK: a stripe.StripeClient per loop, its errors mapped to ours
    procedures.py  billing.checkout, billing.portal, billing.status (tRPC)
    models.py      their inputs and outputs
    webhook.py     POST /api/webhooks/stripe -> the SQL processors (ingest path)

Realtime: `billing-updated` {balance, subscription} on private-user-{id} for each applied
change (core's user channel family). Poker is gated on what this feature writes (the credit
ledger, public.subscriptions) without either naming the other.

SQL: migrations 20261130700000_billing_customers ... 20261130700300_billing_status.
Local Stripe: dev/stripe_api.py (make dev starts it). docs/billing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.cron import Cleanup
from lib.feature import Feature
from lib.features.billing.events import FAMILIES
from lib.features.billing.procedures import PROCEDURES, configure
from lib.features.billing.settings import BillingSettings
from lib.features.billing.webhook import STRIPE
from lib.production import Rule

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from lib.config import Settings
    from lib.services import Services


async def _settings(services: Services) -> int:
    """Not a deletion: keeps SIGNUP_FREE_CREDITS in the database current daily, even when no
    billing procedure ran since a deploy changed it."""
    await configure(services)
    return 0


NEEDS = ("STRIPE_WEBHOOK_SECRET", "STRIPE_PRICE_SUBSCRIPTION", "STRIPE_PRICE_CREDITS")
"""What billing needs once STRIPE_SECRET_KEY is set (without the key, billing is off: its
procedures answer 503 naming it)."""


def _half_configured(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
    if env.get("STRIPE_SECRET_KEY", "").strip():
        yield from (name for name in NEEDS if not env.get(name, "").strip())


FEATURE = Feature(
    events=FAMILIES,
    name="billing",
    production_urls=("STRIPE_API_BASE", "BILLING_RETURN_URL"),
    production_rules=(
        Rule(
            "must be set when STRIPE_SECRET_KEY is: else payments succeed and grant nothing",
            _half_configured,
        ),
    ),
    procedures=PROCEDURES,
    cleanups=(Cleanup(name="billing_settings", run=_settings),),
    webhooks=(STRIPE,),
    settings=BillingSettings,
    migration="20261130700300",
    schema=(
        *sorted(set(STRIPE.processors.values())),
        *("billing_configure", "billing_customer", "billing_customer_link", "billing_status"),
        *("billing_customers", "billing_grants", "billing_reversals", "billing_invoices"),
        *("billing_checkouts", "billing_accounts"),
    ),
    description="Stripe Checkout, subscriptions and credit packs -> the credit ledger.",
)
