"""The OpenAPI 3.1 document of the whole HTTP surface, built from the enabled features.

    GET /api/openapi.json    (api/openapi.py; vercel.json rewrites the .json URL to it)

Nothing here is written by hand per endpoint: the document is derived from the declarations
the functions themselves are built from, so it cannot drift from what is served.

- every tRPC procedure (Bundle.router): a query is `GET /api/trpc/<path>?input=<JSON>`, a
  mutation `POST /api/trpc/<path>` with a JSON body; the input and output schemas are the
  procedure's pydantic models (the same JSON Schemas `GET /api/trpc` lists and `make types`
  turns into TypeScript), and every failure is the tRPC error envelope (`TrpcError`);
- every webhook endpoint (Feature.webhooks): `POST <route>`, signed by its provider;
- every other function (Feature.routes, declared as `Route` values next to the code):
  health, cron, realtime auth and history, this document, a feature's own pages.

Every non-tRPC failure is `{"error": {"code", "message", "requestId", "details"?}}`
(`Error`, lib.web). Batched tRPC calls (`?batch=1`) and superjson envelopes are described in
the tRPC operations' text rather than as separate operations.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lib.rpc import codes

if TYPE_CHECKING:
    from starlette.requests import Request

    from lib.feature import Bundle
    from lib.rpc.procedure import Procedure
    from lib.services import Services
    from lib.webhooks.endpoint import WebhookEndpoint

PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
OPENAPI_VERSION = "3.1.0"
TRPC_BASE = "/api/trpc"
REF = "#/components/schemas/{model}"
JSON = "application/json"

INGESTED = {
    "type": "object",
    "required": ["ok", "status"],
    "properties": {
        "ok": {"type": "boolean"},
        "duplicate": {"type": "boolean"},
        "status": {"enum": ["processed", "ignored", "failed", "parked"]},
        "retrying": {"type": "boolean"},
    },
}
"""lib.webhooks.ingest's answer (an endpoint with its own `respond` documents none)."""

Auth = Literal["none", "bearer", "cron", "signature"]
"""Who may call: anyone; a user's JWT; Vercel's cron (Bearer $CRON_SECRET); a provider's
signature (the webhook's verifier)."""


@dataclass(frozen=True, kw_only=True)
class Route:
    """One operation of a function that is neither a tRPC procedure nor a webhook ingest
    endpoint, declared by the feature that serves it (Feature.routes)."""

    method: Literal["GET", "POST"]
    path: str
    """The public URL, `{name}` for path parameters (`/api/cron/{job}`)."""
    summary: str
    auth: Auth = "none"
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Query parameters: name -> JSON Schema (every one optional)."""
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    body: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Request body: media type -> JSON Schema (empty: no body)."""
    responses: Mapping[int, tuple[str, Mapping[str, Any]]] = field(
        default_factory=lambda: {200: (JSON, {"type": "object"})}
    )
    """Status -> (media type, schema) of the answers that are not errors (errors: `Error`)."""
    headers: Sequence[str] = ()
    """Request headers the operation reads (signatures), documented as optional strings."""


def error_schemas() -> dict[str, Any]:
    """`Error` (every function) and `TrpcError` (the tRPC envelope), closed to extra keys so a
    response that strays from them does not match."""
    code_names = sorted(codes.CODES)
    shape: dict[str, Any] = {
        "type": "object",
        "required": ["message", "code", "data"],
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "code": {"type": "integer", "enum": sorted({c for c, _ in codes.CODES.values()})},
            "data": {
                "type": "object",
                "required": ["code", "httpStatus"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": code_names},
                    "httpStatus": {"type": "integer", "minimum": 400, "maximum": 599},
                    "path": {"type": "string"},
                    "stack": {"type": "string"},
                    "retryAfter": {"type": "integer", "minimum": 0},
                    "details": {"type": "object"},
                    "zodError": {
                        "type": "object",
                        "required": ["formErrors", "fieldErrors"],
                        "additionalProperties": False,
                        "properties": {
                            "formErrors": {"type": "array", "items": {"type": "string"}},
                            "fieldErrors": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
    # A request that failed before its input was read repeats the shape under `json` (a
    # superjson client reads that); a superjson request gets only `{"json": shape}`.
    repeated = {"json": {"$ref": _ref("TrpcErrorShape")}}
    plain = {**shape, "properties": {**shape["properties"], **repeated}}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "requestId"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string", "enum": code_names},
                        "message": {"type": "string"},
                        "requestId": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }
            },
        },
        "TrpcErrorShape": shape,
        "TrpcError": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "anyOf": [
                        plain,
                        {
                            "type": "object",
                            "required": ["json"],
                            "additionalProperties": False,
                            "properties": {"json": {"$ref": _ref("TrpcErrorShape")}},
                        },
                    ]
                }
            },
        },
    }


def _ref(name: str) -> str:
    return REF.format(model=name)


