"""The local Stripe's pages and dev controls (dev/stripe_api.py serves them).

GET  /checkout/{session}   the hosted Checkout page: a form with Pay | Pay by bank
POST /checkout/{session}   transfer | Decline (field `action`); the resulting events are
                           delivered, then 303 to the session's success_url (a decline
                           shows the page again: the session stays open)
GET  /portal/{session}     the Billing Portal: the customer's subscriptions, each with
POST /portal/{session}     cancel at period end | keep it | cancel now (`action`,
                           `subscription`); 303 back to the page
GET  /invoices/{id}        an invoice's hosted page (what hosted_invoice_url opens)
POST /_dev/...             renewals, period ends, bank settlements, disputes, held events
                           (the module docstring of dev/stripe_api.py lists them)
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from dev.stripe_objects import form_params

if TYPE_CHECKING:
    from dev.stripe_api import LocalStripe
    from dev.stripe_objects import Obj

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1f36}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;border-radius:6px;"
    "border:1px solid #635bff;background:#635bff;color:#fff;cursor:pointer}"
    "button.secondary{background:#fff;color:#635bff}.note{color:#697386;font-size:.9rem}"
    ".error{color:#df1b41}"
)


Control = Callable[[str, dict[str, str]], list["Obj"]]
"""A dev control: (the id in the path, the query and form fields) -> the events it made."""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p class='note'>Sockless local Stripe: no card is charged.</p></body></html>",
        status,
    )


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (what the pages' forms post)."""
    return {k: str(v) for k, v in form_params(await request.body()).items()}


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def routes(stripe: LocalStripe) -> list[Route]:
    from dev.stripe_api import StripeError, customer_of

    def failed(exc: StripeError) -> Response:
        return JSONResponse(exc.body, exc.status)

    def checkout_page(session: Obj, message: str = "") -> HTMLResponse:
        price = stripe.get("price", session["_price"])
        what = (
            f"{price['nickname']}: {money(price['unit_amount'])} / month"
            if session["mode"] == "subscription"
            else f"{session['_quantity']} × {price['nickname']}: {money(session['amount_total'])}"
        )
        if session["status"] != "open":
            return page("Checkout", f"<p>This session is {html.escape(session['status'])}.</p>")
        bank = (
            "<button name='action' value='bank' class='secondary'>Pay by bank transfer"
            " (settles later)</button>"
            if session["mode"] == "payment"
            else ""
        )
        error = f"<p class='error'>{html.escape(message)}</p>" if message else ""
        return page(
            "Checkout",
            f"<p>{html.escape(what)}</p>{error}"
            f"<form method='post' action='/checkout/{session['id']}'>"
            "<button name='action' value='pay'>Pay</button>"
            f"{bank}<button name='action' value='decline' class='secondary'>Decline</button>"
            "</form>",
        )

    async def checkout(request: Request) -> Response:
        try:
            session = stripe.get("checkout.session", request.path_params["id"])
        except StripeError as exc:
            return failed(exc)
        if request.method == "GET":
            return checkout_page(session)
        action = (await form(request)).get("action")
        try:
            if action == "decline":
                await stripe.send(stripe.decline(session["id"]))
                return checkout_page(session, "Your card was declined.")
            if action not in ("pay", "bank"):
                return page("Checkout", "<p>Unknown action.</p>", 400)
            await stripe.send(stripe.pay(session["id"], "bank" if action == "bank" else "card"))
        except StripeError as exc:
            return failed(exc)
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return RedirectResponse(target, 303)

    async def portal(request: Request) -> Response:
        try:
            session = stripe.get("billing_portal.session", request.path_params["id"])
        except StripeError as exc:
            return failed(exc)
        if request.method == "POST":
            fields = await form(request)
            sub_id, action = str(fields.get("subscription")), fields.get("action")
            try:
                sub = stripe.get("subscription", sub_id)
                if sub["customer"] != session["customer"]:
                    return page("Billing", "<p>Not your subscription.</p>", 403)
                if action == "cancel_now":
                    await stripe.send(stripe.cancel_subscription(sub_id))
                elif action in ("cancel_at_period_end", "keep"):
                    wanted = "true" if action == "cancel_at_period_end" else "false"
                    await stripe.send(
                        stripe.update_subscription(sub_id, {"cancel_at_period_end": wanted})
                    )
                else:
                    return page("Billing", "<p>Unknown action.</p>", 400)
            except StripeError as exc:
                return failed(exc)
            return RedirectResponse(f"/portal/{session['id']}", 303)
        rows = []
        for sub in stripe.all("subscription"):
            if sub["customer"] != session["customer"]:
                continue
            state = sub["status"] + (
                " (cancels at period end)" if sub["cancel_at_period_end"] else ""
            )
            buttons = ""
            if sub["status"] != "canceled":
                toggle = (
                    ("keep", "Keep my subscription")
                    if sub["cancel_at_period_end"]
                    else ("cancel_at_period_end", "Cancel at period end")
                )
                buttons = (
                    f"<form method='post' action='/portal/{session['id']}'>"
                    f"<input type='hidden' name='subscription' value='{sub['id']}'>"
                    f"<button name='action' value='{toggle[0]}'>{toggle[1]}</button>"
                    "<button name='action' value='cancel_now' class='secondary'>Cancel now"
                    "</button></form>"
                )
            rows.append(f"<p>{html.escape(sub['id'])}: {html.escape(state)}</p>{buttons}")
        back = f"<p><a href='{html.escape(session['return_url'])}'>Back to the app</a></p>"
        return page("Billing", ("".join(rows) or "<p>No subscriptions.</p>") + back)

    async def invoice(request: Request) -> Response:
        try:
            inv = stripe.get("invoice", request.path_params["id"])
        except StripeError as exc:
            return failed(exc)
        amount = money(inv["amount_due"])
        return page("Invoice", f"<p>{html.escape(inv['id'])}: {amount}, {inv['status']}</p>")

    def control(run: Control) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            params = {**request.query_params, **(await form(request))}
            try:
                events = run(request.path_params.get("id", ""), params)
                await stripe.send(events)
            except StripeError as exc:
                return failed(exc)
            return JSONResponse({"events": [[e["id"], e["type"]] for e in events]})

        return endpoint

    async def hold(request: Request) -> Response:
        customer = request.query_params.get("customer", "")
        try:
            stripe.get("customer", customer)
        except StripeError as exc:
            return failed(exc)
        stripe.held.add(customer)
        return JSONResponse({"held": sorted(stripe.held)})

    async def held_events(request: Request) -> Response:
        customer = request.query_params.get("customer")
        found = [e for e in stripe.events if customer_of(e) == customer] if customer else []
        if customer:  # disputes name no customer: theirs by the charge
            charges = {c["id"] for c in stripe.all("charge") if c["customer"] == customer}
            found += [
                e
                for e in stripe.events
                if e["type"].startswith("charge.dispute.")
                and e["data"]["object"]["charge"] in charges
            ]
        return JSONResponse({"events": sorted(found, key=stripe.events.index)})

    return [
        Route("/checkout/{id}", checkout, methods=["GET", "POST"]),
        Route("/portal/{id}", portal, methods=["GET", "POST"]),
        Route("/invoices/{id}", invoice),
        Route(
            "/_dev/subscriptions/{id}/renew",
            control(lambda id, p: stripe.renew(id, p.get("outcome") or "paid")),
            methods=["POST"],
        ),
        Route(
            "/_dev/subscriptions/{id}/end_period",
            control(lambda id, p: stripe.end_period(id)),
            methods=["POST"],
        ),
        Route(
            "/_dev/checkout/sessions/{id}/settle",
            control(lambda id, p: stripe.settle(id, p.get("outcome") != "failed")),
            methods=["POST"],
        ),
        Route(
            "/_dev/charges/{id}/dispute",
            control(lambda id, p: stripe.dispute(id)),
            methods=["POST"],
        ),
        Route("/_dev/hold", hold, methods=["POST"]),
        Route("/_dev/events", held_events),
    ]
