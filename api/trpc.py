"""/api/trpc/<procedure>: the tRPC endpoint (vercel.json rewrites /api/trpc/(.*) here).

The procedures are the enabled features' (lib.features.BUNDLE.router); see lib/rpc.
`ROUTER` is what `make types` (lib.rpc.typescript, default `api.trpc:ROUTER`) describes.
"""

from lib.features import BUNDLE, services
from lib.rpc import trpc_app

ROUTER = BUNDLE.router

app = trpc_app(ROUTER, services=services)
