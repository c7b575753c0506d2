"""`billing.*`: buy credits or a subscription with Stripe Checkout, manage it in the Billing
Portal, read the balance. Every procedure needs a signed-in caller.

    billing.checkout  mutation  {kind: subscription | credits, quantity?} -> {url, sessionId}
    billing.portal    mutation  none -> {url}
    billing.status    query     {limit?} or none -> {balance, subscription, paymentIssue,
                                flagged, entries}

The caller's Stripe Customer is created first (metadata.user_id; idempotency key per user)
and stored before any Checkout Session exists, so whichever of Stripe's events arrives first
finds its user. The session carries client_reference_id = the user and the amounts to grant
in its metadata (lib.features.billing.plans). Every create carries an idempotency key. Billing
that is not configured answers 503 naming the variable.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from lib.features.billing.gateway import call, stripe_client
from lib.features.billing.models import (
    CheckoutInput,
    CheckoutSession,
    PortalSession,
    Status,
    StatusInput,
)
from lib.features.billing.settings import BillingSettings
from lib.rpc.procedure import Context, Procedure

if TYPE_CHECKING:
    import stripe

    from lib.services import Services

_configured: weakref.WeakSet[Services] = weakref.WeakSet()


async def configure(services: Services) -> dict[str, Any]:
    """Write SIGNUP_FREE_CREDITS where the profiles trigger reads it (once per app, and by the
    daily cleanup)."""
    settings = services.feature(BillingSettings)
    result: dict[str, Any] = await services.db.rpc(
        "billing_configure", p_signup_free_credits=settings.signup_free_credits
    )
    _configured.add(services)
    return result


async def _configured_once(services: Services) -> None:
    if services not in _configured:
        await configure(services)


def idempotency_key(*parts: str) -> str:
    """A key for one create: the same parts, the same object (Stripe keeps keys 24 h)."""
    return "sockless-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def customer_for(services: Services, client: stripe.StripeClient, user_id: str) -> str:
    """The caller's Stripe Customer id, created and stored on first use."""
    found = await services.db.rpc("billing_customer", p_user_id=user_id)
    if isinstance(found, str) and found:
        return found
    customer = await call(
        client.v1.customers.create_async(
            params={"metadata": {"user_id": user_id}},
            options={"idempotency_key": idempotency_key("customer", user_id)},
        )
    )
    linked = await services.db.rpc(
        "billing_customer_link", p_user_id=user_id, p_customer_id=customer.id
    )
    return str(linked)


async def checkout(ctx: Context, input: CheckoutInput) -> CheckoutSession:
    settings = ctx.services.feature(BillingSettings)
    settings.require(input.kind)
    await _configured_once(ctx.services)
    user = ctx.user.user_id
    plan = settings.plans[input.kind]
    quantity = input.quantity if input.kind == "credits" else 1
    credits = str(plan.credits_for(quantity))
    params: dict[str, Any] = {
        "mode": plan.mode,
        "client_reference_id": user,
        "line_items": [{"price": plan.price, "quantity": quantity}],
        "success_url": f"{settings.return_url}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{settings.return_url}?checkout=canceled",
        "metadata": {"user_id": user, "kind": input.kind, "credits": credits},
    }
    if plan.mode == "subscription":
        params["subscription_data"] = {
            "metadata": {"user_id": user, "monthly_credits": str(plan.credits)}
        }
    else:
        params["payment_intent_data"] = {"metadata": {"user_id": user, "credits": credits}}
    key = idempotency_key("checkout", user, input.kind, str(quantity), ctx.request_id)
    async with stripe_client(ctx.services) as client:
        params["customer"] = await customer_for(ctx.services, client, user)
        session = await call(
            client.v1.checkout.sessions.create_async(
                params=params,  # type: ignore[arg-type]  # a TypedDict the dict literal matches
                options={"idempotency_key": key},
            )
        )
    return CheckoutSession(url=str(session.url), sessionId=session.id)


async def portal(ctx: Context, input: None) -> PortalSession:
    settings = ctx.services.feature(BillingSettings)
    settings.require()
    await _configured_once(ctx.services)
    user = ctx.user.user_id
    async with stripe_client(ctx.services) as client:
        customer = await customer_for(ctx.services, client, user)
        session = await call(
            client.v1.billing_portal.sessions.create_async(
                params={"customer": customer, "return_url": settings.return_url},
                options={"idempotency_key": idempotency_key("portal", user, ctx.request_id)},
            )
        )
    return PortalSession(url=session.url)


async def status(ctx: Context, input: StatusInput | None) -> Status:
    await _configured_once(ctx.services)
    input = input or StatusInput()
    result = await ctx.db.rpc("billing_status", p_user_id=ctx.user.user_id, p_limit=input.limit)
    return Status.model_validate(result)


PROCEDURES = (
    Procedure(
        path="billing.checkout",
        kind="mutation",
        input=CheckoutInput,
        output=CheckoutSession,
        handler=checkout,
        rate_limit=(20, 60),
        description="A Stripe Checkout Session for the subscription or credit packs.",
    ),
    Procedure(
        path="billing.portal",
        kind="mutation",
        output=PortalSession,
        handler=portal,
        rate_limit=(20, 60),
        description="A Stripe Billing Portal session (manage or cancel the subscription).",
    ),
    Procedure(
        path="billing.status",
        kind="query",
        input=TypeAdapter(StatusInput | None),
        output=Status,
        handler=status,
        description="Balance, subscription, payment problems and recent ledger entries.",
    ),
)
