"""The bridge's settings: read once from the environment, typed, secrets masked.

The bridge deploys alone (worker/Dockerfile), so it does not import lib/; the variables it
shares with the api functions have the same names (.env.example lists them all).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

VoiceProvider = Literal["signalwire", "twilio"]
ByteOrder = Literal["big", "little"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PATH_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")
"""One URL path segment: what `secrets.token_urlsafe(24)` makes (32 characters)."""


class Secret:
    """A string that never shows itself in logs or reprs; `.get()` reveals it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"


def _secret() -> Secret:
    return Secret("")


@dataclass(frozen=True, kw_only=True)
class BridgeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token_secret: Secret = field(default_factory=_secret)
    path_secret: Secret = field(default_factory=_secret)
    """Streams are accepted only at /<path_secret>/media (BRIDGE_URL = wss://host/<secret>);
    any other path is refused before the WebSocket upgrade. Blank: /media (tests only;
    `load` requires one)."""
    # where calls are read and saved (PostgREST, service role)
    supabase_url: str = "http://127.0.0.1:54321"
    supabase_service_role_key: Secret = field(default_factory=_secret)
    # OpenAI Realtime (GA): a blank key is allowed only for a loopback URL (the local fake)
    openai_api_key: Secret = field(default_factory=_secret)
    openai_realtime_url: str = "wss://api.openai.com/v1/realtime"
    openai_model: str = "gpt-realtime"
    openai_voice: str = "marin"
    openai_transcription_model: str = "gpt-4o-mini-transcribe"
    vad_silence_ms: int = 500
    # summaries: Anthropic if a key is set, else OpenAI text, else a local extractive summary
    anthropic_api_key: Secret = field(default_factory=_secret)
    anthropic_model: str = "claude-haiku-4-5"
    openai_summary_model: str = "gpt-4o-mini"
    openai_api_url: str = "https://api.openai.com"
    anthropic_api_url: str = "https://api.anthropic.com"
    # publishing `call-ended` directly (else the outbox relay cron delivers it)
    realtime_provider: str = "pusher"
    pusher_app_id: str = ""
    pusher_key: str = ""
    pusher_secret: Secret = field(default_factory=_secret)
    pusher_cluster: str = "mt1"
    pusher_host: str | None = None
    pusher_port: int | None = None
    # hanging up through the provider's REST API (else closing the stream ends the call)
    voice_provider: VoiceProvider = "signalwire"
    signalwire_project_id: str = ""
    signalwire_api_token: Secret = field(default_factory=_secret)
    signalwire_space_url: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: Secret = field(default_factory=_secret)
    twilio_api_url: str = "https://api.twilio.com"
    # limits
    max_call_s: float = 600.0
    drain_s: float = 240.0
    """After SIGTERM, active calls continue this long before they are ended politely."""
    shutdown_timeout_s: float = 290.0
    """From SIGTERM to exit, everything saved; below Fly's kill_timeout (300 s)."""
    goodbye_timeout_s: float = 10.0
    start_timeout_s: float = 2.0
    """A socket that sends no valid `start` within this is closed (1008)."""
    l16_byte_order: ByteOrder = "big"
    """Byte order of L16 on the provider's stream: RFC 3551 says network order (big-endian);
    OpenAI's audio/pcm is little-endian, so the bridge swaps both ways. `little` passes L16
    through untouched, for a provider found to send little-endian."""
    max_frame_bytes: int = 65_536
    """Inbound frames over this are dropped and counted; 16x this closes the socket."""
    mark_every_ms: float = 0.0
    """0: a mark after every audio chunk sent to the caller; else one per this much audio."""
    append_ms: float = 20.0
    """Caller audio goes to OpenAI in appends of at least this much (20: every 20 ms frame as
    it comes). More sends fewer, larger appends (a third of the upstream messages at 60) but
    holds the first frame of each append back by up to append_ms - 20 ms, which delays
    OpenAI's VAD, and so barge-in, by as much (docs/calls.md)."""
    save_attempts: int = 6
    # call recordings (worker/recording.py), uploaded to S3-compatible storage at the save
    recordings: bool = True
    """CALL_RECORDINGS=off: nothing is recorded (the call record says so)."""
    storage_s3_endpoint: str = ""
    """Blank: AWS S3 itself; Supabase: https://<ref>.supabase.co/storage/v1/s3."""
    storage_s3_bucket: str = ""
    storage_s3_region: str = "us-east-1"
    storage_s3_access_key_id: str = ""
    storage_s3_secret_access_key: Secret = field(default_factory=_secret)

    def __post_init__(self) -> None:
        if self.path_secret and not PATH_SECRET.fullmatch(self.path_secret.get()):
            raise ValueError(
                "BRIDGE_PATH_SECRET must be 16-128 characters of A-Z a-z 0-9 _ - "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
            )
        if not 0 <= self.append_ms <= 500:
            raise ValueError("BRIDGE_APPEND_MS must be between 0 and 500 (ms of audio)")
        if self.drain_s + self.goodbye_timeout_s >= self.shutdown_timeout_s:
            raise ValueError(
                "BRIDGE_DRAIN_S + BRIDGE_GOODBYE_TIMEOUT_S must stay below "
                "BRIDGE_SHUTDOWN_TIMEOUT_S (time is needed to save the calls)"
            )

    @property
    def media_path(self) -> str:
        """The one path streams are accepted at."""
        secret = self.path_secret.get()
        return f"/{secret}/media" if secret else "/media"

    @property
    def openai_url(self) -> str:
        """The Realtime URL with `?model=` (added unless the URL names one)."""
        url = self.openai_realtime_url
        if "model=" in url:
            return url
        return f"{url}{'&' if '?' in url else '?'}model={self.openai_model}"

    @property
    def openai_is_loopback(self) -> bool:
        return urlsplit(self.openai_realtime_url).hostname in LOOPBACK

    @property
    def publishes_directly(self) -> bool:
        return self.realtime_provider == "pusher" and bool(
            self.pusher_app_id and self.pusher_key and self.pusher_secret
        )

    @property
    def recording_off(self) -> str | None:
        """Why calls are not recorded, or None when they are."""
        if not self.recordings:
            return "recordings are off (CALL_RECORDINGS=off)"
        if not self.storage_s3_bucket:
            return "no storage configured (STORAGE_S3_BUCKET)"
        return None

    def with_overrides(self, **changes: object) -> BridgeConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


