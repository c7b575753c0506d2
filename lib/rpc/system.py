"""`system.*`: procedures that exercise the RPC layer itself, kept as real, documented endpoints
(front ends use `system.health` for warm-up/liveness, `system.whoami` to check a session).

    system.health   query, public        {"status": "ok", "version", "time"}; touches nothing
    system.whoami   query, signed in     {"userId", "provider", "email"} of the caller

(The tests exercise validation and rate limits with a test-only `testing.echo` procedure,
tests/trpc_testing.py; it is not served here.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from lib.rpc.procedure import Context, Procedure


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    time: datetime


async def health(ctx: Context, _: None) -> Health:
    return Health(version=ctx.settings.version, time=datetime.now(UTC))


class WhoAmI(BaseModel):
    # Output fields are camelCase: the wire is JSON read by JavaScript.
    userId: str
    provider: Literal["supabase", "clerk"]
    email: str | None


async def whoami(ctx: Context, _: None) -> WhoAmI:
    user = ctx.user
    return WhoAmI(userId=user.user_id, provider=user.provider, email=user.email)


PROCEDURES = [
    Procedure(
        path="system.health",
        kind="query",
        output=Health,
        handler=health,
        auth=False,
        description="Liveness and version; no database call.",
    ),
    Procedure(
        path="system.whoami",
        kind="query",
        output=WhoAmI,
        handler=whoami,
        description="The signed-in caller.",
    ),
]
