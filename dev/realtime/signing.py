"""Pusher's signatures, computed and checked. Pure functions, no I/O.

- channel auth:  `key:hex(HMAC-SHA256(secret, "socket_id:channel[:channel_data]"))`
- user sign-in:  `key:hex(HMAC-SHA256(secret, "socket_id::user::" + user_data))`
- HTTP API:      `auth_signature = hex(HMAC-SHA256(secret, "METHOD\\nPATH\\nsorted k=v&…"))`
- webhooks:      `X-Pusher-Signature = hex(HMAC-SHA256(secret, raw body))`

Every comparison goes through `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def hmac_hex(secret: str, message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def channel_string(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    base = f"{socket_id}:{channel}"
    return base if channel_data is None else f"{base}:{channel_data}"


def signin_string(socket_id: str, user_data: str) -> str:
    return f"{socket_id}::user::{user_data}"


def sign_auth(*, key: str, secret: str, string_to_sign: str) -> str:
    """The `auth` value a client sends: `key:signature`."""
    return f"{key}:{hmac_hex(secret, string_to_sign)}"


def auth_matches(*, key: str, secret: str, string_to_sign: str, auth: object) -> bool:
    """Whether a client-supplied `auth` is `key:HMAC(secret, string_to_sign)`."""
    if not isinstance(auth, str):
        return False
    given_key, _, signature = auth.partition(":")
    expected = hmac_hex(secret, string_to_sign)
    key_ok = hmac.compare_digest(given_key.encode(), key.encode())
    return hmac.compare_digest(signature.encode(), expected.encode()) and key_ok


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac_hex(secret, body)


def request_string(method: str, path: str, params: Mapping[str, str]) -> str:
    """What an HTTP API request signs: method, path and every query parameter except
    `auth_signature`, keys lower-cased and sorted, values not URL-encoded."""
    pairs = sorted((k.lower(), v) for k, v in params.items() if k.lower() != "auth_signature")
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{method.upper()}\n{path}\n{query}"


def sign_request(
    *,
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
    timestamp: int,
) -> dict[str, str]:
    """Query parameters for a signed HTTP API request, signed the way the official SDK signs."""
    signed = {
        **params,
        "auth_key": key,
        "auth_timestamp": str(timestamp),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),  # noqa: S324 - Pusher's protocol, not security
    }
    signed["auth_signature"] = hmac_hex(secret, request_string(method, path, signed))
    return signed


def request_problem(
    *,
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int,
) -> str | None:
    """Why an HTTP API request is not authenticated (the 401 reason), or None if it is."""
    if params.get("auth_key") is None:
        return "Missing auth_key"
    if not hmac.compare_digest(params["auth_key"].encode(), key.encode()):
        return "Unknown auth_key"
    raw_timestamp = params.get("auth_timestamp", "")
    if not raw_timestamp.isdigit():
        return "Missing or malformed auth_timestamp"
    if abs(now - int(raw_timestamp)) > tolerance:
        return (
            f"Timestamp expired: given timestamp ({raw_timestamp}) is not within "
            f"{tolerance}s of server time ({int(now)})"
        )
    if params.get("auth_version") != "1.0":
        return "Unsupported auth_version (expected 1.0)"
    given_md5 = params.get("body_md5")
    if body and given_md5 is None:
        return "Missing body_md5 (required for a request with a body)"
    if given_md5 is not None:
        actual_md5 = hashlib.md5(body).hexdigest()  # noqa: S324 - Pusher's protocol
        if not hmac.compare_digest(given_md5.encode(), actual_md5.encode()):
            return "Invalid body_md5: it does not match the MD5 of the request body"
    signature = params.get("auth_signature")
    if signature is None:
        return "Missing auth_signature"
    string_to_sign = request_string(method, path, params)
    if not hmac.compare_digest(signature.encode(), hmac_hex(secret, string_to_sign).encode()):
        return f"Invalid signature: you should have sent HmacSHA256Hex({string_to_sign!r}, secret)"
    return None
