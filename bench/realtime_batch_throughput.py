"""trigger_batch throughput: events/s the HTTP API accepts and delivers, one subscriber each.

    python -m bench.realtime_batch_throughput [--seconds 10] [--publishers 4]

The server runs in its own process. Ten LightClients each subscribe to their own channel;
publishers in this process POST signed `batch_events` requests (10 events, one per
channel, 100-byte payloads; signed exactly like the official SDK's trigger_batch) on
keep-alive connections for a fixed time (a minimal HTTP/1.1 client, so the figure
is the server's, not a client library's). Every accepted event must then be delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.realtime_support import (
    WAIT,
    LightHttp,
    cpu_seconds,
    machine,
    open_light_clients,
    percentile,
    server_process,
)
from dev.realtime import ServerAddress

CHANNELS = 10
PAYLOAD = json.dumps({"body": "x" * 88})  # 100 bytes


class _Deliveries:
    def __init__(self) -> None:
        self.subscribed = 0
        self.delivered = 0
        self.last_at = 0.0
        self.target: int | None = None
        self.all_delivered = asyncio.Event()
        self.all_subscribed = asyncio.Event()

    def on_frame(self, text: str, arrived_ns: int) -> None:
        if '"event":"bench"' in text:
            self.delivered += 1
            self.last_at = time.perf_counter()
            self._check()
        elif "subscription_succeeded" in text:
            self.subscribed += 1
            if self.subscribed == CHANNELS:
                self.all_subscribed.set()

    def expect(self, total: int) -> None:
        self.target = total
        self._check()

    def _check(self) -> None:
        if self.target is not None and self.delivered >= self.target:
            self.all_delivered.set()


async def _publish(
    address: ServerAddress,
    deadline: float,
    accepted: list[int],
    request_ms: list[float],
) -> None:
    batch = {
        "batch": [{"channel": f"tp-{n}", "name": "bench", "data": PAYLOAD} for n in range(CHANNELS)]
    }
    path = f"/apps/{address.app_id}/batch_events"
    http = await LightHttp.open(address)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, answer = await http.post(path, batch)
            request_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"batch_events answered {status}: {answer!r}")
            accepted[0] += CHANNELS
    finally:
        await http.close()


async def run(seconds: float, publishers: int) -> dict[str, object]:
    deliveries = _Deliveries()
    with server_process() as (address, pid):
        clients = await open_light_clients(address, CHANNELS, deliveries.on_frame)
        for n, client in enumerate(clients):
            client.send_text(
                json.dumps({"event": "pusher:subscribe", "data": {"channel": f"tp-{n}"}})
            )
        await asyncio.wait_for(deliveries.all_subscribed.wait(), WAIT)
        accepted = [0]
        request_ms: list[float] = []
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        deadline = started + seconds
        async with asyncio.timeout(seconds + WAIT), asyncio.TaskGroup() as group:
            for n in range(publishers):
                group.create_task(
                    _publish(address, deadline, accepted, request_ms), name=f"bench-publisher-{n}"
                )
        publish_seconds = time.perf_counter() - started
        deliveries.expect(accepted[0])
        await asyncio.wait_for(deliveries.all_delivered.wait(), WAIT)
        delivered_seconds = deliveries.last_at - started
        server_cpu = (cpu_seconds(pid) - cpu_before) / delivered_seconds
        for client in clients:
            assert client.transport is not None
            client.transport.close()
    ordered = sorted(request_ms)
    return {
        "publishers": publishers,
        "batches": len(ordered),
        "events_accepted": accepted[0],
        "events_delivered": deliveries.delivered,
        "accepted_events_per_s": round(accepted[0] / publish_seconds),
        "delivered_events_per_s": round(deliveries.delivered / delivered_seconds),
        "batch_request_p50_ms": round(percentile(ordered, 0.5), 2),
        "batch_request_p99_ms": round(percentile(ordered, 0.99), 2),
        "server_cpu_percent": round(server_cpu * 100),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--publishers", type=int, default=4)
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.publishers))
    print(f"machine: {machine()}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
