"""The calls feature's settings (`services.feature(CallsSettings)`), read from the environment.

Provider credentials (SIGNALWIRE_*, TWILIO_*, VOICE_PROVIDER) are core settings: the notifier
and the bridge use them too. What only calls need lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Self

from lib.config import Secret, choice
from lib.features.calls.destinations import (
    DEFAULT_BLOCKED_PREFIXES,
    DestinationPolicy,
    country_codes,
    prefixes,
)

VoiceCodec = Literal["pcmu", "l16"]


@dataclass(frozen=True, kw_only=True)
class CallsSettings:
    voice_from_number: str = ""
    """The default caller id of calls.start (VOICE_FROM_NUMBER)."""
    voice_stream_codec: VoiceCodec = "pcmu"
    bridge_url: str = "ws://127.0.0.1:8080"
    bridge_token_secret: Secret = field(default_factory=lambda: Secret(""))
    bridge_token_ttl_s: int = 120
    destinations: DestinationPolicy = field(default_factory=DestinationPolicy)
    """What calls.start may dial: CALLS_ALLOWED_COUNTRY_CODES (default 1) and
    CALLS_BLOCKED_PREFIXES (default NANP premium and +1 international ranges)."""
    daily_limit: int = 50
    """Outbound calls per owner per 24 hours (CALLS_DAILY_LIMIT), counted in SQL."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        return cls(
            voice_from_number=get("VOICE_FROM_NUMBER"),
            voice_stream_codec=choice(
                get("VOICE_STREAM_CODEC", "pcmu"), ("pcmu", "l16"), "VOICE_STREAM_CODEC"
            ),
            bridge_url=get("BRIDGE_URL", "ws://127.0.0.1:8080").rstrip("/"),
            bridge_token_secret=Secret(get("BRIDGE_TOKEN_SECRET")),
            bridge_token_ttl_s=int(get("BRIDGE_TOKEN_TTL_S") or 120),
            destinations=DestinationPolicy(
                allowed_country_codes=country_codes(
                    get("CALLS_ALLOWED_COUNTRY_CODES") or "1", "CALLS_ALLOWED_COUNTRY_CODES"
                ),
                blocked_prefixes=prefixes(get("CALLS_BLOCKED_PREFIXES"), "CALLS_BLOCKED_PREFIXES")
                or DEFAULT_BLOCKED_PREFIXES,
            ),
            daily_limit=_non_negative(get("CALLS_DAILY_LIMIT") or "50", "CALLS_DAILY_LIMIT"),
        )


def _non_negative(value: str, name: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{name}={value!r}: expected a whole number, 0 or more")
    return int(value)
