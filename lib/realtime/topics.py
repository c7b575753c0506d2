"""Supabase Realtime topics <-> Pusher channels: every channel family, defined once.

    topic                 server events (Pusher)         presence (Pusher / Supabase)   who    RLS
    user-{id}             private-user-{id}              -                               user   yes
    location-{id}         private-location-{id}          presence-location-{id} / yes    members yes
    poker-{uuid}          presence-poker-{uuid}          presence-poker-{uuid}  / yes    members yes
    conversation-{uuid}   private-conversation-{uuid}    -                               members yes
    ops-{id}              presence-ops-{id}              - / ops.watch heartbeat          user   yes
    client:{topic}        (client events; no twin)       -                               as {topic}

Trading has no family of its own: its events (position/order/fill changes) go to the owner's
`private-user-{owner}`, i.e. topic `user-{owner}`. `private-encrypted-user-{id}` and
`#server-to-user-{id}` exist only in Pusher mode (Supabase has no end-to-end encryption and no
user channel); they carry the same events as `private-user-{id}`.

Who: `private.can_access_topic()` (migration 20261121020300) decides membership for both
providers; the realtime.messages RLS policies let members receive on `{topic}` and, for the
families with presence, track presence on it (migration 20261130900000); only `client:{topic}`
accepts client broadcasts. Used by lib.events.Channel.topic (the publisher's topic), the
local gateway (dev.realtime.topic_to_channel: which Pusher channel a broadcast reaches) and
the client examples in docs/realtime.md.
"""

from __future__ import annotations

from dataclasses import dataclass

CLIENT_TOPIC_PREFIX = "client:"


@dataclass(frozen=True, slots=True)
class TopicFamily:
    topic: str
    """Topic prefix: `poker-` (the id follows)."""
    events_channel: str
    """Pusher channel prefix server events on this family go to: `presence-poker-`."""
    presence: bool
    """Members see who else is there (Pusher presence channel / Realtime presence)."""
    who: str

    def channel(self, topic: str) -> str:
        return self.events_channel + topic[len(self.topic) :]


FAMILIES: tuple[TopicFamily, ...] = (
    TopicFamily("user-", "private-user-", presence=False, who="that user"),
    TopicFamily("location-", "private-location-", presence=True, who="location members"),
    TopicFamily("poker-", "presence-poker-", presence=True, who="session members"),
    TopicFamily("conversation-", "private-conversation-", presence=False, who="participants"),
    TopicFamily("ops-", "presence-ops-", presence=False, who="that operator"),
)

_PUSHER_PREFIXES = ("private-encrypted-", "private-", "presence-")


def family_of_topic(topic: str) -> TopicFamily | None:
    for family in FAMILIES:
        if topic.startswith(family.topic) and len(topic) > len(family.topic):
            return family
    return None


def topic_of(channel: str) -> str:
    """The Supabase topic for a Pusher channel name: its name without the authorization
    prefix (`presence-poker-X` -> `poker-X`, `private-user-42` -> `user-42`)."""
    for prefix in _PUSHER_PREFIXES:
        if channel.startswith(prefix):
            return channel[len(prefix) :]
    return channel
