"""Seed workloads: a compressed day of each seed's stated load through the local stack, then
the usage rollup and the cost projection on what was recorded.

    python -m bench.workloads [--scale 1.0] [--no-write]

For each seed (SEEDS, numbers from issue 16) one day is played as fast as the stack takes it:
  driven    its realtime events are queued as outbox rows (one transaction per write, as a
            command does) and published by the real PusherPublisher to the local
            Pusher-protocol server, marked published like any command's events; the
            subscribers the seed has are present in realtime_presence (so the rollup's
            delivery estimate sees them)
  recorded  what cannot be driven here without the outside world — webhook deliveries,
            function invocations, calls — is written as the records the real paths leave
            (webhook_events rows, the invocation tally, calls rows), at the seed's numbers
Each seed's rows are then placed on a day of their own and public.usage_rollup totals it, so
the projection reads exactly what `make cost` would read after such a day. `--scale` plays a
fraction of the day (QUICK runs) and scales the recorded figures back up to one day.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg

from bench.docs_section import DATE, MACHINE, note_load, replace_section
from dev.stack import Stack, StackConfig
from lib.config import load_settings
from lib.db import Database
from lib.features.usage import prices, projection, rollup
from lib.realtime import publisher
from lib.realtime.outbox import commit_events

ENQUEUE_SQL = """
create or replace function public.bench_workload_enqueue(p_channels text[], p_event text)
returns jsonb language plpgsql volatile security definer set search_path = '' as $$
declare v_ids bigint[] := '{}'; v_channel text;
begin
  foreach v_channel in array p_channels loop
    v_ids := v_ids || public.outbox_enqueue(v_channel, p_event, '{"bench": true}'::jsonb);
  end loop;
  return jsonb_build_object('events', public.outbox_rows(v_ids));
end $$;
grant execute on function public.bench_workload_enqueue(text[], text) to service_role;
notify pgrst, 'reload schema';
"""


@dataclass(frozen=True)
class Channel:
    """A channel family of a seed: how many events a day land on each, and who listens."""

    prefix: str
    channels: int
    events_per_channel: int
    subscribers: int


@dataclass(frozen=True)
class Seed:
    name: str
    load: str
    """The seed's stated load (issue 16)."""
    claim: str
    channels: tuple[Channel, ...]
    concurrent: int
    webhooks: dict[str, int]
    """Provider -> deliveries a day."""
    invocations: int
    invocation_ms: float
    polling_clients: int
    polling_hours: float
    polling_interval_s: float | None = None
    """The seed's own polling interval where it names one (else prices.json's)."""
    call_minutes: float = 0.0
    peak_calls: int | None = None


SEEDS = (
    Seed(
        name="messaging",
        load="1,000-5,000 messages/day, 50-200 concurrent users (upper end played)",
        claim="stay inside Pusher's 200k messages/day (free Sandbox)",
        # each message: new-message on its conversation (2 participants) and on the
        # recipient's own channel (unread count)
        channels=(
            Channel("private-conversation-", 250, 20, 2),
            Channel("private-user-", 200, 25, 1),
        ),
        concurrent=200,
        webhooks={"pusher": 200 * 2 * 2},  # each user online twice a day: added + removed
        invocations=5_000 * 3,  # send, mark read, delta fetch
        invocation_ms=5_000 * 3 * 60.0,
        polling_clients=200,
        polling_hours=8,
    ),
    Seed(
        name="poker",
        load="100 sessions/day of 10-50 messages (50 played), ~6 voters each",
        claim="zero-cost architecture on free tiers",
        channels=(Channel("presence-poker-", 100, 50, 6),),
        concurrent=60,
        webhooks={"pusher": 100 * 6 * 2},
        invocations=100 * 50,
        invocation_ms=100 * 50 * 60.0,
        polling_clients=60,
        polling_hours=2,
    ),
    Seed(
        name="crm",
        load="100 users, ~20 HighLevel webhooks per user per day",
        claim="$49/mo instead of $2,000/mo of polling",
        channels=(
            Channel("private-user-", 100, 20, 1),
            Channel("private-location-", 10, 60, 10),
        ),
        concurrent=100,
        webhooks={"ghl": 2_000, "pusher": 100 * 2 * 2},
        invocations=2_000 + 100 * 30,
        invocation_ms=(2_000 + 100 * 30) * 60.0,
        polling_clients=100,
        polling_hours=8,
        polling_interval_s=2,  # the seed's polling (docs/benchmarks.md, CRM)
    ),
    Seed(
        name="trading",
        load="50 users with dashboards open 1 h/day, ~200 broker updates each",
        claim="webhooks + on-demand sync instead of background polling every 10 s",
        channels=(Channel("private-user-", 50, 200, 1),),
        concurrent=50,
        webhooks={"broker": 50 * 200},
        invocations=50 * 200 + 50 * 10,
        invocation_ms=(50 * 200 + 50 * 10) * 60.0,
        polling_clients=50,
        polling_hours=1,
        polling_interval_s=10,  # the seed's rejected background polling (trading)
    ),
    Seed(
        name="calls",
        load="100 concurrent callers at peak, ~1,000 calls of 3 min a day",
        claim="$5-10/mo on Fly for the bridge",
        channels=(Channel("private-user-", 100, 10, 1),),
        concurrent=100,
        webhooks={"signalwire": 1_000 * 3},
        invocations=1_000 * 4,
        invocation_ms=1_000 * 4 * 80.0,
        polling_clients=0,
        polling_hours=0,
        call_minutes=3_000,
        peak_calls=100,
    ),
)


