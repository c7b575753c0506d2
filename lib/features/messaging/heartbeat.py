"""`messaging.heartbeat`: "I am online" from the client, for Supabase Realtime mode.

    messaging.heartbeat  mutation  {online?: bool = true} -> {online, expiresAt, ttlSeconds}

With REALTIME_PROVIDER=pusher, who is online comes from Pusher's webhooks (presence.py).
Hosted Supabase Realtime sends no presence webhooks and the backend holds no socket, so a
Supabase-mode client reports itself: every 30 s while its Realtime channels are SUBSCRIBED,
and `{online: false}` when the app goes away (best effort). Each heartbeat keeps the caller
online for HEARTBEAT_TTL_S; offline notifications (offline.py) then work the same in both
modes. Works in Pusher mode too (a client may send both), and against hosted Supabase as is:
it is one SQL function (migration 20261130900100_realtime_presence_heartbeat).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, TypeAdapter

from lib.features.messaging.models import Input
from lib.rpc.procedure import Context, Procedure

HEARTBEAT_TTL_S = 90
"""Three missed 30-second heartbeats and the user counts as offline."""


class HeartbeatInput(Input):
    online: bool = True


class Heartbeat(BaseModel):
    online: bool
    expiresAt: datetime | None
    ttlSeconds: int


async def heartbeat(ctx: Context, input: HeartbeatInput | None) -> Heartbeat:
    online = True if input is None else input.online
    result = await ctx.db.rpc(
        "realtime_presence_heartbeat",
        p_user_id=ctx.user.user_id,
        p_online=online,
        p_ttl_seconds=HEARTBEAT_TTL_S,
    )
    return Heartbeat(
        online=result["online"], expiresAt=result["expiresAt"], ttlSeconds=HEARTBEAT_TTL_S
    )


HEARTBEAT = Procedure(
    path="messaging.heartbeat",
    kind="mutation",
    input=TypeAdapter(HeartbeatInput | None),
    output=Heartbeat,
    handler=heartbeat,
    rate_limit=(20, 60),
    description="Supabase mode: report the caller online for 90 s (every 30 s), or offline.",
)
