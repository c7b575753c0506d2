"""Place a simulated broker fill against the running local stack: `python -m dev.trade`.

For a demo user it creates (or, on later runs, reuses) a webhook connection — its signing
secret is shown only once, so it is kept in `.data/trade-demo.json` — and posts a signed fill
to POST /api/webhooks/broker/{connectionId} the way a user's bridge would (HMAC-SHA256 over
"{timestamp}.{body}"): the position grows by the fill, the order is filled. It then puts the
same position in the Alpaca stand-in's REST state (dev/brokers.py, the `brokers` url `make
dev` records in `.data/stack.json`) and runs trading.sync on the user's demo Alpaca
connection, so the fill also arrives the other way a dashboard gets it. Prints what was sent
and how to watch `position-update` arrive (the history endpoint, or pusher-js).

    python -m dev.trade [--api http://127.0.0.1:3000] [--user usr_demo_trader]
                        [--symbol AAPL] [--qty 10] [--price 190.25]

Settings come from the environment / .env (`make dev` writes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from dev.env import ROOT, read
from dev.token import user_token
from lib.webhooks.shared_secret import signature_header

DEMO_LABEL = "dev.trade demo"


@dataclass
class Fill:
    connection: str
    """The webhook connection the fill was posted to."""
    reused: bool
    payload: dict[str, Any]
    status: int
    answer: Any
    qty: Decimal
    """The position's quantity after the fill."""
    sync: dict[str, Any] | None = None
    """trading.sync's answer for the demo Alpaca connection (None without the stand-in)."""
    steps: list[str] = field(default_factory=list)


@dataclass
class _Trpc:
    http: httpx.AsyncClient
    api: str
    token: str

    async def call(self, kind: str, path: str, input: Any) -> Any:
        url, headers = f"{self.api}/api/trpc/{path}", {"Authorization": f"Bearer {self.token}"}
        if kind == "query":
            params = {} if input is None else {"input": json.dumps(input)}
            answer = await self.http.get(url, params=params, headers=headers)
        else:
            answer = await self.http.post(url, json=input, headers=headers)
        body = answer.json()
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {body}")
        return body["result"]["data"]


def _load(state_file: Path) -> dict[str, Any]:
    try:
        found = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


async def _webhook_connection(
    trpc: _Trpc, state_file: Path, api: str, user: str
) -> tuple[str, str, bool]:
    """(connection id, signing secret, reused)."""
    state = _load(state_file)
    kept = state.get(f"{api} {user}")
    listed = (await trpc.call("query", "trading.connections", None))["connections"]
    active = {c["id"] for c in listed if c["broker"] == "webhook" and c["status"] == "active"}
    if isinstance(kept, dict) and kept.get("connection") in active:
        return str(kept["connection"]), str(kept["secret"]), True
    connected = await trpc.call(
        "mutation", "trading.connect", {"broker": "webhook", "label": DEMO_LABEL}
    )
    connection, secret = connected["connection"]["id"], connected["webhookSecret"]
    state[f"{api} {user}"] = {"connection": connection, "secret": secret}
    _save(state_file, state)
    return connection, secret, False


