"""Both sides of a call as it happens, timestamped from the start of the media stream.

An utterance is placed at the moment it began (the caller's `speech_started`, the assistant's
first audio chunk), not when its text arrived: transcription finishes after the speech, and
the two sides overlap when the caller barges in. Bounded: at most MAX_ENTRIES entries of at most
MAX_TEXT characters (a 10-minute call stays far below either).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["caller", "assistant"]
MAX_ENTRIES = 1000
MAX_TEXT = 4000


@dataclass(slots=True)
class Entry:
    role: Role
    text: str
    at_ms: int
    item_id: str | None
    interrupted: bool = False

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"role": self.role, "text": self.text, "atMs": self.at_ms}
        if self.interrupted:
            entry["interrupted"] = True
        return entry


class Transcript:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._began: dict[str, int] = {}
        self._entries: list[Entry] = []
        self._interrupted: set[str] = set()

    def elapsed_ms(self) -> int:
        return int((self._clock() - self._started) * 1000)

    def began(self, item_id: str) -> None:
        """An utterance started now (kept only the first time an item is seen)."""
        self._began.setdefault(item_id, self.elapsed_ms())

    def add(self, role: Role, text: str, *, item_id: str | None = None) -> None:
        text = text.strip()
        if not text or len(self._entries) >= MAX_ENTRIES:
            return
        at = self._began.get(item_id, self.elapsed_ms()) if item_id else self.elapsed_ms()
        interrupted = item_id in self._interrupted if item_id else False
        self._entries.append(Entry(role, text[:MAX_TEXT], at, item_id, interrupted))

    def interrupted(self, item_id: str) -> None:
        """The caller talked over this assistant item."""
        self._interrupted.add(item_id)
        for entry in self._entries:
            if entry.item_id == item_id:
                entry.interrupted = True

    def entries(self) -> list[Entry]:
        return sorted(self._entries, key=lambda entry: entry.at_ms)

    def as_json(self) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.entries()]
