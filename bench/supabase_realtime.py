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
import base64
import json
import os
import secrets
import select
import shutil
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import httpx

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

ROOT = Path(__file__).resolve().parents[1]
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


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: kernel receive timestamps


def _masked_text(text: str) -> bytes:
    """A client-to-server text frame (masked, FIN)."""
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    header = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _payload(frame: bytes) -> bytes:
    """The payload of one unmasked server frame (small frames: header of 2 or 4 bytes)."""
    size = frame[1] & 0x7F
    return frame[4:] if size == 126 else frame[2:]


def _subscriber(host: str, port: int, path: str, topic: str, n: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    head, rest = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    sock.sendall(_masked_text(json.dumps([str(n), str(n), f"realtime:{topic}", "phx_join", {}])))
    while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
        rest += sock.recv(4096)
    reply = json.loads(_payload(rest))
    assert reply[4]["status"] == "ok", reply
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    return sock


def run_clients(host: str, port: int, path: str, topic: str, count: int) -> None:
    """The fan-out subscribers, in a process of their own (`--clients`): join `topic`, print
    `ready`, then one line per round with, per subscriber, when the kernel received the
    frame (SO_TIMESTAMPNS) and when this process read it (both CLOCK_REALTIME ns, shared with
    the parent)."""
    sockets = {sock.fileno(): sock for sock in (
        _subscriber(host, port, path, topic, n) for n in range(count)
    )}  # fmt: skip
    poller = select.epoll()
    for fd in sockets:
        poller.register(fd, select.EPOLLIN)
    print("ready", flush=True)
    rounds: dict[int, tuple[list[int], list[int]]] = {}
    deadline = time.monotonic() + WAIT * 4
    while len(rounds) < ROUNDS or any(len(k) < count for k, _ in rounds.values()):
        assert time.monotonic() < deadline, "fan-out subscribers timed out"
        for fd, _ in poller.poll(1.0):
            data, ancillary, _, _ = sockets[fd].recvmsg(65536, socket.CMSG_SPACE(16))
            read = time.time_ns()
            kernel = read
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    kernel = seconds * 1_000_000_000 + nanoseconds
            message = json.loads(_payload(data))
            round_ = message[4]["payload"]["round"]
            kernels, reads = rounds.setdefault(round_, ([], []))
            kernels.append(kernel)
            reads.append(read)
            if len(kernels) == count:
                print(json.dumps({"round": round_, "kernel": kernels, "read": reads}), flush=True)
    for sock in sockets.values():
        sock.close()


async def fanout(stack: Stack, subscribers: int, processes: int) -> tuple[list[float], list[float]]:
    """ROUNDS broadcasts to `subscribers` clients spread over `processes` child processes;
    ms from POST start to each subscriber's frame: (in its socket, read by its process)."""
    host, port = stack.servers["gateway"].host, stack.servers["gateway"].port
    path = f"{WEBSOCKET_PATH}?apikey={stack.config.anon_key}&vsn=2.0.0"
    topic = f"fanout-{secrets.token_hex(3)}"
    shares = [subscribers // processes + (n < subscribers % processes) for n in range(processes)]
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.supabase_realtime",
            "--clients",
            json.dumps([host, port, path, topic, share]),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )  # fmt: skip
        for share in shares
    ]
    key = stack.config.service_role_key
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    in_socket: list[float] = []
    read: list[float] = []

    async def line(child: asyncio.subprocess.Process) -> bytes:
        assert child.stdout is not None
        return await child.stdout.readline()

    try:
        async with asyncio.timeout(WAIT * 2):
            for child in children:
                assert (await line(child)).strip() == b"ready"
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for round_ in range(ROUNDS):
                body = {
                    "messages": [{"topic": topic, "event": "tick", "payload": {"round": round_}}]
                }
                await asyncio.sleep(0.1)
                started = time.time_ns()
                url = f"{stack.supabase_url}/realtime/v1/api/broadcast"
                (await http.post(url, json=body, headers=headers)).raise_for_status()
                async with asyncio.timeout(WAIT):
                    for child in children:
                        report = json.loads(await line(child))
                        assert report["round"] == round_
                        in_socket += [(at - started) / 1e6 for at in report["kernel"]]
                        read += [(at - started) / 1e6 for at in report["read"]]
        async with asyncio.timeout(WAIT):
            for child in children:
                await child.wait()
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    return in_socket, read


def section(
    results: dict[str, list[float]],
    writes: int,
    fan: list[float],
    fan_read: list[float],
    writes_ms: list[float],
    subscribers: int,
    processes: int,
) -> str:
    pusher_p99 = percentile(results["pusher"], 99)
    supabase_p99 = percentile(results["supabase"], 99)
    lines = [
        f"## Supabase Realtime mode: write -> event at an official client ({writes:,} writes), "
        f"fan-out to {subscribers:,}",
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
        f"topic on the local Realtime server ({ROUNDS} rounds, {len(fan):,} deliveries; "
        "target p99 <= 50 ms), from POST start:",
        "",
        "| until the frame is | p50 | p99 | max |",
        "|---|---|---|---|",
        "| in the subscriber's socket (kernel receive time, SO_TIMESTAMPNS) "
        f"| {median(fan):.1f} ms | {percentile(fan, 99):.1f} ms | {max(fan):.1f} ms |",
        f"| read by the subscriber's process ({processes} processes share the 2 cores) "
        f"| {median(fan_read):.1f} ms | {percentile(fan_read, 99):.1f} ms "
        f"| {max(fan_read):.1f} ms |",
        "",
        f"The server's own work per broadcast — one frame built, written to all {subscribers:,} "
        f"sockets — took p50 {median(writes_ms):.1f} ms, max {max(writes_ms):.1f} ms.",
        "",
        "`python -m bench.supabase_realtime`: the whole local stack in this process. Latency: "
        "`db.rpc('demo_note_add')` + `commit_events()` -> the event line printed by the Node "
        "client (tests/js/pusher, tests/js/supabase), read by this process; 20 warm-up writes "
        "not counted. Supabase mode = broadcast REST -> the gateway -> dev/supabase_realtime "
        "(the gateway also forwards to the Pusher-protocol server). Fan-out subscribers are "
        f"plain sockets speaking WebSocket + Phoenix vsn 2.0.0, in {processes} child processes "
        "polling with epoll; all times are CLOCK_REALTIME, shared by the processes.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--clients", help=argparse.SUPPRESS)  # the fan-out child process
    args = parser.parse_args(argv)
    if args.clients:
        run_clients(*json.loads(args.clients))
        return
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
        assert stack.gateway is not None and stack.gateway.realtime is not None
        stack.gateway.realtime.fanout_ms.clear()
        fan, fan_read = asyncio.run(fanout(stack, args.subscribers, args.client_processes))
        writes_ms = list(stack.gateway.realtime.fanout_ms)
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = section(
        results, args.writes, fan, fan_read, writes_ms, args.subscribers, args.client_processes
    )
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('supabase-realtime', text)}")


if __name__ == "__main__":
    main()
