"""Schemathesis against the local stack (bench/fuzz.py): every operation of
/api/openapi.json, positive and negative inputs, with and without a user's token.

Default run: FUZZ_EXAMPLES cases per operation and mode (about 700 requests). With
`make test FULL=1` (SOCKLESS_TEST_FULL=1) the full run sends at least 10,000. Either way: no 5xx,
and every answer matches its documented shape (success schema, `Error` or `TrpcError`)."""

from __future__ import annotations

import os

from bench import fuzz as fuzzer
from dev.stack import Stack

FULL = os.environ.get("SOCKLESS_TEST_FULL") == "1"
FUZZ_EXAMPLES = 45 if FULL else 3
FULL_REQUESTS = 10_000


def test_generated_requests_get_no_5xx_and_only_documented_shapes(stack: Stack):
    tally = fuzzer.run(stack, examples=FUZZ_EXAMPLES)
    assert tally.operations >= 50
    assert tally.server_errors == 0, tally.summary()
    assert tally.failures == [], tally.summary()
    if FULL:
        assert tally.requests >= FULL_REQUESTS, tally.requests
    else:
        assert tally.requests >= 3 * tally.operations
