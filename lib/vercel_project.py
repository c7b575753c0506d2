"""How Vercel routes a project, as pure functions over its files and vercel.json.

- `api/**/*.py` -> functions (`discover_functions`), except paths with a `_` or `.` segment;
  `api/index.py` serves `/api`, `api/users/[id].py` serves `/api/users/<id>`.
- vercel.json `rewrites` (path-to-regexp sources, `$1` / `:name` destinations), `headers` rules
  and `crons` (`VercelConfig.load`).
- `Project.route(path)`: the filesystem wins, then the rewrites in order; `Project.headers_for`
  the `headers` rules' additions.

Shared by the local Vercel emulation (dev/vercel.py) and the AWS Lambda target (aws/), so both
route exactly as Vercel does. Function modules are loaded with `lib.vercel_functions`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.types import Scope


@dataclass(frozen=True)
class Function:
    route: re.Pattern[str]
    path: Path

    def matches(self, url_path: str) -> bool:
        return bool(self.route.fullmatch(url_path.rstrip("/") or "/"))


@dataclass(frozen=True)
class Rewrite:
    source: re.Pattern[str]
    destination: str

    def apply(self, url_path: str) -> str | None:
        match = self.source.fullmatch(url_path)
        if not match:
            return None
        result = self.destination
        for index, value in enumerate(match.groups(), start=1):
            result = result.replace(f"${index}", value or "")
        for name, value in match.groupdict().items():
            # A function, not a template: a path segment may hold backslashes (`\c`).
            result = re.sub(rf":{name}\b[*+?]?", _literal(value or ""), result)
        return result


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement that inserts `text` as is (no backslash escapes)."""
    return lambda _: text


@dataclass(frozen=True)
class HeaderRule:
    source: re.Pattern[str]
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CronJob:
    path: str
    schedule: str

    def due(self, at: datetime) -> bool:
        from croniter import croniter  # dev only: a deployed function never runs a schedule

        return bool(croniter.match(self.schedule, at.replace(second=0, microsecond=0)))


def source_pattern(source: str) -> re.Pattern[str]:
    """Vercel's path-to-regexp subset: `:name`, `:name*`, `:name+`, `:name?`, `(regex)`."""
    out, i = "", 0
    while i < len(source):
        char = source[i]
        if char == ":":
            match = re.match(r":([A-Za-z_]\w*)(\([^)]*\))?([*+?]?)", source[i:])
            if not match:
                raise ValueError(f"bad source pattern {source!r}")
            name, custom, modifier = match.groups()
            body = custom[1:-1] if custom else "[^/]+"
            if modifier in ("*", "+"):
                body = ".*" if modifier == "*" else ".+"
            group = f"(?P<{name}>{body})"
            if modifier in ("?", "*") and out.endswith("/"):
                out = out[:-1] + f"(?:/{group})?"
            else:
                out += group
            i += match.end()
        elif char == "(":
            depth, j = 0, i
            while j < len(source):
                depth += {"(": 1, ")": -1}.get(source[j], 0)
                if depth == 0:
                    break
                j += 1
            out += source[i : j + 1]
            i = j + 1
        else:
            out += re.escape(char)
            i += 1
    return re.compile(out)


def function_route(relative: Path) -> re.Pattern[str]:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "index":
        parts = parts[:-1]
    pattern = ""
    for part in parts:
        dynamic = re.fullmatch(r"\[(\.\.\.)?(\w+)\]", part)
        if dynamic:
            body = ".+" if dynamic[1] else "[^/]+"
            pattern += f"/(?P<{dynamic[2]}>{body})"
        else:
            pattern += "/" + re.escape(part)
    return re.compile(pattern or "/")


def discover_functions(root: Path) -> list[Function]:
    """The files Vercel makes functions of: api/**/*.py minus `/_` and `/.` paths."""
    found = []
    for path in sorted((root / "api").rglob("*.py")):
        relative = path.relative_to(root)
        if any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        found.append(Function(route=function_route(relative), path=path))
    # Static segments before dynamic ones, as Vercel's router prefers them.
    return sorted(found, key=lambda f: ("(?P<" in f.route.pattern, f.route.pattern))


@dataclass
class VercelConfig:
    rewrites: list[Rewrite]
    headers: list[HeaderRule]
    crons: list[CronJob]

    @classmethod
    def load(cls, root: Path) -> VercelConfig:
        path = root / "vercel.json"
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return cls(
            rewrites=[
                Rewrite(source_pattern(r["source"]), r["destination"])
                for r in data.get("rewrites", [])
            ],
            headers=[
                HeaderRule(
                    source_pattern(h["source"]),
                    tuple((x["key"], x["value"]) for x in h.get("headers", [])),
                )
                for h in data.get("headers", [])
            ],
            crons=[CronJob(c["path"], c["schedule"]) for c in data.get("crons", [])],
        )


RawHeaders = list[tuple[bytes, bytes]]


@dataclass
class Project:
    """A project's functions and vercel.json, routed as Vercel routes them."""

    functions: list[Function]
    config: VercelConfig

    @classmethod
    def load(cls, root: Path) -> Project:
        return cls(functions=discover_functions(root), config=VercelConfig.load(root))

    def function_at(self, url_path: str) -> Function | None:
        for function in self.functions:
            if function.matches(url_path):
                return function
        return None

    def route[T](
        self, url_path: str, static: Callable[[str], T | None] = lambda _: None
    ) -> Function | T | None:
        """The function (or what `static` finds, e.g. a public/ file) serving `url_path`: the
        filesystem first, then each rewrite in order (its destination looked up the same way)."""
        for path in (url_path, *self._rewritten(url_path)):
            target = self.function_at(path) or static(path)
            if target is not None:
                return target
        return None

    def _rewritten(self, url_path: str) -> Iterator[str]:
        for rewrite in self.config.rewrites:
            destination = rewrite.apply(url_path)
            if destination is not None:
                yield destination.split("?", 1)[0]
                return

    def headers_for(self, url_path: str) -> RawHeaders:
        """Response headers the `headers` rules add to `url_path`."""
        return [
            (key.lower().encode(), value.encode())
            for rule in self.config.headers
            if rule.source.fullmatch(url_path)
            for key, value in rule.headers
        ]

    def add_headers(self, scope: Scope, message: Any) -> Any:
        """`message` with the headers rules' additions when it starts a response."""
        extra = self.headers_for(scope["path"])
        if message["type"] != "http.response.start" or not extra:
            return message
        return {**message, "headers": [*message.get("headers", []), *extra]}
