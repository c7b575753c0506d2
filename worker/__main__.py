"""`python -m worker`: run the voice bridge until SIGTERM/SIGINT, then drain and exit.

Settings come from the environment (worker/config.py; `--env-file .env` loads a file first,
without overriding what is already set). One line on stdout says where it listens (port 0
picks a free one). Exit status: 0 when every call was saved, 1 if any was not, 2 for bad
settings.

The event loop is uvloop's (its loop and transports are C; `--loop asyncio` to compare, as
`python -m bench.bridge` does). `--workers N` (BRIDGE_WORKERS; `auto` = every core) runs N
bridge processes on the one port (worker/processes.py); the default is one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from worker.config import load
from worker.processes import Supervisor, workers_setting
from worker.server import Bridge


def _load_env_file(path: Path) -> None:
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        os.environ.setdefault(key.strip(), value)


async def _serve(bridge: Bridge, host: str | None, port: int | None, reuse_port: bool) -> bool:
    await bridge.start(host, port, reuse_port=reuse_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, bridge.shutdown)
    # the path secret stays out of the logs
    print(f"bridge: listening on {bridge.url} (media: /<BRIDGE_PATH_SECRET>/media)", flush=True)
    await bridge.stopping.wait()
    return await bridge.wait_closed()


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--host", help="default: $BRIDGE_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, help="default: $BRIDGE_PORT or 8080; 0 = any")
    parser.add_argument("--env-file", type=Path, help="load KEY=value lines first")
    parser.add_argument("--log-level", default=os.environ.get("BRIDGE_LOG_LEVEL", "info"))
    parser.add_argument(
        "--workers", help="processes sharing the port (default: $BRIDGE_WORKERS or 1; auto)"
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tag = "" if args.worker_index is None else f"[worker {args.worker_index}] "
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s",
        stream=sys.stderr,
    )
    # every /health check is a "rejected" handshake to websockets: not worth a log line
    logging.getLogger("websockets.server").setLevel(logging.WARNING)
    if args.env_file is not None:
        _load_env_file(args.env_file)
    try:
        config = load()
        workers = workers_setting(args.workers or os.environ.get("BRIDGE_WORKERS", "") or "1")
    except ValueError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    loop_factory = _loop_factory(args.loop)
    if workers > 1 and args.worker_index is None:
        host = args.host or config.host
        port = config.port if args.port is None else args.port
        passthrough = ["--log-level", args.log_level, "--loop", args.loop, "--workers", "1"]

        async def supervise() -> bool:
            supervisor = Supervisor(workers, host, port, passthrough)
            ready = (
                f"bridge: listening on ws://{host}:{supervisor.port} "
                f"({workers} processes; media: /<BRIDGE_PATH_SECRET>/media)"
            )
            return await supervisor.run(ready)

        all_saved = asyncio.run(supervise(), loop_factory=loop_factory)
    else:
        bridge = Bridge(config)
        all_saved = asyncio.run(
            _serve(bridge, args.host, args.port, args.reuse_port), loop_factory=loop_factory
        )
    return 0 if all_saved else 1


if __name__ == "__main__":
    sys.exit(main())
