"""GET /api/crm/oauth/callback?code=...: where HighLevel's Marketplace install flow sends the
installer (the app's Redirect URL). The code is exchanged at HighLevel's /oauth/token for the
location's tokens (tokens.connect: encrypted, stored, refreshed by the `crm-token-refresh`
cron). The answer names the location, never a token.

A code is single-use and bound to our client id and secret, and the location comes from
HighLevel's answer, not from the request: a forged callback can only connect a location that
really granted us access. HighLevel's optional `state` is not needed and is ignored.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lib.errors import BadRequest
from lib.features.crm import tokens

if TYPE_CHECKING:
    from starlette.requests import Request

    from lib.services import Services

CODE = re.compile(r"[A-Za-z0-9._~+/=-]{1,2048}")


async def callback(request: Request, services: Services) -> dict[str, Any]:
    code = request.query_params.get("code", "")
    if not CODE.fullmatch(code):
        error = request.query_params.get("error", "")[:100]
        raise BadRequest(
            f"HighLevel sent no authorization code{f' ({error})' if error else ''}: "
            "install the app again from the Marketplace"
        )
    connected = await tokens.connect(services, code)
    return {"ok": True, "locationId": connected["locationId"], "connected": True}
