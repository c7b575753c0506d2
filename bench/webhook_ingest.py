"""Webhook ingest: Stripe-signed deliveries verified -> stored -> published, events/s on one
core and p50/p99, ours (lib.webhooks.ingest) beside a naive handler, in the same run.

    python -m bench.webhook_ingest [--events 1000] [--concurrency 20] [--no-write]

Both handlers run in a child process pinned to one core, called in-process over ASGI (no HTTP
server between the load and the handler); Postgres, PostgREST (behind the local gateway) and
the Pusher-protocol server are the local stack's, in other processes. Each delivery is a
unique Stripe event whose processing sends two realtime events (`payment-received` on
private-user-{id}, `revenue-update` on private-location-{id}).

    ours   read with a size limit -> StripeVerifier -> ONE webhook_ingest call (store, dedupe,
           apply: two outbox rows, one transaction) -> one batched publish of both events
           -> mark published -> 200
    naive  the handler a seed project writes: stripe.Webhook.construct_event -> insert the
           event row through supabase-py -> two sequential `trigger()` calls of the official
           pusher SDK (its default requests backend, off the event loop) -> 200
Afterwards every event is checked stored once and every realtime event published once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import stripe
from starlette.requests import Request

from bench.docs_section import MACHINE, ROOT, median, note_load, percentile, replace_section
from bench.realtime_support import server_process
from dev.ports import bind_socket
from dev.realtime import ServerAddress
from dev.stack import Stack, StackConfig
from lib.features import BUNDLE
from lib.web import function, json_response
from lib.webhooks import ingest, providers
from lib.webhooks.endpoint import WebhookEndpoint

SECRET = "whsec_" + "b" * 32
WARMUP = 50
PROCESSOR = Path(__file__).with_name("webhook_ingest.sql")

OURS = WebhookEndpoint(
    route="/api/webhooks/stripe",
    provider="stripe",
    verifier=providers.stripe,
    processors={"invoice.paid": "bench_webhook_apply"},
)


def delivery() -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "invoice.paid",
            "data": {"object": {"customer": "u-bench", "location": "loc-bench", "amount": 4200}},
        }
    ).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    return body, {"stripe-signature": header, "content-type": "application/json"}


def naive_app(env: dict[str, str], pusher_at: ServerAddress) -> Any:
    import pusher

    from lib.db import Database
    from lib.services import Services

    sdk = pusher.Pusher(
        app_id=pusher_at.app_id, key=pusher_at.key, secret=pusher_at.secret,
        host=pusher_at.host, port=pusher_at.port, ssl=False,
    )  # fmt: skip
    services = Services.from_env(env)
    db = Database(services.settings)

    async def handle(request: Request, _: Any) -> Any:
        body = await request.body()
        event = stripe.Webhook.construct_event(body, request.headers["stripe-signature"], SECRET)
        client = await db.client()
        await client.table("webhook_events").insert(
            {"provider": "naive", "event_id": event["id"], "type": event["type"],
             "payload": json.loads(body), "status": "processed"}
        ).execute()  # fmt: skip
        data = json.loads(body)["data"]["object"]
        await asyncio.to_thread(
            sdk.trigger, f"private-user-{data['customer']}", "payment-received", data
        )
        await asyncio.to_thread(
            sdk.trigger, f"private-location-{data['location']}", "revenue-update", data
        )
        return json_response({"ok": True})

    return function(POST=handle, services=services)


def ours_app(env: dict[str, str], pusher_at: ServerAddress) -> Any:
    env = {
        **env,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "PUSHER_HOST": pusher_at.host,
        "PUSHER_PORT": str(pusher_at.port),
        "PUSHER_APP_ID": pusher_at.app_id,
        "PUSHER_KEY": pusher_at.key,
        "PUSHER_SECRET": pusher_at.secret,
    }
    services = BUNDLE.services(env)
    return function(POST=ingest.handler(OURS), services=services)


async def load(
    url: str, count: int, concurrency: int, cpu_s: Callable[[], float]
) -> tuple[float, float, list[float], int]:
    """(seconds, handler CPU seconds, latencies in ms, non-200 answers) for `count` deliveries,
    `concurrency` at once (after WARMUP unmeasured ones)."""
    deliveries = [delivery() for _ in range(count + WARMUP)]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for body, headers in deliveries[:WARMUP]:
            await client.post("/api/webhooks/stripe", content=body, headers=headers)
        gate = asyncio.Semaphore(concurrency)

        async def one(body: bytes, headers: dict[str, str]) -> None:
            nonlocal errors
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/webhooks/stripe", content=body, headers=headers
                    )
                except httpx.HTTPError:
                    errors += 1
                    return
                latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

        started, cpu_before = time.perf_counter(), cpu_s()
        async with asyncio.TaskGroup() as group:
            for body, headers in deliveries[WARMUP:]:
                group.create_task(one(body, headers))
        return time.perf_counter() - started, cpu_s() - cpu_before, latencies, errors


def counts(stack: Stack) -> dict[str, int]:
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
        row = conn.execute(
            "select"
            " (select count(*) from public.webhook_events where provider = 'stripe'"
            "   and status = 'processed' and attempts = 1),"
            " (select count(*) from public.webhook_events where provider = 'naive'),"
            " (select count(*) from public.outbox where event in"
            "   ('payment-received', 'revenue-update') and published_at is not null),"
            " (select count(*) from public.outbox where event in"
            "   ('payment-received', 'revenue-update') and published_at is null)"
        ).fetchone()
    assert row is not None
    return dict(zip(("ours_stored", "naive_stored", "published", "unpublished"), row, strict=True))


def serve(args: argparse.Namespace) -> None:
    """The child: one handler behind uvicorn, this process pinned to one core."""
    import uvicorn

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    setup = json.loads(sys.stdin.readline())
    pusher_at = ServerAddress(**setup["pusher"])
    build = naive_app if args.serve == "naive" else ours_app
    app = build(setup["env"], pusher_at)
    sock = bind_socket(0, what="bench handler", env_var="-")
    print(f"ready {sock.getsockname()[1]}", flush=True)
    # Nobody reads this process's output past that line: a full pipe would stall the handler.
    # The JSON request log line each function writes is not measured either.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    logging.getLogger("sockless").setLevel(logging.WARNING)
    config = uvicorn.Config(
        app, loop="asyncio", log_level="warning", lifespan="off", access_log=False
    )
    profile = os.environ.get("BENCH_PROFILE")  # a path: write cProfile stats of the run there
    if profile:
        import cProfile

        with cProfile.Profile() as profiler, contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
        profiler.dump_stats(profile)
        return
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def handler_process(
    name: str, stack: Stack, pusher_at: ServerAddress
) -> Iterator[tuple[str, Callable[[], float]]]:
    """Serve handler `name` in a pinned child process; yields its base URL and a function
    reading the CPU seconds it has used so far (user + system, all its threads)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_ingest", "--serve", name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdin is not None and process.stdout is not None
        setup = {"env": stack.env(), "pusher": dataclasses.asdict(pusher_at)}
        process.stdin.write(json.dumps(setup) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"the {name} handler did not start: {line!r}")
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu_s() -> float:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        yield f"http://127.0.0.1:{int(line.split()[1])}", cpu_s
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(stack: Stack, count: int, concurrency: int, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"naive": [], "ours": []}
    with server_process() as (pusher_at, _):
        for _ in range(repeat):
            for name in ("naive", "ours"):
                with handler_process(name, stack, pusher_at) as (url, cpu_s):
                    seconds, cpu, latencies, errors = asyncio.run(
                        load(url, count, concurrency, cpu_s)
                    )
                runs[name].append(
                    {
                        "events_s": count / seconds,
                        "per_core": count / cpu,
                        "cpu_ms": cpu * 1000 / count,
                        "p50": percentile(latencies, 50),
                        "p99": percentile(latencies, 99),
                        "errors": errors,
                    }
                )
    figures: dict[str, Any] = {
        name: {key: median([run[key] for run in done]) for key in done[0]}
        for name, done in runs.items()
    }
    for name, done in runs.items():
        figures[name]["errors"] = sum(run["errors"] for run in done)
    figures["counts"] = counts(stack)
    figures["sent"] = repeat * (count + WARMUP)
    figures["repeat"] = repeat
    return figures


