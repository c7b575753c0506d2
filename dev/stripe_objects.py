"""Stripe's objects and events as the pinned API version shapes them (stripe-python 16.1.0:
API 2026-10-28), built as plain dicts for the local Stripe (dev/stripe_api.py). Pure: ids,
times and amounts are handed in; no I/O.

Shapes that matter to the billing processors, as the real API has them in this version:
- Invoice: no top-level `subscription`; it is `parent.subscription_details.subscription`
  (with the subscription's `metadata` snapshot); `payments` lists InvoicePayments whose
  `payment.payment_intent` ties the invoice to its charge.
- Subscription: `current_period_start/end` live on each SubscriptionItem (`items.data[]`).
- Charge: no `invoice`; `amount_refunded` is cumulative. A Dispute names `charge` and
  `payment_intent`, not the customer.
- Event: `{id, object: "event", api_version, created, data: {object, previous_attributes?},
  livemode, pending_webhooks, request: {id, idempotency_key}, type}`.

`form_params` decodes the SDK's form encoding (`line_items[0][price]=...`) into nested
dicts and lists.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any
from urllib.parse import parse_qsl

API_VERSION = "2026-10-28.endive"
CURRENCY = "usd"

Obj = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def form_params(body: bytes) -> Obj:
    """`a[b][0][c]=v&...` -> {"a": {"b": [{"c": "v"}]}} (lists where every key is an index)."""
    root: Obj = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def listing(data: list[Obj], url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def error(kind: str, message: str, *, code: str | None = None, param: str | None = None) -> Obj:
    return {"error": {"type": kind, "message": message, "code": code, "param": param}}


def customer(*, id: str, created: int, metadata: Obj, email: str | None) -> Obj:
    return {
        "id": id,
        "object": "customer",
        "created": created,
        "email": email,
        "name": None,
        "description": None,
        "metadata": metadata,
        "invoice_settings": {"default_payment_method": None, "footer": None},
        "livemode": False,
    }


def price(
    *, id: str, product: str, unit_amount: int, recurring: bool, created: int, nickname: str
) -> Obj:
    return {
        "id": id,
        "object": "price",
        "active": True,
        "created": created,
        "currency": CURRENCY,
        "livemode": False,
        "metadata": {},
        "nickname": nickname,
        "product": product,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}
        if recurring
        else None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
    }


def checkout_session(
    *,
    id: str,
    created: int,
    mode: str,
    customer: str,
    client_reference_id: str | None,
    metadata: Obj,
    amount_total: int,
    success_url: str,
    cancel_url: str | None,
    url: str,
) -> Obj:
    return {
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": CURRENCY,
        "customer": customer,
        "customer_details": None,
        "expires_at": created + 24 * 3600,
        "invoice": None,
        "livemode": False,
        "metadata": metadata,
        "mode": mode,
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": success_url,
        "ui_mode": "hosted",
        "url": url,
    }


def payment_intent(
    *, id: str, created: int, amount: int, customer: str, metadata: Obj, charge: str | None
) -> Obj:
    return {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if charge else 0,
        "created": created,
        "currency": CURRENCY,
        "customer": customer,
        "latest_charge": charge,
        "livemode": False,
        "metadata": metadata,
        "status": "succeeded" if charge else "requires_payment_method",
    }


def charge(*, id: str, created: int, amount: int, customer: str, pi: str, metadata: Obj) -> Obj:
    return {
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "captured": True,
        "created": created,
        "currency": CURRENCY,
        "customer": customer,
        "disputed": False,
        "livemode": False,
        "metadata": metadata,
        "paid": True,
        "payment_intent": pi,
        "refunded": False,
        "status": "succeeded",
    }


def refund(*, id: str, created: int, amount: int, charge: str, pi: str | None) -> Obj:
    return {
        "id": id,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "created": created,
        "currency": CURRENCY,
        "metadata": {},
        "payment_intent": pi,
        "reason": None,
        "status": "succeeded",
    }


def dispute(*, id: str, created: int, amount: int, charge: str, pi: str | None) -> Obj:
    return {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "charge": charge,
        "created": created,
        "currency": CURRENCY,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi,
        "reason": "fraudulent",
        "status": "needs_response",
    }


def subscription(
    *,
    id: str,
    created: int,
    customer: str,
    price: Obj,
    metadata: Obj,
    period_start: int,
    period_end: int,
) -> Obj:
    return {
        "id": id,
        "object": "subscription",
        "billing_cycle_anchor": period_start,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": CURRENCY,
        "customer": customer,
        "ended_at": None,
        "items": listing(
            [
                {
                    "id": new_id("si"),
                    "object": "subscription_item",
                    "created": created,
                    "current_period_end": period_end,
                    "current_period_start": period_start,
                    "metadata": {},
                    "price": copy.deepcopy(price),
                    "quantity": 1,
                    "subscription": id,
                }
            ],
            f"/v1/subscription_items?subscription={id}",
        ),
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "start_date": created,
        "status": "incomplete",
        "trial_end": None,
    }


def set_period(sub: Obj, start: int, end: int) -> None:
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def period_end(sub: Obj) -> int:
    return int(sub["items"]["data"][0]["current_period_end"])


def invoice(
    *,
    id: str,
    created: int,
    sub: Obj,
    billing_reason: str,
    amount: int,
    period_start: int,
    period_end: int,
    hosted_url: str,
) -> Obj:
    price = sub["items"]["data"][0]["price"]
    return {
        "id": id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": 0,
        "amount_remaining": amount,
        "attempt_count": 0,
        "attempted": False,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": CURRENCY,
        "customer": sub["customer"],
        "hosted_invoice_url": hosted_url,
        "lines": listing(
            [
                {
                    "id": new_id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": CURRENCY,
                    "description": f"1 × {price.get('nickname') or price['id']}",
                    "period": {"start": period_start, "end": period_end},
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": price["id"], "product": price["product"]},
                    },
                    "quantity": 1,
                }
            ],
            f"/v1/invoices/{id}/lines",
        ),
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": copy.deepcopy(sub["metadata"]),
                "subscription": sub["id"],
            },
        },
        "payments": listing([], f"/v1/invoice_payments?invoice={id}"),
        "period_end": period_end,
        "period_start": period_start,
        "status": "open",
        "status_transitions": {"finalized_at": created, "paid_at": None},
    }


def invoice_paid(inv: Obj, *, pi: str, at: int) -> None:
    inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0, attempted=True)
    inv["attempt_count"] += 1
    inv["status_transitions"]["paid_at"] = at
    inv["payments"]["data"].append(
        {
            "id": new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": inv["amount_due"],
            "amount_requested": inv["amount_due"],
            "created": at,
            "currency": CURRENCY,
            "invoice": inv["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": pi},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": at},
        }
    )


def portal_session(*, id: str, created: int, customer: str, return_url: str, url: str) -> Obj:
    return {
        "id": id,
        "object": "billing_portal.session",
        "configuration": "bpc_test_local",
        "created": created,
        "customer": customer,
        "livemode": False,
        "return_url": return_url,
        "url": url,
    }


def event(
    type: str,
    obj: Obj,
    *,
    created: int,
    previous: Obj | None = None,
    request: str | None = None,
    idempotency_key: str | None = None,
) -> Obj:
    """An event carrying a snapshot of `obj` as it is now."""
    data: Obj = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request, "idempotency_key": idempotency_key},
        "type": type,
    }
