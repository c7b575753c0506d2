"""Voice bridge capacity: ours against a naive peer, at 1, 50, 100, 150 and 200 concurrent calls.

    python -m bench.bridge [--levels 1,50,100,150,200] [--seconds 10] [--repeat 1]
                           [--workers 150,200] [--levers 50] [--no-write]

Each level runs three bridges, one after another, against the same phones and stand-ins, each
in its own process (a fresh one per level), so their CPU and memory are their own:
- ours: `python -m worker`, one process (at the `--workers` levels also as two processes
  sharing the port with SO_REUSEPORT, `--workers 2`; at the `--levers` levels also without
  uvloop, with BRIDGE_APPEND_MS=60 and with BRIDGE_MARK_EVERY_MS=100, one lever each);
- naive: bench/naive_bridge.py, written from the reference sample's documented behaviour
  (twilio-samples/speech-assistant-openai-realtime-api-python: FastAPI on plain uvicorn,
  `websockets` upstream, `json.loads`/`json.dumps` of every message, one append per frame, a
  media message and then a mark message per delta);
- baseline: no bridge at all, the phones talking straight to an echo of the media stream (two
  loopback hops instead of four), to show what the load generator itself costs.
This process plays every other part, kept minimal so that the bridges are what is measured:
- phones: a bare WebSocket client per call (no client library) speaking the media-stream
  protocol: `start` with a valid stream token, then one 20 ms μ-law `media` frame every 20 ms
  (phases spread over the 20 ms), each frame starting with its own sequence number; marks are
  echoed on arrival;
- OpenAI (its own process): a WebSocket server that answers every `input_audio_buffer.append`
  at once with its audio as `response.output_audio.delta` events of 20 ms each, so every frame
  comes back to its phone and a bridge that batches its appends still gets 20 ms deltas;
- Supabase: a stub of the two PostgREST calls a call makes (claim the call, save it).

Latency = a frame's round trip, phone -> bridge -> OpenAI -> bridge -> phone (p50 / p99 of the
measured seconds). "frames back" = frames that came back of those sent: fewer means the bridge
fell behind (its core is saturated and the latencies are queueing). CPU per call = the
bridge's user+system time (all its processes) over the measured seconds / calls, % of one
core; CPU per frame = that time / frames back (a frame's whole trip through the bridge, both
ways), which stays fair when a starved bridge carries fewer frames. The machine has two cores,
shared with the phones, the stand-ins and other work, so a bridge past ~60-70 % of a core
competes with its own load generator. Ratios are naive / ours (CPU per
frame: how many of our frames fit in the CPU of one naive frame; p99: how many times lower
ours is). The two-process rows share this machine's two cores with the phones and the echo,
so they show the port sharing at work, not what a second free core adds (on Fly each worker
has a core of its own). Why each lever costs what it does: docs/calls.md ("Capacity").
Every run is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from bench.bridge_support import (
    FRAME_MS,
    PATH_SECRET,
    SECRET,
    LightPhone,
    Samples,
    start_message,
)
from bench.docs_section import (
    DATE,
    LOAD,
    MACHINE,
    median,
    note_load,
    percentile,
    replace_section,
)
from bench.realtime_support import ROOT, cpu_seconds, raise_fd_limit, rss_kib

WARMUP_S = 2.0
WAIT = 30.0
Result = dict[str, float]


def tree(pid: int) -> list[int]:
    """A process and its descendants (a multi-process bridge is a parent and its workers)."""
    pids, at = [pid], 0
    while at < len(pids):
        for task in Path(f"/proc/{pids[at]}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(child) for child in (task / "children").read_text().split()]
        at += 1
    return pids


def tree_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def tree_rss(pids: list[int]) -> int:
    return sum(rss_kib(pid) for pid in pids)


async def talk(
    port: int, path: str, calls: int, seconds: float, pid: int | None, echo_pid: int
) -> Result:
    """`calls` phones for WARMUP_S + `seconds`; latencies of the measured part, bridge usage."""
    loop = asyncio.get_running_loop()
    samples = Samples()
    pids = tree(pid) if pid else []
    rss_before = tree_rss(pids) if pids else 0
    phones: list[LightPhone] = []
    for index in range(calls):
        call_id = str(uuid.uuid4())
        _, phone = await loop.create_connection(
            lambda i=index, c=call_id: LightPhone(i, path, start_message(c), samples),
            "127.0.0.1",
            port,
        )
        await asyncio.wait_for(phone.upgraded, WAIT)
        phones.append(phone)
    begin, tick, slots = loop.time(), 0, 10
    cpu_start = measured_from = phones_cpu = echo_cpu = 0.0
    sent_before = 0
    while (now := loop.time() - begin) < WARMUP_S + seconds:
        if not samples.recording and now >= WARMUP_S:
            samples.recording, measured_from = True, time.monotonic()
            samples.since = time.perf_counter_ns()
            cpu_start = tree_cpu(pids)
            phones_cpu, echo_cpu = time.process_time(), cpu_seconds(echo_pid)
            sent_before = sum(phone.frames for phone in phones)
        for phone in phones[tick % slots :: slots]:
            phone.send_frame()
        tick += 1
        await asyncio.sleep(max(0.0, begin + tick * FRAME_MS / 1000 / slots - loop.time()))
    elapsed = time.monotonic() - measured_from
    bridge_cpu = 100 * (tree_cpu(pids) - cpu_start) / elapsed
    result = {
        "phones_cpu_pct": 100 * (time.process_time() - phones_cpu) / elapsed,
        "echo_cpu_pct": 100 * (cpu_seconds(echo_pid) - echo_cpu) / elapsed,
        "sent": sum(phone.frames for phone in phones) - sent_before,
        "bridge_cpu_pct": bridge_cpu,
        "cpu_pct_per_call": bridge_cpu / calls,
        "rss_kib_per_call": (tree_rss(pids) - rss_before) / calls if pids else 0.0,
    }
    await asyncio.sleep(1.0)  # frames still in flight come back (or are lost)
    samples.recording = False
    for phone in phones:
        phone.hang_up()
    try:
        async with asyncio.timeout(WAIT):
            for phone in phones:
                await phone.closed.wait()
    except TimeoutError:  # a bridge far behind may not get to the close frames in time
        for phone in phones:
            if phone.transport is not None:
                phone.transport.abort()
    latencies = samples.latencies_ms
    result.update(
        p50_ms=percentile(latencies, 50) if latencies else 0.0,
        p99_ms=percentile(latencies, 99) if latencies else 0.0,
        frames=len(latencies),
        # CPU per frame carried both ways: fair also when a starved bridge carries fewer
        cpu_us_per_frame=bridge_cpu / 100 * elapsed / max(1, len(latencies)) * 1e6,
    )
    return result


# -- the bridges -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _spawn(args: list[str], env: dict[str, str]) -> AsyncIterator[tuple[int, int]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line)[1])  # type: ignore[index]
        yield port, process.pid
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), WAIT)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def ours(
    rest_port: int,
    echo_port: int,
    *,
    workers: int = 1,
    append_ms: int = 20,
    loop: str = "uvloop",
    mark_every_ms: int = 0,
) -> AsyncIterator[tuple[int, int]]:
    env = {
        **os.environ,
        "BRIDGE_TOKEN_SECRET": SECRET,
        "BRIDGE_PATH_SECRET": PATH_SECRET,
        "BRIDGE_URL": "",
        "SUPABASE_URL": f"http://127.0.0.1:{rest_port}",
        "SUPABASE_SERVICE_ROLE_KEY": "bench",
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "OPENAI_REALTIME_URL": f"ws://127.0.0.1:{echo_port}/v1/realtime",
        "REALTIME_PROVIDER": "none",
        "BRIDGE_DRAIN_S": "1",
        "BRIDGE_SHUTDOWN_TIMEOUT_S": "20",
        "BRIDGE_LOG_LEVEL": "warning",
        "BRIDGE_APPEND_MS": str(append_ms),
        "BRIDGE_MARK_EVERY_MS": str(mark_every_ms),
    }
    args = ["-m", "worker", "--port", "0", "--workers", str(workers), "--loop", loop]
    async with _spawn(args, env) as spawned:
        yield spawned


@contextlib.asynccontextmanager
async def naive(echo_port: int) -> AsyncIterator[tuple[int, int]]:
    args = ["-m", "bench.naive_bridge", "--openai", f"ws://127.0.0.1:{echo_port}/v1/realtime"]
    async with _spawn(args, dict(os.environ)) as spawned:
        yield spawned


@contextlib.asynccontextmanager
async def stand_ins() -> AsyncIterator[tuple[int, int, int]]:
    """The echoing OpenAI and the PostgREST stub in their own process: (echo, rest) ports
    and its pid."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bridge_support",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        line = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        ports = dict(part.split("=") for part in line.split())
        yield int(ports["echo"]), int(ports["rest"]), process.pid
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), WAIT)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- one level -----------------------------------------------------------------------------------


