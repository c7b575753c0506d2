"""Connection secrets at rest: webhook secrets and broker tokens are Fernet ciphertext under
TRADING_TOKEN_KEY (MultiFernet: the first key encrypts, any listed key decrypts, so keys rotate
by adding the new one first). The database, its backups and PostgREST never see one in the
clear; none is logged, put in an error, or returned after trading.connect."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lib.config import Secret
from lib.errors import ServiceUnavailable
from lib.features.trading.settings import TradingSettings

if TYPE_CHECKING:
    from lib.services import Services

WEBHOOK_SECRET_BYTES = 32


class SecretBox:
    """Encrypt and decrypt connection secrets with TRADING_TOKEN_KEY."""

    def __init__(self, keys: tuple[Secret, ...]) -> None:
        if not keys:
            raise ServiceUnavailable(
                "broker connections need TRADING_TOKEN_KEY (docs/trading.md, Settings)"
            )
        self._fernet = MultiFernet([Fernet(key.get().encode()) for key in keys])

    @classmethod
    def of(cls, services: Services) -> SecretBox:
        return cls(services.feature(TradingSettings).token_keys)

    def seal(self, value: Secret) -> str:
        return self._fernet.encrypt(value.get().encode()).decode()

    def open(self, sealed: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken as exc:
            raise ServiceUnavailable(
                "a stored broker secret does not decrypt with TRADING_TOKEN_KEY (was the key "
                "replaced instead of rotated?): reconnect the broker"
            ) from exc


def new_webhook_secret() -> Secret:
    """A fresh per-connection webhook secret (shown to its owner once)."""
    return Secret("whsec_" + secrets.token_urlsafe(WEBHOOK_SECRET_BYTES))
