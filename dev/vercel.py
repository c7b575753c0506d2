"""Serve api/ the way Vercel does, for `make dev` and the tests.

- Every `api/**/*.py` is a function at the same URL (`api/health.py` -> `/api/health`,
  `api/index.py` -> `/api`, `api/users/[id].py` -> `/api/users/<id>`), except paths with a
  segment starting `_` or `.`; each module's top-level `app` (or `application`) is called.
- The filesystem wins; then `vercel.json` rewrites apply in order (path-to-regexp sources,
  `$1` / `:name` destinations). The function sees the *original* path in its ASGI scope, as on
  Vercel. `headers` rules add response headers. Anything else: a JSON 404.
- `public/` is served as static files, as Vercel serves it.
- Every `crons` entry is called on its schedule (UTC) as Vercel calls it: GET,
  `Authorization: Bearer $CRON_SECRET`, `user-agent: vercel-cron/1.0`.
- Changed code under the project (api/, lib/, ...) is reloaded on the next request, without
  restarting the stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.responses import FileResponse, JSONResponse
from starlette.types import Receive, Scope, Send

from lib.vercel_functions import Functions
from lib.vercel_project import CronJob, Function, Project

log = logging.getLogger("sockless.vercel")
RELOAD_CHECK_S = 0.5
NOT_SOURCE = {".venv", "node_modules", ".data", ".git", "dev", "tests", "bench", "worker"}


class VercelDev:
    """The ASGI app that stands in for Vercel's router in front of api/ functions."""

    def __init__(
        self,
        root: Path,
        *,
        cron_secret: str = "",
        base_url: str | None = None,
        reload: bool = True,
        crons: bool = True,
    ):
        self.root = root.resolve()
        self.reload = reload
        self.crons = crons
        """Call the crons on their schedule (the test stack says no: tests call a job when
        they want it, instead of racing a minute tick)."""
        self.cron_secret = cron_secret
        self.base_url = base_url
        self._functions = Functions(self.root)
        self._retired: list[Functions] = []  # reloaded away; shut down with the server
        self._stamp = self._source_stamp()
        self._checked = time.monotonic()
        self._load_config()
        self.cron_calls: list[tuple[str, int]] = []

    # -- routing -------------------------------------------------------------------------------
    def _load_config(self) -> None:
        self.project = Project.load(self.root)

    def resolve(self, url_path: str) -> Function | Path | None:
        """The function (or public file) that serves `url_path`, after rewrites."""
        return self.project.route(url_path, static=self._public_file)

    def _public_file(self, url_path: str) -> Path | None:
        public = (self.root / "public").resolve()
        candidate = (public / url_path.lstrip("/")).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if candidate.is_file() and candidate.is_relative_to(public):
            return candidate
        return None

    # -- code reload ---------------------------------------------------------------------------
    def _source_files(self) -> list[Path]:
        """vercel.json and every .py a function can import, never walking into NOT_SOURCE
        (node_modules and .venv alone hold tens of thousands of files)."""
        files = [self.root / "vercel.json"]
        for directory, subdirs, names in os.walk(self.root):
            here = Path(directory)
            if here == self.root:
                subdirs[:] = [d for d in subdirs if d not in NOT_SOURCE]
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__pycache__"]
            files.extend(here / name for name in names if name.endswith(".py"))
        return files

    def _source_stamp(self) -> tuple[float, int]:
        stats = [p.stat().st_mtime for p in self._source_files() if p.exists()]
        return (max(stats, default=0.0), len(stats))

    def _maybe_reload(self) -> None:
        if not self.reload:
            return
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_S:
            return
        self._checked = now
        stamp = self._source_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._retired.append(self._functions)
        self._functions = Functions(self.root)
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if not file:
                continue
            path = Path(file).resolve()
            if (
                path.is_relative_to(self.root)
                and path.relative_to(self.root).parts[0] not in NOT_SOURCE
            ):
                del sys.modules[name]
        self._load_config()
        log.info("reloaded changed code")

    # -- ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self._maybe_reload()
        path = scope["path"]
        project = self.project

        async def send_with_headers(message: Any) -> None:
            await send(project.add_headers(scope, message))

        target = self.resolve(path)
        if target is None:
            response = JSONResponse(
                {"error": {"code": "NOT_FOUND", "message": f"no function or file serves {path}"}},
                status_code=404,
            )
            await response(scope, receive, send_with_headers)
            return
        if isinstance(target, Path):
            media_type = mimetypes.guess_type(target.name)[0]
            await FileResponse(target, media_type=media_type)(scope, receive, send_with_headers)
            return
        await self._invoke(target, scope, receive, send_with_headers)

    async def _invoke(self, function: Function, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        relative = function.path.relative_to(self.root)
        try:
            app = await self._functions.app(function.path)
            await app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("function %s failed", relative)
            if started:
                return
            body = {
                "error": {
                    "code": "FUNCTION_INVOCATION_FAILED",
                    "message": f"{relative}: {exc.__class__.__name__}: {exc}",
                }
            }
            await JSONResponse(body, status_code=500)(scope, receive, send)

    # -- crons ---------------------------------------------------------------------------------
    async def call_cron(self, job: CronJob) -> int:
        """Call one cron path exactly as Vercel does; returns the HTTP status."""
        if self.base_url is None:
            raise RuntimeError("crons need the server's base_url")
        headers = {
            "user-agent": "vercel-cron/1.0",
            "x-vercel-cron-schedule": job.schedule,
        }
        if self.cron_secret:
            headers["authorization"] = f"Bearer {self.cron_secret}"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=300) as client:
            try:
                response = await client.get(job.path, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                log.warning("cron %s failed: %s", job.path, exc)
                status = 0
        self.cron_calls.append((job.path, status))
        log.info("cron %s -> %s", job.path, status)
        return status

    async def run_due(self, at: datetime) -> list[CronJob]:
        """Call every job due at minute `at` (concurrently, like Vercel's independent calls)."""
        due = [job for job in self.project.config.crons if job.due(at)]
        async with asyncio.TaskGroup() as group:
            for job in due:
                group.create_task(self.call_cron(job), name=f"cron {job.path}")
        return due

    async def run_crons(self) -> None:
        """Forever: at each UTC minute, call the jobs due then."""
        while True:
            now = datetime.now(UTC)
            next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            await asyncio.sleep((next_minute - now).total_seconds())
            self._maybe_reload()
            await self.run_due(next_minute)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        task: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.base_url is not None and self.crons:
                    task = asyncio.create_task(self.run_crons(), name="vercel-crons")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for functions in [*self._retired, self._functions]:
                    await functions.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
