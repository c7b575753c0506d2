"""A local Stripe: the official `stripe` SDK talks to it when STRIPE_API_BASE points here
(`make dev` starts it on STRIPE_DEV_PORT, 12111; the tests on a free port). In memory, never
deployed. It speaks the API version the SDK pins (shapes: dev/stripe_objects.py).

    API (Bearer STRIPE_SECRET_KEY, form-encoded like the SDK sends, Idempotency-Key honoured)
      POST /v1/customers                 GET /v1/customers/{id}
      GET  /v1/prices[/{id}]             (two seeded: the subscription and the credit pack)
      POST /v1/checkout/sessions         GET /v1/checkout/sessions/{id}
      POST /v1/billing_portal/sessions
      GET  /v1/subscriptions[/{id}]      POST /v1/subscriptions/{id} (cancel_at_period_end)
                                         DELETE /v1/subscriptions/{id} (cancel now)
      GET  /v1/invoices[/{id}]           GET /v1/payment_intents/{id}, /v1/charges/{id}
      POST /v1/refunds                   GET /v1/events[/{id}]
    Hosted pages (HTML forms, what a browser sees)
      /checkout/{session}   Pay (card) | Pay by bank transfer (settles later) | Decline
      /portal/{session}     cancel at period end | keep it | cancel now
    Dev controls (no Stripe API has these; the clock does them on the real thing)
      POST /_dev/subscriptions/{id}/renew?outcome=paid|failed|action_required
           a renewal now: invoice.paid with billing_reason=subscription_cycle (or a failure)
      POST /_dev/subscriptions/{id}/end_period   the period ends: renewed, or deleted when it
                                                 was set to cancel at period end
      POST /_dev/checkout/sessions/{id}/settle?outcome=succeeded|failed  a bank transfer
      POST /_dev/charges/{id}/dispute            the cardholder disputes the charge
      POST /_dev/hold?customer=cus_...           keep that customer's events instead of
      GET  /_dev/events?customer=cus_...         sending them (tests redeliver them)

Events go to the webhook URL (the local api's /api/webhooks/stripe) one at a time, in the
order Stripe sends them, signed with STRIPE_WEBHOOK_SECRET the way Stripe signs
(`stripe.WebhookSignature.generate_signature_header`), before the page's answer: a purchase
is applied when the browser comes back. A subscription's events carry strictly increasing
`created` so that "newer" is well defined for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dev import stripe_objects as so
from dev.stripe_objects import Obj

log = logging.getLogger("sockless.stripe")

SUBSCRIPTION_PRICE = "price_sockless_subscription"
CREDITS_PRICE = "price_sockless_credits"
PERIOD_S = 30 * 24 * 3600
DEFAULT_PORT = 12111


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, **extra: str | None) -> None:
        super().__init__(message)
        self.status, self.body = status, so.error(kind, message, **extra)


def missing(what: str, id: str) -> StripeError:
    return StripeError(
        404, "invalid_request_error", f"No such {what}: '{id}'", code="resource_missing"
    )


@dataclass
class LocalStripe:
    """The state and what happens to it; `app()` serves it."""

    secret_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    webhook_url: str
    public_url: str = ""
    clock: Callable[[], float] = time.time
    objects: dict[str, dict[str, Obj]] = field(repr=False, default_factory=dict)
    events: list[Obj] = field(repr=False, default_factory=list)
    held: set[str] = field(repr=False, default_factory=set)
    deliveries: dict[str, int] = field(repr=False, default_factory=dict)
    """event id -> the status the webhook answered (0: it could not be reached)."""
    _idempotent: dict[str, tuple[str, Obj, int, Obj]] = field(repr=False, default_factory=dict)
    _last_created: dict[str, int] = field(repr=False, default_factory=dict)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        now = self.now()
        for id, amount, recurring, name in (
            (SUBSCRIPTION_PRICE, 900, True, "Sockless monthly"),
            (CREDITS_PRICE, 500, False, "Credit pack"),
        ):
            self.put(
                so.price(
                    id=id,
                    product=f"prod_{id}",
                    unit_amount=amount,
                    recurring=recurring,
                    created=now,
                    nickname=name,
                )
            )

    # state -------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def put(self, obj: Obj) -> Obj:
        self.objects.setdefault(obj["object"], {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, id: str) -> Obj:
        found = self.objects.get(kind, {}).get(id)
        if found is None:
            raise missing(kind.replace("_", " ").replace(".", " "), id)
        return found

    def all(self, kind: str) -> list[Obj]:
        return list(self.objects.get(kind, {}).values())

    def event(self, type: str, obj: Obj, *, key: str | None = None, **kwargs: Any) -> Obj:
        """A new event about `obj`; events about one subscription get increasing `created`."""
        created = self.now()
        if key is not None:
            created = max(created, self._last_created.get(key, 0) + 1)
            self._last_created[key] = created
        made = so.event(type, obj, created=created, **kwargs)
        self.events.append(made)
        return made

    # delivery ----------------------------------------------------------------------------

    async def send(self, events: list[Obj]) -> None:
        """Deliver in order, one at a time (held customers' events are only recorded)."""
        import stripe

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=30)
        for event in events:
            if customer_of(event) in self.held:
                continue
            body = json.dumps(event)
            header = stripe.WebhookSignature.generate_signature_header(
                body, self.webhook_secret, timestamp=self.now()
            )
            try:
                answer = await self._http.post(
                    self.webhook_url,
                    content=body,
                    headers={"Stripe-Signature": header, "Content-Type": "application/json"},
                )
                self.deliveries[event["id"]] = answer.status_code
                if answer.is_error:
                    log.warning("%s %s -> %s", event["type"], event["id"], answer.status_code)
            except httpx.HTTPError as exc:
                self.deliveries[event["id"]] = 0
                log.warning("%s %s not delivered: %r", event["type"], event["id"], exc)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # API objects -------------------------------------------------------------------------

    def create_customer(self, params: Obj) -> Obj:
        return self.put(
            so.customer(
                id=so.new_id("cus"),
                created=self.now(),
                metadata=dict(params.get("metadata") or {}),
                email=params.get("email"),
            )
        )

    def create_session(self, params: Obj) -> Obj:
        mode = params.get("mode")
        if mode not in ("payment", "subscription"):
            raise StripeError(400, "invalid_request_error", "mode must be payment or subscription")
        customer = self.get("customer", str(params.get("customer")))
        items = params.get("line_items") or []
        if len(items) != 1:
            raise StripeError(400, "invalid_request_error", "exactly one line item, please")
        price = self.get("price", str(items[0].get("price")))
        quantity = int(items[0].get("quantity") or 1)
        if (price["type"] == "recurring") != (mode == "subscription"):
            raise StripeError(
                400,
                "invalid_request_error",
                f"price {price['id']} is {price['type']}: it cannot be used in {mode} mode",
                param="line_items[0][price]",
            )
        id = so.new_id("cs")
        session = so.checkout_session(
            id=id,
            created=self.now(),
            mode=mode,
            customer=customer["id"],
            client_reference_id=params.get("client_reference_id"),
            metadata=dict(params.get("metadata") or {}),
            amount_total=price["unit_amount"] * quantity,
            success_url=str(params.get("success_url") or ""),
            cancel_url=params.get("cancel_url"),
            url=f"{self.public_url}/checkout/{id}",
        )
        # what a session keeps but does not show (the real one has these behind line_items)
        session["_price"], session["_quantity"] = price["id"], quantity
        session["_intent_metadata"] = (params.get("payment_intent_data") or {}).get("metadata")
        session["_subscription_metadata"] = (params.get("subscription_data") or {}).get("metadata")
        return self.put(session)

    def create_portal(self, params: Obj) -> Obj:
        customer = self.get("customer", str(params.get("customer")))
        id = so.new_id("bps")
        return self.put(
            so.portal_session(
                id=id,
                created=self.now(),
                customer=customer["id"],
                return_url=str(params.get("return_url") or ""),
                url=f"{self.public_url}/portal/{id}",
            )
        )

    def _pay(self, customer: str, amount: int, metadata: Obj) -> tuple[Obj, Obj]:
        pi_id, ch_id = so.new_id("pi"), so.new_id("ch")
        now = self.now()
        pi = self.put(
            so.payment_intent(
                id=pi_id,
                created=now,
                amount=amount,
                customer=customer,
                metadata=metadata,
                charge=ch_id,
            )
        )
        ch = self.put(
            so.charge(
                id=ch_id,
                created=now,
                amount=amount,
                customer=customer,
                pi=pi_id,
                metadata=metadata,
            )
        )
        return pi, ch

    def pay(self, session_id: str, method: str) -> list[Obj]:
        """The customer pays on the hosted page (card: now; bank: settles later)."""
        session = self.get("checkout.session", session_id)
        if session["status"] != "open":
            raise StripeError(400, "invalid_request_error", f"session is {session['status']}")
        if session["mode"] == "subscription":
            return self._subscribe(session)
        metadata = dict(session["_intent_metadata"] or {})
        events: list[Obj] = []
        if method == "bank":
            pi = self.put(
                so.payment_intent(
                    id=so.new_id("pi"),
                    created=self.now(),
                    amount=session["amount_total"],
                    customer=session["customer"],
                    metadata=metadata,
                    charge=None,
                )
            )
            pi["status"] = "processing"
            session.update(
                status="complete", payment_status="unpaid", payment_intent=pi["id"], url=None
            )
            events.append(self.event("checkout.session.completed", session))
            return events
        pi, ch = self._pay(session["customer"], session["amount_total"], metadata)
        session.update(status="complete", payment_status="paid", payment_intent=pi["id"], url=None)
        events.append(self.event("charge.succeeded", ch))
        events.append(self.event("payment_intent.succeeded", pi))
        events.append(self.event("checkout.session.completed", session))
        return events

    def settle(self, session_id: str, succeeded: bool) -> list[Obj]:
        """A bank transfer's outcome, days later on the real thing."""
        session = self.get("checkout.session", session_id)
        if session["status"] != "complete" or session["payment_status"] != "unpaid":
            raise StripeError(400, "invalid_request_error", "nothing to settle")
        pi = self.get("payment_intent", session["payment_intent"])
        if not succeeded:
            pi["status"] = "requires_payment_method"
            return [self.event("checkout.session.async_payment_failed", session)]
        ch_id = so.new_id("ch")
        ch = self.put(
            so.charge(
                id=ch_id,
                created=self.now(),
                amount=pi["amount"],
                customer=pi["customer"],
                pi=pi["id"],
                metadata=pi["metadata"],
            )
        )
        pi.update(status="succeeded", latest_charge=ch_id, amount_received=pi["amount"])
        session["payment_status"] = "paid"
        return [
            self.event("charge.succeeded", ch),
            self.event("payment_intent.succeeded", pi),
            self.event("checkout.session.async_payment_succeeded", session),
        ]

    def decline(self, session_id: str) -> list[Obj]:
        """The card is declined: the session stays open (the customer may try again)."""
        session = self.get("checkout.session", session_id)
        pi = self.put(
            so.payment_intent(
                id=so.new_id("pi"),
                created=self.now(),
                amount=session["amount_total"],
                customer=session["customer"],
                metadata=dict(session["_intent_metadata"] or {}),
                charge=None,
            )
        )
        pi["last_payment_error"] = {"code": "card_declined", "decline_code": "generic_decline"}
        return [self.event("payment_intent.payment_failed", pi)]

    def _subscribe(self, session: Obj) -> list[Obj]:
        """Stripe's order for a subscription Checkout: the subscription (incomplete), the
        first invoice paid, the subscription active, and only then the session completed."""
        now = self.now()
        price = self.get("price", session["_price"])
        sub = self.put(
            so.subscription(
                id=so.new_id("sub"),
                created=now,
                customer=session["customer"],
                price=price,
                metadata=dict(session["_subscription_metadata"] or {}),
                period_start=now,
                period_end=now + PERIOD_S,
            )
        )
        key = sub["id"]
        events = [self.event("customer.subscription.created", sub, key=key)]
        events += self._invoice(sub, "subscription_create", now, now + PERIOD_S, "paid")
        sub["status"] = "active"
        events.append(
            self.event(
                "customer.subscription.updated",
                sub,
                key=key,
                previous={"status": "incomplete"},
            )
        )
        session.update(
            status="complete",
            payment_status="paid",
            subscription=sub["id"],
            invoice=sub["latest_invoice"],
            url=None,
        )
        events.append(self.event("checkout.session.completed", session))
        return events

    def _invoice(self, sub: Obj, reason: str, start: int, end: int, outcome: str) -> list[Obj]:
        price = sub["items"]["data"][0]["price"]
        inv_id = so.new_id("in")
        inv = self.put(
            so.invoice(
                id=inv_id,
                created=self.now(),
                sub=sub,
                billing_reason=reason,
                amount=price["unit_amount"],
                period_start=start,
                period_end=end,
                hosted_url=f"{self.public_url}/invoices/{inv_id}",
            )
        )
        sub["latest_invoice"] = inv_id
        events = [self.event("invoice.created", inv), self.event("invoice.finalized", inv)]
        if outcome == "paid":
            metadata = {"user_id": sub["metadata"].get("user_id", "")}
            pi, ch = self._pay(sub["customer"], inv["amount_due"], metadata)
            so.invoice_paid(inv, pi=pi["id"], at=self.now())
            events += [
                self.event("charge.succeeded", ch),
                self.event("payment_intent.succeeded", pi),
                self.event("invoice.paid", inv),
                self.event("invoice.payment_succeeded", inv),
            ]
        elif outcome == "action_required":
            inv["attempt_count"], inv["attempted"] = 1, True
            events.append(self.event("invoice.payment_action_required", inv))
        else:
            inv["attempt_count"], inv["attempted"] = 1, True
            events.append(self.event("invoice.payment_failed", inv))
        return events

    def renew(self, sub_id: str, outcome: str = "paid") -> list[Obj]:
        """The next period starts now: a subscription_cycle invoice, then the subscription."""
        sub = self.get("subscription", sub_id)
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError(400, "invalid_request_error", f"subscription is {sub['status']}")
        start = self.now()
        end = start + PERIOD_S
        previous = {
            "items": copy_items(sub),
            "latest_invoice": sub["latest_invoice"],
            "status": sub["status"],
        }
        so.set_period(sub, start, end)
        events = self._invoice(sub, "subscription_cycle", start, end, outcome)
        sub["status"] = "active" if outcome == "paid" else "past_due"
        events.append(
            self.event("customer.subscription.updated", sub, key=sub_id, previous=previous)
        )
        return events

    def update_subscription(self, sub_id: str, params: Obj) -> list[Obj]:
        sub = self.get("subscription", sub_id)
        if "cancel_at_period_end" not in params:
            return []
        wanted = str(params["cancel_at_period_end"]).lower() == "true"
        if sub["status"] == "canceled" or wanted == sub["cancel_at_period_end"]:
            return []
        previous = {
            "cancel_at_period_end": sub["cancel_at_period_end"],
            "cancel_at": sub["cancel_at"],
            "canceled_at": sub["canceled_at"],
        }
        sub.update(
            cancel_at_period_end=wanted,
            cancel_at=so.period_end(sub) if wanted else None,
            canceled_at=self.now() if wanted else None,
        )
        return [self.event("customer.subscription.updated", sub, key=sub_id, previous=previous)]

    def cancel_subscription(self, sub_id: str) -> list[Obj]:
        sub = self.get("subscription", sub_id)
        if sub["status"] == "canceled":
            raise StripeError(400, "invalid_request_error", "subscription is already canceled")
        now = self.now()
        sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
        return [self.event("customer.subscription.deleted", sub, key=sub_id)]

    def end_period(self, sub_id: str) -> list[Obj]:
        sub = self.get("subscription", sub_id)
        if sub["cancel_at_period_end"]:
            return self.cancel_subscription(sub_id)
        return self.renew(sub_id)

    def refund(self, params: Obj) -> tuple[Obj, list[Obj]]:
        if params.get("charge"):
            ch = self.get("charge", str(params["charge"]))
        else:
            pi = self.get("payment_intent", str(params.get("payment_intent")))
            if not pi.get("latest_charge"):
                raise StripeError(400, "invalid_request_error", "this payment has no charge")
            ch = self.get("charge", pi["latest_charge"])
        left = ch["amount"] - ch["amount_refunded"]
        amount = int(params.get("amount") or left)
        if not 0 < amount <= left:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount ({left})",
                code="amount_too_large",
                param="amount",
            )
        made = self.put(
            so.refund(
                id=so.new_id("re"),
                created=self.now(),
                amount=amount,
                charge=ch["id"],
                pi=ch["payment_intent"],
            )
        )
        previous = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] == ch["amount"]
        return made, [
            self.event("refund.created", made),
            self.event("charge.refunded", ch, previous=previous),
        ]

    def dispute(self, charge_id: str) -> list[Obj]:
        ch = self.get("charge", charge_id)
        made = self.put(
            so.dispute(
                id=so.new_id("dp"),
                created=self.now(),
                amount=ch["amount"],
                charge=ch["id"],
                pi=ch["payment_intent"],
            )
        )
        ch["disputed"] = True
        return [self.event("charge.dispute.created", made)]

    # HTTP --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        from dev.stripe_pages import routes

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await self.close()

        return Starlette(routes=[*self._api_routes(), *routes(self)], lifespan=lifespan)

    def _api_routes(self) -> list[Route]:
        def api(handler: Callable[[Request, Obj], Any], method: str = "GET") -> Any:
            async def endpoint(request: Request) -> Response:
                if request.headers.get("authorization") != f"Bearer {self.secret_key}":
                    error = so.error("invalid_request_error", "Invalid API Key provided")
                    return JSONResponse(error, 401)
                body = await request.body()
                params = so.form_params(body) if body else dict(request.query_params)
                key = request.headers.get("idempotency-key")
                if key and method != "GET":
                    seen = self._idempotent.get(key)
                    if seen is not None:
                        path, first, status, answer = seen
                        if (path, first) != (request.url.path, params):
                            return JSONResponse(
                                so.error(
                                    "idempotency_error",
                                    "Keys for idempotent requests can only be used with the same "
                                    "parameters they were first used with.",
                                ),
                                400,
                            )
                        return JSONResponse(
                            public(answer), status, headers={"Idempotent-Replayed": "true"}
                        )
                try:
                    result = handler(request, params)
                    if asyncio.iscoroutine(result):
                        result = await result
                    status, answer = 200, result
                except StripeError as exc:
                    status, answer = exc.status, exc.body
                if key and method != "GET" and status < 500:
                    self._idempotent[key] = (request.url.path, params, status, answer)
                return JSONResponse(public(answer), status)

            return endpoint

        def one(kind: str) -> Callable[[Request, Obj], Obj]:
            return lambda request, params: self.get(kind, request.path_params["id"])

        def many(kind: str, url: str) -> Callable[[Request, Obj], Obj]:
            def listed(request: Request, params: Obj) -> Obj:
                rows = [
                    o
                    for o in self.all(kind)
                    if not params.get("customer") or o.get("customer") == params["customer"]
                ]
                return so.listing(rows[::-1][: int(params.get("limit") or 100)], url)

            return listed

        async def update_subscription(request: Request, params: Obj) -> Obj:
            sub_id = request.path_params["id"]
            await self.send(self.update_subscription(sub_id, params))
            return self.get("subscription", sub_id)

        async def cancel_subscription(request: Request, params: Obj) -> Obj:
            sub_id = request.path_params["id"]
            await self.send(self.cancel_subscription(sub_id))
            return self.get("subscription", sub_id)

        async def refund(request: Request, params: Obj) -> Obj:
            made, events = self.refund(params)
            await self.send(events)
            return made

        def event(request: Request, params: Obj) -> Obj:
            for found in self.events:
                if found["id"] == request.path_params["id"]:
                    return found
            raise missing("event", request.path_params["id"])

        def events(request: Request, params: Obj) -> Obj:
            rows = [e for e in self.events if not params.get("type") or e["type"] == params["type"]]
            return so.listing(rows[::-1][: int(params.get("limit") or 100)], "/v1/events")

        return [
            Route(
                "/v1/customers", api(lambda r, p: self.create_customer(p), "POST"), methods=["POST"]
            ),
            Route("/v1/customers/{id}", api(one("customer"))),
            Route("/v1/prices", api(many("price", "/v1/prices"))),
            Route("/v1/prices/{id}", api(one("price"))),
            Route(
                "/v1/checkout/sessions",
                api(lambda r, p: self.create_session(p), "POST"),
                methods=["POST"],
            ),
            Route("/v1/checkout/sessions/{id}", api(one("checkout.session"))),
            Route(
                "/v1/billing_portal/sessions",
                api(lambda r, p: self.create_portal(p), "POST"),
                methods=["POST"],
            ),
            Route("/v1/subscriptions", api(many("subscription", "/v1/subscriptions"))),
            Route("/v1/subscriptions/{id}", api(one("subscription"))),
            Route("/v1/subscriptions/{id}", api(update_subscription, "POST"), methods=["POST"]),
            Route("/v1/subscriptions/{id}", api(cancel_subscription, "DELETE"), methods=["DELETE"]),
            Route("/v1/invoices", api(many("invoice", "/v1/invoices"))),
            Route("/v1/invoices/{id}", api(one("invoice"))),
            Route("/v1/payment_intents/{id}", api(one("payment_intent"))),
            Route("/v1/charges/{id}", api(one("charge"))),
            Route("/v1/refunds", api(refund, "POST"), methods=["POST"]),
            Route("/v1/refunds/{id}", api(one("refund"))),
            Route("/v1/events", api(events)),
            Route("/v1/events/{id}", api(event)),
        ]


