"""The README's supabase-js example, run as written (node) against the stack: it joins the
user's private topic with the anon key + a user token and prints the event a REST broadcast
(what REALTIME_PROVIDER=supabase sends) delivers."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import httpx
import pytest

from dev.stack import Stack
from tests.support import unique

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(r"<!-- supabase-js-example -->\n```js\n(?P<code>.*?)```", re.S)

pytestmark = pytest.mark.stack


async def test_the_readme_supabase_js_example_receives_a_broadcast(stack: Stack, token, tmp_path):  # noqa: ANN001
    match = EXAMPLE.search((ROOT / "README.md").read_text())
    assert match is not None, "the README lost its supabase-js example"
    script = (
        ROOT / "tests" / "js" / "supabase" / f".readme-{os.getpid()}.mjs"
    )  # resolves node_modules
    script.write_text(match["code"])
    user = unique("reader")
    env = {
        **os.environ,
        "SUPABASE_URL": stack.supabase_url,
        "SUPABASE_ANON_KEY": stack.config.anon_key,
        "USER_TOKEN": token(user),
        "USER_ID": user,
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(script), env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(15):
            first = json.loads(await process.stdout.readline())
            assert first == {"status": "SUBSCRIBED"}
            key = stack.config.service_role_key
            async with httpx.AsyncClient() as http:
                sent = await http.post(
                    f"{stack.supabase_url}/realtime/v1/api/broadcast",
                    headers={"apikey": key, "Authorization": f"Bearer {key}"},
                    json={
                        "messages": [
                            {
                                "topic": f"user-{user}",
                                "event": "note-added",
                                "payload": {"id": "7", "type": "note-added", "data": {}},
                                "private": True,
                            }
                        ]
                    },
                )
            assert sent.status_code == 202
            assert json.loads(await process.stdout.readline()) == {"event": "note-added", "id": "7"}
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        script.unlink(missing_ok=True)
