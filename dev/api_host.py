"""The api functions in a process of their own, with an environment of their own, as a second
deployment would run them: api/, public/ and the dev-only /_dev/ routes (dev/demo.py).

The functions build their Services from the process environment (lib.features.services), so
one process serves one realtime mode. The session stack's api runs in Pusher mode; tests that
need the api in Supabase mode (REALTIME_PROVIDER=supabase: tRPC mutations publish to the
stack's Supabase Realtime, /_dev/config tells the demo to use supabase-js) start this beside
it, against the same Postgres, gateway and Realtime servers. bench/load.py uses it to measure
the api process's own CPU (its pid).

    python -m dev.api_host PORT DSN      (environment: the stack's, plus overrides)
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from dev.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ApiHost:
    url: str
    pid: int


@contextlib.contextmanager
def api_process(stack: Stack, *, port: int = 0, **env: str) -> Iterator[ApiHost]:
    """Serve the api with the stack's environment plus `env` on `port` (0: a free one)."""
    from dev.ports import free_port

    assert stack.pg is not None
    port = port or free_port()
    environment = {**os.environ, **stack.env(), "SOCKLESS_ENV": "development", **env}
    log = (stack.logs / f"api-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.api_host", str(port), stack.pg.dsn],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield ApiHost(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the api process exited ({process.returncode})"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/_dev/config", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"the api at {url} did not answer within {START_TIMEOUT_S} s")


def main(argv: list[str]) -> None:
    import uvicorn

    from dev.demo import demo_app
    from dev.vercel import VercelDev

    port, dsn = int(argv[0]), argv[1]
    host = VercelDev(
        ROOT,
        cron_secret=os.environ.get("CRON_SECRET", ""),
        base_url=f"http://127.0.0.1:{port}",
        reload=False,
        crons=False,
        dev_app=demo_app(lambda: os.environ, dsn),
    )
    uvicorn.run(
        host, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
