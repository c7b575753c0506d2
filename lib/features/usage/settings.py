"""UsageSettings: where the bridge's health endpoint is (from BRIDGE_URL, as calls reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit


@dataclass(frozen=True, kw_only=True)
class UsageSettings:
    bridge_health_url: str = ""
    """`http(s)://{BRIDGE_URL host}/health`; blank when BRIDGE_URL is not set."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        bridge = env.get("BRIDGE_URL", "").strip().rstrip("/")
        if not bridge:
            return cls()
        if not bridge.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError(f"BRIDGE_URL={bridge!r}: expected a ws(s):// or http(s):// URL")
        # the bridge serves /health at its root; BRIDGE_URL's path may hold its path secret
        url = urlsplit(bridge)
        scheme = {"wss": "https", "ws": "http"}.get(url.scheme, url.scheme)
        return cls(bridge_health_url=f"{scheme}://{url.netloc}/health")
