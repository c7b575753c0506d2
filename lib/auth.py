"""Who is calling: a Clerk or Supabase Auth session JWT -> `Principal`.

The token comes from `Authorization: Bearer <jwt>`, else from Clerk's `__session` cookie; a
cookie on a cross-site state change is Forbidden (403, lib.csrf).
Which verifier applies is read from the token's header and (unverified) issuer, then the
signature decides:

    alg HS256                              Supabase, SUPABASE_JWT_SECRET, aud "authenticated"
    alg ES256/RS256, iss ".../auth/v1"     Supabase, keys from SUPABASE_JWKS_URL
    alg RS256 otherwise                    Clerk, CLERK_JWT_KEY (PEM, no network) or
                                           CLERK_JWKS_URL; `iss` must be CLERK_ISSUER,
                                           `azp` one of CLERK_AUTHORIZED_PARTIES, an `aud`
                                           one of CLERK_AUDIENCE: each when set, and all
                                           of them in production

Every verifier requires `exp` and `sub` and allows LEEWAY_S of clock skew. Any failure is
`Unauthorized` with a message saying exactly what was wrong (expired, bad signature, wrong
audience, azp not authorized, ...), which lib.web answers as 401 JSON.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx
import jwt
from jwt.types import Options
from starlette.requests import Request

from lib.config import Settings
from lib.csrf import cross_site
from lib.errors import Forbidden, SocklessError, Unauthorized
from lib.jwks import Jwks

if TYPE_CHECKING:
    from lib.services import Services

Provider = Literal["supabase", "clerk"]

LEEWAY_S = 5
SUPABASE_AUDIENCE = "authenticated"
SESSION_COOKIE = "__session"
REQUIRED_CLAIMS = ["exp", "sub"]


@dataclass(frozen=True)
class Principal:
    """An authenticated user: `user_id` is the token's `sub`, what RLS policies read as
    `(select auth.jwt() ->> 'sub')` (text: Clerk ids and Supabase uuids alike)."""

    user_id: str
    provider: Provider
    claims: Mapping[str, Any]
    email: str | None


def token_of(request: Request) -> tuple[str, Literal["header", "cookie"]]:
    """The bearer token of a request and where it came from (header first, then Clerk's
    `__session` cookie)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return token.strip(), "header"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")


def _decode(
    token: str,
    key: Any,
    *,
    algorithms: list[str],
    audience: str | None,
) -> dict[str, Any]:
    """Verify signature and times (and audience if given); map PyJWT's errors to ours."""
    options: Options = {"require": REQUIRED_CLAIMS, "verify_aud": audience is not None}
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, audience=audience, leeway=LEEWAY_S, options=options
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized("token is not valid yet (nbf/iat in the future)") from exc
    except jwt.MissingRequiredClaimError as exc:
        if exc.claim == "aud":
            raise Unauthorized(f"token has no audience; expected {audience!r}") from exc
        raise Unauthorized(f"token has no {exc.claim!r} claim") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized(f"token audience is not {audience!r}") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("token signature is invalid") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise Unauthorized(f"token algorithm is not one of {', '.join(algorithms)}") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"token is invalid: {exc}") from exc
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthorized("token has no 'sub' claim")
    return claims


