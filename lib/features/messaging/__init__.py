"""Messaging: conversations, messages with client ids (optimistic UI, safe retries), delta
fetch, unread counts, read receipts, typing indicators as client events, and SMS/email for
recipients who were offline.

    procedures.py  messaging.* tRPC procedures (createConversation, conversations, send, list,
                   markRead): validate, rate-limit, one SQL function, commit_events
    models.py      their inputs and outputs
    presence.py    POST /api/webhooks/pusher: signed Pusher webhooks -> who is online
    heartbeat.py   messaging.heartbeat: the client says it is online (Supabase mode)
    settings.py    MessagingSettings (send rate limit, notification delay and link)
    offline.py     the `notify-offline` cron job: claim, send one notification, finish
    digest.py      the text of that notification (pure)

Realtime (envelopes as lib.events describes):
    private-conversation-{id}  new-message {conversationId, message}
                               read-receipt {conversationId, userId, lastReadMessageId, readAt}
                               client-typing (a client event: participants trigger it with
                               pusher-js; Pusher forwards it to the others, never to the sender.
                               Supabase mode: sent by participants on the topic
                               `client:conversation-{id}`, never on the server's topic)
    private-user-{id}          unread-update {conversationId, unread, totalUnread, lastMessage?}
                               conversation-added {conversationId, title, createdBy,
                               participants, createdAt}

SQL: migrations 20261121050000_messages (tables, RLS), 050001_realtime_presence,
050002_message_notifications, 050003_messaging_commands, 20261130000100_webhook_processors,
20261130900100_realtime_presence_heartbeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.cron import Cleanup, CronJob
from lib.feature import Feature
from lib.features.messaging.events import FAMILIES
from lib.features.messaging.heartbeat import HEARTBEAT
from lib.features.messaging.presence import PUSHER
from lib.features.messaging.procedures import PROCEDURES
from lib.features.messaging.settings import MessagingSettings
from lib.realtime.channels import UUID, ChannelRule, member_of

if TYPE_CHECKING:
    from lib.services import Services


async def notify_offline(services: Services) -> dict[str, Any]:
    """One SMS/email per recipient about messages they missed (offline.py)."""
    from lib.features.messaging.offline import notify_offline as run

    return await run(services)


async def _presence_rows(services: Services) -> int:
    """Old webhook digests and absent presence rows (presence.py)."""
    return int(await services.db.rpc("realtime_presence_cleanup", p_retention_seconds=86_400))


async def _message_notifications(services: Services) -> int:
    """Finished offline-notification items and batches older than 30 days."""
    return int(await services.db.rpc("messaging_notify_cleanup", p_retention_days=30))


FEATURE = Feature(
    events=FAMILIES,
    name="messaging",
    production_urls=("NOTIFY_APP_URL",),
    procedures=(*PROCEDURES, HEARTBEAT),
    jobs=(
        CronJob(
            name="notify-offline",
            run=notify_offline,
            schedule="*/5 * * * *",
            description="SMS/email recipients who missed messages while offline.",
        ),
    ),
    cleanups=(
        Cleanup(name="realtime_presence", run=_presence_rows),
        Cleanup(name="message_notifications", run=_message_notifications),
    ),
    channels=(ChannelRule("private-conversation-", UUID, member_of("conversation")),),
    webhooks=(PUSHER,),
    settings=MessagingSettings,
    migration="20261130900100",
    schema=(
        *("messaging_send", "messaging_messages", "messaging_mark_read"),
        *("messaging_conversations", "messaging_create_conversation"),
        *("messaging_notify_claim", "messaging_notify_finish", "messaging_notify_cleanup"),
        "messaging_notify_release",
        *("realtime_presence_cleanup", "messaging_on_pusher_presence"),
        "realtime_presence_heartbeat",
    ),
    description="Conversations, messages, read receipts, typing, offline notifications.",
)
