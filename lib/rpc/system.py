"""`system.*`: procedures that exercise the RPC layer itself, kept as real, documented endpoints
(front ends use `system.health` for warm-up/liveness, `system.whoami` to check a session).

    system.health   query, public        {"status": "ok", "version", "time"}; touches nothing
    system.whoami   query, signed in     {"userId", "provider", "email"} of the caller
    system.echo     mutation, public,    returns its validated input plus a summary; shows
                    30 calls/min/caller  every validation rule clients meet (string lengths,
                                         bounded ints, a nested list of objects, no extra keys)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class Tag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    weight: int = Field(default=1, ge=0, le=100)


class EchoInput(BaseModel):
    """What `system.echo` accepts (and returns)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=200)
    count: int = Field(default=1, ge=1, le=10)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class Echo(BaseModel):
    input: EchoInput
    repeated: str
    totalWeight: int


async def echo(ctx: Context, input: EchoInput) -> Echo:
    return Echo(
        input=input,
        repeated=" ".join([input.message] * input.count),
        totalWeight=sum(tag.weight for tag in input.tags),
    )


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
    Procedure(
        path="system.echo",
        kind="mutation",
        input=EchoInput,
        output=Echo,
        handler=echo,
        auth=False,
        rate_limit=(30, 60),
        description="Validated input back, rate limited to 30 calls a minute per caller.",
    ),
]
