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
from lib.features.calls.storage import StorageSettings

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
    storage: StorageSettings = field(default_factory=StorageSettings)
    """Where the bridge uploads recordings (STORAGE_S3_*; lib.features.calls.storage)."""
    recording_retention_days: int = 90
    """RECORDING_RETENTION_DAYS: the recording-retention job deletes older ones; 0 keeps them."""
    recording_url_ttl_s: int = 300
    """RECORDING_URL_TTL_S: how long a calls.recording link works (1 s .. 7 days)."""

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
            storage=StorageSettings(
                endpoint=get("STORAGE_S3_ENDPOINT").rstrip("/"),
                bucket=get("STORAGE_S3_BUCKET"),
                region=get("STORAGE_S3_REGION") or "us-east-1",
                access_key_id=get("STORAGE_S3_ACCESS_KEY_ID"),
                secret_access_key=Secret(get("STORAGE_S3_SECRET_ACCESS_KEY")),
            ),
            recording_retention_days=_non_negative(
                get("RECORDING_RETENTION_DAYS") or "90", "RECORDING_RETENTION_DAYS"
            ),
            recording_url_ttl_s=_url_ttl(get("RECORDING_URL_TTL_S") or "300"),
        )


def _url_ttl(value: str) -> int:
    ttl = _non_negative(value, "RECORDING_URL_TTL_S")
    if not 1 <= ttl <= 7 * 24 * 3600:  # SigV4 presigned URLs live at most 7 days
        raise ValueError(f"RECORDING_URL_TTL_S={value!r}: expected 1 to 604800 seconds")
    return ttl


def _non_negative(value: str, name: str) -> int:
    if not value.isdigit():
        raise ValueError(f"{name}={value!r}: expected a whole number, 0 or more")
    return int(value)