def _error(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": _ref(name)}}}}


def _security(auth: Auth) -> list[dict[str, list[str]]]:
    schemes: dict[Auth, list[dict[str, list[str]]]] = {
        "none": [],
        "bearer": [{"userToken": []}],
        "cron": [{"cronSecret": []}],
        "signature": [],
    }
    return schemes[auth]


def _procedure(
    procedure: Procedure, schemas: Mapping[tuple[str, str], Any]
) -> tuple[str, dict[str, Any]]:
    output = schemas[(procedure.path, "serialization")]
    result = {
        "type": "object",
        "required": ["result"],
        "additionalProperties": False,
        "properties": {
            "result": {
                "type": "object",
                "required": ["data"],
                "additionalProperties": False,
                "properties": {
                    "data": {
                        "anyOf": [
                            output,
                            {
                                "type": "object",
                                "required": ["json"],
                                "additionalProperties": False,
                                "properties": {"json": output},
                            },
                        ]
                    }
                },
            }
        },
    }
    limit = (
        f" Rate limit: {procedure.rate_limit[0]} calls per {procedure.rate_limit[1]} s."
        if procedure.rate_limit
        else ""
    )
    operation: dict[str, Any] = {
        "operationId": procedure.path,
        "tags": ["tRPC"],
        "summary": procedure.description.split("\n", 1)[0] or procedure.path,
        "description": (
            f"tRPC {procedure.kind} `{procedure.path}`"
            f"{' (sign in: bearer JWT)' if procedure.auth else ' (public)'}.{limit} "
            "Several calls batch as `?batch=1` with comma-joined paths; a superjson client "
            'sends `{"json": input}` and gets `{"json": data}`.'
        ),
        "security": _security("bearer" if procedure.auth else "none"),
        "responses": {
            "200": {"description": "the result", "content": {JSON: {"schema": result}}},
            "default": _error("TrpcError", "a tRPC error (`error.data.code`, `httpStatus`)"),
        },
    }
    input_schema = schemas.get((procedure.path, "validation"))
    if input_schema is not None and procedure.kind == "query":
        operation["parameters"] = [
            {
                "name": "input",
                "in": "query",
                "required": True,
                "description": "the input, as JSON",
                "content": {JSON: {"schema": input_schema}},
            }
        ]
    elif input_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": input_schema}},
        }
    method = "get" if procedure.kind == "query" else "post"
    return method, operation


def _webhook(endpoint: WebhookEndpoint) -> dict[str, Any]:
    retries = f" Retries: {endpoint.retries}." if endpoint.retries else ""
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAMETER.findall(endpoint.url)
    ]
    return {
        **({"parameters": parameters} if parameters else {}),
        "operationId": f"webhook.{endpoint.provider}.{endpoint.route.rsplit('/', 1)[-1]}",
        "tags": ["webhooks"],
        "summary": f"{endpoint.provider} webhook",
        "description": (
            f"Signed by {endpoint.provider} (lib.webhooks.providers); at most "
            f"{endpoint.max_body_bytes} bytes; stored once per event id and applied in the same "
            f"transaction. A failed processing answers {endpoint.failure_status} and is retried "
            f"by the `webhooks-retry` cron.{retries}"
        ),
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            },
        },
        "responses": {
            "200": {
                "description": "accepted (or a duplicate, acknowledged)",
                **({} if endpoint.respond else {"content": {JSON: {"schema": INGESTED}}}),
            },
            "default": _error("Error", "refused: size, signature, payload, or not configured"),
        },
    }


def _route(route: Route) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": dict(schema)}
        for name, schema in route.path_params.items()
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
        for name, schema in route.query.items()
    ]
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
        for name in route.headers
    ]
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}{route.path.replace('/', '.')}",
        "tags": [route.path.split("/")[2] if route.path.count("/") > 1 else "api"],
        "summary": route.summary,
        "security": _security(route.auth),
        "responses": {
            **{
                str(status): {
                    "description": "success",
                    **({"content": {media: {"schema": dict(schema)}}} if media else {}),
                }
                for status, (media, schema) in route.responses.items()
            },
            "default": _error("Error", "an error"),
        },
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {media: {"schema": dict(schema)} for media, schema in route.body.items()},
        }
    return operation


def document(bundle: Bundle, *, version: str = "") -> dict[str, Any]:
    """The OpenAPI document of every function `bundle` builds."""
    by_key, defs = bundle.router.schemas()
    schemas: dict[tuple[str, str], Any] = {key: _rebase(v) for key, v in by_key.items()}
    paths: dict[str, dict[str, Any]] = {}
    for procedure in bundle.router:
        method, operation = _procedure(procedure, schemas)
        paths.setdefault(f"{TRPC_BASE}/{procedure.path}", {})[method] = operation
    for endpoint in bundle.webhooks.values():
        paths.setdefault(endpoint.url or endpoint.route, {})["post"] = _webhook(endpoint)
    for feature in bundle.features:
        for route in feature.routes:
            paths.setdefault(route.path, {})[route.method.lower()] = _route(route)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Sockless API",
            "version": version or bundle.migration or "0",
            "description": (
                "Every function of this deployment: tRPC procedures, webhooks, realtime "
                "authorization and history, cron, health. Generated from the enabled features."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**{k: _rebase(v) for k, v in defs.items()}, **error_schemas()},
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cronSecret": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _rebase(schema: Any) -> Any:
    """Router schemas refer to `#/$defs/<Name>`; here they live in components.schemas."""
    if isinstance(schema, dict):
        return {
            key: (
                _ref(value.rsplit("/", 1)[-1])
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/")
                else _rebase(value)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item) for item in schema]
    return schema


def handler(bundle: Bundle) -> Callable[[Request, Services], Awaitable[dict[str, Any]]]:
    """The GET handler of api/openapi.py: the document, built once per cold start."""
    built: dict[str, Any] = {}

    async def serve(request: Request, services: Services) -> dict[str, Any]:
        if not built:
            built.update(document(bundle))
        return built

    return serve
