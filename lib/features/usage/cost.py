"""`make cost` / `python -m lib.features.usage.cost [--days N] [--clients N] [--json]`: the
monthly projection from the last N days of usage_daily, read from the database the
environment names (a `make dev` stack's .env, or production's)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from lib.db import close_all
from lib.features import services as load_services
from lib.features.usage import report
from lib.features.usage.procedures import ProjectionInput, project


async def _run(args: argparse.Namespace) -> int:
    services = load_services()
    try:
        result = await project(
            services,
            ProjectionInput(days=args.days, pollingClients=args.clients, peakCalls=args.calls),
        )
    finally:
        await close_all()
    print(
        json.dumps(result.as_dict(), default=str, indent=2) if args.json else report.render(result)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="days of usage to read (1-400)")
    parser.add_argument("--clients", type=int, help="polling clients (default: peak connections)")
    parser.add_argument("--calls", type=int, help="peak concurrent calls for the bridge")
    parser.add_argument("--json", action="store_true", help="the projection as JSON")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
