"""What a webhook verifier is given and what it returns (the `Verifier` port).

    Delivery   the raw request as the provider sent it: body bytes, headers, the public URL it
               called (PUBLIC_BASE_URL + path + query: the form scheme signs it), the time now
    Verified   the parsed payload, the provider's event id (None when it has none: ingest then
               dedupes on a SHA-256 of the body) and the event type ('' when it has none)

A verifier is built with its keys and checks one delivery. It raises `Unauthorized` (401, the
message says what was wrong: missing header, bad signature, stale timestamp) when the delivery
is not the provider's, and `BadRequest` (400) when a correctly signed body cannot be parsed.
It does no I/O: keys are handed in, the clock is `Delivery.now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    body: bytes
    headers: Mapping[str, str]
    """Case-insensitive (starlette `Headers`), or lowercase keys."""
    url: str = ""
    now: float = 0.0
    """Unix seconds."""


@dataclass(frozen=True, slots=True)
class Verified:
    payload: Any
    event_id: str | None
    event_type: str


class Verifier(Protocol):
    def verify(self, delivery: Delivery) -> Verified: ...
