"""Several bridge processes on one port, so a machine's every core carries calls.

One Python process runs on one core (docs/benchmarks.md, "Voice bridge"). With
`python -m worker --workers N` (or BRIDGE_WORKERS=N, `auto` = the cores this process may run
on) the process started becomes a supervisor: it reserves the port with SO_REUSEPORT, starts N
ordinary bridge processes (`python -m worker --reuse-port`) that each listen on that same port
with SO_REUSEPORT, and the kernel spreads new connections across them (by a hash of the
connection's addresses). A call stays in the process that accepted it; each process has its
own /health (its own activeCalls) and its own OpenAI and Supabase connections, and calls are
claimed in the database (calls_stream_start), so processes need not know of each other.

The supervisor passes SIGTERM/SIGINT on to every worker, each of which drains and saves its
calls as a lone bridge does, and exits 0 only if every worker did (every call saved). A worker
that dies on its own is started again, unless it died within CRASH_LOOP_S of its start (then
the supervisor stops them all and exits 1: something is wrong with the settings or the code).
On Fly this is the whole setup: the supervisor is the machine's main process, which Fly's
kill_signal reaches, and the proxy's concurrency limits count every worker's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time

log = logging.getLogger("worker.processes")

CRASH_LOOP_S = 10.0
READY_TIMEOUT_S = 30.0


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0))


def workers_setting(value: str) -> int:
    """BRIDGE_WORKERS / --workers: a positive number, or `auto` for every core."""
    if value.strip().lower() == "auto":
        return cores()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"BRIDGE_WORKERS={value!r}: expected a positive number or auto")
    return count


def reserve(host: str, port: int) -> socket.socket:
    """A bound, not listening, SO_REUSEPORT socket: holds the port (and picks one for port 0)
    while the workers bind it; the kernel hands connections only to listening sockets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserved.bind((host, port))
    return reserved


class Supervisor:
    def __init__(self, count: int, host: str, port: int, passthrough: list[str]) -> None:
        self.count = count
        self.host = host
        self._reserved = reserve(host, port)
        self.port: int = self._reserved.getsockname()[1]
        self._passthrough = passthrough
        self._workers: dict[int, asyncio.subprocess.Process] = {}
        self._stopping = asyncio.Event()
        self._failed = False

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--reuse-port",
            "--worker-index",
            str(index),
            *self._passthrough,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"bridge worker {index} exited before listening")
        self._workers[index] = process
        return process

    def stop(self) -> None:
        """SIGTERM every worker (each drains and saves its calls)."""
        if not self._stopping.is_set():
            self._stopping.set()
            for process in self._workers.values():
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)

    async def _keep(self, index: int, process: asyncio.subprocess.Process) -> int:
        """Wait for one worker; start it again if it died on its own (not a crash loop)."""
        while True:
            started = time.monotonic()
            code = await process.wait()
            if self._stopping.is_set():
                return code
            log.error("bridge worker %d exited with %s", index, code)
            if time.monotonic() - started < CRASH_LOOP_S:
                self._failed = True
                self.stop()
                return code
            process = await self._spawn(index)

    async def run(self, ready: str) -> bool:
        """Start the workers, print `ready` once all listen, run until stopped; True if every
        worker exited 0 (every call saved)."""
        try:
            for index in range(self.count):
                await self._spawn(index)
        except (RuntimeError, TimeoutError) as exc:
            log.error("%s", exc)
            self.stop()
            await asyncio.gather(*(p.wait() for p in self._workers.values()))
            return False
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        print(ready, flush=True)
        codes = await asyncio.gather(
            *(self._keep(index, process) for index, process in self._workers.items())
        )
        self._reserved.close()
        return not self._failed and all(code == 0 for code in codes)
