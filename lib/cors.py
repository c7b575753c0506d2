"""CORS: which other origins may call the api functions from a browser.

`Cors.of(settings, methods)` is the policy of one function app, or None when
`CORS_ALLOWED_ORIGINS` is blank (same-origin only: no CORS headers, OPTIONS handled by the app
as before). lib.web's RequestContext applies it, so every function and the tRPC endpoint share
it, and error responses carry the same headers as successes:

    preflight (OPTIONS + Origin + Access-Control-Request-Method)
        allowed origin     204, allow-origin/-methods/-headers/-credentials, max-age
        other origin       403 FORBIDDEN in the usual error shape
    any other request from an allowed origin
                           allow-origin (+ allow-credentials), expose x-request-id, retry-after

Listed origins are echoed with `Access-Control-Allow-Credentials: true` (cookies and the
Authorization header reach the function). `*` answers `Access-Control-Allow-Origin: *` without
credentials, as browsers require; it cannot be mixed with listed origins. Every response of a
CORS-enabled function says `Vary: Origin`, so a cache never hands one origin's answer to another.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers

from lib.config import Settings
from lib.errors import Forbidden

RawHeaders = list[tuple[bytes, bytes]]

ANY_ORIGIN = "*"
ALLOWED_HEADERS = frozenset(
    {"accept", "authorization", "content-type", "x-request-id", "trpc-accept", "x-trpc-source"}
)
"""Request headers a preflight may ask for; anything else is left out of the answer."""
EXPOSED_HEADERS = "x-request-id, retry-after"


def is_preflight(method: str, headers: Headers) -> bool:
    return (
        method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
    )


@dataclass(frozen=True, kw_only=True)
class Cors:
    origins: frozenset[str]
    methods: tuple[str, ...]
    max_age_s: int

    @classmethod
    def of(cls, config: Settings, methods: Collection[str]) -> Cors | None:
        if not config.cors_allowed_origins:
            return None
        return cls(
            origins=frozenset(config.cors_allowed_origins),
            methods=tuple(sorted({m.upper() for m in methods} - {"OPTIONS"})),
            max_age_s=config.cors_max_age_s,
        )

    @property
    def credentials(self) -> bool:
        return ANY_ORIGIN not in self.origins

    def allow_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, None if it is not allowed."""
        if origin is None:
            return None
        if not self.credentials:
            return ANY_ORIGIN
        return origin if origin.lower() in self.origins else None

    def response_headers(self, origin: str | None) -> RawHeaders:
        """What every non-preflight response to a request from `origin` carries."""
        headers: RawHeaders = [(b"vary", b"Origin")]
        allowed = self.allow_origin(origin)
        if allowed is None:
            return headers
        headers.append((b"access-control-allow-origin", allowed.encode("latin-1")))
        if self.credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        headers.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))
        return headers

    def preflight_headers(self, headers: Headers) -> dict[str, str]:
        """The 204 answer to a preflight; raises Forbidden for an origin not allowed."""
        origin = headers["origin"]
        allowed = self.allow_origin(origin)
        if allowed is None:
            raise Forbidden(f"origin {origin[:100]!r} may not call this function")
        answer = {
            "access-control-allow-origin": allowed,
            "access-control-allow-methods": ", ".join(self.methods),
            "access-control-max-age": str(self.max_age_s),
            "vary": "Origin",
        }
        requested = headers.get("access-control-request-headers", "").split(",")
        echoed = [
            h for h in dict.fromkeys(r.strip().lower() for r in requested) if h in ALLOWED_HEADERS
        ]
        if echoed:
            answer["access-control-allow-headers"] = ", ".join(echoed)
        if self.credentials:
            answer["access-control-allow-credentials"] = "true"
        return answer


def add_headers(headers: Sequence[tuple[bytes, bytes]], extra: RawHeaders) -> RawHeaders:
    """`headers` plus `extra`, merging a `vary` of `extra` into an existing one."""
    merged = list(headers)
    for name, value in extra:
        if name == b"vary":
            index = next((i for i, (n, _) in enumerate(merged) if n.lower() == b"vary"), None)
            if index is not None:
                current = merged[index][1]
                tokens = {t.strip().lower() for t in current.split(b",")}
                if value.lower() not in tokens:
                    merged[index] = (b"vary", current + b", " + value)
                continue
        merged.append((name, value))
    return merged