def section(figures: dict[str, Any], count: int, concurrency: int, load_avg: float) -> str:
    ours, naive, stored = figures["ours"], figures["naive"], figures["counts"]

    def row(label: str, f: dict[str, float]) -> str:
        return (
            f"| {label} | {f['per_core']:.0f} | {f['cpu_ms']:.2f} ms | {f['events_s']:.0f} "
            f"| {f['p50']:.1f} ms | {f['p99']:.1f} ms | {f['errors']:.0f} |"
        )

    return "\n".join(
        [
            f"## Webhook ingest: verified -> stored -> published ({count:,} Stripe events)",
            "",
            f"machine: `{MACHINE}`, date {date.today().isoformat()}, median of "
            f"{figures['repeat']} runs per handler (alternating), {concurrency} "
            f"deliveries in flight, each handler in its own process pinned to one core, "
            f"1-minute load average at start {load_avg:.2f}",
            "",
            "| handler | events/s on one core (events per handler CPU-second) | handler CPU "
            "per event | events/s end to end | p50 | p99 | non-200 |",
            "|---|---|---|---|---|---|---|",
            row(
                "ours: verify -> webhook_ingest_many (store + apply, one transaction per call) "
                "-> one batched publish -> one mark",
                ours,
            ),
            row("naive: construct_event -> insert -> two sequential SDK `trigger()`", naive),
            "",
            f"Ours: {ours['per_core'] / naive['per_core']:.1f}x the naive handler's events per "
            f"core, {ours['events_s'] / naive['events_s']:.1f}x its end-to-end rate, p99 "
            f"{ours['p99']:.0f} vs {naive['p99']:.0f} ms. End to end, both share the machine's "
            "two cores with Postgres, PostgREST, the local gateway, the Pusher server and the "
            "load generator, so the per-core column (the handler process's own CPU time) is "
            "the capacity figure. Checked after the runs: "
            f"{stored['ours_stored']:,} of {figures['sent']:,} events sent to ours (warm-up "
            "included) stored once and processed on the first attempt, "
            f"{stored['published']:,} realtime events published and marked, "
            f"{stored['unpublished']} left unpublished. The naive handler has no dedupe (a "
            "redelivery is applied again) and no outbox (an event whose trigger fails is lost).",
            "",
            "`python -m bench.webhook_ingest`: each handler behind uvicorn in a child process "
            "pinned to one core; the load (httpx, keep-alive) from the parent; the local "
            "stack's Postgres and PostgREST behind its gateway; the Pusher-protocol server in "
            f"its own process. {WARMUP} warm-up deliveries per run are not counted. Ours "
            "groups what concurrent requests on one instance send (one webhook_ingest_many "
            "call, each delivery in its own subtransaction; one publish and one mark per group: "
            "lib/batching.py); alone, a request takes the same path with a group of one.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per handler (median)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--serve", choices=("naive", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args)
        return
    note_load()
    load_avg = os.getloadavg()[0]
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    stack = Stack(config).start()
    try:
        assert stack.pg is not None
        with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
            conn.execute(PROCESSOR.read_text())
            conn.execute("notify pgrst, 'reload schema'")
        time.sleep(1)
        figures = measure(stack, args.events, args.concurrency, args.repeat)
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = section(figures, args.events, args.concurrency, load_avg)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('webhook-ingest', text)}")


if __name__ == "__main__":
    main()
