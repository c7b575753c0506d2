"""Every benchmark `make bench` runs, in order: one line each.

    Benchmark(module, "ours vs the naive peer beside it", quick="--small counts")

`module` is bench/<module>.py with a `main(argv)`. A full run (`make bench`) passes `full`; a
smoke run (`make bench QUICK=1`) passes `quick` plus `--no-write`, so it never touches docs/.
Adding a benchmark is adding its line here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    module: str
    compares: str
    quick: str = ""
    full: str = ""
    writes_by_default: bool = True
    """False for a module that writes docs only when given `--write` (and has no --no-write)."""

    def argv(self, *, quick: bool) -> list[str]:
        if not quick:
            return shlex.split(self.full)
        return shlex.split(self.quick) + (["--no-write"] if self.writes_by_default else [])


# fmt: off
BENCHMARKS = [
    Benchmark("cold_start", "lazy imports vs top-level SDK imports", "--repeat 2"),
    Benchmark("outbox_publish", "batch publisher vs trigger per event", "--events 200 --repeat 1"),
    Benchmark("outbox_latency", "write -> event: Pusher vs Supabase", "--writes 50"),
    Benchmark("webhook_ingest", "our ingest vs a naive handler", "--events 50 --concurrency 10 --repeat 1"),  # noqa: E501
    Benchmark("crm_webhooks", "HighLevel webhook -> event: push vs polling", "--events 50"),
    Benchmark("poker_vote", "poker.vote -> event vs -> response", "--votes 50 --voters 5"),
    Benchmark("trading_sync", "sync + cache vs 10 s polling", "--samples 10 --scenarios 1"),
    Benchmark("billing_checkout", "Stripe checkout -> event at the buyer", "--purchases 30"),
    Benchmark("trpc_batch", "one batched tRPC request vs 10 calls", "--iterations 10"),
    Benchmark("realtime_report", "fan-out, idle memory, batch throughput", "--repeat 1 --smoke",
              full="--write", writes_by_default=False),
    Benchmark("bridge", "voice bridge by concurrent calls", "--levels 1,10 --coalesced '' --seconds 2 --repeat 1"),  # noqa: E501
    Benchmark("supabase_realtime", "write -> event: supabase-js vs pusher-js; fan-out to 1,000", "--writes 50 --subscribers 200"),  # noqa: E501
    Benchmark("lambda_cold_start", "Lambda handler vs eager mount vs one Vercel function", "--repeat 2"),  # noqa: E501
    Benchmark("call_recording", "recording on vs off vs decoding per frame", "--repeat 1"),
    Benchmark("reliability", "fuzz, replay storms, outages, load, audit -> docs/reliability.md", "--examples 2 --seconds 5 --only fuzz load audit"),  # noqa: E501
    Benchmark("workloads", "each seed's day: providers vs polling", "--scale 0.2"),
    Benchmark("cost_curves", "monthly cost vs users: providers vs polling", ""),
]
# fmt: on
