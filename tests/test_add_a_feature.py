"""The README's "Add a feature" guide, followed: its feature module and migration (taken from
the README itself, so the guide cannot rot) are added beside the enabled features, and the new
procedure works end to end against the local stack — validated, one SQL command, its event
published — and its cleanup joins the daily job."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import re
import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.stack import Stack
from lib.feature import Bundle
from lib.features import FEATURES
from lib.realtime.memory import MemoryPublisher
from lib.rpc import trpc_app
from tests.support import asgi_client, sql, stack_env

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- add-a-feature: (?P<path>\S+) -->\n```\w+\n(?P<code>.*?)```", re.S)


def guide() -> dict[str, str]:
    return {m["path"]: m["code"] for m in BLOCK.finditer(README.read_text())}


@pytest.fixture(scope="module")
def kudos(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    steps = guide()
    assert set(steps) == {
        "lib/features/kudos/__init__.py",
        "supabase/migrations/20270101000000_kudos.sql",
    }
    source = tmp_path_factory.mktemp("kudos") / "__init__.py"
    source.write_text(steps["lib/features/kudos/__init__.py"])
    spec = importlib.util.spec_from_file_location("lib.features.kudos", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module.__name__] = module
    spec.loader.exec_module(module)
    with sql(stack) as conn:
        conn.execute(steps["supabase/migrations/20270101000000_kudos.sql"])
        conn.execute("notify pgrst, 'reload schema'")
    try:
        yield module
    finally:
        sys.modules.pop(module.__name__, None)


async def test_the_guides_feature_serves_its_procedure_and_publishes_its_event(
    stack: Stack,
    kudos: types.ModuleType,
    token,  # noqa: ANN001
):
    bundle = Bundle(*FEATURES, kudos.FEATURE)
    publisher = MemoryPublisher()
    services = bundle.services(stack_env(stack)).replace(publisher=publisher)
    sender, teammate = f"user_{uuid.uuid4().hex[:8]}", f"user_{uuid.uuid4().hex[:8]}"
    async with asgi_client(trpc_app(bundle.router, services=services)) as client:
        headers = {"authorization": f"Bearer {token(sender)}"}
        for _ in range(20):  # PostgREST picks up the new function within moments
            sent = await client.post(
                "/api/trpc/kudos.send",
                json={"to": teammate, "message": "thanks for the review"},
                headers=headers,
            )
            if sent.status_code != 503:
                break
            await asyncio.sleep(0.25)
        assert sent.status_code == 200, sent.text
        invalid = await client.post(
            "/api/trpc/kudos.send", json={"to": teammate, "message": ""}, headers=headers
        )
        assert invalid.json()["error"]["data"]["code"] == "BAD_REQUEST"
    [event] = publisher.published
    assert (event.type, event.channel.name) == ("kudos-received", f"private-user-{teammate}")
    assert event.data["from"] == sender
    assert event.data["id"] == sent.json()["result"]["data"]["id"]
    assert "kudos" in bundle.jobs["cleanup"].description


def test_a_feature_reusing_a_path_fails_naming_both(kudos: types.ModuleType):
    with pytest.raises(ValueError, match="procedure path claimed more than once: 'kudos.send'"):
        Bundle(*FEATURES, kudos.FEATURE, dataclasses.replace(kudos.FEATURE, name="kudos-again"))
