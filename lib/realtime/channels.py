"""Who may subscribe to which channel: one rule per channel family, declared as data.

Core declares the families every app has (lib.core); each feature declares its own in its
`Feature(channels=...)`, and the app's `ChannelRules` is the union (a prefix claimed twice is
an error at build time). Families as shipped (their Supabase topics are defined once, in
lib.realtime.topics, with docs/realtime.md for Supabase-mode clients):

    family (Pusher name)                 Supabase topic        who may subscribe    declared by
    private-user-{id}                    user-{id}             that user            core
    private-encrypted-user-{id}          -                     that user            core
    #server-to-user-{id}                 -                     that user            core
    private-location-{id}                location-{id}         location members     core
    presence-location-{id}               location-{id}         location members     core
    presence-poker-{uuid}                poker-{uuid}          session members      poker
    private-conversation-{uuid}          conversation-{uuid}   participants         messaging

In Supabase mode only the server publishes on these topics: clients may not insert into
realtime.messages there, so no member can forge a server event. Client events (Pusher's
`client-*`, e.g. `client-typing` on a conversation) go on `client:{topic}`, which the same
members may receive and send on, with `client-` event names only; front ends listen for
server events on `{topic}` and for client events on `client:{topic}`.

Membership is not decided here but in SQL, by `public.can_subscribe(p_user_id, p_topic)`,
which wraps `private.can_access_topic()` — the function the realtime.messages RLS policies
call (migration 20261121020300_realtime_channel_access). Pusher authorization and Supabase
Realtime authorization therefore share one definition of "member"; a feature whose family
Supabase mode must carry adds a branch to can_access_topic in its own migration.

Public channels (no `private-`/`presence-` prefix) need no authorization. A private or
presence channel no rule covers is Forbidden; a name that is not a channel name, or an id of
the wrong shape for its family, is BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from lib.auth import Principal
from lib.db import Database
from lib.errors import BadRequest, Forbidden

MAX_CHANNEL_LENGTH = 200
CHANNEL_NAME = re.compile(r"[-a-zA-Z0-9_=@,.;]+")
USER_CHANNEL = re.compile(r"#server-to-user-[-a-zA-Z0-9_=@,.;]+")
"""Pusher's channel charset (the SDK holds user ids to it as well)."""
RESTRICTED_PREFIXES = ("private-", "presence-", "#")

ANY_ID = r"[-a-zA-Z0-9_=@,.;]{1,128}"
UUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"

Rule = Callable[[Principal, str, Database], Awaitable[bool]]
"""(who, the id in the channel name, database) -> may subscribe."""


async def same_user(principal: Principal, user_id: str, db: Database) -> bool:
    return principal.user_id == user_id


def member_of(topic: str) -> Rule:
    """Members of `{topic}-{id}`, as the database's can_subscribe() decides."""

    async def rule(principal: Principal, id_: str, db: Database) -> bool:
        allowed = await db.rpc(
            "can_subscribe", p_user_id=principal.user_id, p_topic=f"{topic}-{id_}"
        )
        return allowed is True

    rule.__name__ = f"member_of_{topic}"
    return rule


@dataclass(frozen=True)
class ChannelRule:
    prefix: str
    id_pattern: str
    rule: Rule

    def id_of(self, channel: str) -> str | None:
        """The id part of `channel` if it belongs to this family (None if it does not)."""
        return channel[len(self.prefix) :] if channel.startswith(self.prefix) else None


USER_RULES = (
    ChannelRule("private-user-", ANY_ID, same_user),
    ChannelRule("private-encrypted-user-", ANY_ID, same_user),
    ChannelRule("#server-to-user-", ANY_ID, same_user),
)
LOCATION_RULES = (
    ChannelRule("private-location-", ANY_ID, member_of("location")),
    ChannelRule("presence-location-", ANY_ID, member_of("location")),
)


def validate_channel_name(channel: object) -> str:
    """`channel` if it is a well-formed channel name, else BadRequest."""
    if not isinstance(channel, str) or not channel:
        raise BadRequest("channel_name is required")
    if len(channel) > MAX_CHANNEL_LENGTH:
        raise BadRequest(f"channel names are at most {MAX_CHANNEL_LENGTH} characters")
    if not (CHANNEL_NAME.fullmatch(channel) or USER_CHANNEL.fullmatch(channel)):
        raise BadRequest(f"{channel!r} is not a valid channel name")
    return channel


def is_restricted(channel: str) -> bool:
    """Private, presence and server-to-user channels need authorization; public ones do not."""
    return channel.startswith(RESTRICTED_PREFIXES)


class ChannelRules:
    """The channel families one app serves; longest prefix wins."""

    def __init__(self, rules: Iterable[ChannelRule]) -> None:
        self.rules = tuple(sorted(rules, key=lambda r: len(r.prefix), reverse=True))
        prefixes = [rule.prefix for rule in self.rules]
        twice = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if twice:
            raise ValueError(f"channel prefix claimed twice: {', '.join(twice)}")

    def rule_for(self, channel: str) -> tuple[ChannelRule, str]:
        """The family `channel` belongs to and its id; BadRequest / Forbidden if none fits."""
        for entry in self.rules:
            id_ = entry.id_of(channel)
            if id_ is None:
                continue
            if not re.fullmatch(entry.id_pattern, id_):
                shape = "a uuid" if entry.id_pattern == UUID else "an id"
                raise BadRequest(f"{entry.prefix}{{id}} channels take {shape}; got {id_!r}")
            return entry, id_
        raise Forbidden(f"no one may subscribe to {channel}: it belongs to no known channel family")

    async def authorize(self, principal: Principal, channel: str, *, db: Database) -> None:
        """Return if `principal` may subscribe to (and read the history of) `channel`; else
        raise Forbidden (403) or BadRequest (400, malformed name)."""
        validate_channel_name(channel)
        if not is_restricted(channel):
            return
        entry, id_ = self.rule_for(channel)
        if not await entry.rule(principal, id_, db):
            raise Forbidden(f"{principal.user_id} may not subscribe to {channel}")
