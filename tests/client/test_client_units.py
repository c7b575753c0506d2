"""client/'s logic that needs no server, in Node (tests/js/client/units.test.mjs): the Feed
(dedupe, order, gap fill, from-now start, references) with a history in memory, and the
supabase-js transport's topics, channel configs and tokens over the real supabase-js."""

from __future__ import annotations

import subprocess

import pytest

from tests.client.client_harness import ROOT

pytestmark = pytest.mark.usefixtures("built_client")


def test_client_units_pass_in_node() -> None:
    # Node 20 has WebSocket behind a flag (supabase-js needs one; Node 22 has it by default)
    done = subprocess.run(
        [
            "node",
            "--experimental-websocket",
            "--test-force-exit",
            "--test",
            "tests/js/client/units.test.mjs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
