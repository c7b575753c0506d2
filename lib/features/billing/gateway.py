"""Stripe, through the official SDK: a `stripe.StripeClient` per event loop, and Stripe's
errors mapped once to ours.

    async with stripe_client(services) as client:   # STRIPE_SECRET_KEY, STRIPE_API_BASE
        customer = await call(client.v1.customers.create_async(params=..., options=...))

The client is built from the billing settings: base address STRIPE_API_BASE when set (the
local stand-in, dev/stripe_api.py), `stripe.HTTPXClient()` (httpx's AsyncClient: the SDK's
async transport) and STRIPE_MAX_NETWORK_RETRIES (default 2; every create carries an
idempotency key, so a retried create never makes a second object). One client per procedure
call, closed after it: billing calls are rare (a checkout, a portal visit), and nothing is
left open on a loop that ends.

    stripe.APIConnectionError, APIError (5xx)    -> ServiceUnavailable (retry later)
    stripe.RateLimitError                        -> ServiceUnavailable (retry_after=1)
    stripe.AuthenticationError, PermissionError  -> ServiceUnavailable naming STRIPE_SECRET_KEY
    stripe.InvalidRequestError (a price, a customer)  -> ServiceUnavailable with Stripe's
                                                    message (our configuration, not the caller)
    other stripe.StripeError                     -> SocklessError (500)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING

from lib.errors import ServiceUnavailable, SocklessError
from lib.features.billing.settings import BillingSettings

if TYPE_CHECKING:
    import stripe

    from lib.services import Services

TIMEOUT_S = 20.0


@contextlib.asynccontextmanager
async def stripe_client(services: Services) -> AsyncIterator[stripe.StripeClient]:
    """A StripeClient for one procedure call; its connections are closed afterwards."""
    import stripe  # ~150 ms: only billing pays for it

    settings = services.feature(BillingSettings)
    settings.require()
    http = stripe.HTTPXClient(timeout=TIMEOUT_S)
    try:
        yield stripe.StripeClient(
            settings.secret_key.get(),
            base_addresses={"api": settings.api_base} if settings.api_base else None,
            http_client=http,
            max_network_retries=settings.network_retries,
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK


async def call[T](request: Awaitable[T]) -> T:
    """Await one SDK call, Stripe's errors mapped to ours (chained)."""
    import stripe

    try:
        return await request
    except stripe.RateLimitError as exc:
        raise ServiceUnavailable("Stripe is rate limiting us; retry", retry_after=1) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise ServiceUnavailable(
            f"Stripe refused STRIPE_SECRET_KEY: {exc.user_message or exc}"
        ) from exc
    except stripe.InvalidRequestError as exc:
        raise ServiceUnavailable(f"Stripe refused the request: {exc.user_message or exc}") from exc
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        raise ServiceUnavailable("Stripe is unreachable; retry", retry_after=2) from exc
    except stripe.StripeError as exc:
        raise SocklessError(f"Stripe: {exc.user_message or exc}") from exc
