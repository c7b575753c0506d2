"""Brokers as data: one adapter per broker behind the small `Broker` protocol, declared in
BROKERS. Each knows how to authenticate (credentials -> an access token with its expiry, and
renewal), how to fetch positions, orders, fills and the balance over REST normalised to one model
(models.BrokerUpdate), and its rate-limit rules, which surface as one error:

    BrokerLimited(retry_after)   Alpaca's 429 (X-RateLimit-Reset says when), Tradovate's
                                 penalty ticket ({"p-ticket", "p-time": seconds}) or its 429
                                 (wait an hour)
    Unauthorized                 the broker refused the credentials or the token
    ServiceUnavailable           the broker is unreachable or answered nonsense

    adapter   auth                                     data
    alpaca    APCA-API-KEY-ID/SECRET headers (no expiry)  /v2/positions, /v2/orders, /v2/account,
                                                          /v2/account/activities/FILL (newest 100)
    tradovate POST /auth/accesstokenrequest (80-90 min), /position/list, /order/list,
              GET /auth/renewAccessToken                /fill/list,
                                                          /cashBalance/getcashbalancesnapshot
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from lib.config import Secret
from lib.errors import ServiceUnavailable, TooManyRequests, Unauthorized
from lib.features.trading.models import BrokerUpdate

TRADOVATE_429_WAIT_S = 3600
FILLS_PAGE = 100
"""Alpaca fills one fetch asks for (newest first): more between two syncs are not backfilled."""


class BrokerLimited(TooManyRequests):
    """The broker limited us; retry after `retry_after` seconds."""


@dataclass(frozen=True)
class Grant:
    access: Secret
    expires_at: datetime | None
    account: str | None = None


class Broker(Protocol):
    @property
    def name(self) -> str: ...

    async def authenticate(self, credentials: Mapping[str, str]) -> Grant: ...

    async def renew(self, access: Secret) -> Grant: ...

    async def fetch(self, access: Secret, *, balance_only: bool = False) -> BrokerUpdate: ...


async def _get(http: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> httpx.Response:
    try:
        return await http.get(url, headers=dict(headers), timeout=10)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"the broker is unreachable: {type(exc).__name__}") from exc


def _json(response: httpx.Response, broker: str) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError as exc:
        raise ServiceUnavailable(f"{broker} answered {response.status_code} without JSON") from exc


@dataclass(frozen=True)
class Alpaca:
    base_url: str
    http: httpx.AsyncClient
    name: str = "alpaca"

    async def authenticate(self, credentials: Mapping[str, str]) -> Grant:
        key, secret = credentials.get("apiKey", ""), credentials.get("apiSecret", "")
        grant = Grant(Secret(f"{key}:{secret}"), None, key)
        await self._call(grant.access, "/v2/account")  # refused keys fail the connect
        return grant

    async def renew(self, access: Secret) -> Grant:
        return Grant(access, None)  # API keys do not expire

    async def _call(self, access: Secret, path: str) -> Any:
        key, _, secret = access.get().partition(":")
        headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        response = await _get(self.http, f"{self.base_url}{path}", headers)
        if response.status_code == 429:
            reset = response.headers.get("x-ratelimit-reset", "")
            wait = int(reset) - int(time.time()) if reset.isdigit() else 60
            raise BrokerLimited(
                "Alpaca's rate limit was hit; retry later", retry_after=max(wait, 1)
            )
        if response.status_code in (401, 403):
            raise Unauthorized("Alpaca refused the API key")
        if response.status_code != 200:
            raise ServiceUnavailable(f"Alpaca answered {response.status_code}")
        return _json(response, "Alpaca")

    async def fetch(self, access: Secret, *, balance_only: bool = False) -> BrokerUpdate:
        account = await self._call(access, "/v2/account")
        balance = {
            "currency": account.get("currency") or "USD",
            "cash": account.get("cash"),
            "equity": account.get("equity"),
            "buyingPower": account.get("buying_power"),
        }
        if balance_only:
            return BrokerUpdate.model_validate({"balance": balance})
        positions = await self._call(access, "/v2/positions")
        orders = await self._call(access, "/v2/orders?status=all&limit=100")
        fills = await self._call(
            access, f"/v2/account/activities/FILL?direction=desc&page_size={FILLS_PAGE}"
        )
        return BrokerUpdate.model_validate(
            {
                "full": True,
                "balance": balance,
                "positions": [
                    {
                        "symbol": p["symbol"],
                        "qty": p["qty"],
                        "avgPrice": p.get("avg_entry_price"),
                        "marketValue": p.get("market_value"),
                        "unrealizedPl": p.get("unrealized_pl"),
                    }
                    for p in positions
                ],
                "orders": [
                    {
                        "id": o["id"],
                        "symbol": o["symbol"],
                        "side": o["side"],
                        "type": o.get("type") or "market",
                        "qty": o.get("qty") or 0,
                        "filledQty": o.get("filled_qty") or 0,
                        "limitPrice": o.get("limit_price"),
                        "avgFillPrice": o.get("filled_avg_price"),
                        "status": o["status"],
                        "submittedAt": o.get("submitted_at"),
                    }
                    for o in orders
                ],
                "fills": [
                    {
                        "id": str(f["id"]),
                        "orderId": f.get("order_id") or None,
                        "symbol": f["symbol"],
                        "side": "buy" if str(f.get("side", "")).startswith("buy") else "sell",
                        "qty": f["qty"],
                        "price": f["price"],
                        "filledAt": f["transaction_time"],
                    }
                    for f in fills
                    if f.get("activity_type", "FILL") == "FILL"
                ],
            }
        )


@dataclass(frozen=True)
class Tradovate:
    base_url: str
    http: httpx.AsyncClient
    name: str = "tradovate"

    def _grant(self, body: Any) -> Grant:
        if not isinstance(body, dict) or not body.get("accessToken"):
            error = body.get("errorText") if isinstance(body, dict) else None
            raise Unauthorized(f"Tradovate refused: {error or 'no access token'}")
        expires = datetime.fromisoformat(str(body["expirationTime"]).replace("Z", "+00:00"))
        return Grant(Secret(str(body["accessToken"])), expires.astimezone(UTC), body.get("name"))

    @staticmethod
    def _limited(response: httpx.Response, body: Any) -> None:
        if response.status_code == 429:
            raise BrokerLimited(
                "Tradovate's rate limit was hit (it asks for an hour)",
                retry_after=TRADOVATE_429_WAIT_S,
            )
        if isinstance(body, dict) and "p-ticket" in body:
            raise BrokerLimited(
                "Tradovate issued a penalty ticket; retry after its p-time",
                retry_after=max(int(body.get("p-time") or 1), 1),
            )

    async def authenticate(self, credentials: Mapping[str, str]) -> Grant:
        fields = ("name", "password", "appId", "appVersion", "cid", "sec", "deviceId")
        body = {k: credentials[k] for k in fields if credentials.get(k)}
        try:
            response = await self.http.post(
                f"{self.base_url}/auth/accesstokenrequest", json=body, timeout=10
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"Tradovate is unreachable: {type(exc).__name__}") from exc
        answer = _json(response, "Tradovate")
        self._limited(response, answer)
        return self._grant(answer)

    async def renew(self, access: Secret) -> Grant:
        headers = {"Authorization": f"Bearer {access.get()}"}
        response = await _get(self.http, f"{self.base_url}/auth/renewAccessToken", headers)
        answer = _json(response, "Tradovate")
        self._limited(response, answer)
        return self._grant(answer)

    async def _call(self, access: Secret, path: str) -> Any:
        headers = {"Authorization": f"Bearer {access.get()}"}
        response = await _get(self.http, f"{self.base_url}{path}", headers)
        if response.status_code == 401:
            raise Unauthorized("Tradovate refused the access token")
        answer = _json(response, "Tradovate")
        self._limited(response, answer)
        if response.status_code != 200:
            raise ServiceUnavailable(f"Tradovate answered {response.status_code}")
        return answer

    async def fetch(self, access: Secret, *, balance_only: bool = False) -> BrokerUpdate:
        cash = await self._call(access, "/cashBalance/getcashbalancesnapshot")
        balance = {"cash": cash.get("totalCashValue"), "equity": cash.get("netLiq")}
        if balance_only:
            return BrokerUpdate.model_validate({"balance": balance})
        positions = await self._call(access, "/position/list")
        orders = await self._call(access, "/order/list")
        fills = await self._call(access, "/fill/list")
        return BrokerUpdate.model_validate(
            {
                "full": True,
                "balance": balance,
                "positions": [
                    {
                        "symbol": str(p["contractId"]),
                        "qty": p["netPos"],
                        "avgPrice": p.get("netPrice"),
                    }
                    for p in positions
                ],
                "orders": [
                    {
                        "id": str(o["id"]),
                        "symbol": str(o["contractId"]),
                        "side": "buy" if o.get("action") == "Buy" else "sell",
                        "qty": o.get("qty") or 0,
                        "filledQty": o.get("filledQty") or 0,
                        "limitPrice": o.get("price"),
                        "status": str(o.get("ordStatus", "unknown")).lower(),
                        "submittedAt": o.get("timestamp"),
                    }
                    for o in orders
                ],
                "fills": [
                    {
                        "id": str(f["id"]),
                        "orderId": str(f["orderId"]) if f.get("orderId") is not None else None,
                        "symbol": str(f["contractId"]),
                        "side": "buy" if f.get("action") == "Buy" else "sell",
                        "qty": f["qty"],
                        "price": f["price"],
                        "filledAt": f["timestamp"],
                    }
                    for f in fills
                    if f.get("active", True)  # an inactive Tradovate fill was busted
                ],
            }
        )


def brokers(*, alpaca_url: str, tradovate_url: str, http: httpx.AsyncClient) -> dict[str, Broker]:
    """BROKERS: every REST adapter, by the name trading.connect takes."""
    return {
        "alpaca": Alpaca(alpaca_url, http),
        "tradovate": Tradovate(tradovate_url, http),
    }