def local_secret_key() -> str:
    """A key for the stand-in (any `sk_test_` string the SDK will send back to us)."""
    import secrets

    return "sk_test_local_" + secrets.token_hex(12)


def public(answer: Obj) -> Obj:
    """An object as the API shows it (without what the stand-in keeps for itself)."""
    if isinstance(answer, dict):
        return {k: public(v) for k, v in answer.items() if not k.startswith("_")}
    if isinstance(answer, list):
        return [public(v) for v in answer]
    return answer


def copy_items(sub: Obj) -> Obj:
    return json.loads(json.dumps(sub["items"]))


def customer_of(event: Obj) -> str | None:
    obj = event["data"]["object"]
    customer = obj.get("customer")
    return customer if isinstance(customer, str) else None


def main(argv: list[str] | None = None) -> int:
    """`python -m dev.stripe_api`: the stand-in alone (make dev starts it for you)."""
    import uvicorn

    from dev.env import ROOT, read

    parser = argparse.ArgumentParser(prog="python -m dev.stripe_api", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:3000/api/webhooks/stripe")
    args = parser.parse_args(argv)
    env = read(ROOT / ".env")
    stand_in = LocalStripe(
        secret_key=env.get("STRIPE_SECRET_KEY") or local_secret_key(),
        webhook_secret=env["STRIPE_WEBHOOK_SECRET"],
        webhook_url=args.webhook_url,
        public_url=f"http://127.0.0.1:{args.port}",
    )
    uvicorn.run(stand_in.app(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
