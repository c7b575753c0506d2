"""Checks every verifier shares: reading a signature header, the replay window, the JSON body.

Header names are passed lowercase: `Delivery.headers` is case-insensitive or lowercase-keyed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lib.errors import BadRequest, Unauthorized


def header(headers: Mapping[str, str], name: str, *, label: str | None = None) -> str:
    """The header's value without surrounding blanks; Unauthorized when it is absent or blank.
    `label` is how the message names it (default: `name`)."""
    value = (headers.get(name) or "").strip()
    if not value:
        raise Unauthorized(f"the {label or name} header is missing")
    return value


def within(timestamp: float, *, now: float, tolerance_s: float, label: str) -> None:
    """Unauthorized unless `timestamp` (Unix seconds) is at most `tolerance_s` from `now`, in
    either direction: older is a replay, newer is a clock we cannot trust."""
    if timestamp < now - tolerance_s:
        raise Unauthorized(f"stale webhook: {label} is more than {tolerance_s:g} s in the past")
    if timestamp > now + tolerance_s:
        raise Unauthorized(f"{label} is more than {tolerance_s:g} s in the future")


def json_object(body: bytes, *, provider: str) -> dict[str, Any]:
    """The signed body parsed as a JSON object; BadRequest when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the {provider} webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest(f"the {provider} webhook body is not a JSON object")
    return payload
