"""Function modules loaded as Vercel's Python runtime loads them, for every host that serves
several api/ functions in one process (dev/vercel.py locally, aws/ on Lambda).

- `load_function(root, path)`: import one api/ file by path (its name may hold `-` or `[id]`)
  with the project root importable; its top-level `app` (or `application`) is the function.
- `Lifespan`: one app's ASGI lifespan, as the runtime runs it (lifespan="auto"): startup when
  the function is first loaded, shutdown when the host stops; an app without lifespan support
  is allowed.
- `Functions`: the loaded apps of one host, each loaded and started once, on first use.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.types import ASGIApp

log = logging.getLogger("sockless.functions")


class FunctionError(RuntimeError):
    """A function module could not be loaded (import error, no `app`, failed startup)."""


def load_function(root: Path, path: Path) -> ASGIApp:
    """Import one function file as Vercel does: project root importable, top-level `app`."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    relative = path.relative_to(root)
    name = "vercel_fn." + ".".join(relative.with_suffix("").parts).replace("[", "_").replace(
        "]", "_"
    )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FunctionError(f"{relative}: cannot be imported")
    module: ModuleType = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FunctionError(f"{relative} failed to import: {exc!r}") from exc
    app = getattr(module, "app", None) or getattr(module, "application", None)
    if app is None:
        raise FunctionError(f"{relative} defines no top-level `app`")
    return app  # type: ignore[no-any-return]


class Lifespan:
    """Runs one function app's ASGI lifespan on a task of the host's event loop."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self._inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except Exception:  # an app without lifespan support may raise: that is allowed
            log.debug("%s does not support lifespan", self.name)
        # Returning (or raising) before completing the protocol means "unsupported".
        self.supported = False
        await self._outbox.put({"type": "lifespan.unsupported"})

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"lifespan {self.name}")
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._outbox.get()
        if reply["type"] == "lifespan.startup.failed":
            raise FunctionError(f"{self.name} startup failed: {reply.get('message', '')}")

    async def shutdown(self) -> None:
        if self._task is None:
            return
        if self.supported and not self._task.done():
            await self._inbox.put({"type": "lifespan.shutdown"})
            await asyncio.wait_for(self._outbox.get(), timeout=10)
        await asyncio.wait_for(self._task, timeout=10)


class Functions:
    """The function apps one host has loaded (by file), each started once on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._apps: dict[Path, ASGIApp] = {}
        self.lifespans: list[Lifespan] = []

    async def app(self, path: Path) -> ASGIApp:
        if path not in self._apps:
            app = load_function(self.root, path)
            lifespan = Lifespan(app, str(path.relative_to(self.root)))
            await lifespan.startup()
            self.lifespans.append(lifespan)
            self._apps[path] = app
        return self._apps[path]

    async def shutdown(self) -> None:
        """Every started function's lifespan shutdown (a failure is logged, not raised)."""
        for lifespan in self.lifespans:
            try:
                await lifespan.shutdown()
            except Exception:
                log.exception("%s shutdown failed", lifespan.name)
        self.lifespans = []
