"""Pusher channel authorization and user sign-in, as pusher-js calls them.

    POST /api/realtime/auth        form: socket_id, channel_name   (channelAuthorization)
      private-*            -> {"auth"}
      presence-*           -> {"auth", "channel_data"}   user_id + user_info.display_name
      private-encrypted-*  -> {"auth", "shared_secret"}  (403 without a master key)
    POST /api/realtime/user-auth   form: socket_id                 (userAuthentication)
      -> {"auth", "user_data"}   user_data.id = the caller's user id

The caller's token rides in a header (pusher-js `channelAuthorization.headers` /
`userAuthentication.headers`: `{"Authorization": "Bearer <jwt>"}`) or Clerk's `__session`
cookie. Order of checks: token (401) -> per-user rate limit (429) -> well-formed
socket_id/channel (400) -> channel rules (403, lib.realtime.channels) -> signature by the
official `pusher` SDK, created on first use per settings (signing is local: no network).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request

from lib import ratelimit
from lib.auth import Principal, authenticate
from lib.config import Settings
from lib.db import Database
from lib.errors import BadRequest, Forbidden, ServiceUnavailable, SocklessError
from lib.realtime.channels import is_restricted, validate_channel_name

if TYPE_CHECKING:
    import pusher

    from lib.services import Services

SOCKET_ID = re.compile(r"\d+\.\d+")
MAX_BODY_BYTES = 4096
ENCRYPTED_PREFIX = "private-encrypted-"

_signers: dict[Settings, pusher.Pusher] = {}


def signer(config: Settings) -> pusher.Pusher:
    """The official SDK client that signs for this app (built on first use, then reused)."""
    if config not in _signers:
        import pusher

        if not (config.pusher_app_id and config.pusher_key and config.pusher_secret):
            raise ServiceUnavailable("Pusher is not configured (PUSHER_APP_ID/KEY/SECRET)")
        try:
            _signers[config] = pusher.Pusher(
                app_id=config.pusher_app_id,
                key=config.pusher_key,
                secret=config.pusher_secret.get(),
                encryption_master_key_base64=config.pusher_encryption_master_key.get() or None,
            )
        except ValueError as exc:
            raise SocklessError(f"Pusher settings are invalid: {exc}") from exc
    return _signers[config]


async def _form(request: Request) -> dict[str, str]:
    """The request's fields: form-encoded (what pusher-js sends) or a JSON object."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("request body too large")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise BadRequest("body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return {str(k): str(v) for k, v in data.items()}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _socket_id(form: dict[str, str]) -> str:
    socket_id = form.get("socket_id", "")
    if not SOCKET_ID.fullmatch(socket_id):
        raise BadRequest("socket_id must look like '123.456'")
    return socket_id


async def _user_info(db: Database, principal: Principal) -> dict[str, Any]:
    rows = await db.select("profiles", "display_name", id=principal.user_id)
    name = rows[0].get("display_name") if rows else None
    return {"display_name": name or principal.user_id}


async def _limit(db: Database, config: Settings, what: str, principal: Principal) -> None:
    await ratelimit.enforce(
        db,
        f"{what}:{principal.user_id}",
        limit=config.realtime_auth_rate_limit,
        window_s=config.realtime_auth_rate_window_s,
    )


async def channel_auth(request: Request, services: Services) -> dict[str, Any]:
    """POST /api/realtime/auth: sign one channel subscription for the caller."""
    config, db = services.settings, services.db
    principal = await authenticate(request, services)
    await _limit(db, config, "realtime-auth", principal)
    form = await _form(request)
    socket_id = _socket_id(form)
    channel = validate_channel_name(form.get("channel_name"))
    if not is_restricted(channel) or channel.startswith("#"):
        raise BadRequest(f"{channel} needs no channel authorization (only private-/presence-)")
    if channel.startswith(ENCRYPTED_PREFIX) and not config.pusher_encryption_master_key:
        raise Forbidden("encrypted channels are not enabled (PUSHER_ENCRYPTION_MASTER_KEY_BASE64)")
    await services.channels.authorize(principal, channel, db=db)
    custom = None
    if channel.startswith("presence-"):
        custom = {"user_id": principal.user_id, "user_info": await _user_info(db, principal)}
    try:
        answer: dict[str, Any] = signer(config).authenticate(channel, socket_id, custom)
    except ValueError as exc:  # the SDK's own validation (names, ids)
        raise BadRequest(f"cannot sign this subscription: {exc}") from exc
    secret = answer.get("shared_secret")
    if isinstance(secret, bytes):  # the SDK returns bytes, which JSON cannot carry
        answer["shared_secret"] = secret.decode("ascii")
    return answer


async def user_auth(request: Request, services: Services) -> dict[str, Any]:
    """POST /api/realtime/user-auth: sign the caller's `pusher:signin`."""
    config, db = services.settings, services.db
    principal = await authenticate(request, services)
    await _limit(db, config, "realtime-user-auth", principal)
    socket_id = _socket_id(await _form(request))
    user_data = {"id": principal.user_id, "user_info": await _user_info(db, principal)}
    try:
        answer: dict[str, Any] = signer(config).authenticate_user(socket_id, user_data)
    except ValueError as exc:  # e.g. a user id outside Pusher's character set
        raise BadRequest(f"cannot sign in to Pusher: {exc}") from exc
    return answer
