"""tRPC error codes: name -> (JSON-RPC 2.0 code, HTTP status), as @trpc/server 11.25 defines them
(`TRPC_ERROR_CODES_BY_KEY`, `JSONRPC2_TO_HTTP_CODE`). The official client rejects an error whose
`code` is not a number, so every SocklessError is answered with a code from this table; a code
name the table does not know is answered as INTERNAL_SERVER_ERROR.

PAYMENT_REQUIRED, UNSUPPORTED_MEDIA_TYPE, PRECONDITION_REQUIRED and the 502..504 codes are v11
additions; a v10 client still reads them (it only needs a numeric code).
"""

from __future__ import annotations

from typing import Final

CODES: Final[dict[str, tuple[int, int]]] = {
    "PARSE_ERROR": (-32700, 400),
    "BAD_REQUEST": (-32600, 400),
    "UNAUTHORIZED": (-32001, 401),
    "PAYMENT_REQUIRED": (-32002, 402),
    "FORBIDDEN": (-32003, 403),
    "NOT_FOUND": (-32004, 404),
    "METHOD_NOT_SUPPORTED": (-32005, 405),
    "TIMEOUT": (-32008, 408),
    "CONFLICT": (-32009, 409),
    "PRECONDITION_FAILED": (-32012, 412),
    "PAYLOAD_TOO_LARGE": (-32013, 413),
    "UNSUPPORTED_MEDIA_TYPE": (-32015, 415),
    "UNPROCESSABLE_CONTENT": (-32022, 422),
    "PRECONDITION_REQUIRED": (-32028, 428),
    "TOO_MANY_REQUESTS": (-32029, 429),
    "CLIENT_CLOSED_REQUEST": (-32099, 499),
    "INTERNAL_SERVER_ERROR": (-32603, 500),
    "NOT_IMPLEMENTED": (-32603, 501),
    "BAD_GATEWAY": (-32603, 502),
    "SERVICE_UNAVAILABLE": (-32603, 503),
    "GATEWAY_TIMEOUT": (-32603, 504),
}

INTERNAL: Final = "INTERNAL_SERVER_ERROR"


def known(code: str) -> str:
    """`code` if tRPC defines it, else INTERNAL_SERVER_ERROR."""
    return code if code in CODES else INTERNAL


def jsonrpc_code(code: str) -> int:
    return CODES[known(code)][0]


def http_status(code: str) -> int:
    return CODES[known(code)][1]
