"""Play HighLevel against the running local stack: `python -m dev.ghl`.

Sends realistic signed HighLevel webhooks (Ed25519 with GHL_DEV_SIGNING_KEY, as HighLevel
signs them) to POST /api/webhooks/ghl — a location installed with two users, a form lead, an
inbound SMS, a deal won, an invoice paid, an appointment in 16 minutes — then, through the
HighLevel REST stand-in (GHL_API_URL, dev/ghl_api.py), connects the location with the OAuth
redirect and sends an SMS from the app as the rep (crm.sendMessage: reconciled by the
stand-in's OutboundMessage webhook), and opens a quote link (crm.quoteLink +
/api/crm/quote-view). Prints each step, its answer and the events to watch, and how to watch
them (pusher-js with the rep's token, or the history endpoint).

    python -m dev.ghl [--api http://127.0.0.1:3000] [--location loc_demo] [--rep usr_demo]

Settings come from the environment / .env (`make dev` writes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dev.env import ROOT, read
from dev.ghl_api import signed, signing_key
from dev.token import user_token


@dataclass
class Step:
    name: str
    status: int
    watch: list[tuple[str, str]] = field(default_factory=list)
    """(channel, event) this step publishes."""
    answer: Any = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _short() -> str:
    return uuid.uuid4().hex[:10]


def deliveries(location: str, rep: str, colleague: str) -> list[tuple[str, dict[str, Any], list]]:
    """(name, payload, [(channel, event)]) of the webhooks the simulator sends, in order."""
    now = datetime.now(UTC)
    mine, room = f"private-user-{rep}", f"private-location-{location}"
    contact, conversation, deal = f"ct_{_short()}", f"conv_{_short()}", f"opp_{_short()}"
    base = {"locationId": location}
    return [
        ("AppInstall", {"type": "INSTALL", "appId": "localapp", "companyId": "co_demo",
                        "userId": rep, **base}, []),
        ("LocationCreate", {"type": "LocationCreate", "id": location, "companyId": "co_demo",
                            "name": "Acme Remodeling (demo)", "timezone": "America/Denver",
                            "email": "office@acme.example"}, []),
        ("UserCreate (the rep)", {"type": "UserCreate", "id": rep, "name": "Sam Rep",
                                  "firstName": "Sam", "lastName": "Rep", "role": "user",
                                  "email": "sam@acme.example", "locations": [location]}, []),
        ("UserCreate (a colleague)", {"type": "UserCreate", "id": colleague,
                                      "name": "Cole League", "role": "user",
                                      "email": "cole@acme.example", "locations": [location]}, []),
        ("ContactCreate (a form lead)", {
            "type": "ContactCreate", "id": contact, "firstName": "Jane", "lastName": "Doe",
            "name": "Jane Doe", "email": "jane@example.com", "phone": "+15550100999",
            "tags": ["kitchen"], "source": "Website Form - Free Quote", "assignedTo": rep,
            "dateAdded": _iso(now), **base,
        }, [(room, "lead-alert"), (mine, "lead-alert")]),
        ("InboundMessage (SMS)", {
            "type": "InboundMessage", "messageType": "SMS", "direction": "inbound",
            "body": "Hi! Can you quote a full kitchen remodel? Cabinets and floors too.",
            "contactId": contact, "conversationId": conversation, "messageId": f"msg_{_short()}",
            "contentType": "text/plain", "status": "delivered", "attachments": [],
            "from": "+15550100999", "to": "+15550100000", "dateAdded": _iso(now), **base,
        }, [(mine, "new-message"), (room, "location-message")]),
        ("OpportunityCreate", {
            "type": "OpportunityCreate", "id": deal, "name": "Kitchen remodel",
            "assignedTo": rep, "contactId": contact, "monetaryValue": 18500,
            "pipelineId": "pipe_sales", "pipelineStageId": "stage_quote", "status": "open",
            "source": "web", "dateAdded": _iso(now), **base,
        }, [(mine, "project-update")]),
        ("OpportunityStatusUpdate (won)", {
            "type": "OpportunityStatusUpdate", "id": deal, "name": "Kitchen remodel",
            "assignedTo": rep, "contactId": contact, "monetaryValue": 18500,
            "pipelineId": "pipe_sales", "pipelineStageId": "stage_quote", "status": "won",
            "source": "web", "dateAdded": _iso(now), **base,
        }, [(mine, "project-update"), (room, "project-won")]),
        ("InvoicePaid (no type, altId)", {
            "_id": f"inv_{_short()}", "status": "paid", "liveMode": False, "altId": location,
            "altType": "location", "name": "Deposit", "invoiceNumber": "1001",
            "currency": "USD", "total": 5000, "amountPaid": 5000, "amountDue": 0,
            "contactDetails": {"id": contact, "name": "Jane Doe", "email": "jane@example.com"},
            "invoiceItems": [{"name": "Deposit", "amount": 5000, "qty": 1}],
        }, [(mine, "payment-received"), (room, "revenue-update")]),
        ("AppointmentCreate (in 16 minutes)", {"type": "AppointmentCreate", **base,
            "appointment": {
                "id": f"apt_{_short()}", "title": "Site visit", "calendarId": "cal_demo",
                "contactId": contact, "appointmentStatus": "confirmed", "assignedUserId": rep,
                "users": [rep], "address": "12 Main St", "locationId": location,
                "startTime": _iso(now + timedelta(minutes=16)),
                "endTime": _iso(now + timedelta(minutes=76)), "dateAdded": _iso(now),
            }}, [(mine, "appointment-update")]),
    ]  # fmt: skip


async def simulate(
    env: Mapping[str, str],
    api: str,
    *,
    location: str,
    rep: str,
    colleague: str,
    say: Callable[[str], None] = print,
) -> list[Step]:
    """Send everything; the steps with their HTTP answers. Raises nothing for a refused
    step: its status says so."""
    key = signing_key(env["GHL_DEV_SIGNING_KEY"])
    steps: list[Step] = []
    async with httpx.AsyncClient(timeout=30) as http:
        conversation = ""
        for name, payload, watch in deliveries(location, rep, colleague):
            body, headers = signed(key, {**payload, "webhookId": str(uuid.uuid4())})
            answer = await http.post(f"{api}/api/webhooks/ghl", content=body, headers=headers)
            steps.append(Step(name, answer.status_code, watch, answer.json()))
            conversation = payload.get("conversationId", conversation)
            say(_line(steps[-1]))
        trpc = _Trpc(http, api, user_token(env["SUPABASE_JWT_SECRET"], sub=rep))
        steps += await _send_from_app(env, http, api, trpc, location, rep, conversation, say)
        steps += await _quote(http, api, trpc, location, rep, say)
    return steps


@dataclass
class _Trpc:
    http: httpx.AsyncClient
    api: str
    token: str

    async def mutation(self, path: str, input: Any) -> httpx.Response:
        return await self.http.post(
            f"{self.api}/api/trpc/{path}",
            content=json.dumps(input).encode(),
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )


async def _send_from_app(
    env: Mapping[str, str],
    http: httpx.AsyncClient,
    api: str,
    trpc: _Trpc,
    location: str,
    rep: str,
    conversation: str,
    say: Callable[[str], None],
) -> list[Step]:
    ghl_api = env.get("GHL_API_URL", "").rstrip("/")
    granted = await http.post(
        f"{ghl_api}/__fake__/authorize", json={"locationId": location, "userId": rep}
    )
    if granted.status_code != 200:
        say("  (GHL_API_URL is not the local stand-in: skipping OAuth and crm.sendMessage)")
        return []
    code = granted.json()["code"]
    answer = await http.get(f"{api}/api/crm/oauth/callback", params={"code": code})
    steps = [Step("OAuth redirect (/api/crm/oauth/callback)", answer.status_code, [],
                  answer.json())]  # fmt: skip
    say(_line(steps[-1]))
    client_id = f"tmp-{_short()}"
    answer = await trpc.mutation(
        "crm.sendMessage",
        {"conversationId": conversation, "clientId": client_id, "body": "Sure! Tuesday 10am?"},
    )
    steps.append(Step(
        f"crm.sendMessage (clientId {client_id}; the stand-in's OutboundMessage reconciles it)",
        answer.status_code,
        [(f"private-user-{rep}", "new-message"),
         (f"private-location-{location}", "location-message")],
        answer.json(),
    ))  # fmt: skip
    say(_line(steps[-1]))
    return steps


async def _quote(
    http: httpx.AsyncClient,
    api: str,
    trpc: _Trpc,
    location: str,
    rep: str,
    say: Callable[[str], None],
) -> list[Step]:
    answer = await trpc.mutation(
        "crm.quoteLink",
        {"locationId": location, "quoteId": f"q_{_short()}", "name": "Kitchen remodel quote"},
    )
    steps = [Step("crm.quoteLink", answer.status_code, [], answer.json())]
    say(_line(steps[-1]))
    if answer.status_code != 200:
        return steps
    token = answer.json()["result"]["data"]["token"]
    beacon = {"token": token, "viewId": f"view-{_short()}", "timeOnPage": 12}
    answer = await http.post(f"{api}/api/crm/quote-view", content=json.dumps(beacon))
    steps.append(Step(
        "quote page beacon (/api/crm/quote-view)", answer.status_code,
        [(f"private-user-{rep}", "quote-viewed")], answer.json(),
    ))  # fmt: skip
    say(_line(steps[-1]))
    return steps


def _line(step: Step) -> str:
    events = ", ".join(f"{event} on {channel}" for channel, event in step.watch) or "-"
    return f"  {step.status}  {step.name:<44}  -> {events}"


def _settings() -> dict[str, str]:
    return {**read(ROOT / ".env"), **{k: v for k, v in os.environ.items() if v}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.ghl", description=__doc__)
    env = _settings()
    parser.add_argument("--api", default=f"http://127.0.0.1:{env.get('SOCKLESS_API_PORT', '3000')}")
    parser.add_argument("--location", default=f"loc_demo_{_short()[:6]}")
    parser.add_argument("--rep", default="usr_demo_rep")
    parser.add_argument("--colleague", default="usr_demo_colleague")
    args = parser.parse_args(argv)
    if not env.get("GHL_DEV_SIGNING_KEY"):
        print("GHL_DEV_SIGNING_KEY is not set: run `make dev` (it writes .env)", file=sys.stderr)
        return 1
    mine, room = f"private-user-{args.rep}", f"private-location-{args.location}"
    print(f"\nHighLevel -> {args.api}/api/webhooks/ghl, location {args.location}, rep {args.rep}\n")
    try:
        steps = asyncio.run(simulate(
            env, args.api, location=args.location, rep=args.rep, colleague=args.colleague
        ))  # fmt: skip
    except httpx.ConnectError:
        print(f"\nnothing answers at {args.api}: is `make dev` running?", file=sys.stderr)
        return 1
    print(
        f"\nWatch them arrive: subscribe with pusher-js (key {env.get('PUSHER_KEY')}, "
        f"wsHost 127.0.0.1:{env.get('PUSHER_PORT', '6001')}, channelAuthorization "
        f"{args.api}/api/realtime/auth) to\n  {mine}\n  {room}\n"
        f"as the rep (bearer token: .venv/bin/python -m dev.token --sub {args.rep}), then run "
        "this again; or read what was published:\n"
        f'  curl -H "Authorization: Bearer $TOKEN" '
        f"'{args.api}/api/realtime/history?channel={mine}'\n"
        "The appointment-reminder follows in about a minute (the crm-reminders cron).\n"
    )
    return 0 if all(step.status == 200 for step in steps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