def load(env: Mapping[str, str] | None = None) -> BridgeConfig:
    """Settings from `env` (default os.environ); ValueError names a bad variable."""
    source = os.environ if env is None else env

    def get(name: str, default: str = "") -> str:
        return source.get(name, default).strip() or default

    def number(name: str, default: float) -> float:
        value = get(name)
        try:
            return float(value) if value else default
        except ValueError as exc:
            raise ValueError(f"{name}={value!r} is not a number") from exc

    def switch(name: str) -> bool:
        value = get(name, "on").lower()
        if value not in ("on", "off"):
            raise ValueError(f"{name}={value!r}: expected on or off")
        return value == "on"

    provider = get("VOICE_PROVIDER", "signalwire")
    if provider not in ("signalwire", "twilio"):
        raise ValueError(f"VOICE_PROVIDER={provider!r}: expected signalwire or twilio")
    port = get("PUSHER_PORT")
    byte_order = get("BRIDGE_L16_BYTE_ORDER", "big")
    if byte_order not in ("big", "little"):
        raise ValueError(f"BRIDGE_L16_BYTE_ORDER={byte_order!r}: expected big or little")
    # one value can serve both sides: BRIDGE_URL=wss://host/<secret> (the api streams to
    # $BRIDGE_URL/media) gives the bridge its secret when BRIDGE_PATH_SECRET is not set
    public_path = urlsplit(get("BRIDGE_URL")).path.strip("/")
    path_secret = get("BRIDGE_PATH_SECRET") or public_path
    if public_path and public_path != path_secret:
        raise ValueError(
            "BRIDGE_URL's path must be /$BRIDGE_PATH_SECRET (the api streams calls to "
            "$BRIDGE_URL/media and the bridge accepts them only at /$BRIDGE_PATH_SECRET/media)"
        )
    config = BridgeConfig(
        host=get("BRIDGE_HOST", "127.0.0.1"),
        port=int(number("BRIDGE_PORT", 8080)),
        token_secret=Secret(get("BRIDGE_TOKEN_SECRET")),
        path_secret=Secret(path_secret),
        supabase_url=get("SUPABASE_URL", "http://127.0.0.1:54321").rstrip("/"),
        supabase_service_role_key=Secret(get("SUPABASE_SERVICE_ROLE_KEY")),
        openai_api_key=Secret(get("OPENAI_API_KEY")),
        openai_realtime_url=get("OPENAI_REALTIME_URL", "wss://api.openai.com/v1/realtime"),
        openai_model=get("OPENAI_REALTIME_MODEL", "gpt-realtime"),
        openai_voice=get("OPENAI_VOICE", "marin"),
        openai_transcription_model=get("OPENAI_TRANSCRIPTION_MODEL", "gpt-4o-mini-transcribe"),
        vad_silence_ms=int(number("BRIDGE_VAD_SILENCE_MS", 500)),
        anthropic_api_key=Secret(get("ANTHROPIC_API_KEY")),
        anthropic_model=get("ANTHROPIC_SUMMARY_MODEL", "claude-haiku-4-5"),
        openai_summary_model=get("OPENAI_SUMMARY_MODEL", "gpt-4o-mini"),
        realtime_provider=get("REALTIME_PROVIDER", "pusher"),
        pusher_app_id=get("PUSHER_APP_ID"),
        pusher_key=get("PUSHER_KEY"),
        pusher_secret=Secret(get("PUSHER_SECRET")),
        pusher_cluster=get("PUSHER_CLUSTER", "mt1"),
        pusher_host=get("PUSHER_HOST") or None,
        pusher_port=int(port) if port else None,
        voice_provider=provider,  # type: ignore[arg-type]
        signalwire_project_id=get("SIGNALWIRE_PROJECT_ID"),
        signalwire_api_token=Secret(get("SIGNALWIRE_API_TOKEN")),
        signalwire_space_url=get("SIGNALWIRE_SPACE_URL").rstrip("/"),
        twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=Secret(get("TWILIO_AUTH_TOKEN")),
        twilio_api_url=get("TWILIO_API_URL", "https://api.twilio.com").rstrip("/"),
        max_call_s=number("CALL_MAX_DURATION_S", 600),
        drain_s=number("BRIDGE_DRAIN_S", 240),
        shutdown_timeout_s=number("BRIDGE_SHUTDOWN_TIMEOUT_S", 290),
        goodbye_timeout_s=number("BRIDGE_GOODBYE_TIMEOUT_S", 10),
        start_timeout_s=number("BRIDGE_START_TIMEOUT_S", 2),
        l16_byte_order=byte_order,  # type: ignore[arg-type]
        max_frame_bytes=int(number("BRIDGE_MAX_FRAME_BYTES", 65_536)),
        mark_every_ms=number("BRIDGE_MARK_EVERY_MS", 0),
        recordings=switch("CALL_RECORDINGS"),
        storage_s3_endpoint=get("STORAGE_S3_ENDPOINT").rstrip("/"),
        storage_s3_bucket=get("STORAGE_S3_BUCKET"),
        storage_s3_region=get("STORAGE_S3_REGION", "us-east-1"),
        storage_s3_access_key_id=get("STORAGE_S3_ACCESS_KEY_ID"),
        storage_s3_secret_access_key=Secret(get("STORAGE_S3_SECRET_ACCESS_KEY")),
        append_ms=number("BRIDGE_APPEND_MS", 20),
    )
    if not config.token_secret:
        raise ValueError("BRIDGE_TOKEN_SECRET is required (the api mints stream tokens with it)")
    if not config.path_secret:
        raise ValueError(
            "BRIDGE_PATH_SECRET (or a BRIDGE_URL ending in /<secret>) is required: streams are "
            "accepted only at /<secret>/media, and the api's BRIDGE_URL ends with /<secret>"
        )
    if not config.openai_api_key and not config.openai_is_loopback:
        raise ValueError("OPENAI_API_KEY is required unless OPENAI_REALTIME_URL is loopback")
    return config
