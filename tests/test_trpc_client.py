"""The official @trpc/client (11.x, Node) against Sockless: httpLink, httpBatchLink, the untyped
client, the superjson transformer, and every error code the layer produces, as the client
reports them (TRPCClientError: data.code, shape.code, the HTTP response).

The client runs as `node tests/js/trpc/run.js` (plan on stdin, results on stdout); every call
is bounded by the script's fetch timeout and the subprocess timeout here."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dev.ports import bind_socket
from dev.servers import BackgroundServer
from dev.stack import Stack
from lib.errors import Conflict
from lib.rpc import Context, Procedure, router, system, trpc_app
from tests.support import stack_services, stack_settings, unique
from tests.trpc_testing import TEST_ROUTER, serve

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "js" / "trpc" / "run.js"
ECHO = {"message": "hi", "count": 2, "tags": [{"name": "a", "weight": 5}]}


def run_client(url: str, *groups: dict[str, Any]) -> list[dict[str, Any]]:
    plan = {"url": url, "timeoutMs": 20_000, "groups": list(groups)}
    done = subprocess.run(
        ["node", str(RUNNER)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["groups"]


def query(path: str, *input: Any) -> dict[str, Any]:
    return {"type": "query", "path": path, **({"input": input[0]} if input else {})}


def mutation(path: str, *input: Any) -> dict[str, Any]:
    return {"type": "mutation", "path": path, **({"input": input[0]} if input else {})}


@pytest.fixture(scope="module")
def url(stack: Stack) -> Iterator[str]:
    """The deployed procedures plus the test-only `testing.echo` (tests/trpc_testing.py)."""
    with serve(TEST_ROUTER, stack_services(stack)) as served:
        yield served


def test_http_link_and_batch_link(url: str, token: Any) -> None:
    user = unique("u")
    calls = [query("system.health"), query("system.whoami"), mutation("testing.echo", ECHO)]
    plain, batched = run_client(
        url,
        {"link": "http", "token": token(user), "calls": calls},
        {"link": "batch", "token": token(user), "calls": calls},
    )
    for group in (plain, batched):
        health, whoami, echo = (r["data"] for r in group["results"])
        assert all(r["ok"] for r in group["results"])
        assert health["status"] == "ok"
        assert whoami["userId"] == user
        assert echo["repeated"] == "hi hi" and echo["totalWeight"] == 5
    assert [(r["method"], r["status"]) for r in plain["requests"]] == [
        ("GET", 200),
        ("GET", 200),
        ("POST", 200),
    ]
    # httpBatchLink: the two queries in one GET, the mutation in its own POST
    methods = sorted((r["method"], r["status"]) for r in batched["requests"])
    assert methods == [("GET", 200), ("POST", 200)]
    get = next(r for r in batched["requests"] if r["method"] == "GET")
    assert "system.health,system.whoami?batch=1" in get["url"]
    assert all(r["vary"] == "trpc-accept, accept" for r in batched["requests"])


def test_mixed_batch_is_207_and_each_call_gets_its_result(url: str, token: Any) -> None:
    channel = f"private-user-{unique('someone-else')}"
    [group] = run_client(
        url,
        {
            "link": "batch",
            "token": token(unique("u")),
            "calls": [
                query("system.health"),
                query("events.since", {"channel": channel}),
                query("system.whoami"),
                query("system.nope"),
            ],
        },
    )
    health, forbidden, whoami, missing = group["results"]
    assert [r["status"] for r in group["requests"]] == [207]
    assert health["ok"] and health["data"]["status"] == "ok"
    assert whoami["ok"] and whoami["data"]["provider"] == "supabase"
    assert (forbidden["code"], forbidden["jsonRpcCode"], forbidden["path"]) == (
        "FORBIDDEN",
        -32003,
        "events.since",
    )
    assert (missing["code"], missing["httpStatus"]) == ("NOT_FOUND", 404)
    assert missing["message"] == 'No procedure found on path "system.nope"'


def test_every_error_code(url: str, token: Any) -> None:
    user = unique("u")
    invalid = {"message": "", "tags": [{"name": "n" * 41}], "colour": "red"}
    groups = run_client(
        url,
        {"link": "http", "calls": [query("system.whoami")]},
        {"link": "http", "token": "not-a-jwt", "calls": [query("system.whoami")]},
        {"link": "http", "calls": [mutation("testing.echo", invalid)]},
        {"link": "http", "client": "untyped", "calls": [query("system.nope")]},
        {"link": "http", "client": "untyped", "calls": [query("testing.echo", ECHO)]},
        {"link": "http", "calls": [mutation("testing.echo", {"message": "x" * 1_100_000})]},
        {
            "link": "batch",
            "token": token(user),
            "calls": [mutation("testing.echo", ECHO) for _ in range(31)],
        },
    )
    (
        missing_token,
        bad_token,
        bad_input,
        not_found,
        wrong_method,
        too_large,
        limited,
    ) = groups
    expected = [
        (missing_token, "UNAUTHORIZED", -32001, 401),
        (bad_token, "UNAUTHORIZED", -32001, 401),
        (bad_input, "BAD_REQUEST", -32600, 400),
        (not_found, "NOT_FOUND", -32004, 404),
        (wrong_method, "METHOD_NOT_SUPPORTED", -32005, 405),
        (too_large, "PAYLOAD_TOO_LARGE", -32013, 413),
    ]
    for group, code, number, status in expected:
        [result] = group["results"]
        assert result["name"] == "TRPCClientError"
        assert (result["code"], result["jsonRpcCode"], result["httpStatus"]) == (
            code,
            number,
            status,
        )
        assert result["status"] == status
    fields = bad_input["results"][0]["data"]["zodError"]["fieldErrors"]
    assert set(fields) == {"message", "tags.0.name", "colour"}
    assert bad_input["results"][0]["message"].startswith("invalid input: ")

    results = limited["results"]
    refused = [r for r in results if not r["ok"]]
    assert len(results) == 31 and len(refused) == 1
    assert refused[0]["code"] == "TOO_MANY_REQUESTS" and refused[0]["jsonRpcCode"] == -32029
    assert int(refused[0]["retryAfter"]) >= 1 and refused[0]["data"]["retryAfter"] >= 1
    assert [r["status"] for r in limited["requests"]] == [207]


def test_untyped_client(url: str, token: Any) -> None:
    user = unique("u")
    calls = [
        query("system.whoami"),
        query("events.since", {"channel": f"private-user-{user}", "after": 0}),
        mutation("testing.echo", {"message": "untyped"}),
    ]
    for group in run_client(
        url,
        {"link": "batch", "client": "untyped", "token": token(user), "calls": calls},
        {"link": "http", "client": "untyped", "token": token(user), "calls": calls},
    ):
        whoami, since, echo = group["results"]
        assert whoami["data"]["userId"] == user
        assert since["data"] == {
            "channel": f"private-user-{user}",
            "events": [],
            "next": "0",
            "more": False,
        }
        assert echo["data"]["input"] == {"message": "untyped", "count": 1, "tags": []}


def test_superjson_transformer(url: str, token: Any) -> None:
    user = unique("u")
    batched, single = run_client(
        url,
        {
            "link": "batch",
            "transformer": "superjson",
            "token": token(user),
            "calls": [query("system.health"), query("system.whoami"), query("system.nope")],
        },
        {
            "link": "http",
            "transformer": "superjson",
            "calls": [
                mutation("testing.echo", ECHO),
                mutation("testing.echo", {"message": ""}),
                mutation("testing.echo", {"message": "x" * 1_100_000}),
            ],
        },
    )
    health, whoami, missing = batched["results"]
    assert health["data"]["status"] == "ok" and whoami["data"]["userId"] == user
    assert missing["code"] == "NOT_FOUND"
    echo, invalid, too_large = single["results"]
    assert echo["data"]["repeated"] == "hi hi"
    assert (
        invalid["code"] == "BAD_REQUEST" and "message" in invalid["data"]["zodError"]["fieldErrors"]
    )
    # refused before its input was read, yet still readable through superjson.deserialize
    assert too_large["code"] == "PAYLOAD_TOO_LARGE"


# -- unexpected exceptions, on a function configured as production ------------------------------

SECRET = "db-password-hunter2"


async def crash(ctx: Context, _: None) -> None:
    raise RuntimeError(f"connection failed with {SECRET}")


async def bad_result(ctx: Context, _: None) -> dict[str, Any]:
    return {"status": SECRET}  # not a system.Health


async def conflict(ctx: Context, _: None) -> None:
    raise Conflict("that name is taken")


BROKEN = [
    Procedure(path="broken.crash", kind="query", output=system.Health, handler=crash, auth=False),
    Procedure(
        path="broken.result", kind="query", output=system.Health, handler=bad_result, auth=False
    ),
    Procedure(
        path="broken.conflict", kind="query", output=system.Health, handler=conflict, auth=False
    ),
]


@pytest.fixture(scope="module", params=["production", "development"])
def broken_url(request: pytest.FixtureRequest, stack: Stack) -> Iterator[tuple[str, str]]:
    # production settings against the local stack (whose local URLs production would refuse
    # at startup): only the trace behaviour differs
    settings = stack_settings(stack, SOCKLESS_ENV=request.param)
    services = stack_services(stack).replace(settings=settings)
    app = trpc_app(router(*system.PROCEDURES, *BROKEN), services=services)
    sock = bind_socket(0, what="tRPC test function", env_var="-")
    server = BackgroundServer(app, sock, name="trpc-broken").start()
    try:
        yield request.param, f"{server.url}/api/trpc"
    finally:
        server.stop()


def test_internal_errors_never_leak(broken_url: tuple[str, str]) -> None:
    environment, url = broken_url
    [group] = run_client(
        url,
        {
            "link": "batch",
            "calls": [
                query("broken.crash"),
                query("broken.result"),
                query("broken.conflict"),
                query("system.health"),
            ],
        },
    )
    crashed, bad, conflicted, health = group["results"]
    assert health["ok"]
    for result in (crashed, bad):
        assert result["code"] == "INTERNAL_SERVER_ERROR" and result["jsonRpcCode"] == -32603
        assert result["status"] == 207 and result["httpStatus"] == 500
        assert result["message"] == "Internal server error"
    assert conflicted["code"] == "CONFLICT" and conflicted["message"] == "that name is taken"
    if environment == "production":
        for result in (crashed, bad, conflicted):
            assert "stack" not in result["data"]
            assert SECRET not in json.dumps(result)
    else:  # development: the stack says what happened
        assert SECRET in crashed["data"]["stack"] and "RuntimeError" in crashed["data"]["stack"]
        assert "broken.result returned an invalid result" in bad["data"]["stack"]
