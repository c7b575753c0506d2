"""A local stand-in for HighLevel's REST API (LeadConnector), the parts the CRM calls, on the
wire as HighLevel speaks them; `make dev` serves it on GHL_API_URL (127.0.0.1:54340) and the
tests on a free port.

    POST /oauth/token             form: client_id + client_secret (GHL_CLIENT_ID/SECRET), and
                                  grant_type=authorization_code + code, or
                                  grant_type=refresh_token + refresh_token (single use: every
                                  refresh rotates it) -> {access_token, token_type: Bearer,
                                  expires_in, refresh_token, scope, userType: Location,
                                  locationId, companyId, userId}; 401 invalid_client,
                                  400 invalid_grant
    POST /conversations/messages  Bearer <a live access token>, Version header, JSON {type,
                                  contactId, message, conversationId?, userId?, subject?}
                                  -> 201 {conversationId, messageId, msg}; 401 for a dead or
                                  unknown token. Then, as HighLevel does, the signed
                                  `OutboundMessage` webhook (Ed25519 with GHL_DEV_SIGNING_KEY)
                                  to the api's POST /api/webhooks/ghl
    GET  /conversations/{id}      the conversation's messages sent here

Test and simulator controls (no HighLevel counterpart), under /__fake__/:

    POST /__fake__/authorize  {locationId, companyId?, userId?} -> {code}: what HighLevel's
                              install screen hands the redirect URL (?code=...)
    POST /__fake__/fail       {conversationId, status, message?, times?}: the next `times`
                              sends to that conversation answer `status`
    POST /__fake__/revoke     {locationId}: its access token dies (the next call is a 401)
    POST /__fake__/expires    {seconds}: expires_in of tokens granted from now on
    GET  /__fake__/calls      ?locationId=&conversationId= -> every grant and send, in order
                              (never the tokens: their serial numbers)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_EXPIRES_IN = 86399
SCOPE = "conversations.readonly conversations.write conversations/message.write contacts.readonly"


def signing_key(pem: str) -> Ed25519PrivateKey:
    """GHL_DEV_SIGNING_KEY (PEM; newlines may be written \\n) as a key."""
    key = load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("GHL_DEV_SIGNING_KEY must be an Ed25519 private key (PEM)")
    return key


def signed(key: Ed25519PrivateKey, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A delivery as HighLevel makes it: the raw body and its X-GHL-Signature."""
    body = json.dumps(payload).encode()
    signature = base64.b64encode(key.sign(body)).decode()
    return body, {"content-type": "application/json", "x-ghl-signature": signature}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Connection:
    location_id: str
    company_id: str
    user_id: str
    serial: int = 0
    access: str = ""
    refresh: str = ""
    expires_at: float = 0.0


