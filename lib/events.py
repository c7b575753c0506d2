"""Realtime events: the envelope every client receives, and channel names.

Envelope (the data of a Pusher event / the payload of a Supabase broadcast):

    {"id": "<outbox id>", "type": "<kebab-case name>", "at": "<ISO-8601>", "data": {...},
     "prev": "<id of the previous event on this channel>"}

`prev` (absent when there is none, or for events not from the outbox) lets a client detect a
gap: an event whose prev is not the last id it delivered means it missed one (migration
20261130910000_outbox_prev); ids themselves are global, so never contiguous on a channel.

An envelope over `MAX_EVENT_BYTES` (Pusher's 10 KB data limit) is published as a reference
instead, `{"id", "type", "at", "ref": {"channel", "after", "url"}}`: the client fetches the
full event from the history endpoint (`GET url` returns it as the only event). Both providers
apply the same rule, so a client needs one code path.

Channels are written in Pusher form; `Channel.topic` / `Channel.private` give the Supabase
Realtime topic (`private-user-42` -> `user-42`, private; `room-1` -> `room-1`, public).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from lib.errors import BadRequest
from lib.realtime.topics import topic_of

MAX_NAME_LENGTH = 200
MAX_EVENT_BYTES = 10_240
"""Pusher rejects event data over 10 KB (413); bigger envelopes go out as references."""
HISTORY_PATH = "/api/realtime/history"

_CHANNEL_NAME = re.compile(r"[-a-zA-Z0-9_=@,.;]+")
_EVENT_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

ChannelKind = Literal["public", "private", "presence", "encrypted"]

# Longest prefix first: `private-encrypted-` is also a `private-` prefix.
_PREFIXES: tuple[tuple[str, ChannelKind], ...] = (
    ("private-encrypted-", "encrypted"),
    ("private-", "private"),
    ("presence-", "presence"),
)


class InvalidChannel(BadRequest):
    """A channel name Pusher would reject (charset, length, empty family name)."""


class InvalidEvent(BadRequest):
    """An event name that is not kebab-case, or an envelope that cannot be built."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A validated channel name in Pusher form: `Channel("private-user-42")`."""

    name: str
    kind: ChannelKind = field(init=False)
    cache: bool = field(init=False)
    """A cache channel (`cache-`, `private-cache-`, ...): the server replays its last event."""

    def __post_init__(self) -> None:
        problem = channel_problem(self.name)
        if problem:
            raise InvalidChannel(f"invalid channel {self.name[:MAX_NAME_LENGTH]!r}: {problem}")
        kind, rest = _split(self.name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "cache", rest.startswith("cache-"))

    @property
    def private(self) -> bool:
        """Subscribing needs authorization (private, presence and encrypted channels)."""
        return self.kind != "public"

    @property
    def topic(self) -> str:
        """The Supabase Realtime topic (lib.realtime.topics): the name without its
        authorization prefix, `presence-poker-X` -> `poker-X`."""
        return topic_of(self.name)

    def __str__(self) -> str:
        return self.name


def channel_problem(name: str) -> str | None:
    """Why `name` is not a channel we publish to, or None."""
    if not name:
        return "empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if not _CHANNEL_NAME.fullmatch(name):
        return "only letters, digits and -_=@,.; are allowed"
    if not _split(name)[1]:
        return "nothing after the prefix"
    return None


def _split(name: str) -> tuple[ChannelKind, str]:
    for prefix, kind in _PREFIXES:
        if name.startswith(prefix):
            return kind, name[len(prefix) :]
    return "public", name


