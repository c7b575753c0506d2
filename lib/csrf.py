"""Cross-site request forgery: a browser attaches Clerk's `__session` cookie to any request
for our host, a form another site posts included (a form post is a "simple" request: no CORS
preflight asks first). So a request that authenticates with the cookie and changes state
must show it comes from a page we trust. lib.auth applies this before verifying a cookie.

    cross_site(request, settings) -> None, or why the request is refused (-> 403)

Only unsafe methods (not GET, HEAD, OPTIONS) are checked, and only cookie-authenticated
requests: no other site can make a browser send an Authorization header.

    Origin: <o>           allowed if <o> is listed in CORS_ALLOWED_ORIGINS (`*` lists nobody:
                          it never carries credentials) or is the request's own origin
                          (x-forwarded-proto/-host as Vercel sets them, else the Host header)
    Origin: null          refused (sandboxed frames, cross-origin redirects)
    no Origin             Sec-Fetch-Site `cross-site` is refused; same-origin, same-site, none
                          or absent (not a browser: browsers send Origin on every POST) pass
"""

from __future__ import annotations

from starlette.requests import Request

from lib.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_origin(request: Request) -> str:
    """scheme://host of this request as the browser addressed it."""
    headers = request.headers
    scheme = headers.get("x-forwarded-proto", "").split(",")[0].strip() or request.url.scheme
    host = headers.get("x-forwarded-host", "").split(",")[0].strip() or headers.get("host", "")
    return f"{scheme}://{host}".lower()


def cross_site(request: Request, config: Settings) -> str | None:
    """Why this cookie-authenticated request is refused as cross-site, or None."""
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("origin")
    if origin is not None:
        origin = origin.strip().rstrip("/").lower()
        if origin == "null":
            return "cross-site request refused: Origin is null (sign in with a bearer token)"
        trusted = origin == own_origin(request) or origin in config.cors_allowed_origins
        if trusted and origin != "*":
            return None
        return (
            f"cross-site request refused: origin {origin[:100]!r} is not this site or one of "
            "CORS_ALLOWED_ORIGINS"
        )
    if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return "cross-site request refused: Sec-Fetch-Site is cross-site"
    return None
