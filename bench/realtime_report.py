"""Run the realtime benchmarks and write their section of docs/benchmarks.md.

    python -m bench.realtime_report [--repeat 3] [--write]

Each benchmark runs `--repeat` times (each run starts its own server process); the table
shows the median and the range. `--write` replaces the text between the realtime markers
in docs/benchmarks.md (appending it the first time) and leaves the rest of the file alone.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bench import realtime_batch_throughput, realtime_fanout, realtime_idle_memory
from bench.realtime_support import ROOT, machine

DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- realtime:start (python -m bench.realtime_report --write) -->"
END = "<!-- realtime:end -->"


@dataclass(frozen=True)
class Bench:
    title: str
    run: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
    metrics: list[tuple[str, str, str]]
    """(result key, label, unit)"""
    how: str


BENCHES = [
    Bench(
        "Realtime: one event fanned out to 1,000 subscribers",
        lambda: realtime_fanout.run(1000, 50),
        [
            ("p50_ms", "p50 delivery latency", "ms"),
            ("p99_ms", "p99 delivery latency", "ms"),
            ("max_ms", "max delivery latency", "ms"),
        ],
        "`python -m bench.realtime_fanout`: server in its own process; 1,000 loopback "
        "WebSocket subscribers on one public channel (a minimal client that timestamps bytes "
        "on arrival); 50 sequential events sent through the "
        "signed HTTP API. Latency runs from just before the POST to the frame's arrival at "
        "each subscriber socket (50,000 samples per run).",
    ),
    Bench(
        "Realtime: resident memory with 5,000 idle connections",
        lambda: realtime_idle_memory.run(5000),
        [
            ("rss_before_mib", "server RSS, no connections", "MiB"),
            ("rss_with_connections_mib", "server RSS, 5,000 connections", "MiB"),
            ("kib_per_connection", "per connection", "KiB"),
            ("rss_after_close_mib", "server RSS after they closed", "MiB"),
        ],
        "`python -m bench.realtime_idle_memory`: 5,000 loopback WebSocket connections, each "
        "subscribed to one of 100 public channels, no traffic; VmRSS of the server process "
        "from /proc. After closing, every channel is vacated (checked through the HTTP API); "
        "the RSS stays because CPython keeps freed memory for reuse.",
    ),
    Bench(
        "Realtime: trigger_batch throughput",
        lambda: realtime_batch_throughput.run(10.0, 4),
        [
            ("accepted_events_per_s", "events accepted", "events/s"),
            ("delivered_events_per_s", "events delivered", "events/s"),
            ("batch_request_p50_ms", "batch request p50", "ms"),
            ("batch_request_p99_ms", "batch request p99", "ms"),
            ("server_cpu_percent", "server CPU while publishing (one core = 100)", "%"),
        ],
        "`python -m bench.realtime_batch_throughput`: 4 publishers on keep-alive connections "
        "(a minimal HTTP/1.1 client, so the client library is not what is measured) "
        "POST signed `batch_events` (10 events of 100 bytes, one per channel) for 10 s; 10 "
        "subscribers each hold one of the channels, so every event is delivered once. "
        "Every accepted event was delivered in every run.",
    ),
]


def _section(results: dict[str, list[dict[str, Any]]], repeat: int, load: float) -> str:
    header = (
        f"machine: `{machine()}`, date {datetime.date.today().isoformat()}, "
        f"{repeat} runs (median, range), 1-minute load average at start {load:.2f}"
        f"{' (the machine is shared)' if load >= 1 else ''}"
    )
    lines = [START, ""]
    for bench in [b for b in (*BENCHES, *SMOKE) if b.title in results]:
        runs = results[bench.title]
        lines += [
            f"## {bench.title}",
            "",
            header,
            "",
            "| metric | median | range |",
            "|---|---|---|",
        ]
        for key, label, unit in bench.metrics:
            values = [run[key] for run in runs]
            median = statistics.median(values)
            lines.append(f"| {label} | {median:g} {unit} | {min(values):g}–{max(values):g} |")
        lines += ["", bench.how, ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


SMOKE = [
    Bench("smoke: fan-out to 100", lambda: realtime_fanout.run(100, 5), BENCHES[0].metrics, ""),
    Bench("smoke: 300 idle", lambda: realtime_idle_memory.run(300), BENCHES[1].metrics, ""),
    Bench(
        "smoke: batch throughput",
        lambda: realtime_batch_throughput.run(2.0, 2),
        BENCHES[2].metrics,
        "",
    ),
]
"""`make bench QUICK=1`: the same benchmarks at loads small enough for a smoke run."""


def _write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny loads, to check the benchmarks run (no --write)"
    )
    args = parser.parse_args(argv)
    if args.smoke and args.write:
        parser.error("--smoke figures are not the documented loads; drop --write")
    load_at_start = os.getloadavg()[0]
    results: dict[str, list[dict[str, Any]]] = {}
    for bench in SMOKE if args.smoke else BENCHES:
        results[bench.title] = []
        for n in range(args.repeat):
            result = asyncio.run(bench.run())
            print(f"{bench.title} [{n + 1}/{args.repeat}]: {result}", flush=True)
            results[bench.title].append(result)
    section = _section(results, args.repeat, load_at_start)
    print(section)
    if args.write:
        _write(section)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