@dataclass
class FakeHighLevel:
    client_id: str
    client_secret: str
    webhook_url: str | None = None
    """Where OutboundMessage webhooks go (the api's /api/webhooks/ghl); None: nowhere."""
    key: Ed25519PrivateKey | None = None
    expires_in: int = DEFAULT_EXPIRES_IN
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    failures: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # HighLevel's API -------------------------------------------------------------------------

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if client_id != self.client_id or not secrets.compare_digest(
            str(client_secret or ""), self.client_secret
        ):
            return _error(401, "invalid_client", "client_id or client_secret is wrong")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self.codes.pop(str(form.get("code") or ""), None)
            if found is None:
                return _error(400, "invalid_grant", "the code is unknown or used")
            connection = self.connections.get(found["locationId"]) or Connection(
                found["locationId"], found["companyId"], found["userId"]
            )
        elif grant == "refresh_token":
            given = str(form.get("refresh_token") or "")
            connection = next(
                (c for c in self.connections.values() if c.refresh and c.refresh == given), None
            )
            if connection is None:
                return _error(400, "invalid_grant", "the refresh token is invalid or used")
        else:
            return _error(400, "unsupported_grant_type", f"grant_type {grant!r}")
        connection.serial += 1
        connection.access = f"fake-at-{secrets.token_urlsafe(24)}"
        connection.refresh = f"fake-rt-{secrets.token_urlsafe(24)}"
        connection.expires_at = time.time() + self.expires_in
        self.connections[connection.location_id] = connection
        self.calls.append(
            {"kind": "grant", "grantType": grant, "locationId": connection.location_id,
             "serial": connection.serial}
        )  # fmt: skip
        return JSONResponse(
            {
                "access_token": connection.access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": connection.refresh,
                "scope": SCOPE,
                "userType": "Location",
                "locationId": connection.location_id,
                "companyId": connection.company_id,
                "userId": connection.user_id,
            }
        )

    def _bearer(self, request: Request) -> Connection | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        for connection in self.connections.values():
            if token and connection.access == token and connection.expires_at > time.time():
                return connection
        return None

    async def send_message(self, request: Request) -> JSONResponse:
        connection = self._bearer(request)
        if connection is None:
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        if not request.headers.get("version"):
            return JSONResponse({"statusCode": 400, "message": "Version header is required"}, 400)
        body = await request.json()
        missing = [name for name in ("type", "contactId") if not body.get(name)]
        if missing:
            return JSONResponse(
                {"statusCode": 422, "message": [f"{name} should not be empty" for name in missing]},
                status_code=422,
            )
        conversation = body.get("conversationId") or f"conv{uuid.uuid4().hex[:16]}"
        call = {
            "kind": "send",
            "locationId": connection.location_id,
            "serial": connection.serial,
            "conversationId": conversation,
            "contactId": body["contactId"],
            "type": body["type"],
            "body": body.get("message", ""),
            "userId": body.get("userId"),
        }
        self.calls.append(call)
        failure = self._failure(conversation)
        if failure is not None:
            call["status"] = failure["status"]
            return JSONResponse(
                {"statusCode": failure["status"], "message": failure["message"]},
                status_code=failure["status"],
            )
        message_id = secrets.token_hex(10)
        call["messageId"] = message_id
        webhook = {
            "type": "OutboundMessage",
            "locationId": connection.location_id,
            "attachments": [],
            "body": body.get("message", ""),
            "contactId": body["contactId"],
            "contentType": "text/html" if body["type"] == "Email" else "text/plain",
            "conversationId": conversation,
            "dateAdded": now_iso(),
            "direction": "outbound",
            "messageType": body["type"],
            "messageId": message_id,
            "status": "delivered",
            "webhookId": str(uuid.uuid4()),
        }
        if body.get("userId"):
            webhook["userId"] = body["userId"]
        self.sent.setdefault(conversation, []).append(webhook)
        return JSONResponse(
            {
                "conversationId": conversation,
                "messageId": message_id,
                "msg": "Message queued successfully.",
            },
            status_code=201,
            background=BackgroundTask(self.emit, webhook),
        )

    async def conversation(self, request: Request) -> JSONResponse:
        if self._bearer(request) is None:
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        found = self.sent.get(request.path_params["id"])
        if found is None:
            return JSONResponse({"statusCode": 404, "message": "Conversation not found"}, 404)
        return JSONResponse({"id": request.path_params["id"], "messages": found})

    async def emit(self, webhook: dict[str, Any]) -> None:
        """The OutboundMessage webhook, signed, to the api (what HighLevel does after a send)."""
        if self.webhook_url is None or self.key is None:
            return
        body, headers = signed(self.key, webhook)
        async with httpx.AsyncClient(timeout=30) as client:
            # HighLevel retries; a local stand-in just drops it
            with contextlib.suppress(httpx.HTTPError):
                await client.post(self.webhook_url, content=body, headers=headers)

    def _failure(self, conversation: str) -> dict[str, Any] | None:
        rules = self.failures.get(conversation)
        if not rules:
            return None
        rule: dict[str, Any] = rules[0]
        rule["times"] -= 1
        if rule["times"] <= 0:
            rules.pop(0)
        return rule

    # controls --------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> JSONResponse:
        body = await request.json()
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "locationId": str(body["locationId"]),
            "companyId": str(body.get("companyId") or "co1"),
            "userId": str(body.get("userId") or ""),
        }
        return JSONResponse({"code": code})

    async def fail(self, request: Request) -> JSONResponse:
        body = await request.json()
        rule = {
            "status": int(body.get("status", 400)),
            "message": str(body.get("message") or "The contact has opted out (DND)"),
            "times": int(body.get("times", 1)),
        }
        self.failures.setdefault(str(body["conversationId"]), []).append(rule)
        return JSONResponse({"ok": True})

    async def revoke(self, request: Request) -> JSONResponse:
        body = await request.json()
        connection = self.connections.get(str(body["locationId"]))
        if connection is not None:
            connection.access = f"revoked-{secrets.token_hex(4)}"
        return JSONResponse({"ok": connection is not None})

    async def expires(self, request: Request) -> JSONResponse:
        self.expires_in = int((await request.json())["seconds"])
        return JSONResponse({"ok": True})

    async def list_calls(self, request: Request) -> JSONResponse:
        params = request.query_params
        wanted = {k: v for k, v in params.items() if k in ("locationId", "conversationId")}
        found = [c for c in self.calls if all(c.get(k) == v for k, v in wanted.items())]
        return JSONResponse({"calls": found})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/conversations/messages", self.send_message, methods=["POST"]),
                Route("/conversations/{id}", self.conversation, methods=["GET"]),
                Route("/__fake__/authorize", self.authorize, methods=["POST"]),
                Route("/__fake__/fail", self.fail, methods=["POST"]),
                Route("/__fake__/revoke", self.revoke, methods=["POST"]),
                Route("/__fake__/expires", self.expires, methods=["POST"]),
                Route("/__fake__/calls", self.list_calls, methods=["GET"]),
            ]
        )


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def main(argv: list[str] | None = None) -> int:
    """Serve the stand-in alone (make dev starts it for you)."""
    import os

    import uvicorn

    from dev.env import ROOT, load_into_environ

    parser = argparse.ArgumentParser(prog="python -m dev.ghl_api", description=__doc__)
    parser.add_argument("--port", type=int, default=54340)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:3000/api/webhooks/ghl")
    args = parser.parse_args(argv)
    load_into_environ(ROOT / ".env")
    fake = FakeHighLevel(
        client_id=os.environ.get("GHL_CLIENT_ID", ""),
        client_secret=os.environ.get("GHL_CLIENT_SECRET", ""),
        webhook_url=args.webhook_url,
        key=signing_key(os.environ["GHL_DEV_SIGNING_KEY"]),
    )
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
