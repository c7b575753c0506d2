"""The README's "Buying credits locally" commands, run as written against the test stack
(its api address and a token for it substituted): the user ends with the credits."""

from __future__ import annotations

import asyncio
import re

from dev.env import ROOT
from dev.stack import Stack
from tests.billing.billing_harness import user


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- billing-walkthrough -->", 1)[1]
    found = re.search(r"```bash\n(.*?)```", block, re.S)
    assert found is not None
    return found[1]


async def test_the_readme_purchase_walkthrough_works(stack: Stack, token):
    who = user("dave")
    script = walkthrough()
    assert "API=http://127.0.0.1:3000" in script and "--sub dave" in script
    script = script.replace("API=http://127.0.0.1:3000", f"API={stack.api_url}")
    script = script.replace("$(.venv/bin/python -m dev.token --sub dave)", token(who))
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert '"balance":0' in lines[0]
    assert lines[1].startswith(stack.stripe.public_url + "/checkout/cs_test_")  # type: ignore[union-attr]
    assert lines[2] == "303"
    assert '"balance":20' in lines[3]
