"""A test-only tRPC procedure, `testing.echo`, and the production router served with it.

`testing.echo` exercises the RPC layer itself (every validation rule clients meet: string
lengths, bounded ints, a nested list of objects, no extra keys; a rate limit of 30 calls a
minute per caller). It is no product feature, so api/trpc.py does not serve it: the wire and
client tests call `trpc_app(TEST_ROUTER)` (the deployed procedures plus this one), served on
its own port by `serve()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict, Field

from api.trpc import ROUTER as DEPLOYED
from dev.ports import bind_socket
from dev.servers import BackgroundServer
from lib.rpc import Context, Procedure, Router, router, trpc_app
from lib.services import Services


class Tag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    weight: int = Field(default=1, ge=0, le=100)


class EchoInput(BaseModel):
    """What `testing.echo` accepts (and returns)."""

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
        path="testing.echo",
        kind="mutation",
        input=EchoInput,
        output=Echo,
        handler=echo,
        auth=False,
        rate_limit=(30, 60),
        description="Validated input back, rate limited to 30 calls a minute per caller.",
    ),
]


TEST_ROUTER = router(*DEPLOYED, *PROCEDURES)
"""What api/trpc.py serves, plus `testing.echo`."""


@contextmanager
def serve(app_router: Router, services: Services) -> Iterator[str]:
    """`trpc_app(app_router, services=services)` on a free port; yields its /api/trpc URL."""
    sock = bind_socket(0, what="tRPC test function", env_var="-")
    app = trpc_app(app_router, services=services)
    server = BackgroundServer(app, sock, name="trpc-test").start()
    try:
        yield f"{server.url}/api/trpc"
    finally:
        server.stop()
