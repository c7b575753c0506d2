"""Messaging: conversations, messages with client ids (optimistic UI, safe retries), delta
fetch, unread counts, read receipts, typing indicators as client events, and SMS/email for
recipients who were offline.

    procedures.py  messaging.* tRPC procedures (createConversation, conversations, send, list,
                   markRead): validate, rate-limit, one SQL function, commit_events
    models.py      their inputs and outputs
    presence.py    POST /api/webhooks/pusher: signed Pusher webhooks -> who is online
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
050002_message_notifications, 050003_messaging_commands.
"""
