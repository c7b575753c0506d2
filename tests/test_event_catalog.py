"""The event map `make types` generates cannot drift from what the SQL publishes: every event
name a migration queues (outbox_enqueue, and the CRM's crm_to_location / crm_to_user) is
declared by a feature's EventFamily on a family that carries it, so a front end gets a typed
handler for each; and every declared event is one the SQL publishes (or a client event)."""

from __future__ import annotations

import re
from pathlib import Path

from lib.features import BUNDLE

MIGRATIONS = Path(__file__).resolve().parents[1] / "supabase" / "migrations"
CALL = re.compile(r"(outbox_enqueue|crm_to_location|crm_to_user)\s*\(")
EVENT = re.compile(r"(?<!-> )(?<!->> )'([a-z0-9]+(?:-[a-z0-9]+)*)'")
FAMILY_OF = {"crm_to_location": "private-location-", "crm_to_user": "private-user-"}


def published() -> set[tuple[str, str | None]]:
    """(event name, the family prefix when the call names it) for every queued event."""
    found: set[tuple[str, str | None]] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        for call in CALL.finditer(text):
            literal = EVENT.search(arguments(text, call.end()))
            if literal:
                found.add((literal.group(1), FAMILY_OF.get(call.group(1))))
    return found


def arguments(text: str, start: int) -> str:
    """The argument list of the call whose `(` ends at `start`."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    return text[start:]


def declared() -> dict[str, set[str]]:
    """Family prefix -> declared event names."""
    return {pattern.split("{", 1)[0]: set(names) for pattern, names in BUNDLE.events.items()}


def test_every_published_event_is_declared_on_its_family() -> None:
    families = declared()
    everywhere = set().union(*families.values())
    missing = [
        (name, family)
        for name, family in sorted(published(), key=str)
        if name not in (families.get(family, set()) if family else everywhere)
    ]
    assert len(published()) > 30
    assert missing == []


def test_every_declared_server_event_is_published_by_the_sql() -> None:
    names = {name for name, _ in published()}
    unpublished = {
        name
        for events in declared().values()
        for name in events
        if name not in names and not name.startswith("client-")
    }
    assert unpublished == set()
