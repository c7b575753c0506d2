"""Quote views: HighLevel has no quote-viewed event, so the quote page tells us itself.

A quote link carries a signed token naming the quote, the contact and the location:

    v1.<base64url(JSON {"q": quote, "c": contact, "l": location, "exp": unix s})>
      .<base64url(HMAC-SHA256(CRM_QUOTE_TOKEN_SECRET, "v1." + that payload))>

minted by `crm.quoteLink` (a member of the location, the sales rep: `mint`). The page posts
beacons while it is open:

    POST /api/crm/quote-view   {"token": "...", "viewId": "<8-64 of A-Za-z0-9_->",
                                "timeOnPage": <seconds>}

`viewId` is the page's own random id (navigator.sendBeacon cannot read answers, so the page
names its view). Public, any content type (sendBeacon sends text/plain: no CORS preflight),
body at most MAX_BODY bytes (413), a forged, malformed or expired token is 401, at most
RATE_LIMIT beacons per token per RATE_WINDOW_S (429). The SQL (crm_quote_view, migration
20261130600200) records the view and publishes `quote-viewed` {quoteId, quoteName,
contactName, viewedAt, timeOnPage, viewId} to private-user-{rep}: the first beacon of a view
at once, later ones at most once per THROTTLE_S per view, decided under the view row's lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lib.commands import command
from lib.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized
from lib.features.crm.settings import CrmSettings
from lib.ratelimit import enforce

if TYPE_CHECKING:
    from starlette.requests import Request

    from lib.services import Services

VERSION = "v1"
MAX_BODY = 2048
RATE_LIMIT, RATE_WINDOW_S = 60, 60
THROTTLE_S = 15
MAX_TIME_ON_PAGE = 86400
VIEW_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class QuoteRef:
    quote: str
    contact: str
    location: str
    expires: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def mint(secret: str, ref: QuoteRef) -> str:
    """The token of a quote link (pure)."""
    if not secret:
        raise ValueError("CRM_QUOTE_TOKEN_SECRET is not set")
    claims = {"q": ref.quote, "c": ref.contact, "l": ref.location, "exp": ref.expires}
    message = f"{VERSION}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{message}.{_signature(secret, message)}"


def verify(secret: str, token: str, *, now: float | None = None) -> QuoteRef:
    """The quote a token names; Unauthorized if it is forged, malformed or expired."""
    parts = token.split(".")
    if not secret or len(parts) != 3 or parts[0] != VERSION:
        raise Unauthorized("not a quote link token")
    message = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(secret, message).encode(), parts[2].encode()):
        raise Unauthorized("the quote link token is not ours")
    try:
        claims = json.loads(_unb64(parts[1]))
        ref = QuoteRef(
            quote=str(claims["q"]), contact=str(claims["c"]), location=str(claims["l"]),
            expires=int(claims["exp"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("not a quote link token") from exc
    if ref.expires < (time.time() if now is None else now):
        raise Unauthorized("the quote link has expired")
    return ref


def _secret(services: Services) -> str:
    secret = services.feature(CrmSettings).quote_secret.get()
    if not secret:
        raise ServiceUnavailable("quote links need CRM_QUOTE_TOKEN_SECRET (docs/crm.md)")
    return secret


def link(services: Services, ref: QuoteRef) -> dict[str, Any]:
    """{token, url (CRM_QUOTE_URL?t=<token>, or null), expiresAt} for a quote link."""
    token = mint(_secret(services), ref)
    base = services.feature(CrmSettings).quote_url
    url = f"{base}{'&' if '?' in base else '?'}t={token}" if base else None
    return {"token": token, "url": url, "expiresAt": ref.expires}


async def _beacon(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"a quote beacon is at most {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"a quote beacon is at most {MAX_BODY} bytes")
    try:
        beacon = json.loads(body)
    except ValueError as exc:
        raise BadRequest('send JSON: {"token", "viewId", "timeOnPage"}') from exc
    if not isinstance(beacon, dict):
        raise BadRequest('send a JSON object: {"token", "viewId", "timeOnPage"}')
    return beacon


async def quote_view(request: Request, services: Services) -> dict[str, Any]:
    """POST /api/crm/quote-view."""
    beacon = await _beacon(request)
    token = beacon.get("token")
    if not isinstance(token, str) or not token or len(token) > 1024:
        raise Unauthorized("a quote beacon needs the link's token")
    ref = verify(_secret(services), token)
    view_id = beacon.get("viewId")
    if not isinstance(view_id, str) or not VIEW_ID.fullmatch(view_id):
        raise BadRequest("viewId: the page's own random id, 8-64 of A-Z a-z 0-9 _ -")
    seconds = beacon.get("timeOnPage", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("timeOnPage: seconds on the page (a number, 0 or more)")
    digest = hashlib.sha256(token.encode()).hexdigest()[:32]
    await enforce(services.db, f"crm-quote-view:{digest}", limit=RATE_LIMIT, window_s=RATE_WINDOW_S)
    result = await command(
        services,
        "crm_quote_view",
        p_quote=ref.quote,
        p_location=ref.location,
        p_contact=ref.contact,
        p_view=view_id,
        p_time_on_page=int(min(seconds, MAX_TIME_ON_PAGE)),
        p_now=services.now().isoformat(),
        p_throttle_s=THROTTLE_S,
    )
    return {"ok": True, "viewId": view_id, "published": bool(result.get("published"))}
