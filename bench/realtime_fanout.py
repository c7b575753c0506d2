"""One event fanned out to 1,000 subscribers on loopback: delivery latency p50/p99.

    python -m bench.realtime_fanout [--subscribers 1000] [--rounds 50]

The server runs in its own process (`python -m dev.realtime`); the subscribers and the
publisher share this one. Latency runs from just before the signed HTTP API POST to the
moment the frame's bytes reach a subscriber socket (LightClient: no client library, no
JSON decoding in the measurement). Rounds are sequential: the next event is sent once
every subscriber has the previous one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.realtime_support import (
    WAIT,
    LightHttp,
    machine,
    open_light_clients,
    percentile,
    raise_fd_limit,
    server_process,
)

CHANNEL = "bench-fanout"


class _Rounds:
    """Send times and outstanding deliveries per round; an event fires when a round is done."""

    def __init__(self, rounds: int, subscribers: int) -> None:
        self.sent_at = [0] * rounds
        self.outstanding = [subscribers] * rounds
        self.done = [asyncio.Event() for _ in range(rounds)]
        self.arrivals: list[tuple[int, int]] = []
        self.subscribed = 0
        self.current = 0
        self.all_subscribed = asyncio.Event()
        self._subscribers = subscribers

    def on_frame(self, text: str, arrived_ns: int) -> None:
        if '"tick"' in text:
            # Rounds are sequential, so a tick belongs to the current round: no JSON
            # decoding here, which would delay the next socket's timestamp.
            n = self.current
            self.arrivals.append((n, arrived_ns))
            self.outstanding[n] -= 1
            if self.outstanding[n] == 0:
                self.done[n].set()
        elif "subscription_succeeded" in text:
            self.subscribed += 1
            if self.subscribed == self._subscribers:
                self.all_subscribed.set()

    def latencies_ms(self) -> list[float]:
        return sorted((arrived - self.sent_at[n]) / 1e6 for n, arrived in self.arrivals)


async def run(subscribers: int, rounds: int) -> dict[str, object]:
    raise_fd_limit(subscribers + 256)
    state = _Rounds(rounds, subscribers)
    with server_process() as (address, _pid):
        clients = await open_light_clients(address, subscribers, state.on_frame)
        subscribe = json.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}})
        for client in clients:
            client.send_text(subscribe)
        http = await LightHttp.open(address)
        try:
            async with asyncio.timeout(WAIT * 2):
                await state.all_subscribed.wait()
                for n in range(rounds):
                    state.current = n
                    state.sent_at[n] = time.perf_counter_ns()
                    status, answer = await http.post(
                        f"/apps/{address.app_id}/events",
                        {"name": "tick", "channel": CHANNEL, "data": json.dumps({"n": n})},
                    )
                    if status != 200:
                        raise RuntimeError(f"events answered {status}: {answer!r}")
                    await state.done[n].wait()
        finally:
            await http.close()
        for client in clients:
            assert client.transport is not None
            client.transport.close()
    ordered = state.latencies_ms()
    return {
        "subscribers": subscribers,
        "rounds": rounds,
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    result = asyncio.run(run(args.subscribers, args.rounds))
    print(f"machine: {machine()}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