def polling_prices(seed: Seed) -> prices.Prices:
    """prices.json with the seed's polling pattern (hours open, its interval if it names one)."""
    price_list = dict(prices.load())
    polling = {**price_list["polling"], "active_hours_per_day": seed.polling_hours}
    if seed.polling_interval_s is not None:
        polling["interval_s"] = seed.polling_interval_s
    price_list["polling"] = polling
    return price_list


def seed_day(index: int) -> date:
    """The calendar day a seed's records are placed on (far from any real day)."""
    return date(2001, 1, 1) + timedelta(days=index)


async def drive(stack: Stack, seed: Seed, scale: float, run: str) -> dict[str, Any]:
    """Publish `scale` of the seed's day of events through the real publisher."""
    config = load_settings({**stack.env(), "REALTIME_PROVIDER": "pusher"})
    db = Database(config)
    writes = published = played = 0
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as http:
        sender = publisher(config, http=http)
        for family in seed.channels:
            names = [f"{family.prefix}{run}{seed.name}{n}" for n in range(family.channels)]
            rounds = max(1, math.ceil(family.events_per_channel * scale))
            for _ in range(rounds):
                # one write = one transaction queuing one event on each of a few channels
                for start in range(0, len(names), 10):
                    result = await db.rpc(
                        "bench_workload_enqueue",
                        p_channels=names[start : start + 10],
                        p_event="bench-event",
                    )
                    outcome = await commit_events(db, sender, result["events"])
                    writes += 1
                    published += len(outcome.published)
            played += family.channels * rounds
            present(stack, family, names, run)
    await db.aclose()
    intended = sum(f.channels * f.events_per_channel for f in seed.channels)
    return {
        "writes": writes,
        "published": published,
        "played": played / intended,
        "seconds": time.perf_counter() - started,
    }


