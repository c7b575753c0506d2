"""Every TypeScript snippet in README.md type-checks with `tsc --strict` against the generated
types and client/ (so the examples cannot rot), and the poker and chat snippets run, bundled
by esbuild as a front end would be, against the local stack (pusher mode).

The snippets are checked as they stand: the one that starts `// lib/sockless.ts` is that
module, the others import it as `@/lib/sockless`; what they take from the app around them
(UI functions, ids) is declared in tests/js/readme/prelude.d.ts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dev.stack import Stack
from tests.messaging.messaging_support import profiles
from tests.outbox_support import sql

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GENERATED = ROOT / "types" / "generated"
SNIPPETS = ROOT / "tests" / "js" / "readme"
REQUIRE_SHIM = (
    "import { createRequire } from 'module'; const require = createRequire(import.meta.url);"
)
SNIPPET = re.compile(r"^```ts\n(.*?)^```", re.S | re.M)


def snippets() -> list[str]:
    return SNIPPET.findall(README.read_text())


@pytest.fixture(scope="module")
def checked_dir() -> Iterator[Path]:
    """The README's snippets as files under types/generated (gitignored), with `make types`
    output beside them."""
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "lib.rpc.typescript"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    directory = GENERATED / f"readme-{uuid.uuid4().hex[:8]}"
    (directory / "lib").mkdir(parents=True)
    names = []
    for index, text in enumerate(snippets()):
        path = "lib/sockless.ts" if text.startswith("// lib/sockless.ts") else f"snippet{index}.ts"
        (directory / path).write_text(text + "\nexport {};\n")
        names.append(path)
    shutil.copy(SNIPPETS / "prelude.d.ts", directory / "prelude.d.ts")
    tsconfig = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "Bundler",
            "lib": ["ES2022", "DOM"],
            "types": [],
            "skipLibCheck": True,
            "baseUrl": ".",
            "paths": {
                "@sockless/client": ["../../../client/src/index.ts"],
                "@/lib/sockless": ["./lib/sockless.ts"],
                "@/types/generated/trpc": ["../trpc.ts"],
            },
        },
        "files": ["prelude.d.ts", *names],
    }
    (directory / "tsconfig.json").write_text(json.dumps(tsconfig, indent=2))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_readme_has_the_snippets_this_test_runs() -> None:
    found = snippets()
    assert len(found) >= 6
    assert sum(text.startswith("// lib/sockless.ts") for text in found) == 1
    assert any("poker.startTask" in text for text in found)
    assert not any("new Pusher(" in text for text in found)  # examples are on client/


def test_every_typescript_snippet_in_the_readme_passes_tsc_strict(checked_dir: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "tsc"), "-p", str(checked_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def run_snippet(
    stack: Stack, directory: Path, marker: str, *, user: str, other: str, until: str
) -> list[dict[str, Any]]:
    (snippet,) = [p for p in directory.glob("snippet*.ts") if marker in p.read_text()]
    bundle = directory / f"{snippet.stem}.bundle.mjs"
    built = subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "esbuild"),
            str(SNIPPETS / "entry.mjs"),
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--log-level=warning",
            f"--alias:snippet=./{snippet.relative_to(ROOT)}",
            f"--alias:@/lib/sockless=./{(directory / 'lib' / 'sockless.ts').relative_to(ROOT)}",
            "--alias:@sockless/client=./client/src/index.ts",
            # pusher-js's node build needs require(); esbuild's ESM output has none
            f"--banner:js={REQUIRE_SHIM}",
            f"--outfile={bundle}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert stack.realtime is not None
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "NEXT_PUBLIC_SOCKLESS_URL": stack.api_url,
        "NEXT_PUBLIC_PUSHER_KEY": stack.config.pusher_key,
        "NEXT_PUBLIC_PUSHER_HOST": stack.realtime.host,
        "NEXT_PUBLIC_PUSHER_PORT": str(stack.realtime.port),
        "SNIPPET_USER": user,
        "SNIPPET_OTHER": other,
        "SNIPPET_JWT_SECRET": stack.config.jwt_secret,
        "SNIPPET_UNTIL": until,
    }
    ran = subprocess.run(
        ["node", str(bundle)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    lines = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert ran.returncode == 0 and {"done": True} in lines, ran.stdout[-3000:] + ran.stderr[-3000:]
    return [line for line in lines if "call" in line]


def calls(lines: list[dict[str, Any]], name: str) -> list[list[Any]]:
    return [line["args"] for line in lines if line["call"] == name]


def grant_credit(stack: Stack, who: str) -> None:
    with sql(stack) as db:
        db.execute("select public.credit_grant(%s, 1, 'test-grant', %s)", [who, uuid.uuid4().hex])


def test_the_poker_snippet_runs_a_round_against_the_local_stack(stack, checked_dir):
    who = f"u{uuid.uuid4().hex[:12]}"
    profiles(stack, who)
    grant_credit(stack, who)  # poker.create costs one credit

    lines = run_snippet(
        stack, checked_dir, "poker.startTask", user=who, other="", until="setReadOnly"
    )

    assert calls(lines, "markVoted") == [[who]]
    ((votes, stats),) = calls(lines, "showCards")
    assert votes == [{"userId": who, "value": "5"}] and stats["average"] == 5
    assert [args[1] for args in calls(lines, "setEstimate")] == ["5"]
    assert [who] in [args[0] for args in calls(lines, "showAvatars")]
    assert calls(lines, "setBadge")[-1] == ["live"]


def test_the_chat_snippet_sends_optimistically_and_reads_against_the_local_stack(
    stack, checked_dir
):
    who, other = (f"u{uuid.uuid4().hex[:12]}" for _ in range(2))
    profiles(stack, who, other)

    lines = run_snippet(
        stack,
        checked_dir,
        "messaging.createConversation",
        user=who,
        other=other,
        until="setReadPosition",
    )

    pending = calls(lines, "renderPending")
    assert [item["status"] for item in pending[1][0]] == ["sending"]  # shown at once
    assert pending[-1] == [[]]  # replaced by its new-message event
    ((message,),) = calls(lines, "upsertById")
    assert message["body"] == "hi" and message["senderId"] == who
    assert calls(lines, "setReadPosition") == [[who, message["id"]]]
