"""Supabase broadcast topics -> Pusher channel names, for the dev gateway.

The gateway receives Supabase broadcast messages `{topic, event, payload, private}` and
republishes them through this server's signed HTTP API (`POST /apps/{id}/batch_events`).
This module only decides which Pusher channel a topic lands on.
"""

from __future__ import annotations

from lib.realtime.topics import family_of_topic

from .names import SERVER_TO_USER_PREFIX, channel_name_problem

_REALTIME_PREFIX = "realtime:"
_ALREADY_AUTHORIZED = ("private-", "presence-")


class InvalidTopic(ValueError):
    """The topic cannot be expressed as a Pusher channel name."""


def topic_to_channel(topic: str, private: bool) -> str:
    """Map a Supabase broadcast topic to the Pusher channel its subscribers listen on.

    - a public topic keeps its name: `"room-1"` -> `"room-1"`;
    - a private topic of a channel family goes where that family's server events go
      (lib.realtime.topics): `"user-42"` -> `"private-user-42"`, `"poker-<id>"` ->
      `"presence-poker-<id>"` (the channel pusher-js members subscribe to);
    - any other private topic gets the `private-` prefix: `"room-1"` -> `"private-room-1"`;
    - a topic that already names an authorized channel (`private-…`, `presence-…`,
      `private-encrypted-…`) or a `#server-to-user-…` channel is kept as it is,
      so `presence-room-1` stays a presence channel and is never double-prefixed;
    - the `realtime:` prefix supabase-js uses internally is dropped.

    Raises InvalidTopic when the result is not a valid Pusher channel name (Pusher allows
    only `[-a-zA-Z0-9_=@,.;]`, up to 200 characters; e.g. `"room:1"` must become `"room-1"`).
    Nothing is rewritten silently: a lossy mapping could merge two topics into one channel.
    """
    bare = topic.removeprefix(_REALTIME_PREFIX)
    if not bare:
        raise InvalidTopic(f"topic {topic!r} is empty")
    keep = bare.startswith(_ALREADY_AUTHORIZED) or bare.startswith(SERVER_TO_USER_PREFIX)
    family = family_of_topic(bare)
    if private and family is not None:
        channel = family.channel(bare)
    else:
        channel = f"private-{bare}" if private and not keep else bare
    problem = channel_name_problem(channel)
    if problem is not None:
        raise InvalidTopic(f"topic {topic!r} cannot be a Pusher channel: {problem}")
    return channel