Variant = tuple[str, dict[str, int | str]]
"""A name and `ours` keyword arguments."""
OURS: Variant = ("ours", {})
LEVERS: list[Variant] = [
    ("ours on asyncio's loop (no uvloop)", {"loop": "asyncio"}),
    ("ours, 60 ms appends", {"append_ms": 60}),
    ("ours, a mark per 100 ms", {"mark_every_ms": 100}),
]


async def level(calls: int, seconds: float, variants: list[Variant]) -> dict[str, Result]:
    """Baseline, naive, then each of ours in `variants`."""
    results: dict[str, Result] = {}
    async with stand_ins() as (echo_port, rest_port, echo_pid):
        results["baseline"] = await talk(echo_port, "/direct", calls, seconds, None, echo_pid)
        async with naive(echo_port) as (port, pid):
            await asyncio.sleep(0.5)  # let the fresh process settle before its RSS is read
            results["naive"] = await talk(port, "/media-stream", calls, seconds, pid, echo_pid)
        for name, options in variants:
            async with ours(rest_port, echo_port, **options) as (port, pid):  # type: ignore[arg-type]
                await asyncio.sleep(0.5 + 0.5 * int(options.get("workers", 1)))
                path = f"/{PATH_SECRET}/media"
                results[name] = await talk(port, path, calls, seconds, pid, echo_pid)
    return results


