""".env.example documents exactly what the code reads, each variable tagged [required in
production], [optional] or [dev only].

What the code reads is found two ways, neither a list kept by hand:
- at run time: load_settings, every feature's settings model and the bridge's worker.config
  read through a recording mapping (everything they read, whatever the values);
- statically: any other `environ`/`env` read of a literal name in lib/, api/, worker/ (such
  as worker/__main__.py's BRIDGE_LOG_LEVEL), and, for [dev only], in dev/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import worker.config
from dev.env import ROOT, TAGS, tags
from lib.config import load_settings
from lib.features import BUNDLE
from lib.production import problems

EXAMPLE = ROOT / ".env.example"
SET_BY_VERCEL = {"VERCEL_ENV", "VERCEL_GIT_COMMIT_SHA"}
"""Read, never set by hand: the header of .env.example names them."""
ENV_READ = re.compile(
    r"""(?:environ|env|getenv)\s*(?:\.get\s*\(|\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']"""
)


class Recording(dict[str, str]):
    """An environment that remembers every name asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def documented() -> dict[str, str]:
    """Variable -> its tag (dev.env.tags)."""
    return tags(EXAMPLE.read_text())


def read_at_run_time() -> set[str]:
    env = Recording({"SOCKLESS_ENV": "development"})
    load_settings(env)
    for feature in BUNDLE.features:
        if feature.settings is not None:
            feature.settings.from_env(env)
    with pytest.raises(ValueError, match="BRIDGE_TOKEN_SECRET"):
        worker.config.load(env)  # reads everything, then refuses the blank secret
    return env.asked


def read_statically(*folders: str) -> Iterator[tuple[str, str]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in ENV_READ.findall(path.read_text()):
                yield str(path.relative_to(ROOT)), name


def test_every_variable_has_exactly_one_tag():
    untagged = {name: tag for name, tag in documented().items() if tag not in TAGS}
    assert not untagged, "tag these in .env.example"
    assert len(documented()) > 80


def test_every_variable_the_code_reads_is_documented():
    names = set(documented())
    at_run_time = read_at_run_time()
    assert {"SUPABASE_URL", "BRIDGE_URL", "NOTIFY_DELAY_S", "OPENAI_API_KEY"} <= at_run_time
    statically = {name for _, name in read_statically("lib", "api", "worker")}
    missing = sorted((at_run_time | statically) - names - SET_BY_VERCEL)
    assert not missing, "document these in .env.example"
    header = EXAMPLE.read_text().split("\n\n", 1)[0]
    assert all(name in header for name in SET_BY_VERCEL)


def test_nothing_documented_is_unread_and_dev_only_means_dev_only():
    tags = documented()
    product = read_at_run_time() | {name for _, name in read_statically("lib", "api", "worker")}
    dev_text = "\n".join(p.read_text() for p in sorted((ROOT / "dev").rglob("*.py")))
    unread = sorted(name for name in tags if name not in product and f'"{name}"' not in dev_text)
    assert not unread, "remove these from .env.example, or read them"
    mistagged = sorted(
        name for name, tag in tags.items() if (tag == "[dev only]") == (name in product)
    )
    assert not mistagged, "[dev only] exactly when only dev/ reads it"


def test_what_production_refuses_when_unset_is_tagged_required():
    refused = {problem.variable for problem in problems(load_settings({}), {})}
    assert {"CRON_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "NOTIFY_SMS_PROVIDER"} <= refused
    tags = documented()
    assert {name for name in refused if tags[name] != "[required in production]"} == set()


def test_readme_production_checklist_names_every_required_variable():
    readme = (ROOT / "README.md").read_text()
    checklist = readme.split("### Production checklist", 1)[1].split("\n## ", 1)[0]
    required = [name for name, tag in documented().items() if tag == "[required in production]"]
    assert [name for name in required if name not in checklist] == []
    for step in ("supabase link", "supabase db push", "/api/webhooks/pusher", "client events"):
        assert step in checklist
    assert "fly secrets set" in checklist and "fly.toml" in checklist


def test_the_recorder_sees_reads(tmp_path: Path):  # the discovery itself can fail
    env = Recording({})
    env.get("A")
    _ = "B" in env
    assert env.asked == {"A", "B"}
    assert ENV_READ.findall('x = os.environ.get("FOO_BAR", "")\ny = env["BAZ"]') == [
        "FOO_BAR",
        "BAZ",
    ]
