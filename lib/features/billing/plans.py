"""What we sell, declared as data: one subscription and one credit pack.

    PLANS["subscription"]  STRIPE_PRICE_SUBSCRIPTION, recurring: SUBSCRIPTION_MONTHLY_CREDITS
                           granted each paid period (invoice.paid, subscription_create or
                           subscription_cycle); while active, poker sessions cost nothing
    PLANS["credits"]       STRIPE_PRICE_CREDITS, one-time, `quantity` packs of
                           CREDITS_PER_PACK credits each

Every new user also receives SIGNUP_FREE_CREDITS once (a trigger on profiles). The amounts
travel with the payment: billing.checkout writes them into the Checkout Session's metadata
(`credits`) and the subscription's (`monthly_credits`), so a webhook grants what the customer
was shown even if the settings change in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["subscription", "credits"]
MAX_PACKS = 100


@dataclass(frozen=True, kw_only=True)
class Plan:
    kind: Kind
    price: str
    """The Stripe Price id (`price_...`); blank: not configured."""
    price_variable: str
    credits: int
    """Per period (subscription) or per pack (credits)."""
    mode: Literal["subscription", "payment"]

    def credits_for(self, quantity: int) -> int:
        return self.credits * (1 if self.kind == "subscription" else quantity)


def plans(
    *, subscription_price: str, monthly_credits: int, credits_price: str, credits_per_pack: int
) -> dict[Kind, Plan]:
    return {
        "subscription": Plan(
            kind="subscription",
            price=subscription_price,
            price_variable="STRIPE_PRICE_SUBSCRIPTION",
            credits=monthly_credits,
            mode="subscription",
        ),
        "credits": Plan(
            kind="credits",
            price=credits_price,
            price_variable="STRIPE_PRICE_CREDITS",
            credits=credits_per_pack,
            mode="payment",
        ),
    }
