"""tRPC batching: one `?batch=1` request of 10 queries vs the same 10 queries as separate calls.

    python -m bench.trpc_batch [--iterations 100] [--no-write]

Starts its own local stack (fresh Postgres, PostgREST, gateway, Vercel emulation serving
api/trpc.py) on free loopback ports, then for two queries measures the wall time until all 10
results are in, per iteration:

    batch       1 GET /api/trpc/q,q,...?batch=1 (httpBatchLink); the server runs the 10 calls
                concurrently
    concurrent  10 GETs at once over at most 6 keep-alive connections (httpLink, as a browser
                limits HTTP/1.1 connections per origin)
    sequential  10 GETs one after the other (awaited in turn)

Queries: `system.health` (public, no database: the cost of the HTTP and tRPC layers) and
`events.since` (a signed-in caller: JWT verification, a rate-limit upsert and a history read,
i.e. two PostgREST round trips per call). Reports median and p90 in milliseconds, prints a
Markdown table and (unless --no-write) puts it in docs/benchmarks.md between this
benchmark's markers, replacing the previous figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.realtime_support import machine, percentile
from dev.stack import Stack, StackConfig
from dev.token import user_token

CALLS = 10
WARMUP = 10
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- trpc_batch:start -->", "<!-- trpc_batch:end -->"

Round = Callable[[], Awaitable[None]]
Input = Callable[[str], object | None]
"""The query's input for a given user (None: no input)."""


def _input(value: object) -> str:
    return quote(json.dumps(value, separators=(",", ":")), safe="")


def make_round(
    client: httpx.AsyncClient, stack: Stack, mode: str, path: str, input_for: Input
) -> Round:
    """One iteration's requests, for a fresh user: each round stays far below the per-user
    rate limit of `events.since` (240 calls a minute)."""
    user = f"bench-{secrets.token_hex(6)}"
    headers = {"authorization": f"Bearer {user_token(stack.config.jwt_secret, sub=user)}"}
    value = input_for(user)
    single = f"/api/trpc/{path}" + (f"?input={_input(value)}" if value is not None else "")
    batch = f"/api/trpc/{','.join([path] * CALLS)}?batch=1"
    if value is not None:
        batch += f"&input={_input({str(i): value for i in range(CALLS)})}"

    async def one(url: str) -> httpx.Response:
        response = await client.get(url, headers=headers)
        if response.is_error:
            raise RoundFailed(f"{response.status_code}: {response.text[:300]}")
        return response

    async def batched() -> None:
        results = (await one(batch)).json()
        if len(results) != CALLS or not all("result" in r for r in results):
            raise RoundFailed(json.dumps(results)[:300])

    async def concurrent() -> None:
        await asyncio.gather(*(one(single) for _ in range(CALLS)))

    async def sequential() -> None:
        for _ in range(CALLS):
            await one(single)

    return {"batch": batched, "concurrent": concurrent, "sequential": sequential}[mode]


class RoundFailed(RuntimeError):
    """A call of the round was not answered 200 (counted, kept out of the latencies)."""


async def measure(make: Callable[[], Round], iterations: int) -> dict[str, float]:
    for _ in range(WARMUP):
        with contextlib.suppress(RoundFailed):
            await make()()
    samples: list[float] = []
    failed = 0
    for _ in range(iterations):
        round_ = make()
        started = time.perf_counter()
        try:
            await round_()
        except RoundFailed as exc:
            failed += 1
            print(f"round failed: {str(exc)[:300]}")
            continue
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(percentile(samples, 0.9), 2),
        "failed_rounds": failed,
    }


QUERIES: dict[str, Input] = {
    # events.since first: the stack's gateway closes keep-alive connections idle for 5 s, and
    # a database pool left idle through the health rounds would meet that race on reuse.
    "events.since": lambda user: {"channel": f"private-user-{user}", "after": "0"},
    "system.health": lambda user: None,
}
MODES = ("batch", "concurrent", "sequential")


async def run(stack: Stack, iterations: int) -> dict[str, dict[str, dict[str, float]]]:
    limits = httpx.Limits(max_connections=6, max_keepalive_connections=6)
    results: dict[str, dict[str, dict[str, float]]] = {}
    async with httpx.AsyncClient(base_url=stack.api_url, limits=limits, timeout=30) as client:
        for path, input_for in QUERIES.items():
            results[path] = {}
            for mode in MODES:
                results[path][mode] = await measure(
                    lambda mode=mode, path=path, input_for=input_for: make_round(
                        client, stack, mode, path, input_for
                    ),
                    iterations,
                )
    return results


def table(results: dict[str, dict[str, dict[str, float]]], iterations: int, load: float) -> str:
    lines = [
        BEGIN,
        f"## tRPC: a batch of {CALLS} queries vs {CALLS} separate calls (`bench/trpc_batch.py`)",
        "",
        f"{machine()}, {date.today().isoformat()}; local stack (Vercel emulation -> "
        "api/trpc.py -> PostgREST -> Postgres), loopback; wall time until all "
        f"{CALLS} results are in, {iterations} iterations after {WARMUP} warm-up; "
        f"1-minute load average {load:.1f} when it started (other work shares the cores).",
        "",
        "| query | batch (1 request) | concurrent (10 requests, 6 connections) "
        "| sequential (10 requests) | batch speed-up vs concurrent |",
        "|---|---|---|---|---|",
    ]
    for path, modes in results.items():
        cells = [f"{m['median_ms']:g} ms (p90 {m['p90_ms']:g})" for m in modes.values()]
        speedup = modes["concurrent"]["median_ms"] / modes["batch"]["median_ms"]
        lines.append(f"| `{path}` | {' | '.join(cells)} | {speedup:.1f}x |")
    failures = {
        f"`{path}` {mode}": m["failed_rounds"]
        for path, modes in results.items()
        for mode, m in modes.items()
        if m["failed_rounds"]
    }
    if failures:
        listed = ", ".join(f"{name}: {count}" for name, count in failures.items())
        lines += ["", f"Rounds with a non-200 call (left out of the figures): {listed}."]
    lines += [
        "",
        "`system.health` touches no database: the difference is the per-request HTTP, Vercel",
        "emulation and tRPC overhead that batching pays once. `events.since` does a JWT check,",
        "a rate-limit upsert and a history read per call; in a batch the 10 calls share one",
        "request and one token verification and run concurrently on the server, but their 20",
        "PostgREST round trips remain and dominate. The local stack runs the api functions and",
        "the Supabase gateway in one Python process, so concurrent requests contend for one",
        "interpreter (here they are no faster than sequential ones); on Vercel, separate",
        "requests may land on separate instances, each paying its own cold start instead.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nFigures from `make bench`.\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    load = os.getloadavg()[0]
    stack = Stack(config).start()
    try:
        results = asyncio.run(run(stack, args.iterations))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    section = table(results, args.iterations, load)
    print(section)
    if not args.no_write:
        write(section)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
