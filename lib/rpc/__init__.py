"""The tRPC-compatible RPC layer: procedures declared as data, served to the official
`@trpc/client` exactly as a tRPC server would serve them.

    procedure.py   Procedure (path, kind, input, output, handler, auth, rate_limit), Context
    router.py      Router / router(*procedures): the explicit list one endpoint serves
    app.py         trpc_app(router): the ASGI app (HEAD, listing, batching, errors, limits)
    wire.py        the wire format as pure functions (inputs, envelopes, status)
    codes.py       tRPC error code table (JSON-RPC code, HTTP status)
    superjson.py   superjson envelopes, detected per request
    system.py      system.health / system.whoami
    events.py      events.since: realtime history through tRPC
    typescript.py  `make types`: a type-only AppRouter for TypeScript clients (not deployed
                   code path: nothing imports it at runtime)

A feature declares its procedures in a module-level list and api/trpc.py lists them:

    PROCEDURES = [
        Procedure(path="poker.vote", kind="mutation", input=VoteInput, output=VoteResult,
                  handler=vote, rate_limit=(30, 60)),
    ]
    # api/trpc.py
    ROUTER = router(*system.PROCEDURES, *events.PROCEDURES, *poker.PROCEDURES)
    app = trpc_app(ROUTER)
"""

from lib.rpc.app import Limits, trpc_app
from lib.rpc.procedure import Context, Procedure
from lib.rpc.router import Router, router

__all__ = ["Context", "Limits", "Procedure", "Router", "router", "trpc_app"]
