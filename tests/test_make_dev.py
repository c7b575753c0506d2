"""`python -m dev.stack` (what `make dev` runs after setup) as a developer uses it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dev.env import ROOT
from dev.ports import free_port

STARTUP_LIMIT_S = 90


def stack_env(tmp_path: Path, **ports: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUPABASE_", "SOCKLESS_", "PUSHER_", "CRON_"))
    }
    env.update(
        SOCKLESS_DATA_DIR=str(tmp_path / "data"),
        SOCKLESS_DB_PORT=str(ports.get("db") or free_port()),
        SOCKLESS_GATEWAY_PORT=str(ports.get("gateway") or free_port()),
        SOCKLESS_POSTGREST_PORT=str(ports.get("postgrest") or free_port()),
        SOCKLESS_API_PORT=str(ports.get("api") or free_port()),
        PUSHER_PORT=str(ports.get("realtime") or free_port()),
        # the voice bridge and the fake OpenAI too, so a developer's `make dev` (8080, 8081)
        # or another test run cannot be in the way
        BRIDGE_PORT=str(free_port()),
        OPENAI_REALTIME_URL=f"ws://127.0.0.1:{free_port()}/v1/realtime",
        # and the HighLevel stand-in (the session stack's is in this process's environment)
        GHL_API_URL=f"http://127.0.0.1:{free_port()}",
        # and the local Stripe and S3, whose defaults a developer's `make dev` holds
        STRIPE_DEV_PORT=str(free_port()),
        STORAGE_DEV_PORT=str(free_port()),
    )
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_make_dev_starts_serves_health_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data").chmod(0o755)
    env = stack_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.stack", "--env-file", str(tmp_path / ".env")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state = tmp_path / "data" / "stack.json"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not state.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.2)
        info = json.loads(state.read_text())
        health = httpx.get(info["health"], timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["db"] == "ok"
        pids = info["pids"]
        assert {"postgres", "postgrest"} <= set(pids)

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Sockless local stack is up" in output and "stopped." in output
    for name in ("postgres", "postgrest"):
        assert not alive(pids[name]), f"{name} (pid {pids[name]}) outlived the stack"
    assert not state.exists()
    assert (tmp_path / "data" / "logs" / "postgres.log").stat().st_size > 0
    assert (tmp_path / ".env").exists()


@pytest.mark.parametrize(
    "piece,env_var",
    [("api", "SOCKLESS_API_PORT"), ("db", "SOCKLESS_DB_PORT"), ("realtime", "PUSHER_PORT")],
)
def test_busy_port_is_reported_with_the_variable_that_moves_it(tmp_path: Path, piece, env_var):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "dev.stack", "--env-file", str(tmp_path / ".env")],
            cwd=ROOT,
            env=stack_env(tmp_path, **{piece: port}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and env_var in result.stderr
    assert "Traceback" not in result.stderr
