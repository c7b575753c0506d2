"""The trading feature's settings (`services.feature(TradingSettings)`).

    TRADING_TOKEN_KEY         Fernet key(s) encrypting the connections' webhook secrets and
                              broker tokens at rest (comma-separated: the first encrypts, any
                              decrypts)
    ALPACA_API_URL            Alpaca's trading API (blank: https://paper-api.alpaca.markets)
    TRADOVATE_API_URL         Tradovate's API (blank: https://demo.tradovateapi.com/v1)
    TRADING_POSITIONS_TTL_S   how long a sync's positions and orders are served from the cache
                              (10)
    TRADING_BALANCES_TTL_S    the same for balances (300)
    TRADING_SYNC_LIMIT        trading.sync calls per user per minute (60); past it 429 +
                              Retry-After
    TRADING_FILLS_RETENTION_DAYS  fills older than this (by execution time) are deleted by the
                              weekly cleanup-old-logs cron (90)

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

DEFAULT_ALPACA_URL = "https://paper-api.alpaca.markets"
DEFAULT_TRADOVATE_URL = "https://demo.tradovateapi.com/v1"


@dataclass(frozen=True, kw_only=True)
class TradingSettings:
    token_keys: tuple[Secret, ...] = ()
    alpaca_url: str = DEFAULT_ALPACA_URL
    tradovate_url: str = DEFAULT_TRADOVATE_URL
    positions_ttl_s: int = 10
    balances_ttl_s: int = 300
    sync_limit: int = 60
    fills_retention_days: int = 90

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        def get(name: str) -> str:
            return env.get(name, "").strip()

        return cls(
            token_keys=_fernet_keys(get("TRADING_TOKEN_KEY")),
            alpaca_url=(get("ALPACA_API_URL") or DEFAULT_ALPACA_URL).rstrip("/"),
            tradovate_url=(get("TRADOVATE_API_URL") or DEFAULT_TRADOVATE_URL).rstrip("/"),
            positions_ttl_s=_seconds(get("TRADING_POSITIONS_TTL_S"), 10, "TRADING_POSITIONS_TTL_S"),
            balances_ttl_s=_seconds(get("TRADING_BALANCES_TTL_S"), 300, "TRADING_BALANCES_TTL_S"),
            sync_limit=_seconds(get("TRADING_SYNC_LIMIT"), 60, "TRADING_SYNC_LIMIT"),
            fills_retention_days=_days(get("TRADING_FILLS_RETENTION_DAYS"), 90),
        )


def _seconds(value: str, default: int, name: str) -> int:
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 86_400:
        raise ValueError(f"{name} must be a whole number from 1 to 86400")
    return int(value)


def _days(value: str, default: int) -> int:
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 36_500:
        raise ValueError("TRADING_FILLS_RETENTION_DAYS must be a whole number from 1 to 36500")
    return int(value)


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
