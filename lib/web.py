"""Building blocks for the ASGI `app` every api/*.py exposes.

`function(GET=..., POST=...)` turns plain async handlers into an app that:
- gives each request an id (Vercel's `x-vercel-id`, a caller's `x-request-id`, or a new one)
  and echoes it in `x-request-id`;
- answers every error as JSON `{"error": {"code", "message", "requestId", ...}}`, mapping
  `SocklessError` by its status and anything unexpected to a 500 that leaks no stack trace
  outside development (a refused environment, ConfigurationError, is a 500 naming the
  variable, never with a trace);
- writes one JSON log line per request to stdout (what Vercel collects), and counts it in
  the app's invocation tally, flushed to `usage_daily` at most once a minute (lib.invocations);
- applies the CORS policy of `CORS_ALLOWED_ORIGINS` (lib.cors): answers preflights and adds
  the CORS headers to every response, errors included. Blank: nothing changes.

A function app ignores its path (Vercel rewrites keep the original path in the scope), so a
handler that serves several URLs reads `request.url.path` itself. Apps hold no module-level
state, so several can be mounted in one ASGI process (the planned Lambda target).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import lib.auth
import lib.db
import lib.realtime
from lib.config import Settings
from lib.cors import Cors, RawHeaders, add_headers, is_preflight
from lib.errors import MethodNotAllowed, SocklessError
from lib.invocations import Flush, InvocationTally
from lib.services import Services, ServicesSource, once

Handler = Callable[[Request, Services], Awaitable[Response | Mapping[str, Any] | list[Any]]]

log = logging.getLogger("sockless")


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _configure_logging() -> None:
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(data, status_code=status, headers=dict(headers or {}))


def error_body(exc: SocklessError, request_id: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "requestId": request_id}
    if exc.details:
        error["details"] = exc.details
    return {"error": error}


def error_response(exc: SocklessError, request_id: str) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(exc.retry_after)
    return json_response(error_body(exc, request_id), exc.status, headers)


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name in (b"x-vercel-id", b"x-request-id"):
            return bytes(value).decode("latin-1")[:128]
    return uuid.uuid4().hex


def request_id(request: Request) -> str:
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else request_id_of(request.scope)


class RequestContext:
    """ASGI middleware: request id, CORS, one log line, and the last word on errors.

    `methods` are what a CORS preflight is told the app accepts.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: Callable[[], Settings],
        methods: Collection[str] = (),
        flush: Flush | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.methods = tuple(methods)
        self.flush = flush
        self.tally = InvocationTally()
        _configure_logging()

    def _cors(self) -> Cors | None:
        try:
            return Cors.of(self.config(), self.methods)
        except (ValueError, SocklessError):
            # A bad environment: the app reports it in its own error shape when it reads the
            # settings; this request simply gets no CORS headers.
            return None

    def _debug(self) -> bool:
        try:
            return self.config().debug
        except Exception:  # a refused environment shows no traces
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False
        cors_headers: RawHeaders = []

        async def send_with_id(message: Any) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = add_headers(message.get("headers", []), cors_headers)
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            cors = self._cors()
            if cors is not None:
                headers = Headers(scope=scope)
                if is_preflight(scope["method"], headers):
                    answer = Response(status_code=204, headers=cors.preflight_headers(headers))
                    await answer(scope, receive, send_with_id)
                    return
                cors_headers = cors.response_headers(headers.get("origin"))
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise
            wrapped = exc if isinstance(exc, SocklessError) else SocklessError()
            if not isinstance(exc, SocklessError):
                log.error(
                    "unhandled error",
                    exc_info=exc,
                    extra={"fields": {"request_id": rid, "path": scope.get("path")}},
                )
                if self._debug():
                    wrapped.details = {"exception": repr(exc), "trace": traceback.format_exc()}
            await error_response(wrapped, rid)(scope, receive, send_with_id)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": rid,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "ms": ms,
                    }
                },
            )
            self.tally.record(str(scope.get("path", "")), ms)
        await self._flush_tally()

    async def _flush_tally(self) -> None:
        """After the response: the invocation tally, when a minute has passed (never raises)."""
        if self.flush is None:
            return
        try:
            await self.tally.flush_if_due(self.flush)
        except Exception as exc:
            log.warning("invocation tally not flushed: %s", exc)


def function(
    *,
    services: ServicesSource | Services | None = None,
    cors_methods: Collection[str] | None = None,
    **handlers: Handler,
) -> ASGIApp:
    """An api/ function app dispatching on HTTP method: `function(GET=health)`.

    Each handler is called as `handler(request, services)`. `services` is built once, at the
    app's first request (default: `Services.from_env()`, this process's environment), and
    supplies the settings RequestContext reads (CORS, debug); `cors_methods` are the methods a
    CORS preflight is told about when they differ from the handlers' (tRPC).
    """
    get_services = once(services if services is not None else Services.from_env)
    allowed = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in allowed and "HEAD" not in allowed:
        allowed["HEAD"] = allowed["GET"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        request = Request(scope, receive)
        services = get_services()  # first: a refused environment answers every request
        handler = allowed.get(request.method)
        if handler is None:
            methods = ", ".join(sorted(allowed))
            raise MethodNotAllowed(f"{request.method} is not allowed here; use {methods}")
        result = await handler(request, services)
        response = result if isinstance(result, Response) else json_response(result)
        await response(scope, receive, send)

    async def flush(rows: list[dict[str, Any]]) -> object:
        return await get_services().db.rpc("usage_invocations_add", p_rows=rows)

    methods = allowed if cors_methods is None else cors_methods
    return RequestContext(app, config=lambda: get_services().settings, methods=methods, flush=flush)


async def close_clients() -> None:
    """Close the warm instance's pooled clients (database, realtime publishers, JWKS).

    Bound to the modules this one was imported with, so a dev reload that re-imports lib/
    still closes the clients the old code opened.
    """
    await lib.db.close_all()
    await lib.auth.close_all()
    await lib.realtime.close_http()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_clients()
            await send({"type": "lifespan.shutdown.complete"})
            return
