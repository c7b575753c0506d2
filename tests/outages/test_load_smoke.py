"""A short run of bench/load.py (the 60 s load benchmark): reads, writes, webhooks and channel
authorization from concurrent clients against an api process of its own; afterwards every
acknowledged write and webhook is stored once, applied, and its events published."""

from __future__ import annotations

from bench.load import measure, reconciled


def test_a_short_load_run_reconciles():
    figures = measure(seconds=2, concurrency=8, users=8)
    assert figures.requests > 0 and figures.server_errors == 0, figures.statuses
    assert figures.reconciliation["writes_acknowledged"] > 0
    assert figures.reconciliation["webhooks_acknowledged"] > 0
    assert reconciled(figures), figures.reconciliation
