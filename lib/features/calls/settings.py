"""The calls feature's settings (`services.feature(CallsSettings)`), read from the environment.

Provider credentials (SIGNALWIRE_*, TWILIO_*, VOICE_PROVIDER) are core settings: the notifier
and the bridge use them too. What only calls need lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Self

from lib.config import Secret, choice

VoiceCodec = Literal["pcmu", "l16"]


@dataclass(frozen=True, kw_only=True)
class CallsSettings:
    voice_from_number: str = ""
    """The default caller id of calls.start (VOICE_FROM_NUMBER)."""
    voice_stream_codec: VoiceCodec = "pcmu"
    bridge_url: str = "ws://127.0.0.1:8080"
    bridge_token_secret: Secret = field(default_factory=lambda: Secret(""))
    bridge_token_ttl_s: int = 120

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
        )
