"""Channel, event and socket names: what Pusher accepts and what kind of channel a name is.

Pure functions only. The character set and the 200-character limit are the ones the
official server SDKs enforce (`pusher/util.py`) and Pusher's HTTP API answers with 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_NAME_LENGTH = 200
SERVER_TO_USER_PREFIX = "#server-to-user-"

_NAME_RE = re.compile(r"\A[-a-zA-Z0-9_=@,.;]+\Z")
_SOCKET_ID_RE = re.compile(r"\A\d+\.\d+\Z")


class ChannelKind(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    PRESENCE = "presence"
    ENCRYPTED = "encrypted"
    SERVER_TO_USER = "server-to-user"


@dataclass(frozen=True, slots=True)
class ChannelType:
    kind: ChannelKind
    cached: bool

    @property
    def needs_auth(self) -> bool:
        """Private, presence and encrypted channels need a signature to subscribe."""
        return self.kind in (ChannelKind.PRIVATE, ChannelKind.PRESENCE, ChannelKind.ENCRYPTED)

    @property
    def accepts_client_events(self) -> bool:
        """Client events are allowed on private and presence channels, never encrypted ones."""
        return self.kind in (ChannelKind.PRIVATE, ChannelKind.PRESENCE)


# Longest prefix first: "private-encrypted-" must win over "private-".
_PREFIXES: list[tuple[str, ChannelType]] = [
    ("private-encrypted-cache-", ChannelType(ChannelKind.ENCRYPTED, cached=True)),
    ("private-encrypted-", ChannelType(ChannelKind.ENCRYPTED, cached=False)),
    ("private-cache-", ChannelType(ChannelKind.PRIVATE, cached=True)),
    ("private-", ChannelType(ChannelKind.PRIVATE, cached=False)),
    ("presence-cache-", ChannelType(ChannelKind.PRESENCE, cached=True)),
    ("presence-", ChannelType(ChannelKind.PRESENCE, cached=False)),
    ("cache-", ChannelType(ChannelKind.PUBLIC, cached=True)),
    (SERVER_TO_USER_PREFIX, ChannelType(ChannelKind.SERVER_TO_USER, cached=False)),
]
_PUBLIC = ChannelType(ChannelKind.PUBLIC, cached=False)


def channel_type(name: str) -> ChannelType:
    """Classify a (valid) channel name by its prefix."""
    for prefix, kind in _PREFIXES:
        if name.startswith(prefix):
            return kind
    return _PUBLIC


def channel_name_problem(name: object) -> str | None:
    """Why `name` is not a valid channel name, or None if it is."""
    if not isinstance(name, str) or not name:
        return "channel name must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return f"channel name is longer than {MAX_NAME_LENGTH} characters"
    bare = name.removeprefix(SERVER_TO_USER_PREFIX)
    if not bare or not _NAME_RE.match(bare):
        return f"channel name {name!r} has characters outside [-a-zA-Z0-9_=@,.;]"
    return None


def event_name_problem(name: object) -> str | None:
    """Why `name` is not an event name the HTTP API accepts, or None if it is."""
    if not isinstance(name, str) or not name:
        return "event name must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return f"event name is longer than {MAX_NAME_LENGTH} characters"
    if name.startswith(("pusher:", "pusher_internal:")):
        return "event names starting with 'pusher:' or 'pusher_internal:' are reserved"
    return None


def user_id_problem(user_id: object) -> str | None:
    """Why `user_id` cannot name a user (sign-in, terminate_connections), or None."""
    if not isinstance(user_id, str) or not user_id:
        return "user id must be a non-empty string"
    if len(user_id) > MAX_NAME_LENGTH:
        return f"user id is longer than {MAX_NAME_LENGTH} characters"
    if not _NAME_RE.match(user_id):
        return f"user id {user_id!r} has characters outside [-a-zA-Z0-9_=@,.;]"
    return None


def is_socket_id(value: object) -> bool:
    return isinstance(value, str) and _SOCKET_ID_RE.match(value) is not None