def present(stack: Stack, family: Channel, names: list[str], run: str) -> None:
    """The seed's listeners, as the Pusher webhooks would record them."""
    assert stack.pg is not None
    rows = []
    for name in names:
        if name.startswith("private-user-"):
            rows.append((name.removeprefix("private-user-"), name))
        else:
            rows += [(f"{run}-{name[-12:]}-{k}", name) for k in range(family.subscribers)]
    with psycopg.connect(stack.pg.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into public.realtime_presence (user_id, channel, present, event_time_ms,"
            " event_index) values (%s, %s, true, 1, 0) on conflict do nothing",
            rows,
        )


def record(stack: Stack, seed: Seed, day: date, run: str) -> None:
    """Move this seed's published rows onto its day; write what was not driven."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
        conn.execute(
            "update public.outbox set published_at = %s::date + (published_at - now()::date),"
            " created_at = %s::date + (created_at - now()::date)"
            " where published_at is not null and channel like %s",
            [day, day, f"%{run}{seed.name}%"],
        )
        for provider, count in seed.webhooks.items():
            conn.execute(
                "insert into public.webhook_events (provider, event_id, payload, status,"
                " received_at) select %s, %s || g, '{}', 'processed', %s::date + interval '12h'"
                " from generate_series(1, %s) g",
                [provider, f"{run}-{seed.name}-", day, count],
            )
        if seed.call_minutes:
            calls = int(seed.call_minutes // 3)
            conn.execute(
                "insert into public.calls (owner_id, provider, direction, from_number,"
                " to_number, status, duration_s, stream_started_at, ended_at)"
                " select 'bench', 'signalwire', 'inbound', '+15550000001', '+15550000002',"
                " 'completed', 180, %s::date + interval '9h', %s::date + interval '9h 3m'"
                " from generate_series(1, %s)",
                [day, day, calls],
            )


async def project_seed(stack: Stack, seed: Seed, day: date, played: float) -> dict[str, Any]:
    """The day's usage as the rollup records it; driven figures scaled up by 1 / `played`."""
    config = load_settings({**stack.env(), "REALTIME_PROVIDER": "pusher"})
    db = Database(config)
    await rollup.rollup_day(db, day, provider="pusher")
    await db.rpc(
        "usage_invocations_add",
        p_rows=[
            {
                "day": day.isoformat(),
                "route": "/api/trpc",
                "count": seed.invocations,
                "ms": seed.invocation_ms,
                "maxMs": 500,
            }
        ],
    )
    rows = [projection.UsageRow.of(r) for r in await rollup.usage_rows(db, since=day)]
    await db.aclose()
    rows = [r for r in rows if r.day == day]
    driven = {"events_published", "deliveries_estimated", "provider_calls"}
    rows = [
        projection.UsageRow(r.day, r.provider, r.metric, r.dimension, r.value / played)
        if r.metric in driven
        else r
        for r in rows
    ]
    rows.append(projection.UsageRow(day, "pusher", "peak_connections", "", seed.concurrent))
    result = projection.project(
        rows, polling_prices(seed), peak_calls=seed.peak_calls, polling_clients=seed.polling_clients
    )
    return {"projection": result, "rows": rows}


def table(results: list[tuple[Seed, dict[str, Any], dict[str, Any]]], scale: float) -> str:
    lines = [
        "## Seed workloads: a compressed day of each seed, projected per month",
        "",
        f"machine: `{MACHINE}`, date {DATE}, {scale:g} of each day played through the local "
        "stack (outbox -> PusherPublisher -> local Pusher-protocol server), then "
        "public.usage_rollup and the projection (lib/features/usage, prices.json)",
        "",
        "| seed | stated load | the seed's claim | Pusher msg/day | Pusher | Supabase | Ably "
        "| Vercel | polling instead (Vercel) | polling / cheapest realtime | bridge (Fly) "
        "| played in |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for seed, drove, found in results:
        p: projection.Projection = found["projection"]

        def cell(name: str, p: projection.Projection = p) -> str:
            plan = p.cheapest(name)
            return f"{plan.plan} ${plan.usd_month:,.2f}" if plan else "none fits"

        pusher = next(x for x in p.providers if x.provider == "pusher")
        poll = p.polling
        polling = (
            f"{poll['cheapest']} ${poll['usd_month']:,.2f} ({poll['requests_day']:,.0f} req/day)"
            if seed.polling_clients
            else "-"
        )
        lines.append(
            f"| {seed.name} | {seed.load} | {seed.claim} | "
            f"{pusher.inputs['messages_day']:,.0f} | {cell('pusher')} | {cell('supabase')} | "
            f"{cell('ably')} | {cell('vercel')} | {polling} | {ratio(p, seed)} | "
            f"{cell('fly') if seed.call_minutes else '-'} | {drove['seconds']:.1f} s |"
        )
    lines += [
        "",
        "Pusher msg/day = publishes + estimated deliveries + Pusher's own webhooks (presence), "
        "as Pusher counts them. Vercel includes the per-minute crons (Pro). Polling = the same "
        "clients asking every interval while their page is open (the seed's own interval where "
        "it names one: CRM 2 s, trading 10 s; else "
        f"{prices.load()['polling']['interval_s']} s), priced as Vercel with no realtime "
        "provider. Recorded, not driven: webhook deliveries, function invocations, calls "
        "(module docstring). Typing indicators (client events, which Pusher also counts) are "
        "not modelled. The claims are quoted from issue 16, which lists them without naming "
        "the seed; which seed each belongs to is our reading.",
        "",
        "Against the free tiers (computed from the rows above):",
        "",
        *(f"- {verdict(seed, found['projection'])}" for seed, _, found in results),
    ]
    return "\n".join(lines)


def ratio(p: projection.Projection, seed: Seed) -> str:
    """Polling's monthly cost over the cheapest realtime design (a provider + Vercel)."""
    totals = p.realtime_totals()
    poll = p.polling["usd_month"]
    if not seed.polling_clients or not totals or poll is None:
        return "-"
    return f"{poll / min(totals.values()):.1f}x"


def verdict(seed: Seed, p: projection.Projection) -> str:
    """Which free-tier limit a seed's day stays inside or breaks, from the projection."""
    plans = prices.load()["pusher"]["plans"]
    free = plans[0]
    pusher = next(x for x in p.providers if x.provider == "pusher")
    messages, peak = pusher.inputs["messages_day"], pusher.inputs["peak_connections"]
    said = (
        f"{seed.name}: {messages:,.0f} Pusher messages/day vs {free['name']}'s "
        f"{free['messages_day']:,}; {peak:,.0f} concurrent connections vs its "
        f"{free['connections']:,}"
    )
    if seed.call_minutes:
        fly = p.cheapest("fly")
        calls = next(x for x in p.providers if x.provider == "fly").inputs["peak_calls"]
        said += f"; {calls:g} concurrent calls need {fly.plan if fly else 'more than one machine'}"
        said += f" (${fly.usd_month:,.2f}/mo)" if fly else ""
    return said + "."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the day played")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    note_load()
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    config.api = False
    stack = Stack(config).start()
    results = []
    try:
        assert stack.pg is not None
        with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
            conn.execute(ENQUEUE_SQL)
        time.sleep(0.5)  # PostgREST reloads its schema cache asynchronously
        run = secrets.token_hex(3)
        for index, seed in enumerate(SEEDS):
            drove = asyncio.run(drive(stack, seed, args.scale, run))
            day = seed_day(index)
            record(stack, seed, day, run)
            found = asyncio.run(project_seed(stack, seed, day, drove["played"]))
            with psycopg.connect(stack.pg.dsn, autocommit=True) as conn:
                conn.execute("update public.realtime_presence set present = false")
            print(f"{seed.name}: {drove}", flush=True)
            results.append((seed, drove, found))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = table(results, args.scale)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('seed-workloads', text)}")


if __name__ == "__main__":
    main()
