"""Supabase Realtime mode on the local stack: write -> event at an official client, beside
Pusher mode in the same run, and fan-out of one broadcast to 1,000 subscribers.

    python -m bench.supabase_realtime [--writes 300] [--subscribers 1000] [--no-write]

1. Latency. For each provider, one official client subscribes to the user's private channel
   (pusher-js on `private-user-<id>` via /api/realtime/auth; supabase-js on private topic
   `user-<id>`, authorized by the realtime.messages RLS policies). A write is what a feature's
   function does: `db.rpc("demo_note_add")` then `commit_events()` (publish + mark). Latency =
   just before the RPC -> the client's line for that event id read from its stdout (both
   clients are Node processes driven the same way, so the pipe costs both the same).
2. Fan-out. `--subscribers` WebSocket clients (vsn 2.0.0 frames, in this process) join public
   topic `fanout-<n>`; one `POST /realtime/v1/api/broadcast`; per subscriber: POST start ->
   its frame. Repeated 20 times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import time
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, percentile, replace_section
from dev.stack import Stack, StackConfig
from dev.supabase_realtime import WEBSOCKET_PATH
from dev.token import user_token
from lib.config import load_settings
from lib.db import Database
from lib.realtime import publisher
from lib.realtime.outbox import commit_events
from tests.outbox_support import pusher_js
from tests.supabase_realtime.harness import SupabaseJs

WAIT = 30.0
WARM_UP = 20
ROUNDS = 20


async def latency(stack: Stack, provider: str, writes: int) -> list[float]:
    config = load_settings({**stack.env(), "REALTIME_PROVIDER": provider})
    user = f"bench{secrets.token_hex(4)}"
    token = user_token(stack.config.jwt_secret, sub=user)
    db = Database(config)
    totals: list[float] = []
    async with httpx.AsyncClient(timeout=WAIT) as http:
        sender = publisher(config, http=http)
        if provider == "pusher":
            assert stack.realtime is not None
            channel = f"private-user-{user}"
            async with pusher_js(
                stack.realtime, auth_endpoint=f"{stack.api_url}/api/realtime/auth", token=token
            ) as client:
                assert (await client.subscribe(channel))["type"] == "subscribed"

                async def arrival(event_id: str) -> None:
                    await client.expect("event", channel=channel, event="note-added")

                await _writes(db, sender, user, writes, arrival, totals)
        else:
            client = await SupabaseJs.start(stack, token, lifetime_s=600)
            try:
                topic = f"user-{user}"
                joined = await client.subscribe(topic, private=True)
                assert joined["status"] == "SUBSCRIBED", joined

                async def arrival(event_id: str) -> None:
                    seen = await client.expect("broadcast", topic=topic, event="note-added")
                    assert seen["payload"]["id"] == event_id

                await _writes(db, sender, user, writes, arrival, totals)
            finally:
                await client.close()
    await db.aclose()
    return totals


async def _writes(
    db: Database, sender: Any, user: str, writes: int, arrival: Any, totals: list[float]
) -> None:
    for n in range(writes + WARM_UP):
        started = time.perf_counter()
        result: dict[str, Any] = await db.rpc("demo_note_add", p_user=user, p_body=f"n{n}")
        await commit_events(db, sender, result["events"])
        async with asyncio.timeout(WAIT):
            await arrival(str(result["events"][0]["id"]))
        if n >= WARM_UP:
            totals.append((time.perf_counter() - started) * 1000)


async def fanout(stack: Stack, subscribers: int) -> list[float]:
    url = stack.supabase_url.replace("http", "ws", 1) + WEBSOCKET_PATH
    url += f"?apikey={stack.config.anon_key}&vsn=2.0.0"
    topic = f"fanout-{secrets.token_hex(3)}"
    arrived: list[list[float]] = [[] for _ in range(ROUNDS)]
    sockets: list[ClientConnection] = []

    async def subscribe(n: int) -> ClientConnection:
        ws = await connect(url, open_timeout=WAIT, max_queue=None)
        await ws.send(json.dumps([str(n), str(n), f"realtime:{topic}", "phx_join", {"config": {}}]))
        reply = json.loads(await ws.recv())
        assert reply[4]["status"] == "ok", reply
        return ws

    async def listen(ws: ClientConnection) -> None:
        async for frame in ws:
            at = time.perf_counter()
            message = json.loads(frame)
            if message[3] == "broadcast":
                arrived[message[4]["payload"]["round"]].append(at)

    key = stack.config.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    for start in range(0, subscribers, 100):
        sockets += await asyncio.gather(
            *(subscribe(n) for n in range(start, min(start + 100, subscribers)))
        )
    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    latencies: list[float] = []
    try:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for round_ in range(ROUNDS):
                body = {
                    "messages": [{"topic": topic, "event": "tick", "payload": {"round": round_}}]
                }
                started = time.perf_counter()
                (
                    await http.post(
                        f"{stack.supabase_url}/realtime/v1/api/broadcast",
                        json=body,
                        headers=headers,
                    )
                ).raise_for_status()
                async with asyncio.timeout(WAIT):
                    while len(arrived[round_]) < subscribers:
                        await asyncio.sleep(0.001)
                latencies += [(at - started) * 1000 for at in arrived[round_]]
                await asyncio.sleep(0.05)
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return latencies


def section(
    results: dict[str, list[float]], writes: int, fan: list[float], subscribers: int
) -> str:
    pusher_p99 = percentile(results["pusher"], 99)
    supabase_p99 = percentile(results["supabase"], 99)
    lines = [
        f"## Supabase Realtime mode: write -> event at an official client ({writes:,} writes), fan-out to {subscribers:,}",
        "",
        f"machine: `{MACHINE}`, date {DATE}, writes sequential, 1-minute load average at start "
        f"{LOAD[0]:.2f} (the machine is shared)",
        "",
        "| REALTIME_PROVIDER | client | p50 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    clients = {
        "pusher": "pusher-js on `private-user-<id>`",
        "supabase": "supabase-js on private `user-<id>`",
    }
    for provider, totals in results.items():
        lines.append(
            f"| {provider} | {clients[provider]} | {percentile(totals, 50):.1f} ms | "
            f"{percentile(totals, 99):.1f} ms | {max(totals):.1f} ms |"
        )
    lines += [
        "",
        f"Supabase mode p99 / Pusher mode p99 = {supabase_p99 / pusher_p99:.2f} (target <= 1.5).",
        "",
        f"Fan-out of one `POST /realtime/v1/api/broadcast` to {subscribers:,} subscribers of one "
        f"topic on the local Realtime server ({ROUNDS} rounds, {len(fan):,} deliveries): "
        f"p50 {median(fan):.1f} ms, p99 {percentile(fan, 99):.1f} ms, max {max(fan):.1f} ms "
        "(target p99 <= 50 ms), POST start -> frame at the subscriber.",
        "",
        "`python -m bench.supabase_realtime`: the whole local stack in this process. Latency: "
        "`db.rpc('demo_note_add')` + `commit_events()` -> the event line printed by the Node "
        "client (tests/js/pusher, tests/js/supabase), read by this process; 20 warm-up writes "
        "not counted. Supabase mode = broadcast REST -> the gateway -> dev/supabase_realtime "
        "(the gateway also forwards to the Pusher-protocol server). Fan-out subscribers are "
        "plain WebSocket clients (vsn 2.0.0) in this process, sharing its CPU with the server.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    stack = Stack(config).start()
    try:
        results = {
            provider: asyncio.run(latency(stack, provider, args.writes))
            for provider in ("pusher", "supabase")
        }
        fan = asyncio.run(fanout(stack, args.subscribers))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = section(results, args.writes, fan, args.subscribers)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('supabase-realtime', text)}")


if __name__ == "__main__":
    main()
