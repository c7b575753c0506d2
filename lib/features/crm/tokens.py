"""The locations' HighLevel OAuth tokens: connected, encrypted at rest, refreshed before expiry.

    connect(services, code)           the OAuth callback: exchange the code, store the grant
    access_token(services, location)  a live access token (refreshed first when it expires
                                      within EARLY_S), for a HighLevel API call
    refresh_due(services)             the `crm-token-refresh` cron: refresh every token that
                                      expires within CRON_WINDOW_S

Tokens are Fernet ciphertext in `crm_oauth_tokens` (migration 20261130600000) under
CRM_TOKEN_KEY (MultiFernet: the first key encrypts, any listed key decrypts, so keys rotate by
adding the new one first). The database, its backups and PostgREST never see a token in the
clear; no token is logged, put in an error or returned by any endpoint.

HighLevel rotates the refresh token on every refresh, so two concurrent refreshes of one
location would strand one of them: only the holder of the row's lease (crm_token_claim,
crm_tokens_due) refreshes; a caller that finds the lease taken waits for the new token.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lib.config import Secret
from lib.errors import (
    PreconditionFailed,
    ServiceUnavailable,
    SocklessError,
    UnprocessableContent,
)
from lib.features.crm.highlevel import Grant, HighLevelApi
from lib.features.crm.settings import CrmSettings

if TYPE_CHECKING:
    from lib.services import Services

log = logging.getLogger("sockless.crm")

EARLY_S = 300
"""An access token expiring within this is refreshed before a call."""
CRON_WINDOW_S = 3 * 3600
"""The cron (hourly) refreshes tokens expiring within this."""
CRON_BATCH = 50
LEASE_S = 30
WAIT_S = 5.0
"""How long a caller waits for another caller's refresh of the same location."""


class TokenBox:
    """Encrypt and decrypt tokens with CRM_TOKEN_KEY."""

    def __init__(self, keys: tuple[Secret, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key.get().encode()) for key in keys])

    def seal(self, token: Secret) -> str:
        return self._fernet.encrypt(token.get().encode()).decode()

    def open(self, sealed: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken as exc:
            raise ServiceUnavailable(
                "a stored HighLevel token does not decrypt with CRM_TOKEN_KEY (was the key "
                "replaced instead of rotated?): reconnect the location"
            ) from exc


def configured(services: Services) -> tuple[CrmSettings, HighLevelApi, TokenBox]:
    settings = services.feature(CrmSettings)
    missing = settings.missing_for_sending()
    if missing:
        raise ServiceUnavailable(
            "HighLevel API calls need " + ", ".join(missing) + " (docs/crm.md, Settings)"
        )
    api = HighLevelApi(
        base_url=settings.api_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        http=services.http,
    )
    return settings, api, TokenBox(settings.token_keys)


async def _store(services: Services, box: TokenBox, location: str, grant: Grant) -> Any:
    expires_at = services.now() + timedelta(seconds=max(grant.expires_in, 0))
    return await services.db.rpc(
        "crm_token_store",
        p_location=location,
        p_access=box.seal(grant.access_token),
        p_refresh=box.seal(grant.refresh_token),
        p_expires_at=expires_at.isoformat(),
        p_scope=grant.scope,
        p_company=grant.company_id,
        p_user=grant.user_id,
    )


async def connect(services: Services, code: str) -> dict[str, Any]:
    """Exchange an OAuth authorization code; store the location's tokens. {locationId,
    connected (new), expiresAt}."""
    _, api, box = configured(services)
    grant = await api.exchange_code(code)
    if grant.location_id is None:
        raise UnprocessableContent(
            "HighLevel granted a Company token: install the app on a location (sub-account)"
        )
    result: dict[str, Any] = await _store(services, box, grant.location_id, grant)
    return result


async def _refresh(
    services: Services, api: HighLevelApi, box: TokenBox, location: str, sealed: str
) -> Secret:
    try:
        grant = await api.refresh(box.open(sealed))
    except SocklessError as exc:
        await services.db.rpc("crm_token_release", p_location=location, p_error=exc.message)
        raise
    await _store(services, box, location, grant)
    return grant.access_token


async def access_token(
    services: Services, location: str, *, rejected: Secret | None = None
) -> Secret:
    """A live access token for `location`: refreshed first when it expires within EARLY_S, or
    when it is `rejected` (HighLevel just refused it). PreconditionFailed if not connected."""
    _, api, box = configured(services)
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        row = await services.db.rpc("crm_token_get", p_location=location)
        if not row:
            raise PreconditionFailed(
                f"location {location} is not connected to HighLevel: install the app through "
                "its OAuth flow (/api/crm/oauth/callback)"
            )
        current = box.open(row["accessToken"])
        expires_at = datetime.fromisoformat(row["expiresAt"])
        if expires_at > services.now() + timedelta(seconds=EARLY_S) and current != rejected:
            return current
        sealed = await services.db.rpc("crm_token_claim", p_location=location, p_lease_s=LEASE_S)
        if sealed:
            return await _refresh(services, api, box, location, sealed)
        if asyncio.get_running_loop().time() > deadline:
            raise ServiceUnavailable(
                f"the HighLevel token of {location} is being refreshed; retry", retry_after=2
            )
        await asyncio.sleep(0.2)  # another caller holds the lease: wait for its new token


async def refresh_due(services: Services) -> dict[str, Any]:
    """The cron: refresh the tokens expiring within CRON_WINDOW_S. {refreshed, failed}."""
    settings = services.feature(CrmSettings)
    if settings.missing_for_sending():
        return {"refreshed": 0, "failed": 0, "skipped": "not configured"}
    _, api, box = configured(services)
    due = await services.db.rpc(
        "crm_tokens_due", p_within_s=CRON_WINDOW_S, p_limit=CRON_BATCH, p_lease_s=LEASE_S * 2
    )
    refreshed = failed = 0
    for row in due or []:
        try:
            await _refresh(services, api, box, row["locationId"], row["refreshToken"])
            refreshed += 1
        except SocklessError as exc:
            failed += 1
            log.warning("HighLevel token of %s not refreshed: %s", row["locationId"], exc.message)
    return {"refreshed": refreshed, "failed": failed}
