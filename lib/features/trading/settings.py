"""The trading feature's settings (`services.feature(TradingSettings)`).

    TRADING_TOKEN_KEY   Fernet key(s) encrypting the connections' webhook secrets and broker
                        tokens at rest (comma-separated: the first encrypts, any decrypts)

Without TRADING_TOKEN_KEY, trading.connect answers SERVICE_UNAVAILABLE naming it; nothing
else needs it until a connection exists.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from lib.config import Secret


@dataclass(frozen=True, kw_only=True)
class TradingSettings:
    token_keys: tuple[Secret, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(token_keys=_fernet_keys(env.get("TRADING_TOKEN_KEY", "").strip()))


def _fernet_keys(value: str) -> tuple[Secret, ...]:
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                "TRADING_TOKEN_KEY must be Fernet keys (32 bytes, url-safe base64), "
                "comma-separated: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
    return tuple(Secret(key) for key in keys)
