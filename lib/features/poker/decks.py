"""The decks a session can be created with, as data. The chosen deck's cards are stored with
the session, so changing a deck here never changes a running session."""

from __future__ import annotations

from typing import Literal

DeckType = Literal["fibonacci", "t-shirt", "custom"]

FIBONACCI = ("0", "1", "2", "3", "5", "8", "13", "21", "34", "55", "89", "?", "☕")
T_SHIRT = ("XS", "S", "M", "L", "XL", "XXL", "?")
MIN_CARDS, MAX_CARDS = 2, 30

STANDARD: dict[str, tuple[str, ...]] = {"fibonacci": FIBONACCI, "t-shirt": T_SHIRT}


def cards(deck_type: DeckType, values: list[str] | None = None) -> list[str]:
    """The cards of a deck: a standard deck's own, or the given custom values."""
    if deck_type == "custom":
        if values is None:
            raise ValueError("a custom deck needs its values")
        return list(values)
    return list(STANDARD[deck_type])
