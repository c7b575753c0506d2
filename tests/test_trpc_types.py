"""`make types`: the generated type-only AppRouter type-checks with `tsc --strict` and gives the
official client full typing (tests/js/trpc/sample-client.ts, whose `@ts-expect-error` lines
fail the check if a wrong call were accepted); the JSON Schema -> TypeScript emitter handles the
schema shapes pydantic produces."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lib.rpc import Context, Procedure, router
from lib.rpc.typescript import generate, generate_api, load_router

ROOT = Path(__file__).resolve().parents[1]
TSC = ROOT / "node_modules" / ".bin" / "tsc"
GENERATED = ROOT / "types" / "generated"


def tsc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TSC), "--strict", "--noEmit", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_make_types_output_passes_tsc_strict() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lib.rpc.typescript"],  # the recipe of `make types`
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = (GENERATED / "trpc.ts").read_text()
    assert "export type AppRouter = ReturnType<typeof appRouter>;" in text
    assert "export type SuperjsonAppRouter" in text
    api = (GENERATED / "api.ts").read_text()
    # names read like the API, and a front end can copy api.ts alone (it imports nothing)
    assert "export type PokerVoteInput = {" in api
    assert "LibFeatures" not in api + text
    assert "import " not in api.replace("//   import type", "")
    # realtime events per channel family and event name, from the pydantic event models
    assert '"vote": PokerVoteCast;' in api
    assert '"billing-updated": BillingUpdated;' in api
    checked = tsc("-p", "tests/js/trpc")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_generation_is_deterministic() -> None:
    app_router = load_router("api.trpc:ROUTER")
    assert generate(app_router) == generate(load_router("api.trpc:ROUTER"))


# -- the emitter on every schema shape pydantic produces -----------------------------------------


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pet(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    nickname: str | None = None
    colour: Literal["red", "green"] = "red"
    label: str = Field(alias="x-label", default="")
    """A key that is not a JavaScript identifier."""
    scores: dict[str, float] = Field(default_factory=dict)
    pair: tuple[int, str] = (0, "")
    anything: Any = None


async def nothing(ctx: Context, input: Any) -> Any:
    raise AssertionError("type generation never calls a handler")


VARIETY = router(
    Procedure(
        path="variety.lists",
        kind="query",
        input=TypeAdapter(list[int]),
        output=TypeAdapter(dict[str, list[Pet]]),
        handler=nothing,
    ),
    Procedure(path="variety.pet", kind="mutation", input=Pet, output=Pet, handler=nothing),
    Procedure(
        path="variety.deep.maybe",
        kind="query",
        input=TypeAdapter(int | None),
        output=TypeAdapter(tuple[int, ...]),
        handler=nothing,
    ),
)

USAGE = """\
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter, PetOutput } from './variety';

type Colour = PetOutput['colour'];

const trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: '/api/trpc' })] });

export async function use(): Promise<number> {
  // (an `unknown` field comes out optional: tRPC types outputs as their JSON form)
  const lists = await trpc.variety.lists.query([1, 2]);
  const listed: boolean | undefined = lists['a']?.[0]?.pet.kind === 'dog';
  const pet = await trpc.variety.pet.mutate({ pet: { kind: 'dog', good: true }, 'x-label': 'l' });
  const lives: number = pet.pet.kind === 'cat' ? pet.pet.lives : 0;
  const nickname: string | null = pet.nickname;
  const colour: Colour = pet.colour;
  const first: number = pet.pair[0];
  const second: string = pet.pair[1];
  const scores: Record<string, number> = pet.scores;
  const many: number[] = await trpc.variety.deep.maybe.query(null);
  // @ts-expect-error: dogs have no lives
  await trpc.variety.pet.mutate({ pet: { kind: 'dog', lives: 3 } });
  // @ts-expect-error: colour is a closed set
  await trpc.variety.pet.mutate({ pet: { kind: 'cat' }, colour: 'blue' });
  // @ts-expect-error: a list of numbers
  await trpc.variety.lists.query(['1']);
  return lives + first + many.length + Object.keys(lists).length + second.length
    + (nickname ?? '').length + colour.length + Object.keys(scores).length + Number(listed);
}
"""

TSCONFIG = """\
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "ES2022", "module": "ESNext",
    "moduleResolution": "Bundler", "lib": ["ES2022", "DOM", "ESNext.Disposable"],
    "types": [], "noUnusedLocals": true
  },
  "files": ["usage.ts"]
}
"""


@pytest.fixture
def variety_dir() -> Iterator[Path]:
    # Under the project (gitignored), so '@trpc/*' resolves from its node_modules.
    directory = GENERATED / f"test-variety-{uuid.uuid4().hex[:8]}"  # runs may overlap
    directory.mkdir(parents=True, exist_ok=True)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_schema_shapes_become_typescript(variety_dir: Path) -> None:
    api, text = generate_api(VARIETY, source="tests/test_trpc_types.py")
    assert '"x-label"?: string;' in api  # input: defaults make keys optional
    assert 'kind: "cat";' in api
    (variety_dir / "api.ts").write_text(api)
    (variety_dir / "variety.ts").write_text(text)
    (variety_dir / "usage.ts").write_text(USAGE)
    (variety_dir / "tsconfig.json").write_text(TSCONFIG)
    checked = tsc("-p", str(variety_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr + text
