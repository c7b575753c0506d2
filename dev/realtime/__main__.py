"""`python -m dev.realtime`: run the local realtime server until SIGINT/SIGTERM.

Flags default to PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET, PUSHER_HOST, PUSHER_PORT and
PUSHER_WEBHOOK_URL from the environment (the caller loads .env).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .config import RealtimeConfig
from .server import RealtimeServer


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m dev.realtime", description="Local Pusher Channels-compatible server."
    )
    parser.add_argument("--host", default=env.get("PUSHER_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port",
        type=int,
        default=int(env.get("PUSHER_PORT", "6001")),
        help="0 picks a free port (printed on startup)",
    )
    parser.add_argument("--app-id", help="default: $PUSHER_APP_ID")
    parser.add_argument("--key", help="default: $PUSHER_KEY")
    parser.add_argument("--secret", help="default: $PUSHER_SECRET")
    parser.add_argument("--webhook-url", help="default: $PUSHER_WEBHOOK_URL")
    parser.add_argument("--activity-timeout", type=int, default=120)
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    return parser


async def _serve(config: RealtimeConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with RealtimeServer(config).running(host, port) as server:
        # One line on stdout so scripts (and port 0 users) learn the address.
        print(
            f"realtime: listening on {server.address.http_url} app_id={config.app_id}", flush=True
        )
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Our own lines at the chosen level; uvicorn and websockets stay at warnings (their
    # debug output is a dump of every frame).
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("dev.realtime").setLevel(args.log_level.upper())
    try:
        config = RealtimeConfig.from_env(
            app_id=args.app_id,
            key=args.key,
            secret=args.secret,
            webhook_url=args.webhook_url,
            activity_timeout=args.activity_timeout,
        )
    except ValueError as exc:
        print(f"realtime: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
