"""/api/trpc/<procedure>: the tRPC endpoint (vercel.json rewrites /api/trpc/(.*) here).

The procedures are the enabled features' (lib.features.BUNDLE.router); see lib/rpc.
"""

from lib.features import BUNDLE, services
from lib.rpc import trpc_app

app = trpc_app(BUNDLE.router, services=services)
