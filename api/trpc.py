"""/api/trpc/<procedure>: the tRPC endpoint (vercel.json rewrites /api/trpc/(.*) here).

Every procedure the front ends can call is listed below, grouped by feature; see lib/rpc.
"""

from lib.features.calls import procedures as calls
from lib.features.messaging import procedures as messaging
from lib.features.poker import procedures as poker
from lib.rpc import events, router, system, trpc_app

ROUTER = router(
    *system.PROCEDURES,
    *events.PROCEDURES,
    *calls.PROCEDURES,
    *messaging.PROCEDURES,
    *poker.PROCEDURES,
)

app = trpc_app(ROUTER)
