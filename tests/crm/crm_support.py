"""Helpers for the CRM tests: HighLevel deliveries signed like HighLevel signs them (Ed25519
over the raw body with the stack's GHL_DEV_SIGNING_KEY, a `cryptography` key), sent to the
stack's POST /api/webhooks/ghl; payloads shaped like HighLevel's; rows read back with SQL."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from dev.stack import Stack
from tests.outbox_support import sql
from tests.support import stack_env

WAIT_S = 10.0


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def signing_key(stack: Stack) -> Ed25519PrivateKey:
    pem = stack_env(stack)["GHL_DEV_SIGNING_KEY"].replace("\\n", "\n")
    key = load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


@dataclass
class Ghl:
    """HighLevel, as far as our endpoint can tell: signed deliveries to /api/webhooks/ghl."""

    http: httpx.AsyncClient
    url: str
    key: Ed25519PrivateKey

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            self.url,
            content=body,
            headers={"content-type": "application/json", **(headers or {})},
            timeout=30,
        )

    async def send(self, payload: dict[str, Any], *, webhook_id: bool = True) -> dict[str, Any]:
        """Sign and deliver `payload` (with a fresh webhookId unless told not to); the JSON
        answer, which must be a 200."""
        if webhook_id and "webhookId" not in payload:
            payload = {**payload, "webhookId": str(uuid.uuid4())}
        body = json.dumps(payload).encode()
        response = await self.post(body, {"x-ghl-signature": sign(self.key, body)})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


# Payloads, as HighLevel sends them ---------------------------------------------------------


def install(location: str, *, installer: str | None = None) -> dict[str, Any]:
    body = {"type": "INSTALL", "appId": "app123", "locationId": location, "companyId": "co1"}
    if installer:
        body["userId"] = installer
    return body


def location_create(location: str, *, name: str, timezone: str = "UTC") -> dict[str, Any]:
    return {
        "type": "LocationCreate",
        "id": location,
        "companyId": "co1",
        "name": name,
        "email": "office@example.com",
        "timezone": timezone,
    }


def user_create(user: str, locations: list[str], *, name: str) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    return {
        "type": "UserCreate",
        "id": user,
        "name": name,
        "firstName": first,
        "lastName": last,
        "email": f"{user}@example.com",
        "role": "user",
        "locations": locations,
    }


def contact_create(location: str, contact: str, *, assigned_to: str | None, **extra: Any) -> dict:
    return {
        "type": "ContactCreate",
        "locationId": location,
        "id": contact,
        "firstName": "Jane",
        "lastName": "Doe",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+15550100999",
        "tags": [],
        "dnd": False,
        "assignedTo": assigned_to,
        "dateAdded": iso(datetime.now(UTC)),
        **extra,
    }


def message(location: str, contact: str, conversation: str, body: str, **extra: Any) -> dict:
    return {
        "type": "InboundMessage",
        "locationId": location,
        "attachments": [],
        "body": body,
        "contactId": contact,
        "contentType": "text/plain",
        "conversationId": conversation,
        "dateAdded": iso(datetime.now(UTC)),
        "direction": "inbound",
        "messageType": "SMS",
        "messageId": new_id("msg"),
        "status": "delivered",
        "from": "+15550100999",
        "to": "+15550100000",
        **extra,
    }


def opportunity(location: str, opp: str, contact: str, rep: str, **fields: Any) -> dict:
    return {
        "type": "OpportunityCreate",
        "locationId": location,
        "id": opp,
        "assignedTo": rep,
        "contactId": contact,
        "monetaryValue": 5000,
        "name": "Kitchen remodel",
        "pipelineId": "pipe1",
        "pipelineStageId": "stage-new",
        "source": "web",
        "status": "open",
        "dateAdded": iso(datetime.now(UTC)),
        **fields,
    }


def invoice(location: str, invoice_id: str, contact: str, **fields: Any) -> dict:
    """An Invoice* delivery: no `type`, no `locationId` (altId/altType name the location)."""
    return {
        "_id": invoice_id,
        "status": "paid",
        "liveMode": False,
        "amountPaid": 1200,
        "altId": location,
        "altType": "location",
        "name": "Invoice",
        "businessDetails": {"name": "Acme Remodeling"},
        "invoiceNumber": "1001",
        "currency": "USD",
        "contactDetails": {"id": contact, "name": "Jane Doe", "email": "jane@example.com"},
        "total": 1200,
        "amountDue": 0,
        "invoiceItems": [{"name": "Deposit", "amount": 1200, "qty": 1}],
        **fields,
    }


def appointment(
    location: str, appointment_id: str, contact: str, rep: str, start: datetime, **kind: Any
) -> dict:
    return {
        "type": kind.pop("type", "AppointmentCreate"),
        "locationId": location,
        "appointment": {
            "id": appointment_id,
            "address": "https://meet.example/abc",
            "title": "Site visit",
            "calendarId": "cal1",
            "contactId": contact,
            "groupId": "grp1",
            "appointmentStatus": kind.pop("status", "confirmed"),
            "assignedUserId": rep,
            "users": [rep],
            "notes": "bring samples",
            "source": "booking_widget",
            "startTime": iso(start),
            "endTime": iso(start + timedelta(hours=1)),
            "dateAdded": iso(datetime.now(UTC)),
        },
    }


def task(location: str, task_id: str, contact: str, rep: str, kind: str = "TaskCreate") -> dict:
    return {
        "type": kind,
        "locationId": location,
        "id": task_id,
        "assignedTo": rep,
        "body": "Call back about the quote",
        "contactId": contact,
        "title": "Call Jane",
        "dateAdded": iso(datetime.now(UTC)),
        "dueDate": iso(datetime.now(UTC) + timedelta(days=1)),
    }


# Reading back ------------------------------------------------------------------------------


def stored_events(stack: Stack, event_id: str) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select status, type, processor, error from public.webhook_events"
            " where provider = 'ghl' and event_id = %s",
            [event_id],
        ).fetchall()


def outbox(stack: Stack, channel: str, event: str | None = None) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select id, event, data from public.outbox where channel = %s"
            " and (%s::text is null or event = %s) order by id",
            [channel, event, event],
        ).fetchall()


def members(stack: Stack, location: str) -> list[str]:
    with sql(stack) as conn:
        rows = conn.execute(
            "select user_id from public.location_members where location_id = %s order by user_id",
            [location],
        ).fetchall()
    return [row["user_id"] for row in rows]


# The HighLevel REST stand-in (dev/ghl_api.py) ----------------------------------------------


async def connect_location(
    http: httpx.AsyncClient, stack: Stack, location: str, *, user: str | None = None
) -> dict[str, Any]:
    """Install the app on `location` the way HighLevel's OAuth flow does: the stand-in hands
    out a code, HighLevel's redirect brings it to GET /api/crm/oauth/callback."""
    granted = await http.post(
        f"{stack.ghl_api_url}/__fake__/authorize", json={"locationId": location, "userId": user}
    )
    code = granted.json()["code"]
    answer = await http.get(f"{stack.api_url}/api/crm/oauth/callback", params={"code": code})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def api_calls(http: httpx.AsyncClient, stack: Stack, **where: str) -> list[dict[str, Any]]:
    """What the stand-in was asked (grants and sends), filtered by locationId/conversationId."""
    answer = await http.get(f"{stack.ghl_api_url}/__fake__/calls", params=where)
    calls: list[dict[str, Any]] = answer.json()["calls"]
    return calls


def sends(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for call in calls if call["kind"] == "send"]
