"""What the demo app (public/) needs from `make dev` that production gets elsewhere; never
deployed (dev/ is in .vercelignore), served by the Vercel emulation under `/_dev/`:

    POST /_dev/token   {"sub": "alice", "ttl"?: seconds} -> {"token", "expiresAt"}
                       a local user token (dev/token.py), the user's profile created if new;
                       production front ends get tokens from Clerk or Supabase Auth
    GET  /_dev/config  the public realtime settings of this stack (provider, Pusher key and
                       local host/port, Supabase URL and anon key), as the demo would read
                       them from public/config.json in a deployment

Only a stack in development mode serves these (`Stack` builds this app; nothing in api/ or
lib/ mints tokens).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dev.token import user_token

USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MAX_TTL_S = 24 * 3600


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def demo_app(env: Callable[[], Mapping[str, str]], dsn: str) -> Starlette:
    """`env()`: the stack's environment (read per request: ports are known once it runs)."""

    async def token(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "BAD_REQUEST", 'send JSON: {"sub": "alice"}')
        sub = body.get("sub") if isinstance(body, dict) else None
        ttl = body.get("ttl", 3600) if isinstance(body, dict) else 3600
        if not isinstance(sub, str) or not USER_ID.fullmatch(sub):
            return error(400, "BAD_REQUEST", "sub: 1-64 letters, digits or _.@-")
        if not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_S:
            return error(400, "BAD_REQUEST", f"ttl: 1-{MAX_TTL_S} seconds")
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                "insert into public.profiles (id, display_name) values (%s, %s)"
                " on conflict (id) do nothing",
                [sub, sub],
            )
        secret = env()["SUPABASE_JWT_SECRET"]
        return JSONResponse(
            {"token": user_token(secret, sub=sub, ttl_s=ttl), "expiresAt": int(time.time()) + ttl}
        )

    async def config(request: Request) -> JSONResponse:
        values = env()
        return JSONResponse(
            {
                "provider": values.get("REALTIME_PROVIDER")
                or os.environ.get("REALTIME_PROVIDER")
                or "pusher",
                "pusher": {
                    "key": values.get("PUSHER_KEY", ""),
                    "wsHost": values.get("PUSHER_HOST", ""),
                    "wsPort": int(values.get("PUSHER_PORT") or 0),
                },
                "supabase": {
                    "url": values.get("SUPABASE_URL", ""),
                    "anonKey": values.get("SUPABASE_ANON_KEY", ""),
                },
            }
        )

    return Starlette(
        routes=[
            Route("/_dev/token", token, methods=["POST"]),
            Route("/_dev/config", config, methods=["GET"]),
        ]
    )
