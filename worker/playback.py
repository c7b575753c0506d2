"""What the caller has actually heard, from mark echoes. Pure state, no I/O.

Every chunk of assistant audio sent to the provider is followed by a mark; the provider echoes
a mark once the audio before it has played. So at any moment the caller has heard each item up
to the end of its last echoed chunk, and nothing after it.

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
class _Chunk:
    mark: str
    item_id: str
    end_ms: float


class Playback:
    def __init__(self) -> None:
        self._pending: deque[_Chunk] = deque()
        self._sent_ms: dict[str, float] = {}
        self._heard_ms: dict[str, float] = {}
        self._cut: set[str] = set()
        self._sequence = 0
        self.stale_marks = 0
        """Echoes that matched no pending mark (after a clear, or unknown names)."""

    def sent(self, item_id: str, duration_ms: float) -> str:
        """Record a chunk of `item_id` sent to the caller; returns the mark to send after it."""
        self._sequence += 1
        end = self._sent_ms.get(item_id, 0.0) + duration_ms
        self._sent_ms[item_id] = end
        name = f"a{self._sequence}"
        self._pending.append(_Chunk(name, item_id, end))
        return name

    def acknowledge(self, mark: str) -> bool:
        """A mark echo: the audio up to it has played. False (ignored) if it is stale."""
        if not any(chunk.mark == mark for chunk in self._pending):
            self.stale_marks += 1
            return False
        while self._pending:
            chunk = self._pending.popleft()
            self._heard_ms[chunk.item_id] = chunk.end_ms
            if chunk.mark == mark:
                break
        return True

    @property
    def playing(self) -> bool:
        """Audio was sent that the caller has not heard yet."""
        return bool(self._pending)

    def heard_ms(self, item_id: str) -> float:
        return self._heard_ms.get(item_id, 0.0)

    def sent_ms(self, item_id: str) -> float:
        return self._sent_ms.get(item_id, 0.0)

    def interrupt(self) -> list[Cut]:
        """The caller talks over us: cut every item not fully heard, forget pending marks."""
        items = list(dict.fromkeys(chunk.item_id for chunk in self._pending))
        self._pending.clear()
        cuts = []
        for item_id in items:
            heard = self.heard_ms(item_id)
            if heard < self.sent_ms(item_id):
                cuts.append(Cut(item_id, math.floor(heard)))
                self._cut.add(item_id)
        return cuts

    def is_cut(self, item_id: str) -> bool:
        return item_id in self._cut
