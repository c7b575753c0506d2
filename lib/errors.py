"""One error hierarchy, mapped once at the edge (lib.web, later the tRPC layer).

    SocklessError                 500 INTERNAL_SERVER_ERROR
    ├── BadRequest                400 BAD_REQUEST
    │   ├── InvalidInput          400 BAD_REQUEST         (issues: field path -> message)
    │   ├── PayloadTooLarge       413 PAYLOAD_TOO_LARGE
    │   └── UnsupportedMediaType  415 UNSUPPORTED_MEDIA_TYPE
    ├── Unauthorized              401 UNAUTHORIZED
    ├── PaymentRequired           402 PAYMENT_REQUIRED
    ├── Forbidden                 403 FORBIDDEN
    ├── NotFound                  404 NOT_FOUND
    ├── MethodNotAllowed          405 METHOD_NOT_SUPPORTED
    ├── Timeout                   408 TIMEOUT
    ├── Conflict                  409 CONFLICT
    ├── PreconditionFailed        412 PRECONDITION_FAILED
    ├── UnprocessableContent      422 UNPROCESSABLE_CONTENT
    ├── TooManyRequests           429 TOO_MANY_REQUESTS   (retry_after seconds)
    ├── Unimplemented             501 NOT_IMPLEMENTED
    ├── ServiceUnavailable        503 SERVICE_UNAVAILABLE (retry_after seconds)
    │   └── DatabaseUnavailable   the database is unreachable, busy or not migrated
    └── ConfigurationError        500 INTERNAL_SERVER_ERROR (the environment is refused at
                                  startup; names the variable and the rule it breaks)

Each error carries a stable machine `code` (the tRPC code name), an HTTP status and a
message that is safe to show a client. Foreign exceptions are wrapped with `raise ... from exc`.
Expected errors never carry a stack trace, not even in development (`shows_trace`): every
client error (4xx: the message says what to fix), and ConfigurationError (its message says
everything). Only unexpected server errors show one in development.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

EXPECTED_STATUSES = frozenset(range(400, 500))
"""Client errors (401, 403, 404, 409, 412, 429, but also 400, 413, 415, 422, ...)."""
"""Outcomes a correct deployment answers every day: no stack trace in any environment."""


class SocklessError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    expected: ClassVar[bool] = False
    """True: never answered with a stack trace (see `shows_trace`)."""

    def __init__(
        self,
        message: str = "internal error",
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after


class BadRequest(SocklessError):
    status = 400
    code = "BAD_REQUEST"


class InvalidInput(BadRequest):
    """Input that failed validation. `issues` are (path, message) pairs; a path is the keys and
    indexes leading to the offending value, `()` for the input as a whole."""

    def __init__(
        self,
        message: str = "invalid input",
        *,
        issues: Sequence[tuple[tuple[str | int, ...], str]] = (),
    ) -> None:
        super().__init__(message)
        self.issues = list(issues)


class PayloadTooLarge(BadRequest):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unauthorized(SocklessError):
    status = 401
    code = "UNAUTHORIZED"


class PaymentRequired(SocklessError):
    status = 402
    code = "PAYMENT_REQUIRED"


class Forbidden(SocklessError):
    status = 403
    code = "FORBIDDEN"


class NotFound(SocklessError):
    status = 404
    code = "NOT_FOUND"


class MethodNotAllowed(SocklessError):
    status = 405
    code = "METHOD_NOT_SUPPORTED"


class Timeout(SocklessError):
    status = 408
    code = "TIMEOUT"


class Conflict(SocklessError):
    status = 409
    code = "CONFLICT"


class PreconditionFailed(SocklessError):
    status = 412
    code = "PRECONDITION_FAILED"


class UnprocessableContent(SocklessError):
    status = 422
    code = "UNPROCESSABLE_CONTENT"


class TooManyRequests(SocklessError):
    status = 429
    code = "TOO_MANY_REQUESTS"


class Unimplemented(SocklessError):
    status = 501
    code = "NOT_IMPLEMENTED"


class ServiceUnavailable(SocklessError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class DatabaseUnavailable(ServiceUnavailable):
    """The database (PostgREST) is unreachable, busy, or its schema is not migrated."""


class ConfigurationError(SocklessError):
    """The environment is refused at startup (a bad value, or a production rule broken).
    The message names each variable and its rule; it is answered without a stack trace."""

    expected = True


def shows_trace(error: SocklessError) -> bool:
    """May a development response carry this error's stack trace?"""
    return not error.expected and error.status not in EXPECTED_STATUSES