# -- the report ------------------------------------------------------------------------------


def _ms(r: Result) -> str:
    return f"{r['p50_ms']:,.1f} / {r['p99_ms']:,.1f} ms"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


def table(levels: list[tuple[int, dict[str, Result]]], seconds: float, repeat: int) -> str:
    main_rows, variant_rows = [], []
    for calls, results in levels:
        n, ours_, base = results["naive"], results["ours"], results["baseline"]
        main_rows.append(
            f"| {calls} | {_ms(n)} | {_ms(ours_)} | {_ratio(n['p99_ms'], ours_['p99_ms'])} "
            f"| {n['frames']:,.0f} / {ours_['frames']:,.0f} of {ours_['sent']:,.0f} "
            f"| {n['cpu_pct_per_call']:.2f} / {ours_['cpu_pct_per_call']:.2f} % "
            f"| {n['cpu_us_per_frame']:.0f} / {ours_['cpu_us_per_frame']:.0f} µs "
            f"| {_ratio(n['cpu_us_per_frame'], ours_['cpu_us_per_frame'])} "
            f"| {n['bridge_cpu_pct']:.0f} / {ours_['bridge_cpu_pct']:.0f} % "
            f"| {n['rss_kib_per_call']:.0f} / {ours_['rss_kib_per_call']:.0f} KiB "
            f"| {_ms(base)} | {ours_['phones_cpu_pct']:.0f} / {ours_['echo_cpu_pct']:.0f} % |"
        )
        for name, r in results.items():
            if name in ("naive", "ours", "baseline"):
                continue
            variant_rows.append(
                f"| {calls} | {name} | {_ms(r)} | {_ratio(n['p99_ms'], r['p99_ms'])} "
                f"| {r['frames']:,.0f} of {r['sent']:,.0f} | {r['cpu_pct_per_call']:.2f} % "
                f"| {r['cpu_us_per_frame']:.0f} µs "
                f"| {_ratio(n['cpu_us_per_frame'], r['cpu_us_per_frame'])} "
                f"| {r['bridge_cpu_pct']:.0f} % |"
            )
    runs = f"median of {repeat} runs" if repeat > 1 else "one run"
    lines = [
        "## Voice bridge: capacity against a naive bridge",
        "",
        f"machine: `{MACHINE}`, date {DATE}, {runs} "
        f"per row, {seconds:g} s measured after {WARMUP_S:g} s of warm-up each, 1-minute load "
        f"average at start {LOAD[0]:.2f} (the machine is shared: figures are noisy)",
        "",
        "| calls | naive p50 / p99 | ours p50 / p99 | p99 naive/ours | frames back naive / ours "
        "of sent | CPU per call naive / ours (% of a core) | CPU per frame naive / ours "
        "| CPU per frame naive/ours | bridge CPU naive / ours | RSS per call naive / ours "
        "| baseline (no bridge) p50 / p99 | phones / echo CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *main_rows,
    ]
    if variant_rows:
        lines += [
            "",
            "Variants of ours in the same runs (ratios against the naive bridge of the level):",
            "",
            "| calls | bridge | p50 / p99 | p99 naive/ours | frames back of sent "
            "| CPU per call | CPU per frame | CPU per frame naive/ours "
            "| bridge CPU (all processes) |",
            "|---|---|---|---|---|---|---|---|---|",
            *variant_rows,
        ]
    lines += ["", (__doc__ or "").split("\n\n", 1)[1].split("Every run is bounded.")[0].strip()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", default="1,50,100,150,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per level (median shown)")
    parser.add_argument(
        "--workers", default="150,200", help="levels at which ours also runs as 2 processes"
    )
    parser.add_argument(
        "--levers",
        default="50",
        help="levels at which ours also runs without uvloop, with 60 ms appends and with a "
        "mark per 100 ms",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    note_load()
    raise_fd_limit(4096)
    measured = []
    for calls in (int(n) for n in args.levels.split(",") if n):
        variants = [OURS]
        if str(calls) in args.workers.split(","):
            variants.append(("ours, 2 processes (--workers 2)", {"workers": 2}))
        if str(calls) in args.levers.split(","):
            variants += LEVERS
        repeats = []
        for run in range(args.repeat):
            results = asyncio.run(level(calls, args.seconds, variants))
            for name, r in results.items():
                print(f"{calls} calls, run {run + 1}/{args.repeat}, {name}: {r}", flush=True)
            repeats.append(results)
        merged = {
            name: {key: median([r[name][key] for r in repeats]) for key in repeats[0][name]}
            for name in repeats[0]
        }
        measured.append((calls, merged))
    section = table(measured, args.seconds, args.repeat)
    print(section)
    if not args.no_write:
        print(f"wrote {replace_section('voice-bridge', section)}")


if __name__ == "__main__":
    main()
