"""Resident memory of the realtime server holding 5,000 idle connections.

    python -m bench.realtime_idle_memory [--connections 5000]

The server runs in its own process; its RSS is read from /proc/PID/status before any
client connects, after all are connected (each subscribed to one of 100 public channels),
and after they have all gone. Clients are LightClients in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time

import httpx

from bench.realtime_support import (
    WAIT,
    machine,
    open_light_clients,
    raise_fd_limit,
    rss_kib,
    server_process,
)
from dev.realtime import ServerAddress
from dev.realtime.signing import sign_request

CHANNELS = 100


class _Subscriptions:
    def __init__(self, expected: int) -> None:
        self._expected = expected
        self._count = 0
        self.done = asyncio.Event()

    def on_frame(self, text: str, arrived_ns: int) -> None:
        if "subscription_succeeded" in text:
            self._count += 1
            if self._count == self._expected:
                self.done.set()


async def _settle(pid: int) -> int:
    """RSS once it stops moving (bounded: at most 20 readings, 0.25 s apart)."""
    previous = rss_kib(pid)
    for _ in range(20):
        await asyncio.sleep(0.25)
        current = rss_kib(pid)
        if current == previous:
            break
        previous = current
    return previous


async def _wait_until_vacated(address: ServerAddress) -> int:
    """Ask the HTTP API until no channel is occupied (bounded); return how many remain."""
    path = f"/apps/{address.app_id}/channels"
    async with httpx.AsyncClient(timeout=WAIT) as http:
        for _ in range(100):
            params = sign_request(
                key=address.key,
                secret=address.secret,
                method="GET",
                path=path,
                params={},
                body=b"",
                timestamp=int(time.time()),
            )
            channels = (await http.get(f"{address.http_url}{path}", params=params)).json()
            if not channels["channels"]:
                return 0
            await asyncio.sleep(0.1)
    return len(channels["channels"])


async def run(connections: int) -> dict[str, object]:
    fd_limit = raise_fd_limit(connections + 512)
    if fd_limit < connections + 512:
        raise SystemExit(f"open-file limit {fd_limit} is too low for {connections} connections")
    subscriptions = _Subscriptions(connections)
    with server_process() as (address, pid):
        before = await _settle(pid)
        clients = await open_light_clients(address, connections, subscriptions.on_frame)
        for n, client in enumerate(clients):
            channel = f"idle-{n % CHANNELS}"
            client.send_text(
                json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}})
            )
        async with asyncio.timeout(WAIT * 2):
            await subscriptions.done.wait()
        held = await _settle(pid)
        for client in clients:
            assert client.transport is not None
            client.transport.close()
        clients.clear()
        gc.collect()
        open_channels = await _wait_until_vacated(address)
        if open_channels:
            raise RuntimeError(f"{open_channels} channels still occupied after every client left")
        after = await _settle(pid)
    return {
        "connections": connections,
        "rss_before_mib": round(before / 1024, 1),
        "rss_with_connections_mib": round(held / 1024, 1),
        "rss_after_close_mib": round(after / 1024, 1),
        "kib_per_connection": round((held - before) / connections, 1),
        "channels_left_after_close": open_channels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    args = parser.parse_args()
    result = asyncio.run(run(args.connections))
    print(f"machine: {machine()}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
