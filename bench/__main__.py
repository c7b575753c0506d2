"""`python -m bench [name ...]`: run every benchmark module (`bench/<name>.py` with a `main()`),
or only the named ones, one after another. `--list` shows what would run.

Each module's `main()` runs with an empty command line (its own defaults), so options given
here never leak into a module's argument parser; run `python -m bench.<name> --help` for a
module's own options.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, Callable[[], object]]:
    """Module name -> its main(), for every module here that has one (sorted by name)."""
    found: dict[str, Callable[[], object]] = {}
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        main = getattr(module, "main", None)
        if callable(main):
            found[info.name] = main
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="modules to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    benches = discover()
    if args.list:
        print("\n".join(benches))
        return 0
    unknown = [name for name in args.names if name not in benches]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(benches)}")
    selected = args.names or list(benches)
    saved = sys.argv
    try:
        for name in selected:
            print(f"== bench.{name}", flush=True)
            started = time.perf_counter()
            sys.argv = [f"bench.{name}"]
            benches[name]()
            print(f"== bench.{name} took {time.perf_counter() - started:.1f}s", flush=True)
    finally:
        sys.argv = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
