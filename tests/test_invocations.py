"""The invocation tally (lib.invocations) on its own: routes cut to their function, a bounded
number of routes per day, flushed only when due, and kept when a flush fails."""

from __future__ import annotations

import pytest

from lib.invocations import MAX_ROUTES, InvocationTally, route_of


def test_routes_are_the_function_not_the_ids_in_the_path():
    assert route_of("/api/trpc/poker.vote,poker.reveal") == "/api/trpc"
    assert route_of("/api/webhooks/broker/5f1c-id") == "/api/webhooks/broker"
    assert route_of("/api/cron/outbox-relay") == "/api/cron/outbox-relay"
    assert route_of("/api/health") == "/api/health"
    assert len(route_of("/api/" + "x" * 500)) == 100


def test_invented_paths_cannot_grow_the_tally_past_its_bound():
    tally = InvocationTally()
    for n in range(MAX_ROUTES + 50):
        tally.record(f"/api/made-up-{n}", 1.0)
    routes = {row["route"] for row in tally.drain()}
    assert len(routes) == MAX_ROUTES + 1
    assert "other" in routes


async def test_a_failed_flush_keeps_the_counts_for_the_next_one():
    now = [0.0]
    tally = InvocationTally(clock=lambda: now[0])
    tally.record("/api/health", 5.0)
    assert not tally.due()
    now[0] = 61.0

    async def refuse(rows: list[dict]) -> None:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        await tally.flush_if_due(refuse)
    tally.record("/api/health", 7.0)
    now[0] = 200.0
    flushed: list[list[dict]] = []

    async def keep(rows: list[dict]) -> None:
        flushed.append(rows)

    assert await tally.flush_if_due(keep)
    [[row]] = flushed
    assert (row["route"], row["count"], row["ms"], row["maxMs"]) == ("/api/health", 2, 12.0, 7.0)
