"""The Supabase URL space on one local port, as the cloud's API gateway serves it.

- `/rest/v1/*` -> PostgREST, so `supabase.create_client("http://127.0.0.1:54321", key)` works
  unmodified. Like Supabase's gateway, a request needs an `apikey` (or a bearer token); the
  apikey stands in for the bearer token when none is sent.
- `/realtime/v1/websocket` -> the local Supabase Realtime server (dev/supabase_realtime), so
  `supabase-js` / supabase-py's realtime client connect to this URL unmodified.
- `POST /realtime/v1/api/broadcast` with Supabase's batch shape
  `{"messages": [{"topic", "event", "payload", "private"?}]}` -> 202, or 422 with a reason.
  Accepted messages go to that Realtime server's subscribers (a caller other than the service
  role needs the topic's INSERT policy for a private message, as on hosted Supabase) and to
  `on_broadcast` (the stack's PusherForwarder delivers them to the local Pusher-protocol
  server's channel for the topic, lib.realtime.topics; 502 if it cannot). They are kept
  (newest 10,000) for tests at `GET /_dev/broadcasts`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dev.realtime import InvalidTopic, topic_to_channel
from dev.realtime.signing import sign_request
from dev.supabase_realtime import WEBSOCKET_PATH, SupabaseRealtime
from dev.supabase_realtime.policies import Policies
from dev.supabase_realtime.tokens import Claims

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length", "apikey",
}  # fmt: skip
MAX_BROADCAST_BODY = 1024 * 1024
MAX_MESSAGE_PAYLOAD = 256 * 1024
KEPT_BROADCASTS = 10_000
MAX_TOPIC_LENGTH = 255

BroadcastSink = Callable[[list[dict[str, Any]]], Awaitable[None]]
PUSHER_BATCH = 10


class ForwardError(RuntimeError):
    """The local Pusher-protocol server did not take the messages."""


@dataclass
class PusherForwarder:
    """Delivers accepted broadcasts to the local Pusher-protocol server's subscribers.

    Topic `user-42` + private -> channel `private-user-42` (dev.realtime.topic_to_channel),
    sent through the server's signed HTTP API in batches of at most 10 events.
    """

    http_url: str
    app_id: str
    key: str
    secret: str
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))

    async def __call__(self, messages: list[dict[str, Any]]) -> None:
        batch = []
        for m in messages:
            try:
                channel = topic_to_channel(m["topic"], m["private"])
            except InvalidTopic:  # a Supabase-only topic (`client:…`): no Pusher twin
                continue
            batch.append({"channel": channel, "name": m["event"], "data": json.dumps(m["payload"])})
        path = f"/apps/{self.app_id}/batch_events"
        for start in range(0, len(batch), PUSHER_BATCH):
            body = json.dumps({"batch": batch[start : start + PUSHER_BATCH]}).encode()
            query = sign_request(
                key=self.key, secret=self.secret, method="POST", path=path,
                params={}, body=body, timestamp=int(time.time()),
            )  # fmt: skip
            try:
                response = await self.client.post(
                    self.http_url + path,
                    params=query,
                    content=body,
                    headers={"content-type": "application/json"},
                )
            except httpx.TransportError as exc:
                raise ForwardError(f"local realtime server unreachable: {exc!r}") from exc
            if response.status_code != 200:
                raise ForwardError(
                    f"local realtime server answered {response.status_code}: {response.text}"
                )


@dataclass
class Gateway:
    postgrest_url: str
    jwt_secret: str
    on_broadcast: BroadcastSink | None = None
    realtime: SupabaseRealtime | None = None
    broadcasts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT_BROADCASTS))
    _client: httpx.AsyncClient | None = None

    def app(self) -> ASGIApp:
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"]
        routes = Starlette(
            lifespan=self._lifespan,
            routes=[
                Route("/rest/v1/{path:path}", self.rest, methods=methods),
                Route("/realtime/v1/api/broadcast", self.broadcast, methods=["POST"]),
                Route("/_dev/broadcasts", self.list_broadcasts, methods=["GET", "DELETE"]),
                Route("/{path:path}", self.not_found, methods=methods),
            ],
        )
        realtime = self.realtime
        if realtime is None:
            return routes

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            """The Realtime socket gets the server's own ASGI `send` (not Starlette's
            exception-handling wrapper), so its fan-out can write frames directly."""
            if scope["type"] == "websocket" and scope["path"] == WEBSOCKET_PATH:
                await realtime.asgi(scope, receive, send)
            else:
                await routes(scope, receive, send)

        return app

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        yield
        if self.realtime is not None:
            await self.realtime.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if isinstance(self.on_broadcast, PusherForwarder):
            await self.on_broadcast.client.aclose()

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.postgrest_url, timeout=30)
        return self._client

    async def rest(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        apikey = request.headers.get("apikey") or request.query_params.get("apikey")
        if not apikey and "authorization" not in headers:
            return JSONResponse(
                {
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found.",
                },
                status_code=401,
            )
        headers.setdefault("authorization", f"Bearer {apikey}")
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "apikey"]
        upstream = self.client().build_request(
            request.method,
            "/" + request.path_params["path"],
            params=query,
            headers=headers,
            content=await request.body(),
        )
        try:
            response = await self.client().send(upstream, stream=True)
        except httpx.TransportError as exc:
            return JSONResponse(
                {
                    "code": "PGRST001",
                    "message": "the local PostgREST is not reachable",
                    "details": str(exc) or type(exc).__name__,
                    "hint": "is the stack running? see .data/logs/postgrest.log",
                },
                status_code=503,
            )
        passthrough = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"
        }
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=passthrough,
            background=BackgroundTask(response.aclose),
        )

    def _caller(self, request: Request) -> Claims | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        token = token or request.headers.get("apikey", "")
        try:
            claims = jwt.decode(
                token, self.jwt_secret, algorithms=["HS256"], options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return None
        return Claims(token, claims) if isinstance(claims, dict) else None

    async def _may_send(self, caller: Claims, messages: list[dict[str, Any]]) -> list[bool]:
        """Per message: may `caller` send it (private: the topic's INSERT policy)?"""
        if caller.claims.get("role") == "service_role" or self.realtime is None:
            return [True] * len(messages)
        answers: dict[str, bool] = {}
        allowed = []
        for message in messages:
            if not message["private"]:
                allowed.append(True)
                continue
            topic = message["topic"]
            if topic not in answers:
                if "role" not in caller.claims:
                    answers[topic] = False
                else:
                    policies = Policies()
                    await self.realtime.authorizer.write(topic, caller, policies)
                    answers[topic] = bool(policies.broadcast_write)
            allowed.append(answers[topic])
        return allowed

    async def broadcast(self, request: Request) -> Response:
        caller = self._caller(request)
        if caller is None:
            return JSONResponse({"message": "Invalid or missing JWT / apikey"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BROADCAST_BODY:
            return _unprocessable(f"body is over {MAX_BROADCAST_BODY} bytes")
        try:
            parsed = json.loads(body)
        except ValueError:
            return _unprocessable("body is not JSON")
        problem, messages = validate_broadcast(parsed)
        if problem:
            return _unprocessable(problem)
        allowed = await self._may_send(caller, messages)
        messages = [m for m, ok in zip(messages, allowed, strict=True) if ok]
        if self.realtime is not None:
            self.realtime.broadcast(messages)
        if self.on_broadcast is not None and messages:
            try:
                await self.on_broadcast(messages)
            except ForwardError as exc:
                return JSONResponse({"message": str(exc)}, status_code=502)
        self.broadcasts.extend(messages)
        return Response(status_code=202)

    async def list_broadcasts(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.broadcasts.clear()
            return Response(status_code=204)
        return JSONResponse({"messages": list(self.broadcasts)})

    async def not_found(self, request: Request) -> Response:
        return JSONResponse(
            {"message": f"no route for {request.method} {request.url.path} in the local gateway"},
            status_code=404,
        )


def _unprocessable(reason: str) -> Response:
    return JSONResponse({"message": reason}, status_code=422)


def validate_broadcast(body: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """Check Supabase's batch shape; returns (reason it is invalid, or None; messages)."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "expected an object with a `messages` array", []
    if not body["messages"]:
        return "`messages` is empty", []
    messages = []
    for index, message in enumerate(body["messages"]):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return f"{where} is not an object", []
        for key in ("topic", "event"):
            value = message.get(key)
            if not isinstance(value, str) or not value.strip():
                return f"{where}.{key} must be a non-empty string", []
        if "payload" in message and not isinstance(message["payload"], dict):
            return f"{where}.payload must be an object", []
        if "private" in message and not isinstance(message["private"], bool):
            return f"{where}.private must be a boolean", []
        if len(message["topic"]) > MAX_TOPIC_LENGTH:
            return f"{where}.topic is longer than {MAX_TOPIC_LENGTH} characters", []
        if len(json.dumps(message.get("payload", {}))) > MAX_MESSAGE_PAYLOAD:
            return f"{where}.payload is over {MAX_MESSAGE_PAYLOAD} bytes", []
        messages.append(
            {
                "topic": message["topic"],
                "event": message["event"],
                "payload": message.get("payload", {}),
                "private": message.get("private", False),
            }
        )
    return None, messages
