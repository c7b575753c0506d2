"""api/ under the real Vercel CLI (`vercel dev --local`, dev.vercel_cli) against the test
stack's database, beside dev/vercel.py's emulation: what the README tells developers to run.

The pinned CLI is installed into a cache outside the repo on first use (~250 MB, ~20 s; it is
not in package.json). Skipped, saying why, only when that install is impossible (no registry).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dev import vercel_cli
from dev.env import ROOT
from dev.ports import free_port
from dev.stack import Stack
from tests.support import stack_env
from tests.test_make_dev import stack_env as make_dev_env

DEPLOYED = ("api", "lib", "requirements.txt", "vercel.json", ".python-version", ".vercelignore")
BUILD_LIMIT_S = 240  # the CLI builds each function at its first request (uv installs deps)


@pytest.fixture(scope="module")
def vercel() -> Path:
    try:
        return vercel_cli.install()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        # The npm registry is reachable wherever `make test` runs (it installs node_modules),
        # so a failed install is a real failure, not a reason to skip.
        pytest.fail(f"the Vercel CLI could not be installed (python -m dev.vercel_cli): {exc}")


def project_copy(tmp_path: Path, env: dict[str, str]) -> Path:
    """What Vercel deploys, in a folder of its own, with the stack's variables in .env (the
    CLI hands functions .env, not its own environment)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in DEPLOYED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return project


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + BUILD_LIMIT_S
    while True:
        assert process.poll() is None, f"vercel dev exited:\n{log.read_text()[-3000:]}"
        try:
            response = httpx.get(url, timeout=BUILD_LIMIT_S)
            if response.status_code != 404 or "NOT_FOUND" not in response.text[:200]:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"no answer from {url}:\n{log.read_text()[-3000:]}"
        time.sleep(1)


def test_functions_run_under_vercel_dev_local_against_the_stack(
    vercel: Path, stack: Stack, tmp_path: Path
):
    env = stack_env(stack)
    project = project_copy(tmp_path, env)
    # only .env carries the stack's variables (the test process has them in os.environ)
    shell = {k: v for k, v in os.environ.items() if k not in env}
    port = free_port()
    log = tmp_path / "vercel.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(vercel), "dev", "--local", "--listen", f"127.0.0.1:{port}", "--yes"],
            cwd=project,
            env=vercel_cli.environment(base=shell),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        health = wait_for(f"http://127.0.0.1:{port}/api/health", process, log)
        assert health.status_code == 200, health.text
        assert health.json()["checks"] == {"db": "ok", "schema": "ok"}
        # a vercel.json rewrite (/api/trpc/(.*) -> api/trpc.py) as the real router applies it
        trpc = wait_for(f"http://127.0.0.1:{port}/api/trpc/system.health", process, log)
        assert trpc.status_code == 200, trpc.text
        assert "result" in trpc.json()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_dev_without_the_api_then_vercel_dev_on_its_port(vercel: Path, tmp_path: Path):
    """The README's steps: `SOCKLESS_API=off make dev` runs everything but api/ (the port
    stays free), then `vercel dev --local --listen <SOCKLESS_API_PORT>` in the project reads
    the .env make dev wrote and serves the functions against that stack."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data").chmod(0o755)
    gateway, api = free_port(), free_port()
    env = make_dev_env(tmp_path, gateway=gateway, api=api) | {"SOCKLESS_API": "off"}
    dotenv = tmp_path / ".env"  # a developer who moved the gateway says so in .env
    dotenv.write_text(f"SUPABASE_URL=http://127.0.0.1:{gateway}\n")
    stack = subprocess.Popen(
        [sys.executable, "-m", "dev.stack", "--env-file", str(dotenv)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    state = tmp_path / "data" / "stack.json"
    try:
        deadline = time.monotonic() + 90
        while not state.exists():
            assert stack.poll() is None, stack.stdout.read() if stack.stdout else ""
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.2)
        info = json.loads(state.read_text())
        assert info["api_served"] is False and info["api"] == f"http://127.0.0.1:{api}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(info["health"], timeout=5)

        project = project_copy(tmp_path, {})
        shutil.copy2(dotenv, project / ".env")
        log = tmp_path / "vercel.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(vercel), "dev", "--local", "--listen", f"127.0.0.1:{api}", "--yes"],
                cwd=project, env=vercel_cli.environment(base=env), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            health = wait_for(info["health"], process, log)
            assert health.status_code == 200, health.text
            assert health.json()["checks"] == {"db": "ok", "schema": "ok"}
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=60)
        assert "not served: run `vercel dev --local`" in output
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()
