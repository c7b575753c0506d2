"""Who is joined to which topic, and the presence state of each topic.

A topic is (sub topic, private): as on hosted Realtime, `room-1` joined as a private channel
and `room-1` joined as a public one are two different topics, and a REST broadcast with
`private: true` reaches only the private one.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .frames import Broadcast, Frame, ws_frame

if TYPE_CHECKING:
    from .session import Join

TopicKey = tuple[str, bool]


@dataclass
class Meta:
    join: Join
    ref: str
    payload: dict[str, Any]

    def as_json(self, previous: str | None = None) -> dict[str, Any]:
        body = {**self.payload, "phx_ref": self.ref}
        if previous:
            body["phx_ref_prev"] = previous
        return body


@dataclass
class Hub:
    joins: dict[TopicKey, set[Join]] = field(default_factory=lambda: defaultdict(set))
    presence: dict[TopicKey, dict[str, list[Meta]]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def add(self, join: Join) -> None:
        self.joins[join.key].add(join)

    def remove(self, join: Join) -> None:
        self.untrack(join)
        members = self.joins.get(join.key)
        if members is not None:
            members.discard(join)
            if not members:
                del self.joins[join.key]

    def broadcast(self, key: TopicKey, message: Broadcast, *, sender: Join | None = None) -> int:
        """Deliver to every join of `key` that may read broadcasts; returns how many."""
        delivered = 0
        encoded: dict[str, tuple[str | bytes, bytes] | None] = {}  # per vsn: data, frame
        for join in list(self.joins.get(key, ())):
            if join is sender and not join.self_broadcast:
                continue
            if not join.may_read_broadcast:
                continue
            vsn = join.conn.vsn
            if vsn not in encoded:
                data = join.conn.encode(Frame(join.topic, "broadcast", message))
                encoded[vsn] = None if data is None else (data, ws_frame(data))
            built = encoded[vsn]
            if built is not None:
                join.conn.send_encoded(*built)
                delivered += 1
        return delivered

    def state(self, key: TopicKey) -> dict[str, Any]:
        return {
            k: {"metas": [meta.as_json() for meta in metas]}
            for k, metas in self.presence.get(key, {}).items()
        }

    def track(self, join: Join, payload: dict[str, Any]) -> None:
        metas = self.presence[join.key].setdefault(join.presence_key, [])
        old = next((m for m in metas if m.join is join), None)
        meta = Meta(join, secrets.token_urlsafe(9), payload)
        leaves: dict[str, Any] = {}
        if old is not None:
            metas.remove(old)
            leaves = {join.presence_key: {"metas": [old.as_json()]}}
        metas.append(meta)
        joins = {join.presence_key: {"metas": [meta.as_json(old.ref if old else None)]}}
        self._diff(join.key, joins, leaves)

    def untrack(self, join: Join) -> None:
        topic = self.presence.get(join.key)
        if not topic:
            return
        metas = topic.get(join.presence_key, [])
        old = next((m for m in metas if m.join is join), None)
        if old is None:
            return
        metas.remove(old)
        if not metas:
            del topic[join.presence_key]
        if not topic:
            del self.presence[join.key]
        self._diff(join.key, {}, {join.presence_key: {"metas": [old.as_json()]}})

    def _diff(self, key: TopicKey, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        for member in list(self.joins.get(key, ())):
            if member.may_read_presence:
                member.push("presence_diff", {"joins": joins, "leaves": leaves})
