"""What the caller has actually heard, from mark echoes. Pure state, no I/O.

Assistant audio goes to the provider in chunks, each followed by a mark (with `mark_every_ms`
> 0: a mark once that much audio has gone out since the last one, and when a response ends,
`mark()`), which the provider echoes once the audio before it has played. So at any moment
the caller has heard each item up to its position at the last echoed mark, and nothing after
it. A mark per chunk is exact to the chunk; coalescing (BRIDGE_MARK_EVERY_MS=100) halves the
messages when deltas are small, at the cost of truncating up to that much early.

Barge-in (`interrupt`): every item with audio sent but not yet heard is cut at what was heard
(0 for items that never started playing), pending marks are forgotten, and the caller is told
to `clear` its buffer. A `clear` makes the provider echo every pending mark at once; those
echoes name marks we already forgot, so `acknowledge` ignores them (they say nothing about what
was heard). Audio deltas of a cut item that arrive later are dropped (`is_cut`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cut:
    """Truncate `item_id` at `audio_end_ms`: what the caller heard of it."""

    item_id: str
    audio_end_ms: int


@dataclass(slots=True)
class _Position:
    mark: str
    item_id: str
    end_ms: float


class Playback:
    def __init__(self, *, mark_every_ms: float = 0.0) -> None:
        self._every = mark_every_ms
        self._pending: deque[_Position] = deque()
        self._unmarked: dict[str, float] = {}
        """Items with audio sent since the last mark -> where each has got to."""
        self._unmarked_ms = 0.0
        self._sent_ms: dict[str, float] = {}
        self._heard_ms: dict[str, float] = {}
        self._cut: set[str] = set()
        self._sequence = 0
        self.stale_marks = 0
        """Echoes that matched no pending mark (after a clear, or unknown names)."""

    def sent(self, item_id: str, duration_ms: float) -> str | None:
        """Record a chunk of `item_id` sent to the caller; returns a mark to send after it
        when one is due."""
        end = self._sent_ms.get(item_id, 0.0) + duration_ms
        self._sent_ms[item_id] = end
        self._unmarked[item_id] = end
        self._unmarked_ms += duration_ms
        return self.mark() if self._unmarked_ms >= self._every else None

    def mark(self) -> str | None:
        """A mark covering everything sent since the last one (None if nothing was)."""
        if not self._unmarked:
            return None
        self._sequence += 1
        name = f"a{self._sequence}"
        for item_id, end in self._unmarked.items():
            self._pending.append(_Position(name, item_id, end))
        self._unmarked.clear()
        self._unmarked_ms = 0.0
        return name

    def acknowledge(self, mark: str) -> bool:
        """A mark echo: the audio up to it has played. False (ignored) if it is stale."""
        if not any(position.mark == mark for position in self._pending):
            self.stale_marks += 1
            return False
        reached = False
        while self._pending and (not reached or self._pending[0].mark == mark):
            position = self._pending.popleft()
            self._heard_ms[position.item_id] = position.end_ms
            reached = reached or position.mark == mark
        return True

    @property
    def playing(self) -> bool:
        """Audio was sent that the caller has not (yet, as far as we know) heard."""
        return bool(self._pending) or bool(self._unmarked)

    def heard_ms(self, item_id: str) -> float:
        return self._heard_ms.get(item_id, 0.0)

    def sent_ms(self, item_id: str) -> float:
        return self._sent_ms.get(item_id, 0.0)

    def interrupt(self) -> list[Cut]:
        """The caller talks over us: cut every item not fully heard, forget pending marks."""
        items = dict.fromkeys([p.item_id for p in self._pending] + list(self._unmarked))
        self._pending.clear()
        self._unmarked.clear()
        self._unmarked_ms = 0.0
        cuts = []
        for item_id in items:
            heard = self.heard_ms(item_id)
            if heard < self.sent_ms(item_id):
                cuts.append(Cut(item_id, math.floor(heard)))
                self._cut.add(item_id)
        return cuts

    def is_cut(self, item_id: str) -> bool:
        return item_id in self._cut