def _save(state_file: Path, state: dict[str, Any]) -> None:
    """The demo connections' secrets (a local dev file under .data/, owner-only)."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state, indent=2))
    state_file.chmod(0o600)


async def _held(trpc: _Trpc, connection: str, symbol: str) -> Decimal:
    held, cursor = Decimal(0), {}
    while True:
        page = await trpc.call("query", "trading.positions", {**cursor, "limit": 500})
        for p in page["positions"]:
            if p["connectionId"] == connection and p["symbol"] == symbol:
                held = Decimal(str(p["qty"]))
        if not page.get("next") or len(page["positions"]) < 500:
            return held
        cursor = page["next"]


async def _alpaca_sync(
    http: httpx.AsyncClient,
    trpc: _Trpc,
    brokers_url: str,
    user: str,
    position: dict[str, Any],
    order: dict[str, Any],
) -> dict[str, Any]:
    """The fill in the Alpaca stand-in's REST state, then trading.sync of the user's demo
    Alpaca connection (connected on first use: the stand-in takes key K with secret-K)."""
    key = f"PKDEMO{user}"[:64]
    state = {"key": key, "positions": [position], "orders": [order]}
    answer = await http.post(f"{brokers_url}/__fake__/alpaca/account", json=state)
    answer.raise_for_status()
    listed = (await trpc.call("query", "trading.connections", None))["connections"]
    found = [c["id"] for c in listed if c["broker"] == "alpaca" and c["accountId"] == key]
    if found:
        connection = found[0]
    else:
        connected = await trpc.call(
            "mutation",
            "trading.connect",
            {"broker": "alpaca", "label": DEMO_LABEL, "apiKey": key, "apiSecret": f"secret-{key}"},
        )
        connection = connected["connection"]["id"]
    result: dict[str, Any] = await trpc.call(
        "mutation", "trading.sync", {"connectionId": connection}
    )
    return result


async def place_fill(
    env: Mapping[str, str],
    api: str,
    *,
    user: str,
    brokers_url: str | None,
    state_file: Path,
    symbol: str = "AAPL",
    qty: Decimal = Decimal(10),
    price: Decimal = Decimal("190.25"),
    say: Callable[[str], None] = print,
) -> Fill:
    """Post one signed fill (and mirror it in the Alpaca stand-in when `brokers_url` is
    given). Raises RuntimeError when a tRPC call is refused."""
    async with httpx.AsyncClient(timeout=30) as http:
        trpc = _Trpc(http, api, user_token(env["SUPABASE_JWT_SECRET"], sub=user))
        connection, secret, reused = await _webhook_connection(trpc, state_file, api, user)
        say(f"  {'reusing' if reused else 'created'} webhook connection {connection}")
        now = await _held(trpc, connection, symbol) + qty
        order_id = f"demo-{uuid.uuid4().hex[:12]}"
        position = {"symbol": symbol, "qty": str(now), "avgPrice": str(price)}
        order = {
            "id": order_id,
            "symbol": symbol,
            "side": "buy" if qty >= 0 else "sell",
            "type": "market",
            "qty": str(abs(qty)),
            "filledQty": str(abs(qty)),
            "avgFillPrice": str(price),
            "status": "filled",
        }
        payload = {"id": f"fill-{order_id}", "type": "fill", "positions": [position],
                   "orders": [order]}  # fmt: skip
        body = json.dumps(payload).encode()
        at = int(time.time())
        headers = {
            "content-type": "application/json",
            "x-webhook-timestamp": str(at),
            "x-webhook-signature": signature_header(secret, at, body),
        }
        answer = await http.post(f"{api}/api/webhooks/broker/{connection}", content=body,
                                 headers=headers)  # fmt: skip
        say(f"  POST /api/webhooks/broker/{connection} -> {answer.status_code}")
        say("  " + json.dumps(payload, indent=2).replace("\n", "\n  "))
        fill = Fill(connection, reused, payload, answer.status_code, _body(answer), now)
        if brokers_url:
            alpaca_position = {"symbol": symbol, "qty": float(now), "avgPrice": float(price)}
            alpaca_order = {**order, "qty": float(abs(qty)), "filledQty": float(abs(qty))}
            fill.sync = await _alpaca_sync(
                http, trpc, brokers_url, user, alpaca_position, alpaca_order
            )
            say(f"  Alpaca stand-in now holds {symbol} {now}; trading.sync -> {fill.sync}")
        return fill


def _body(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text


def _settings() -> dict[str, str]:
    return {**read(ROOT / ".env"), **{k: v for k, v in os.environ.items() if v}}


def _brokers_url(env: Mapping[str, str]) -> str | None:
    running = _load(Path(env.get("SOCKLESS_DATA_DIR") or ROOT / ".data") / "stack.json")
    url = running.get("brokers")
    return str(url) if url else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.trade", description=__doc__)
    env = _settings()
    parser.add_argument("--api", default=f"http://127.0.0.1:{env.get('SOCKLESS_API_PORT', '3000')}")
    parser.add_argument("--user", default="usr_demo_trader")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--qty", type=Decimal, default=Decimal(10))
    parser.add_argument("--price", type=Decimal, default=Decimal("190.25"))
    args = parser.parse_args(argv)
    if not env.get("SUPABASE_JWT_SECRET"):
        print("SUPABASE_JWT_SECRET is not set: run `make dev` (it writes .env)", file=sys.stderr)
        return 1
    data_dir = Path(env.get("SOCKLESS_DATA_DIR") or ROOT / ".data")
    brokers = _brokers_url(env)
    mine = f"private-user-{args.user}"
    print(f"\nA {args.symbol} fill of {args.qty} for {args.user} -> {args.api}\n")
    try:
        fill = asyncio.run(
            place_fill(
                env,
                args.api,
                user=args.user,
                brokers_url=brokers,
                state_file=data_dir / "trade-demo.json",
                symbol=args.symbol,
                qty=args.qty,
                price=args.price,
            )
        )
    except httpx.ConnectError:
        print(f"\nnothing answers at {args.api}: is `make dev` running?", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    if brokers is None:
        print("  (no broker stand-ins in .data/stack.json: the REST side was skipped)")
    print(
        f"\nposition-update ({args.symbol} {fill.qty}) and order-update went to {mine}. "
        "Read them back:\n"
        f"  TOKEN=$(.venv/bin/python -m dev.token --sub {args.user})\n"
        f'  curl -H "Authorization: Bearer $TOKEN" '
        f"'{args.api}/api/realtime/history?channel={mine}'\n"
        f"or subscribe to {mine} with pusher-js (key {env.get('PUSHER_KEY')}, wsHost "
        f"127.0.0.1:{env.get('PUSHER_PORT', '6001')}, channelAuthorization "
        f"{args.api}/api/realtime/auth, that token) and run this again.\n"
    )
    return 0 if fill.status == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