def event_problem(name: str) -> str | None:
    """Why `name` is not a kebab-case event name, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    if not _EVENT_NAME.fullmatch(name):
        return "event names are kebab-case: lowercase letters and digits joined by '-'"
    return None


def encode(value: Mapping[str, Any]) -> str:
    """Compact JSON, the form sent on the wire and measured against the size limit."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def format_at(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Event:
    """One event to publish: an outbox row, on one or more channels.

    Outbox events have one channel; several channels share one envelope (same id), which the
    Pusher adapter sends as one trigger per 100 channels.
    """

    id: int
    type: str
    channels: tuple[Channel, ...]
    data: Mapping[str, Any]
    at: datetime
    prev: int | None = None
    """The previous event on the channel (outbox events), for clients' gap detection."""

    def __post_init__(self) -> None:
        problem = event_problem(self.type)
        if problem:
            raise InvalidEvent(f"invalid event {self.type[:MAX_NAME_LENGTH]!r}: {problem}")
        if not self.channels:
            raise InvalidEvent("an event needs at least one channel")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Event:
        """From the JSON of an outbox row (`public.outbox_event_json`)."""
        try:
            return cls(
                id=int(row["id"]),
                type=str(row["event"]),
                channels=(Channel(str(row["channel"])),),
                data=dict(row.get("data") or {}),
                at=datetime.fromisoformat(str(row["at"])),
                prev=None if row.get("prev") is None else int(row["prev"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidEvent(f"not an outbox event: {exc}") from exc

    @property
    def channel(self) -> Channel:
        """The first (for outbox events: the only) channel."""
        return self.channels[0]

    def envelope(self) -> dict[str, Any]:
        """The full envelope, whatever its size (the history endpoint returns this)."""
        envelope = {
            "id": str(self.id),
            "type": self.type,
            "at": format_at(self.at),
            "data": dict(self.data),
        }
        return self._with_prev(envelope)

    def _with_prev(self, envelope: dict[str, Any]) -> dict[str, Any]:
        if self.prev is not None:
            envelope["prev"] = str(self.prev)
        return envelope

    def reference(self, channel: Channel | None = None) -> dict[str, Any]:
        """A small stand-in for an oversized envelope, pointing at where to fetch it."""
        channel = channel or self.channel
        after = self.id - 1
        query = urlencode({"channel": channel.name, "after": after, "limit": 1})
        return self._with_prev(
            {
                "id": str(self.id),
                "type": self.type,
                "at": format_at(self.at),
                "ref": {
                    "channel": channel.name,
                    "after": str(after),
                    "url": f"{HISTORY_PATH}?{query}",
                },
            }
        )

    def published(
        self, channel: Channel | None = None, *, limit: int = MAX_EVENT_BYTES
    ) -> dict[str, Any]:
        """What to publish: the envelope if its JSON fits in `limit` bytes, else a reference."""
        full = self.envelope()
        if len(encode(full).encode()) <= limit:
            return full
        return self.reference(channel)

    def wire(self, channel: Channel | None = None, *, limit: int = MAX_EVENT_BYTES) -> str:
        """`published()` as JSON text (Pusher's `data`)."""
        return encode(self.published(channel, limit=limit))

    def oversized(self, *, limit: int = MAX_EVENT_BYTES) -> bool:
        return len(encode(self.envelope()).encode()) > limit


def _is_none(value: object) -> bool:
    return value is None


def absent() -> Any:
    """`previous: str | None = absent()`: a key of an event's data the publisher may leave
    out (not the same as null): optional (`previous?:`) in the types `make types` writes."""
    from pydantic import Field

    return Field(default=None, exclude_if=_is_none)


@dataclass(frozen=True, slots=True)
class EventFamily:
    """The events one feature publishes on a channel family, as data: what `make types`
    turns into the client's typed handlers (`subscribe("presence-poker-…", {vote: e => …})`).

        EventFamily("presence-poker-{sessionId}", {"vote": VoteCast, ...})

    `channel` is the family's name pattern in Pusher form (the part before `{` is its prefix);
    `events` maps each kebab-case event name to the pydantic model of its envelope `data`.
    Client events (`client-typing`) are listed the same way: their data comes from clients.
    Two features may declare events on one family (`private-user-`); one event name declared
    twice on a family is a union of both models.
    """

    channel: str
    events: Mapping[str, type[Any]]

    @property
    def prefix(self) -> str:
        return self.channel.split("{", 1)[0]

    def __post_init__(self) -> None:
        if not self.prefix or "}" not in self.channel:
            raise ValueError(f"event family {self.channel!r}: write it as 'prefix-{{id}}'")
        for name in self.events:
            problem = event_problem(name)
            if problem:
                raise InvalidEvent(f"{self.channel}: invalid event {name!r}: {problem}")
