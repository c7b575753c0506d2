"""Voice bridge overhead at 1, 50, 100 and 200 concurrent calls on loopback.

    python -m bench.bridge [--levels 1,50,100,200] [--coalesced 50,200] [--seconds 6] [--repeat 3]
                           [--no-write]

The bridge runs as `python -m worker` in its own process (a fresh one per level), so its CPU
and memory are its own. This process plays every other part, kept minimal so that the bridge
is what is measured:
- phones: a bare WebSocket client per call (no client library) speaking the media-stream
  protocol: `start` with a valid stream token, then one 20 ms μ-law `media` frame every 20 ms
  (phases spread over the 20 ms), each payload carrying its own sequence number; marks are
  echoed on arrival;
- OpenAI: a WebSocket server that answers every `input_audio_buffer.append` at once with a
  `response.output_audio.delta` carrying the same audio, so each frame comes back to its phone;
- Supabase: a stub of the two PostgREST calls a call makes (claim the call, save it).

Latency = a frame's round trip, phone -> bridge -> OpenAI -> bridge -> phone. The same phones
talking straight to an echo of the media-stream protocol give the baseline (two loopback hops
instead of four, no bridge); "added" = through the bridge minus the baseline, per percentile.
CPU per call = the bridge's user+system time over the measured seconds / calls; memory per
call = (bridge RSS with the calls - RSS before they connected) / calls. Each echoed frame comes
back as its own 20 ms delta, so the bridge sends a media frame and a mark per frame (the
default: a mark after every chunk); the "marks per 100 ms" rows run with
BRIDGE_MARK_EVERY_MS=100. "frames back / sent" below "sent" means the bridge fell behind.
"phones / echo CPU" is the load generator's processes (the phones; the echo and stub), for
judging whether they kept up; CPU is % of one core, the machine has two.

When "frames back" falls short of "sent", the bridge process (one core) is saturated and the
latencies are queueing, not the cost of a frame.
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
from bench.realtime_support import ROOT, cpu_seconds, rss_kib

WARMUP_S = 2.0
WAIT = 30.0


async def talk(
    port: int, path: str, calls: int, seconds: float, pid: int | None, echo_pid: int
) -> dict[str, float]:
    """`calls` phones for WARMUP_S + `seconds`; latencies of the measured part, bridge usage."""
    loop = asyncio.get_running_loop()
    samples = Samples()
    rss_before = rss_kib(pid) if pid else 0
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
            cpu_start = cpu_seconds(pid) if pid else 0.0
            phones_cpu, echo_cpu = time.process_time(), cpu_seconds(echo_pid)
            sent_before = sum(phone.frames for phone in phones)
        for phone in phones[tick % slots :: slots]:
            phone.send_frame()
        tick += 1
        await asyncio.sleep(max(0.0, begin + tick * FRAME_MS / 1000 / slots - loop.time()))
    elapsed = time.monotonic() - measured_from
    result = {
        "phones_cpu_pct": 100 * (time.process_time() - phones_cpu) / elapsed,
        "echo_cpu_pct": 100 * (cpu_seconds(echo_pid) - echo_cpu) / elapsed,
        "sent": sum(phone.frames for phone in phones) - sent_before,
        "cpu_pct_per_call": 100 * ((cpu_seconds(pid) - cpu_start) / elapsed) / calls
        if pid
        else 0.0,
        "rss_kib_per_call": (rss_kib(pid) - rss_before) / calls if pid else 0.0,
    }
    samples.recording = False
    await asyncio.sleep(0.5)
    for phone in phones:
        phone.hang_up()
    async with asyncio.timeout(WAIT):
        for phone in phones:
            await phone.closed.wait()
    latencies = samples.latencies_ms
    result.update(
        p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99), frames=len(latencies)
    )
    return result


# -- one level -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bridge_process(
    rest_port: int, echo_port: int, mark_every_ms: float
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
        "BRIDGE_MARK_EVERY_MS": str(mark_every_ms),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        "--port",
        "0",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
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


async def level(calls: int, seconds: float, mark_every_ms: float = 0) -> dict[str, float]:
    async with stand_ins() as (echo_port, rest_port, echo_pid):
        baseline = await talk(echo_port, "/direct", calls, seconds, None, echo_pid)
        async with bridge_process(rest_port, echo_port, mark_every_ms) as (port, pid):
            await asyncio.sleep(0.5)  # let the fresh process settle before its RSS is read
            through = await talk(port, f"/{PATH_SECRET}/media", calls, seconds, pid, echo_pid)
    return {
        "calls": calls,
        "mark_every_ms": mark_every_ms,
        "p50_ms": through["p50_ms"],
        "p99_ms": through["p99_ms"],
        "added_p50_ms": through["p50_ms"] - baseline["p50_ms"],
        "added_p99_ms": through["p99_ms"] - baseline["p99_ms"],
        "baseline_p50_ms": baseline["p50_ms"],
        "baseline_p99_ms": baseline["p99_ms"],
        "cpu_pct_per_call": through["cpu_pct_per_call"],
        "rss_kib_per_call": through["rss_kib_per_call"],
        "phones_cpu_pct": through["phones_cpu_pct"],
        "echo_cpu_pct": through["echo_cpu_pct"],
        "bridge_cpu_pct": through["cpu_pct_per_call"] * calls,
        "frames": through["frames"],
        "sent": through["sent"],
    }


def table(results: list[dict[str, float]], seconds: float, repeat: int) -> str:
    rows = [
        f"| {r['calls']:g}{' (marks per 100 ms)' if r['mark_every_ms'] else ''} "
        f"| {r['added_p50_ms']:.2f} ms | {r['added_p99_ms']:.2f} ms "
        f"| {r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms | {r['baseline_p50_ms']:.2f} / "
        f"{r['baseline_p99_ms']:.2f} ms | {r['cpu_pct_per_call']:.2f} % "
        f"| {r['rss_kib_per_call']:.0f} KiB | {r['frames']:,.0f} of {r['sent']:,.0f} "
        f"| {r['bridge_cpu_pct']:.0f} % | {r['phones_cpu_pct']:.0f} % / {r['echo_cpu_pct']:.0f} % |"
        for r in results
    ]
    return "\n".join(
        [
            "## Voice bridge: overhead per call",
            "",
            f"machine: `{MACHINE}`, date {DATE}, median of {repeat} runs per row, {seconds:g} s "
            f"measured after {WARMUP_S:g} s of warm-up each, 1-minute load average at start "
            f"{LOAD[0]:.2f} (the machine is shared)",
            "",
            "| calls | added latency p50 | added p99 | round trip via bridge p50 / p99 "
            "| baseline p50 / p99 | bridge CPU per call (% of a core) | bridge RSS per call "
            "| frames back / sent | bridge CPU | phones / echo CPU |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            (__doc__ or "").split("\n\n", 1)[1].split("Every run is bounded.")[0].strip(),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", default="1,50,100,200")
    parser.add_argument(
        "--coalesced", default="50,200", help="levels run again with BRIDGE_MARK_EVERY_MS=100"
    )
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per level (median shown)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    note_load()
    results = []
    runs = [(int(n), 0) for n in args.levels.split(",") if n]
    runs += [(int(n), 100) for n in args.coalesced.split(",") if n]
    for calls, mark_every_ms in runs:
        repeats = []
        for n in range(args.repeat):
            result = asyncio.run(level(calls, args.seconds, mark_every_ms))
            print(f"{calls} calls, run {n + 1}/{args.repeat}: {result}", flush=True)
            repeats.append(result)
        results.append({key: median([r[key] for r in repeats]) for key in repeats[0]})
    section = table(results, args.seconds, args.repeat)
    print(section)
    if not args.no_write:
        print(f"wrote {replace_section('voice-bridge', section)}")


if __name__ == "__main__":
    main()
