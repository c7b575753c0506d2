"""One error hierarchy, mapped once at the edge (lib.web, later the tRPC layer).

    SocklessError                 500 INTERNAL_SERVER_ERROR
    ├── BadRequest                400 BAD_REQUEST
    │   └── PayloadTooLarge       413 PAYLOAD_TOO_LARGE
    ├── Unauthorized              401 UNAUTHORIZED
    ├── PaymentRequired           402 PAYMENT_REQUIRED
    ├── Forbidden                 403 FORBIDDEN
    ├── NotFound                  404 NOT_FOUND
    ├── MethodNotAllowed          405 METHOD_NOT_SUPPORTED
    ├── Conflict                  409 CONFLICT
    ├── TooManyRequests           429 TOO_MANY_REQUESTS   (retry_after seconds)
    └── ServiceUnavailable        503 SERVICE_UNAVAILABLE (retry_after seconds)

Each error carries a stable machine `code` (the tRPC code name), an HTTP status and a
message that is safe to show a client. Foreign exceptions are wrapped with `raise ... from exc`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SocklessError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

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


class PayloadTooLarge(BadRequest):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


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


class Conflict(SocklessError):
    status = 409
    code = "CONFLICT"


class TooManyRequests(SocklessError):
    status = 429
    code = "TOO_MANY_REQUESTS"


class ServiceUnavailable(SocklessError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
