"""The shape of the app: features declare what they bring, core names none of them, nothing
under lib/ imports in a circle, every scheduled job exists, and clashes fail at build time."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from lib.cron import CronJob
from lib.feature import Bundle, Feature
from lib.features import BUNDLE, FEATURES
from lib.realtime.channels import ANY_ID, ChannelRule, same_user
from lib.rpc.procedure import Procedure
from lib.webhooks import providers
from lib.webhooks.endpoint import WebhookEndpoint

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
CORE = [
    "lib/config.py",
    "lib/cron.py",
    "lib/web.py",
    "lib/services.py",
    "lib/commands.py",
    "lib/core.py",
    "lib/feature.py",
    *(str(p.relative_to(ROOT)) for p in (LIB / "realtime").glob("*.py")),
    *(str(p.relative_to(ROOT)) for p in (LIB / "rpc").glob("*.py")),
    *(str(p.relative_to(ROOT)) for p in (LIB / "webhooks").glob("*.py")),
]
MANUAL_JOBS: set[str] = set()
"""Declared jobs run by hand only (documented in the README); none today."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules `path` imports; with top_level_only, only those run at import time (not in a
    function body, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (
                top_level_only
                and isinstance(child, ast.If)
                and "TYPE_CHECKING" in ast.unparse(child.test)
            ):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.add(child.module)
                found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize("path", CORE)
def test_core_imports_no_feature_not_even_for_type_checking(path: str):
    names = imports(ROOT / path, top_level_only=False)
    assert not [n for n in names if n.startswith("lib.features")], path


def test_nothing_under_lib_imports_in_a_circle():
    modules = {module_name(p): p for p in LIB.rglob("*.py")}
    graph = {
        name: {m for m in imports(path, top_level_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    # A package's modules may import their own package's __init__ (it runs first anyway).
    graph = {
        name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                cycle = walk(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = walk(name)
            assert cycle is None, " -> ".join(cycle or [])


def test_vercel_schedules_exactly_the_declared_jobs():
    config = json.loads((ROOT / "vercel.json").read_text())
    scheduled = {c["path"].removeprefix("/api/cron/"): c["schedule"] for c in config["crons"]}
    declared = BUNDLE.jobs
    assert set(scheduled) <= set(declared), "vercel.json schedules a job no feature declares"
    for name, job in declared.items():
        if name in MANUAL_JOBS:
            assert job.schedule is None and name not in scheduled
            continue
        assert scheduled.get(name) == job.schedule, f"{name}: vercel.json vs its declaration"


def test_every_webhook_route_is_an_api_function():
    for route in BUNDLE.webhooks:
        assert (ROOT / f"{route.removeprefix('/')}.py").exists(), route


def test_features_are_listed_once_core_first():
    assert FEATURES[0].name == "core"
    assert len({f.name for f in FEATURES}) == len(FEATURES)


async def _noop(*_: object) -> dict[str, object]:
    return {}


def _feature(name: str, **parts: object) -> Feature:
    return Feature(name=name, **parts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("what", "parts"),
    [
        (
            "procedure path",
            {"procedures": (Procedure(path="x.get", kind="query", handler=_noop, output=dict),)},
        ),
        ("cron job", {"jobs": (CronJob(name="x-job", run=_noop, schedule=None),)}),
        ("channel prefix", {"channels": (ChannelRule("private-x-", ANY_ID, same_user),)}),
        (
            "webhook route",
            {
                "webhooks": (
                    WebhookEndpoint(
                        route="/api/webhooks/x", provider="x", verifier=providers.stripe
                    ),
                )
            },
        ),
    ],
)
def test_two_features_claiming_the_same_thing_fail_at_build_time(what: str, parts: dict):
    with pytest.raises(ValueError, match=f"{what} claimed more than once: .* by one, two"):
        Bundle(_feature("one", **parts), _feature("two", **parts))
