"""Local stand-ins for two brokers' REST APIs, served together (`make dev` and the tests start
them; the api functions reach them through ALPACA_API_URL and TRADOVATE_API_URL):

    /alpaca     Alpaca trading API v2: APCA-API-KEY-ID / APCA-API-SECRET-KEY headers;
                GET /v2/positions, /v2/orders, /v2/account, /v2/account/activities/FILL;
                every answer carries
                X-RateLimit-Limit/Remaining/Reset; 429 on demand
    /tradovate  Tradovate v1: POST /auth/accesstokenrequest -> {accessToken, expirationTime},
                GET /auth/renewAccessToken; GET /position/list, /order/list, /fill/list,
                /cashBalance/getcashbalancesnapshot (Bearer); a penalty ticket on demand
                ({"p-ticket": ..., "p-time": s}, what Tradovate answers past its limits)

State per account is plain data tests and `python -m dev.trade` change through /__fake__/...:
    POST /__fake__/{broker}/account  {key?, positions?, orders?, balance?, fills?}  set an
                                     account's state
    POST /__fake__/{broker}/limit    {count, retryAfter}  the next `count` data calls are limited
    POST /__fake__/tradovate/refuse-renewals  {name}  that user's token renewals answer 401
    GET  /__fake__/calls             {alpaca: n, tradovate: n, renewals: n}  data calls served
                                     (not auth), and Tradovate token renewals
Credentials: Alpaca accepts any key id whose secret is "secret-" + key id; Tradovate accepts any
name whose password is "pw-" + name. Tokens live `token_lifetime_s` (80 min, as Tradovate's).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

WINDOW_S = 60
ALPACA_LIMIT = 200
FILLED_AT = "2026-11-30T10:00:00Z"


@dataclass
class Account:
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, Any] = field(default_factory=lambda: {"cash": 100000, "equity": 100000})
    fills: list[dict[str, Any]] = field(default_factory=list)
    """{id, orderId?, symbol, side, qty, price, filledAt?} (filledAt blank: 2026-11-30 10:00Z)."""


@dataclass
class FakeBrokers:
    token_lifetime_s: int = 80 * 60
    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Tradovate access token -> (user name, expires at)."""
    calls: dict[str, int] = field(default_factory=lambda: {"alpaca": 0, "tradovate": 0})
    renewals: int = 0
    renewed: dict[str, int] = field(default_factory=dict)
    """Tradovate user name -> tokens renewed for it."""
    refused_renewals: set[str] = field(default_factory=set)
    """Tradovate user names whose renewals are refused (401), as for a revoked session."""
    limited: dict[str, tuple[int, int]] = field(default_factory=dict)

    def account(self, broker: str, key: str) -> Account:
        return self.accounts.setdefault((broker, key), Account())

    def _limit(self, broker: str) -> int | None:
        count, retry_after = self.limited.get(broker, (0, 0))
        if count <= 0:
            return None
        self.limited[broker] = (count - 1, retry_after)
        return retry_after

    # -- Alpaca -----------------------------------------------------------------------------
    def _alpaca(self, request: Request) -> tuple[Account | None, JSONResponse | None]:
        key = request.headers.get("apca-api-key-id", "")
        if not key or request.headers.get("apca-api-secret-key") != f"secret-{key}":
            return None, JSONResponse({"message": "forbidden."}, 403)
        self.calls["alpaca"] += 1
        reset = int(time.time()) // WINDOW_S * WINDOW_S + WINDOW_S
        retry = self._limit("alpaca")
        headers = {
            "X-RateLimit-Limit": str(ALPACA_LIMIT),
            "X-RateLimit-Remaining": "0" if retry is not None else str(ALPACA_LIMIT - 1),
            "X-RateLimit-Reset": str(int(time.time()) + retry if retry is not None else reset),
        }
        if retry is not None:
            return None, JSONResponse({"message": "rate limit exceeded"}, 429, headers=headers)
        request.state.headers = headers
        return self.account("alpaca", key), None

    async def alpaca_positions(self, request: Request) -> JSONResponse:
        account, refused = self._alpaca(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        body = [
            {
                "symbol": p["symbol"],
                "qty": str(p["qty"]),
                "avg_entry_price": str(p.get("avgPrice", 0)),
                "market_value": str(p.get("marketValue", 0)),
                "unrealized_pl": str(p.get("unrealizedPl", 0)),
                "side": "long" if float(p["qty"]) >= 0 else "short",
            }
            for p in account.positions
        ]
        return JSONResponse(body, headers=request.state.headers)

    async def alpaca_orders(self, request: Request) -> JSONResponse:
        account, refused = self._alpaca(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        body = [
            {
                "id": o["id"],
                "symbol": o["symbol"],
                "side": o["side"],
                "type": o.get("type", "market"),
                "qty": str(o["qty"]),
                "filled_qty": str(o.get("filledQty", 0)),
                "limit_price": None if o.get("limitPrice") is None else str(o["limitPrice"]),
                "filled_avg_price": None,
                "status": o["status"],
                "submitted_at": "2026-11-30T10:00:00Z",
            }
            for o in account.orders
        ]
        return JSONResponse(body, headers=request.state.headers)

    async def alpaca_fills(self, request: Request) -> JSONResponse:
        """GET /v2/account/activities/FILL: newest first, `page_size` at most."""
        account, refused = self._alpaca(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        size = int(request.query_params.get("page_size", "100"))
        body = [
            {
                "id": str(f["id"]),
                "activity_type": "FILL",
                "transaction_time": f.get("filledAt", FILLED_AT),
                "type": "fill",
                "price": str(f["price"]),
                "qty": str(f["qty"]),
                "side": f["side"],
                "symbol": f["symbol"],
                "leaves_qty": "0",
                "order_id": f.get("orderId", ""),
                "cum_qty": str(f["qty"]),
                "order_status": "filled",
            }
            for f in reversed(account.fills)
        ][:size]
        return JSONResponse(body, headers=request.state.headers)

    async def alpaca_account(self, request: Request) -> JSONResponse:
        account, refused = self._alpaca(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        b = account.balance
        body = {
            "currency": "USD",
            "cash": str(b.get("cash", 0)),
            "equity": str(b.get("equity", 0)),
            "buying_power": str(b.get("buyingPower", b.get("cash", 0))),
        }
        return JSONResponse(body, headers=request.state.headers)

    # -- Tradovate --------------------------------------------------------------------------
    def _issue(self, name: str) -> JSONResponse:
        token = secrets.token_urlsafe(24)
        expires = time.time() + self.token_lifetime_s
        self.tokens[token] = (name, expires)
        at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
        return JSONResponse({"accessToken": token, "expirationTime": at, "userId": 1, "name": name})

    async def tradovate_token(self, request: Request) -> JSONResponse:
        body = await request.json()
        name = str(body.get("name", ""))
        if not name or body.get("password") != f"pw-{name}":
            return JSONResponse({"errorText": "Incorrect username or password"})
        return self._issue(name)

    def _bearer(self, request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        found = self.tokens.get(token)
        return found[0] if found and found[1] > time.time() else None

    async def tradovate_renew(self, request: Request) -> JSONResponse:
        name = self._bearer(request)
        if name is None or name in self.refused_renewals:
            return JSONResponse({"errorText": "Expired Access Token"}, 401)
        self.renewals += 1
        self.renewed[name] = self.renewed.get(name, 0) + 1
        return self._issue(name)

    def _tradovate(self, request: Request) -> tuple[Account | None, JSONResponse | None]:
        name = self._bearer(request)
        if name is None:
            return None, JSONResponse({"errorText": "Access is denied"}, 401)
        self.calls["tradovate"] += 1
        retry = self._limit("tradovate")
        if retry is not None:
            ticket = {"p-ticket": secrets.token_hex(8), "p-time": retry, "p-captcha": False}
            return None, JSONResponse(ticket)
        return self.account("tradovate", name), None

    async def tradovate_positions(self, request: Request) -> JSONResponse:
        account, refused = self._tradovate(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        body = [
            {
                "id": n,
                "contractId": p["symbol"],
                "netPos": p["qty"],
                "netPrice": p.get("avgPrice"),
            }
            for n, p in enumerate(account.positions, start=1)
        ]
        return JSONResponse(body)

    async def tradovate_orders(self, request: Request) -> JSONResponse:
        account, refused = self._tradovate(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        body = [
            {
                "id": o["id"],
                "contractId": o["symbol"],
                "action": "Buy" if o["side"] == "buy" else "Sell",
                "ordStatus": o["status"].title(),
                "qty": o["qty"],
                "filledQty": o.get("filledQty", 0),
                "price": o.get("limitPrice"),
                "timestamp": "2026-11-30T10:00:00Z",
            }
            for o in account.orders
        ]
        return JSONResponse(body)

    async def tradovate_fills(self, request: Request) -> JSONResponse:
        account, refused = self._tradovate(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        body = [
            {
                "id": f["id"],
                "orderId": f.get("orderId"),
                "contractId": f["symbol"],
                "timestamp": f.get("filledAt", FILLED_AT),
                "tradeDate": {"year": 2026, "month": 11, "day": 30},
                "action": "Buy" if f["side"] == "buy" else "Sell",
                "qty": f["qty"],
                "price": f["price"],
                "active": True,
                "finallyPaired": 0,
            }
            for f in account.fills
        ]
        return JSONResponse(body)

    async def tradovate_cash(self, request: Request) -> JSONResponse:
        account, refused = self._tradovate(request)
        if refused or account is None:
            return refused or JSONResponse({}, 500)
        b = account.balance
        return JSONResponse({"totalCashValue": b.get("cash", 0), "netLiq": b.get("equity", 0)})

    # -- control ----------------------------------------------------------------------------
    async def set_account(self, request: Request) -> JSONResponse:
        broker = request.path_params["broker"]
        body = await request.json()
        account = self.account(broker, str(body["key"]))
        for name in ("positions", "orders", "balance", "fills"):
            if name in body:
                setattr(account, name, body[name])
        return JSONResponse({"ok": True})

    async def set_limit(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.limited[request.path_params["broker"]] = (
            int(body.get("count", 1)),
            int(body.get("retryAfter", 5)),
        )
        return JSONResponse({"ok": True})

    async def refuse_renewals(self, request: Request) -> JSONResponse:
        self.refused_renewals.add(str((await request.json())["name"]))
        return JSONResponse({"ok": True})

    async def get_calls(self, request: Request) -> JSONResponse:
        return JSONResponse({**self.calls, "renewals": self.renewals})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/alpaca/v2/positions", self.alpaca_positions),
                Route("/alpaca/v2/orders", self.alpaca_orders),
                Route("/alpaca/v2/account", self.alpaca_account),
                Route("/alpaca/v2/account/activities/FILL", self.alpaca_fills),
                Route("/tradovate/auth/accesstokenrequest", self.tradovate_token, methods=["POST"]),
                Route("/tradovate/auth/renewAccessToken", self.tradovate_renew),
                Route("/tradovate/position/list", self.tradovate_positions),
                Route("/tradovate/order/list", self.tradovate_orders),
                Route("/tradovate/fill/list", self.tradovate_fills),
                Route("/tradovate/cashBalance/getcashbalancesnapshot", self.tradovate_cash),
                Route("/__fake__/{broker}/account", self.set_account, methods=["POST"]),
                Route("/__fake__/{broker}/limit", self.set_limit, methods=["POST"]),
                Route("/__fake__/calls", self.get_calls),
                Route(
                    "/__fake__/tradovate/refuse-renewals", self.refuse_renewals, methods=["POST"]
                ),
            ]
        )
