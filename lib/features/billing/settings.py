"""The billing feature's settings (`services.feature(BillingSettings)`).

STRIPE_WEBHOOK_SECRET is a core setting (lib.webhooks.providers verifies every Stripe
delivery); what only billing decides lives here. Billing without STRIPE_SECRET_KEY (or a
plan's price) is not an error at start: its procedures answer 503 naming the variable
(`require`), so a deployment that sells nothing still runs. Production refuses a local
STRIPE_API_BASE and a half-configured billing (lib.production).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from lib.config import Secret
from lib.errors import ServiceUnavailable
from lib.features.billing.plans import Kind, Plan, plans


@dataclass(frozen=True, kw_only=True)
class BillingSettings:
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    """STRIPE_SECRET_KEY (`sk_live_...`, `sk_test_...` or a restricted `rk_...`)."""
    api_base: str = ""
    """STRIPE_API_BASE: where the SDK sends API calls; blank = Stripe's own."""
    subscription_price: str = ""
    """STRIPE_PRICE_SUBSCRIPTION: the recurring Price of the subscription."""
    monthly_credits: int = 100
    """SUBSCRIPTION_MONTHLY_CREDITS granted for each paid subscription period."""
    credits_price: str = ""
    """STRIPE_PRICE_CREDITS: the one-time Price of one credit pack."""
    credits_per_pack: int = 10
    """CREDITS_PER_PACK."""
    signup_free_credits: int = 3
    """SIGNUP_FREE_CREDITS: granted once when a user's profile is created."""
    return_url: str = ""
    """BILLING_RETURN_URL: the app page Checkout and the portal send the customer back to
    (blank: PUBLIC_BASE_URL)."""
    network_retries: int = 2
    """STRIPE_MAX_NETWORK_RETRIES: the SDK's retries of a failed call (same idempotency
    key)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        def get(name: str) -> str:
            return env.get(name, "").strip()

        def count(name: str, default: int, low: int = 0, high: int = 1_000_000) -> int:
            raw = get(name)
            try:
                value = int(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}")
            return value

        for name in ("STRIPE_PRICE_SUBSCRIPTION", "STRIPE_PRICE_CREDITS"):
            if get(name) and not get(name).startswith("price_"):
                raise ValueError(f"{name} must be a Stripe Price id (price_...)")
        return cls(
            secret_key=Secret(get("STRIPE_SECRET_KEY")),
            api_base=get("STRIPE_API_BASE").rstrip("/"),
            subscription_price=get("STRIPE_PRICE_SUBSCRIPTION"),
            monthly_credits=count("SUBSCRIPTION_MONTHLY_CREDITS", 100, low=1),
            credits_price=get("STRIPE_PRICE_CREDITS"),
            credits_per_pack=count("CREDITS_PER_PACK", 10, low=1),
            signup_free_credits=count("SIGNUP_FREE_CREDITS", 3),
            return_url=(get("BILLING_RETURN_URL") or get("PUBLIC_BASE_URL")).rstrip("/"),
            network_retries=count("STRIPE_MAX_NETWORK_RETRIES", 2, high=10),
        )

    @property
    def plans(self) -> dict[Kind, Plan]:
        return plans(
            subscription_price=self.subscription_price,
            monthly_credits=self.monthly_credits,
            credits_price=self.credits_price,
            credits_per_pack=self.credits_per_pack,
        )

    def require(self, kind: Kind | None = None) -> None:
        """ServiceUnavailable naming each missing variable `kind` (or the portal) needs."""
        missing = [] if self.secret_key else ["STRIPE_SECRET_KEY"]
        if kind is not None and not self.plans[kind].price:
            missing.append(self.plans[kind].price_variable)
        if not self.return_url:
            missing.append("BILLING_RETURN_URL (or PUBLIC_BASE_URL)")
        if missing:
            raise ServiceUnavailable(f"billing is not configured: set {', '.join(missing)}")

    def plan_payload(self) -> dict[str, int | str]:
        """What the webhook processors may fall back on when an object carries no amounts
        (a subscription created outside billing.checkout)."""
        return {
            "subscriptionMonthlyCredits": self.monthly_credits,
            "creditsPerPack": self.credits_per_pack,
            "subscriptionPrice": self.subscription_price,
            "creditsPrice": self.credits_price,
        }
