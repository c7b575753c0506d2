"""Public keys from a JWKS URL (Clerk, Supabase Auth), fetched lazily and cached.

The set is fetched on first use, kept for `ttl_s`, and fetched again early when a token names
a key id the cached set lacks (key rotation) — at most once per `min_refresh_s`, so a stream of
tokens with made-up key ids cannot turn into a stream of requests to the issuer.

    unreachable / non-200 / not a JWKS  -> ServiceUnavailable (our dependency is down)
    no key with the token's kid         -> Unauthorized
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt

from lib.errors import ServiceUnavailable, Unauthorized

TTL_S = 600.0
MIN_REFRESH_S = 30.0
FETCH_TIMEOUT_S = 5.0
RETRY_AFTER_S = 5


class Jwks:
    """The keys published at one JWKS URL."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        ttl_s: float = TTL_S,
        min_refresh_s: float = MIN_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key a token's header names (`kid`); a set with one key serves tokens without kid."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl_s
        may_refresh = self._fetched_at is None or now - self._fetched_at >= self._min_refresh_s
        if stale or (kid not in self._keys and may_refresh):
            await self._fetch()
        found = self._keys.get(kid)
        if found is None and kid is None and len(self._keys) == 1:
            found = next(iter(self._keys.values()))
        if found is None:
            raise Unauthorized(f"token is signed with an unknown key (kid {kid!r})")
        return found

    async def _fetch(self) -> None:
        http = self._http
        if http is None:
            http = self._http = httpx.AsyncClient(timeout=FETCH_TIMEOUT_S)
        try:
            response = await http.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            raise ServiceUnavailable(
                "the token issuer's keys could not be fetched", retry_after=RETRY_AFTER_S
            ) from exc
        self._keys = {key.key_id: key for key in keys}
        self._fetched_at = self._clock()
