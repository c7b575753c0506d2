"""poker.vote -> `vote` event at a subscribed client, on the local stack: p50/p99 over 1,000
votes.

    python -m bench.poker_vote [--votes 1000] [--voters 25] [--no-write]

Starts the whole local stack (embedded Postgres, PostgREST, gateway, Pusher-protocol server,
api functions). A facilitator creates a session through tRPC (with a granted credit), the
voters join it and the facilitator opens voting on its task. One WebSocket client — the
facilitator — subscribes to `presence-poker-{id}`, authorized by the real /api/realtime/auth.
Then the voters take turns calling POST /api/trpc/poker.vote, each vote a different card than
that voter's previous one (so every call changes state and queues an event); calls are
sequential. Latency runs from just before the POST to the `vote` frame's arrival at the
subscriber's socket. The whole path is measured: HTTP -> Vercel emulation -> tRPC layer (JWT,
rate-limit upsert) -> poker_vote() (one transaction: vote + outbox row) -> publish to the
Pusher server -> mark published -> the frame. 20 warm-up votes are not counted.
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
from websockets.asyncio.client import connect

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, percentile, replace_section
from dev.stack import Stack, StackConfig
from dev.token import user_token
from lib.config import load_settings
from lib.db import Database

WAIT = 30.0
WARMUP = 20
CARDS = ("3", "5")


class Subscriber:
    """A bare protocol-7 client on the session's presence channel; queues each `vote` frame
    with the perf_counter_ns() of its arrival, and answers the server's pings."""

    def __init__(self) -> None:
        self.votes: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()

    async def run(self, stack: Stack, token: str, channel: str, ready: asyncio.Event) -> None:
        assert stack.realtime is not None
        url = f"{stack.realtime.ws_url}/app/{stack.config.pusher_key}?protocol=7"
        async with connect(url, open_timeout=WAIT) as ws:
            hello = json.loads(await ws.recv())
            socket_id = json.loads(hello["data"])["socket_id"]
            async with httpx.AsyncClient(timeout=WAIT) as http:
                auth = await http.post(
                    f"{stack.api_url}/api/realtime/auth",
                    data={"socket_id": socket_id, "channel_name": channel},
                    headers={"Authorization": f"Bearer {token}"},
                )
            auth.raise_for_status()
            subscribe = {"channel": channel, **auth.json()}
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": subscribe}))
            async for frame in ws:
                arrived = time.perf_counter_ns()
                message = json.loads(frame)
                if message["event"] == "pusher_internal:subscription_succeeded":
                    ready.set()
                elif message["event"] == "pusher:ping":  # a client that never talks is pinged
                    await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
                elif message["event"] == "vote":
                    self.votes.put_nowait((arrived, json.loads(message["data"])["data"]))


async def trpc(http: httpx.AsyncClient, path: str, input: object, token: str) -> Any:
    response = await http.post(
        f"/api/trpc/{path}", json=input, headers={"Authorization": f"Bearer {token}"}
    )
    if response.is_error:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:500]}")
    return response.json()["result"]["data"]


async def measure(stack: Stack, votes: int, voters: int) -> dict[str, list[float]]:
    def token(user: str) -> str:
        return user_token(stack.config.jwt_secret, sub=user)

    run = secrets.token_hex(4)
    facilitator = f"bench-{run}-facilitator"
    players = [f"bench-{run}-{n}" for n in range(voters)]
    db = Database(load_settings(stack.env()))
    await db.rpc("credit_grant", p_user_id=facilitator, p_amount=1, p_reason="bench", p_ref=run)
    await db.aclose()
    figures: dict[str, list[float]] = {"event_ms": [], "response_ms": []}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=WAIT) as http:
        created = await trpc(
            http, "poker.create", {"name": "bench", "tasks": ["t"]}, token(facilitator)
        )
        session = created["session"]
        task = session["tasks"][0]["id"]
        for player in players:
            await trpc(http, "poker.join", {"sessionId": session["id"]}, token(player))
        await trpc(http, "poker.startTask", {"taskId": task}, token(facilitator))

        subscriber = Subscriber()
        ready = asyncio.Event()
        channel = f"presence-poker-{session['id']}"
        async with asyncio.TaskGroup() as group:
            listening = group.create_task(
                subscriber.run(stack, token(facilitator), channel, ready), name="subscriber"
            )
            async with asyncio.timeout(WAIT):
                await ready.wait()
            tokens = {player: token(player) for player in players}
            for n in range(votes + WARMUP):
                player = players[n % voters]
                card = CARDS[(n // voters) % len(CARDS)]
                started = time.perf_counter_ns()
                result = await trpc(
                    http, "poker.vote", {"taskId": task, "value": card}, tokens[player]
                )
                answered = time.perf_counter_ns()
                assert result["status"] in ("new", "changed"), result
                async with asyncio.timeout(WAIT):
                    arrived, data = await subscriber.votes.get()
                assert data["userId"] == player and "value" not in data, data
                if n >= WARMUP:
                    figures["event_ms"].append((arrived - started) / 1e6)
                    figures["response_ms"].append((answered - started) / 1e6)
            listening.cancel()
    return figures


def section(figures: dict[str, list[float]], votes: int, voters: int) -> str:
    event, response = figures["event_ms"], figures["response_ms"]
    return "\n".join(
        [
            f"## Poker: poker.vote -> `vote` event at a subscriber ({votes:,} votes)",
            "",
            f"machine: `{MACHINE}`, date {DATE}, one run, votes sequential ({voters} voters "
            f"taking turns), 1-minute load average at start {LOAD[0]:.2f} (the machine is "
            "shared)",
            "",
            "| measure | p50 | p99 | max |",
            "|---|---|---|---|",
            f"| POST poker.vote -> `vote` frame at the subscriber | {percentile(event, 50):.1f} ms "
            f"| {percentile(event, 99):.1f} ms | {max(event):.1f} ms |",
            f"| POST poker.vote -> HTTP response | {percentile(response, 50):.1f} ms "
            f"| {percentile(response, 99):.1f} ms | {max(response):.1f} ms |",
            "",
            "`python -m bench.poker_vote`: the whole local stack in this process; one WebSocket "
            "subscriber on `presence-poker-{id}` authorized through /api/realtime/auth; each "
            "vote a raw tRPC POST with the voter's JWT, through the Vercel emulation, the tRPC "
            "layer (token check, rate-limit upsert), `poker_vote()` (vote + outbox row in one "
            "transaction), the publish to the Pusher-protocol server and the mark. The event "
            "leaves before the response (the function publishes, then marks, then answers), so "
            f"the event arrives first (median gap {median(response) - median(event):.1f} ms). "
            f"{WARMUP} warm-up votes are not counted. Every call passes through the local "
            "gateway to PostgREST three times (rate limit, command, mark); see the outbox "
            "latency section for what that gateway costs locally.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--votes", type=int, default=1000)
    parser.add_argument("--voters", type=int, default=25, help="keep votes/voters under 120")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    stack = Stack(config).start()
    try:
        figures = asyncio.run(measure(stack, args.votes, args.voters))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = section(figures, args.votes, args.voters)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('poker-vote', text)}")


if __name__ == "__main__":
    main()
