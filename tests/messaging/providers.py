"""Twilio and SendGrid at the HTTP wire, for the notify-offline tests: an httpx.MockTransport
that answers like their REST APIs (Twilio Messages: form post, Basic auth, 201 JSON with a
sid; SendGrid v3 mail/send: JSON, Bearer key, 202 with X-Message-Id), records what it was
sent, and can be told to fail for one recipient."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx

TWILIO_URL = "https://api.twilio.test"
SENDGRID_URL = "https://api.sendgrid.test"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-token"
SENDGRID_KEY = "SG.test-key"
FROM_NUMBER = "+15005550006"
FROM_EMAIL = "chat@example.com"
APP_URL = "https://app.example.com"

Failure = Literal["503", "400", "timeout", "connect"]

ENV = {
    "NOTIFY_DELAY_S": "0",
    "NOTIFY_SMS_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_API_URL": TWILIO_URL,
    "NOTIFY_FROM_NUMBER": FROM_NUMBER,
    "NOTIFY_EMAIL_PROVIDER": "sendgrid",
    "SENDGRID_API_KEY": SENDGRID_KEY,
    "SENDGRID_API_URL": SENDGRID_URL,
    "NOTIFY_FROM_EMAIL": FROM_EMAIL,
    "NOTIFY_FROM_NAME": "Chatty",
    "NOTIFY_APP_URL": APP_URL,
}
"""Settings that point the real adapters at this fake."""


@dataclass
class Sms:
    to: str
    sender: str
    body: str


@dataclass
class Email:
    to: str
    sender: str
    subject: str
    text: str
    notification: str


@dataclass
class Providers:
    sms: list[Sms] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    fail: dict[str, Failure] = field(default_factory=dict)
    """recipient (phone or email) -> how the provider fails for it."""

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def sms_to(self, phone: str) -> list[Sms]:
        return [m for m in self.sms if m.to == phone]

    def emails_to(self, address: str) -> list[Email]:
        return [m for m in self.emails if m.to == address]

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == f"{TWILIO_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return self._twilio(request)
        if url == f"{SENDGRID_URL}/v3/mail/send":
            return self._sendgrid(request)
        return httpx.Response(404, json={"message": f"no route {request.method} {url}"})

    def _failure(self, recipient: str, request: httpx.Request) -> httpx.Response | None:
        mode = self.fail.get(recipient)
        if mode == "timeout":
            raise httpx.ReadTimeout("the provider took too long", request=request)
        if mode == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "503":
            return httpx.Response(503, json={"message": "Service Unavailable", "code": 20500})
        if mode == "400":
            return httpx.Response(
                400, json={"code": 21211, "message": f"The 'To' number {recipient} is not valid."}
            )
        return None

    def _twilio(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return httpx.Response(401, json={"code": 20003, "message": "Authenticate"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        failed = self._failure(form.get("To", ""), request)
        if failed is not None:
            return failed
        if not form.get("To") or not form.get("Body") or not form.get("From"):
            return httpx.Response(400, json={"code": 21604, "message": "To, From, Body required"})
        self.sms.append(Sms(to=form["To"], sender=form["From"], body=form["Body"]))
        sid = "SM" + uuid.uuid4().hex
        return httpx.Response(201, json={"sid": sid, "status": "queued", "to": form["To"]})

    def _sendgrid(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return httpx.Response(401, json={"errors": [{"message": "unauthorized"}]})
        payload: dict[str, Any] = json.loads(request.content)
        to = payload["personalizations"][0]["to"][0]["email"]
        failed = self._failure(to, request)
        if failed is not None:
            return failed
        self.emails.append(
            Email(
                to=to,
                sender=payload["from"]["email"],
                subject=payload["subject"],
                text=payload["content"][0]["value"],
                notification=payload["custom_args"]["notification"],
            )
        )
        return httpx.Response(202, headers={"x-message-id": uuid.uuid4().hex})
