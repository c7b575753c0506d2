"""Publish 1,000 events to 1,000 channels on the local Pusher server: HTTP calls and wall time,
ours (lib.realtime.pusher.PusherPublisher: batch_events of 10, a few calls in flight, one
keep-alive httpx client) vs the seed plan's emitter (the official SDK's `trigger`, one call
per event, its default requests backend), in the same run.

    python -m bench.outbox_publish [--events 1000] [--repeat 5] [--no-write]

The server runs in its own process (`python -m dev.realtime`). Each event is an envelope of
about 120 bytes on its own `private-user-<n>` channel. Runs alternate between the emitters.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, replace_section
from bench.realtime_support import server_process
from dev.realtime import ServerAddress
from lib.events import Channel, Event, encode
from lib.realtime.pusher import PusherPublisher


def make_events(count: int) -> list[Event]:
    at = datetime.now(UTC)
    return [
        Event(
            id=n,
            type="note-added",
            channels=(Channel(f"private-user-{n}"),),
            data={"note": {"id": n, "body": f"note number {n}"}},
            at=at,
        )
        for n in range(1, count + 1)
    ]


async def ours(address: ServerAddress, events: list[Event], concurrency: int) -> tuple[int, float]:
    calls = 0

    async def count(_: httpx.Request) -> None:
        nonlocal calls
        calls += 1

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        sender = PusherPublisher(
            app_id=address.app_id, key=address.key, secret=address.secret, http=http,
            host=address.host, port=address.port, ssl=False, concurrency=concurrency,
        )  # fmt: skip
        started = time.perf_counter()
        await sender.publish(events)
        return calls, time.perf_counter() - started


def seed_emitter(address: ServerAddress, events: list[Event]) -> tuple[int, float]:
    """One `trigger` per event with the SDK's default (requests, keep-alive session)."""
    import pusher

    client = pusher.Pusher(
        app_id=address.app_id, key=address.key, secret=address.secret, host=address.host,
        port=address.port, ssl=False,
    )  # fmt: skip
    calls = 0
    started = time.perf_counter()
    for event in events:
        client.trigger(event.channel.name, event.type, encode(event.envelope()))
        calls += 1
    return calls, time.perf_counter() - started


def run(count: int, repeat: int) -> dict[str, dict[str, list[float]]]:
    events = make_events(count)
    results: dict[str, dict[str, list[float]]] = {
        name: {"calls": [], "seconds": []}
        for name in ("ours, 4 in flight", "ours, 1 in flight", "seed: trigger per event")
    }
    with server_process() as (address, _pid):
        emitters: list[tuple[str, Callable[[], tuple[int, float]]]] = [
            ("ours, 4 in flight", lambda: asyncio.run(ours(address, events, 4))),
            ("ours, 1 in flight", lambda: asyncio.run(ours(address, events, 1))),
            ("seed: trigger per event", lambda: seed_emitter(address, events)),
        ]
        for n in range(repeat):
            for name, measure in emitters:
                calls, seconds = measure()
                results[name]["calls"].append(calls)
                results[name]["seconds"].append(seconds)
                print(f"[{n + 1}/{repeat}] {name}: {calls} calls, {seconds * 1000:.0f} ms")
    return results


def section(results: dict[str, dict[str, list[float]]], count: int, repeat: int) -> str:
    lines = [
        f"## Outbox publisher: {count:,} events to {count:,} channels",
        "",
        f"machine: `{MACHINE}`, date {DATE}, {repeat} runs each (median, range), same run, "
        f"1-minute load average at start {LOAD[0]:.2f} (the machine is shared)",
        "",
        "| emitter | HTTP calls | wall time | events/s |",
        "|---|---|---|---|",
    ]
    for name, figures in results.items():
        seconds = figures["seconds"]
        lines.append(
            f"| {name} | {median(figures['calls']):g} | {median(seconds) * 1000:.0f} ms "
            f"({min(seconds) * 1000:.0f}–{max(seconds) * 1000:.0f}) | "
            f"{count / median(seconds):,.0f} |"
        )
    lines += [
        "",
        "`python -m bench.outbox_publish`: the local Pusher-protocol server in its own process; "
        "ours = `PusherPublisher.publish(events)` (signed by the official SDK, sent with one "
        "httpx.AsyncClient, `batch_events` of at most 10, calls for different channels "
        "concurrently); seed = the official SDK's `trigger()` once per event with its default "
        "requests backend (keep-alive session), sequential. Every call was answered 200.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    results = run(args.events, args.repeat)
    text = section(results, args.events, args.repeat)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('outbox-publish', text)}")


if __name__ == "__main__":
    main()
