"""The tRPC endpoint: `trpc_app(router)` is the ASGI app api/trpc.py exposes.

It answers the official `@trpc/client` (v10 and v11; httpLink, httpBatchLink, the untyped
client, the superjson transformer) exactly as a tRPC server does — see lib.rpc.wire for the
envelopes and lib/rpc/__init__.py for the full list of behaviours. In short:

    HEAD                                  204, no body (warm-up)
    GET  /api/trpc                        the procedure listing with JSON Schemas
    GET  /api/trpc/<query>?input=...      a query;  POST /api/trpc/<mutation> a mutation
    ?batch=1 with paths "a,b"             the calls run concurrently; an array in call order

Request-level failures are answered with one (non-array) error, which the client applies to
every call of the batch: body over `limits.max_body_bytes` (PAYLOAD_TOO_LARGE), a POST whose
content-type is not application/json, absent or empty included (UNSUPPORTED_MEDIA_TYPE: the
other kinds are what a cross-site form posts without a preflight), more than
`limits.max_batch_size` calls or queries mixed with mutations (BAD_REQUEST), a malformed path
encoding (BAD_REQUEST). Everything else is per call: unknown procedure (NOT_FOUND), wrong
method (METHOD_NOT_SUPPORTED, `allow` header), bad JSON or invalid input (BAD_REQUEST),
missing/invalid token on an `auth=True` procedure (UNAUTHORIZED; FORBIDDEN for the session
cookie on a cross-site POST, lib.csrf), rate limit (TOO_MANY_REQUESTS, `retry-after` header),
a call over `limits.call_timeout_s` (TIMEOUT), and any unexpected exception
(INTERNAL_SERVER_ERROR, logged, no message or stack outside development). No exception
leaves this app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from lib.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SocklessError,
    Timeout,
    Unauthorized,
    UnsupportedMediaType,
)
from lib.rpc import codes, wire
from lib.rpc.procedure import Context, Procedure
from lib.rpc.router import Router
from lib.services import Services, ServicesSource, once
from lib.web import function, request_id

if TYPE_CHECKING:
    from lib.auth import Principal

log = logging.getLogger("sockless.rpc")

VARY = "trpc-accept, accept"
METHODS = {"query": "GET", "mutation": "POST"}
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
INTERNAL_MESSAGE = "Internal server error"

Authenticate = Callable[[Request, Services], Awaitable["Principal"]]


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_body_bytes: int = 1_048_576
    max_batch_size: int = 50
    call_timeout_s: float = 25.0
    """Below Vercel's function timeout, so a slow call is a TIMEOUT envelope, not a 504 page."""


async def authenticate_request(request: Request, services: Services) -> Principal:
    from lib.auth import authenticate

    return await authenticate(request, services)


def internal(exc: BaseException) -> SocklessError:
    error = SocklessError(INTERNAL_MESSAGE)
    error.__cause__ = exc
    return error


@dataclass
class Outcome:
    data: Any = None
    error: SocklessError | None = None


@dataclass(frozen=True)
class Caller:
    """What every call of one request shares: who is calling, and where from."""

    principal: Principal | None
    auth_error: SocklessError | None
    services: Services
    request_id: str
    client_ip: str | None


