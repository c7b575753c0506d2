"""The tRPC HTTP wire as pure functions: inputs in, envelopes and status out (no I/O).

Inputs. A query sends `?input=<JSON>`, a mutation a JSON body; either is absent when the input
is undefined. A batch (`?batch=1`) sends an object keyed "0", "1", ... by call index (an
undefined input is simply missing). JSON that does not parse, or a batch input that is not an
object, is a per-call BAD_REQUEST (as tRPC v11 does; v10 said PARSE_ERROR), not a
request-level error.

Envelopes. Success `{"result": {"data": X}}`; error
`{"error": {"message", "code": <JSON-RPC int>, "data": {"code", "httpStatus", "path"?,
"stack"?, ...}}}`. Sockless adds to `data`, only when they apply:
- `zodError: {"formErrors": [...], "fieldErrors": {"<dotted.path>": [...]}}` for InvalidInput
  (the shape create-t3-app's error formatter gives zod errors, so `error.data.zodError` works
  in existing front ends; nested fields are keyed by their full dotted path, e.g. `tags.0.name`);
- `retryAfter: <seconds>` for TOO_MANY_REQUESTS / SERVICE_UNAVAILABLE (the HTTP header is also
  set, but a browser client only sees `data`);
- `details` when an error carries them.
`stack` is sent only in development, and never for an expected error (lib.errors.shows_trace:
401/403/404/409/412/429, a refused configuration). The HTTP status of a response is its
calls' status when they agree, else 207.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.errors import BadRequest, InvalidInput, SocklessError, shows_trace
from lib.rpc import codes, superjson

BATCH_INPUT_NOT_OBJECT = '"input" needs to be an object when doing a batch call'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str) -> Any:
    """Strict JSON (no NaN/Infinity, which JSON.parse rejects too)."""
    return json.loads(text, parse_constant=_reject_constant)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass
class Inputs:
    """The raw inputs of one request's calls, parsed once."""

    values: dict[int, Any] = field(default_factory=dict)
    error: SocklessError | None = None
    superjson: bool = False

    def get(self, index: int) -> Any:
        """The input of call `index` (None when undefined); raises the parse error if any."""
        if self.error is not None:
            raise type(self.error)(self.error.message)
        return self.values.get(index)


def parse_inputs(text: str | None, *, batch: bool, count: int) -> Inputs:
    if not text:
        return Inputs()
    try:
        decoded = loads(text)
    except (ValueError, RecursionError) as exc:
        return Inputs(error=BadRequest(f"input is not valid JSON: {_reason(exc)}"))
    if not batch:
        values = {0: decoded}
    elif not isinstance(decoded, dict):
        return Inputs(error=BadRequest(BATCH_INPUT_NOT_OBJECT))
    else:
        values = {i: decoded[str(i)] for i in range(count) if str(i) in decoded}
    if not any(superjson.is_envelope(v) for v in values.values()):
        return Inputs(values=values)
    return Inputs(
        values={
            i: superjson.deserialize(v) if superjson.is_envelope(v) else v
            for i, v in values.items()
        },
        superjson=True,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def field_errors(error: InvalidInput) -> dict[str, Any]:
    form: list[str] = []
    fields: dict[str, list[str]] = {}
    for path, message in error.issues:
        if path:
            fields.setdefault(".".join(str(part) for part in path), []).append(message)
        else:
            form.append(message)
    return {"formErrors": form, "fieldErrors": fields}


def stack_of(error: BaseException) -> str | None:
    if error.__traceback__ is None and error.__cause__ is None:
        return None
    return "".join(traceback.format_exception(error))


def error_shape(error: SocklessError, *, path: str | None, debug: bool) -> dict[str, Any]:
    code = codes.known(error.code)
    data: dict[str, Any] = {"code": code, "httpStatus": codes.http_status(code)}
    if isinstance(error, InvalidInput):
        data["zodError"] = field_errors(error)
    if error.retry_after is not None:
        data["retryAfter"] = error.retry_after
    if error.details:
        data["details"] = error.details
    if debug and shows_trace(error):
        stack = stack_of(error)
        if stack:
            data["stack"] = stack
    if path is not None:
        data["path"] = path
    return {"message": error.message, "code": codes.jsonrpc_code(code), "data": data}


def result_item(data: Any, *, transform: bool) -> dict[str, Any]:
    return {"result": {"data": superjson.wrap(data) if transform else data}}


def error_item(shape: dict[str, Any], *, transform: bool | None) -> dict[str, Any]:
    """`transform` None = the client's transformer is unknown (the request failed before its
    input was read): the shape is sent both plain and inside `json`, which a plain client and
    superjson's `deserialize` (it reads only `json` and `meta`) both accept."""
    if transform is None:
        return {"error": {**shape, "json": shape}}
    return {"error": superjson.wrap(shape) if transform else shape}


def status_of(statuses: Sequence[int]) -> int:
    distinct = set(statuses)
    return distinct.pop() if len(distinct) == 1 else 207