def _pem(key: str) -> Any:
    """CLERK_JWT_KEY as a public key object (accepts a bare base64 body without PEM armour)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = key.strip()
    if "-----BEGIN" not in text:
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----"
    try:
        return load_pem_public_key(text.encode())
    except ValueError as exc:
        raise SocklessError("CLERK_JWT_KEY is not a PEM public key") from exc


class Authenticator:
    """Verifies tokens for one set of settings; holds the parsed PEM key and JWKS caches."""

    def __init__(self, config: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http
        self._clerk_key: Any = None
        self._clerk_jwks = Jwks(config.clerk_jwks_url, http=http) if config.clerk_jwks_url else None
        self._supabase_jwks = (
            Jwks(config.supabase_jwks_url, http=http) if config.supabase_jwks_url else None
        )

    async def authenticate(self, request: Request) -> Principal:
        """The Principal of a request; a cookie-authenticated state change from another site
        is Forbidden (lib.csrf) before its token is even looked at."""
        token, source = token_of(request)
        if source == "cookie":
            refused = cross_site(request, self.config)
            if refused is not None:
                raise Forbidden(refused)
        return await self.verify(token)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("token is not a JWT") from exc
        alg, kid = header.get("alg"), header.get("kid")
        issuer = unverified.get("iss")
        if alg == "HS256":
            return self._supabase_secret(token)
        if alg in ("ES256", "RS256") and isinstance(issuer, str) and issuer.endswith("/auth/v1"):
            return await self._supabase_keys(token, alg, kid)
        if alg == "RS256":
            return await self._clerk(token, kid)
        raise Unauthorized(f"token algorithm {alg!r} is not accepted")

    def _supabase_secret(self, token: str) -> Principal:
        secret = self.config.supabase_jwt_secret.get()
        if not secret:
            raise Unauthorized("HS256 tokens are not accepted: SUPABASE_JWT_SECRET is not set")
        claims = _decode(token, secret, algorithms=["HS256"], audience=SUPABASE_AUDIENCE)
        return _principal(claims, "supabase")

    async def _supabase_keys(self, token: str, alg: str, kid: str | None) -> Principal:
        if self._supabase_jwks is None:
            raise Unauthorized(
                f"{alg} Supabase tokens are not accepted: SUPABASE_JWKS_URL is not set"
            )
        key = await self._supabase_jwks.key(kid)
        claims = _decode(token, key, algorithms=[alg], audience=SUPABASE_AUDIENCE)
        return _principal(claims, "supabase")

    async def _clerk(self, token: str, kid: str | None) -> Principal:
        if self.config.clerk_jwt_key:
            if self._clerk_key is None:
                self._clerk_key = _pem(self.config.clerk_jwt_key)
            key: Any = self._clerk_key
        elif self._clerk_jwks is not None:
            key = await self._clerk_jwks.key(kid)
        else:
            raise Unauthorized("RS256 tokens are not accepted: set CLERK_JWT_KEY or CLERK_JWKS_URL")
        claims = _decode(token, key, algorithms=["RS256"], audience=None)
        self._clerk_claims(claims)
        return _principal(claims, "clerk")

    def _clerk_claims(self, claims: Mapping[str, Any]) -> None:
        """Whose token this is: `iss` is CLERK_ISSUER, `azp` one of CLERK_AUTHORIZED_PARTIES,
        an `aud` one of CLERK_AUDIENCE. Each is checked when configured; in production each
        is required (a token from another Clerk instance, another app's frontend, or minted
        for another service is refused), in development an unset one is not checked."""
        config = self.config
        production = config.environment == "production"
        iss = claims.get("iss")
        if config.clerk_issuer:
            if not isinstance(iss, str) or iss.rstrip("/") != config.clerk_issuer:
                raise Unauthorized(f"token issuer {iss!r} is not {config.clerk_issuer!r}")
        elif production:
            raise Unauthorized("Clerk tokens are not accepted: CLERK_ISSUER is not set")
        azp = claims.get("azp")
        if config.clerk_authorized_parties:
            if not isinstance(azp, str) or azp.rstrip("/") not in config.clerk_authorized_parties:
                raise Unauthorized(f"token azp {azp!r} is not an authorized party")
        elif production:
            raise Unauthorized("Clerk tokens are not accepted: CLERK_AUTHORIZED_PARTIES is not set")
        aud = claims.get("aud")
        if aud is None or not (config.clerk_audience or production):
            return
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in config.clerk_audience for a in audiences):
            raise Unauthorized(f"token audience {aud!r} is not one of CLERK_AUDIENCE")


def _principal(claims: dict[str, Any], provider: Provider) -> Principal:
    email = claims.get("email")
    return Principal(
        user_id=claims["sub"],
        provider=provider,
        claims=claims,
        email=email if isinstance(email, str) and email else None,
    )


_authenticators: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Settings, Authenticator]
] = weakref.WeakKeyDictionary()


def authenticator(services: Services) -> Authenticator:
    """The Authenticator for these settings on the running loop (its JWKS caches fetch over
    the loop's shared client, so they close with it)."""
    per_loop = _authenticators.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(services.settings)
    if found is None:
        found = per_loop[services.settings] = Authenticator(services.settings, http=services.http)
    return found


async def authenticate(request: Request, services: Services) -> Principal:
    """The Principal behind a request, or Unauthorized (401)."""
    return await authenticator(services).authenticate(request)


async def close_all() -> None:
    """Forget this loop's authenticators (lifespan shutdown; their client closes with the
    loop's shared one)."""
    _authenticators.pop(asyncio.get_running_loop(), None)