class Endpoint:
    """Serves one Router over HTTP (the handler behind `trpc_app`)."""

    def __init__(
        self,
        router: Router,
        *,
        services: ServicesSource,
        base: str = "/api/trpc",
        authenticate: Authenticate = authenticate_request,
        limits: Limits | None = None,
    ) -> None:
        self.router = router
        self.base = base.rstrip("/")
        self.services = services
        self.authenticate = authenticate
        self.limits = limits or Limits()

    async def __call__(self, request: Request) -> Response:
        if request.method == "HEAD":
            return Response(status_code=204)
        debug = False  # until the settings are read (reading them could fail too)
        transform: bool | None = None
        try:
            services = self.services()
            debug = services.settings.debug
            path = self._path(request)
            batch = request.query_params.get("batch") == "1"
            if not path and not batch and request.method == "GET":
                return JSONResponse(self.router.description, headers={"vary": VARY})
            paths = path.split(",") if batch else [path]
            inputs = wire.parse_inputs(
                await self._raw_input(request), batch=batch, count=len(paths)
            )
            transform = None if inputs.error else inputs.superjson
            if batch and len(paths) > self.limits.max_batch_size:
                raise BadRequest(
                    f"Batch call exceeds maximum size ({self.limits.max_batch_size} calls)"
                )
            procedures = [self.router.get(p) for p in paths]
            kinds = list(dict.fromkeys(p.kind for p in procedures if p is not None))
            if len(kinds) > 1:
                raise BadRequest(f"Cannot mix procedure types in call: {', '.join(kinds)}")
            caller = await self._caller(request, services, procedures)
            outcomes = await asyncio.gather(
                *(
                    self._call(request.method, index, path, procedure, inputs, caller)
                    for index, (path, procedure) in enumerate(zip(paths, procedures, strict=True))
                )
            )
            return self._respond(paths, procedures, outcomes, batch, transform, debug)
        except SocklessError as exc:
            return self._request_error(exc, transform, debug)
        except Exception as exc:
            log.error("tRPC request failed", exc_info=exc, extra=fields(request_id(request)))
            return self._request_error(internal(exc), transform, debug)

    # -- request -------------------------------------------------------------------------------
    def _path(self, request: Request) -> str:
        raw = request.scope.get("raw_path")
        try:
            path = unquote(raw.decode("ascii"), errors="strict") if raw else request.url.path
        except UnicodeDecodeError as exc:
            raise BadRequest("Invalid URL-encoding in path") from exc
        if path == self.base:
            return ""
        if not path.startswith(self.base + "/"):
            raise NotFound(f"{path} is not under {self.base}")
        return path[len(self.base) + 1 :]

    async def _raw_input(self, request: Request) -> str | None:
        if request.method == "GET":
            return request.query_params.get("input")
        content_type = request.headers.get("content-type")
        if request.method == "POST":
            # Only JSON: a form or text/plain body is what another site can post without a
            # CORS preflight (and with the session cookie); application/json always preflights.
            if content_type is None or not content_type.strip():
                raise UnsupportedMediaType('a POST body needs "content-type: application/json"')
            media = content_type.split(";", 1)[0].strip().lower()
            if media != "application/json":
                raise UnsupportedMediaType(
                    f'Unsupported content-type "{content_type[:100]}": send application/json'
                )
        limit = self.limits.max_body_bytes
        too_large = PayloadTooLarge(f"request body is larger than {limit} bytes")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_large
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
        return body.decode("utf-8", errors="replace")

    async def _caller(
        self, request: Request, services: Services, procedures: Sequence[Procedure | None]
    ) -> Caller:
        """Authenticate once per request: when a procedure needs it, or a token was sent (a
        public procedure then sees the principal; a bad token just leaves it None)."""
        principal: Principal | None = None
        auth_error: SocklessError | None = None
        sent = "authorization" in request.headers or "__session" in request.cookies
        needed = any(p is not None and p.auth for p in procedures)
        if sent or needed:
            try:
                principal = await self.authenticate(request, services)
            except SocklessError as exc:
                auth_error = exc
            except Exception as exc:
                log.error("authentication failed", exc_info=exc)
                auth_error = internal(exc)
        return Caller(
            principal=principal,
            auth_error=auth_error,
            services=services,
            request_id=request_id(request),
            client_ip=client_ip(request),
        )

    # -- calls ---------------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        index: int,
        path: str,
        procedure: Procedure | None,
        inputs: wire.Inputs,
        caller: Caller,
    ) -> Outcome:
        try:
            if procedure is None:
                raise NotFound(f'No procedure found on path "{path}"')
            if METHODS[procedure.kind] != method:
                raise MethodNotAllowed(
                    f'Unsupported {method}-request to {procedure.kind} procedure at path "{path}"'
                )
            if procedure.auth and caller.principal is None:
                return Outcome(error=caller.auth_error or Unauthorized("missing bearer token"))
            raw = inputs.get(index) if procedure.input is not None else None
            value = procedure.parse_input(raw)
            ctx = Context(
                path=path,
                principal=caller.principal,
                services=caller.services,
                request_id=caller.request_id,
                client_ip=caller.client_ip,
            )
            async with asyncio.timeout(self.limits.call_timeout_s):
                if procedure.rate_limit is not None:
                    await self._enforce(procedure, ctx)
                result = await procedure.handler(ctx, value)
            return Outcome(data=procedure.dump_output(result))
        except SocklessError as exc:
            if exc.status >= 500:
                log.error("%s failed", path, exc_info=exc, extra=fields(caller.request_id, path))
            return Outcome(error=exc)
        except TimeoutError as exc:
            error = Timeout(f"{path} took longer than {self.limits.call_timeout_s:g} s")
            error.__cause__ = exc
            return Outcome(error=error)
        except Exception as exc:
            log.error("%s failed", path, exc_info=exc, extra=fields(caller.request_id, path))
            return Outcome(error=internal(exc))

    async def _enforce(self, procedure: Procedure, ctx: Context) -> None:
        from lib.ratelimit import enforce

        assert procedure.rate_limit is not None
        limit, window_s = procedure.rate_limit
        who = ctx.principal.user_id if ctx.principal else f"ip:{ctx.client_ip or 'unknown'}"
        await enforce(ctx.db, f"trpc:{procedure.path}:{who}", limit=limit, window_s=window_s)

    # -- response ------------------------------------------------------------------------------
    def _respond(
        self,
        paths: Sequence[str],
        procedures: Sequence[Procedure | None],
        outcomes: Sequence[Outcome],
        batch: bool,
        transform: bool | None,
        debug: bool,
    ) -> Response:
        headers = {"vary": VARY}
        items: list[dict[str, Any]] = []
        statuses: list[int] = []
        retry_after: list[int] = []
        allow: set[str] = set()
        for path, procedure, outcome in zip(paths, procedures, outcomes, strict=True):
            error = outcome.error
            if error is None:
                items.append(wire.result_item(outcome.data, transform=bool(transform)))
                statuses.append(200)
                continue
            shape = wire.error_shape(error, path=path, debug=debug)
            items.append(wire.error_item(shape, transform=transform))
            statuses.append(shape["data"]["httpStatus"])
            if error.retry_after is not None:
                retry_after.append(error.retry_after)
            if isinstance(error, MethodNotAllowed) and procedure is not None:
                allow.add(METHODS[procedure.kind])
        if retry_after:
            headers["retry-after"] = str(max(retry_after))
        if allow:
            headers["allow"] = ", ".join(sorted(allow))
        body = wire.dumps(items if batch else items[0])
        return Response(body, wire.status_of(statuses), headers, "application/json")

    def _request_error(self, error: SocklessError, transform: bool | None, debug: bool) -> Response:
        shape = wire.error_shape(error, path=None, debug=debug)
        headers = {"vary": VARY}
        if error.retry_after is not None:
            headers["retry-after"] = str(error.retry_after)
        body = wire.dumps(wire.error_item(shape, transform=transform))
        return Response(body, codes.http_status(error.code), headers, "application/json")


