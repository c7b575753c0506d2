"""`python -m bench [--quick] [name ...]` (`make bench`, `make bench QUICK=1`): every
benchmark in bench/registry.py, each beside its naive peer, one after another; then the suite
section of docs/benchmarks.md (machine read from the system, date, load before and after,
what ran and for how long) and the plots (docs/img/*.png) the README embeds.

`--quick` runs each with small counts and writes nothing under docs/ (plots go to
.data/bench/); `--list` shows the registry. A benchmark that fails is reported and the rest
still run; the exit status says whether all passed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import time
import traceback
from pathlib import Path

from bench import plots
from bench.docs_section import ROOT, replace_section
from bench.machine import facts
from bench.registry import BENCHMARKS, Benchmark

IMAGES = ROOT / "docs" / "img"
QUICK_IMAGES = ROOT / ".data" / "bench"


def run(bench: Benchmark, *, quick: bool) -> tuple[str, float]:
    argv = bench.argv(quick=quick)
    print(f"== bench.{bench.module} {' '.join(argv)}", flush=True)
    started = time.perf_counter()
    try:
        importlib.import_module(f"bench.{bench.module}").main(argv)
        status = "ok"
    except (Exception, SystemExit) as exc:  # one failure must not stop the suite
        traceback.print_exc()
        status = f"failed: {exc.__class__.__name__}: {str(exc)[:120]}"
    took = time.perf_counter() - started
    print(f"== bench.{bench.module} {status} in {took:.1f}s", flush=True)
    return status, took


def suite_section(
    ran: list[tuple[Benchmark, str, float]],
    load: tuple[float, float],
    started: str,
    images: list[Path],
) -> str:
    machine = facts()
    lines = [
        "## The suite run",
        "",
        f"`make bench` on {started}: CPU {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']:g} GiB memory, {machine['os']}, Python {machine['python']} "
        "(read from the system); 1-minute load average "
        f"{load[0]:.2f} before and {load[1]:.2f} after (the machine may be shared).",
        "",
        "| benchmark | compares | status | took |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `bench.{b.module}` | {b.compares} | {status} | {took:.0f} s |"
        for b, status, took in ran
    ]
    lines += ["", *(f"![{image.stem}](img/{image.name})" for image in images)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small counts, docs/ untouched")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(f"{b.module:<20} {b.compares}" for b in BENCHMARKS))
        return 0
    known = {b.module for b in BENCHMARKS}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
    selected = [b for b in BENCHMARKS if not args.names or b.module in args.names]
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()[0]
    ran = [(b, *run(b, quick=args.quick)) for b in selected]
    images = plots.latency(QUICK_IMAGES if args.quick else IMAGES)
    print("plotted " + ", ".join(str(p) for p in images), flush=True)
    text = suite_section(ran, (load_before, os.getloadavg()[0]), started, images)
    print(text)
    if not args.quick and not args.names:
        print(f"wrote {replace_section('suite', text)}")
    return 0 if all(status == "ok" for _, status, _ in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