def fields(rid: str, path: str | None = None) -> dict[str, Any]:
    return {"fields": {"request_id": rid, "procedure": path}}


def client_ip(request: Request) -> str | None:
    """The caller's address as Vercel reports it (x-forwarded-for, x-real-ip), else the peer."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    if forwarded:
        return forwarded[:64]
    real = request.headers.get("x-real-ip", "").strip()
    if real:
        return real[:64]
    return request.client.host if request.client else None


def trpc_app(
    router: Router,
    *,
    services: ServicesSource | Services | None = None,
    base: str = "/api/trpc",
    authenticate: Authenticate = authenticate_request,
    limits: Limits | None = None,
) -> ASGIApp:
    """The ASGI app serving `router` under `base` (request ids and logs from lib.web).
    `services` as lib.web.function takes it (default: this process's environment)."""
    get_services = once(services if services is not None else Services.from_env)
    endpoint = Endpoint(
        router,
        services=get_services,
        base=base,
        authenticate=authenticate,
        limits=limits,
    )
    # Every method reaches the endpoint (a wrong one is a tRPC error per call); CORS
    # advertises only what the client uses.

    async def handle(request: Request, _: Services) -> Response:
        return await endpoint(request)

    return function(
        services=get_services,
        cors_methods=("GET", "HEAD", "POST"),
        **dict.fromkeys((*ALL_METHODS, "HEAD"), handle),
    )
