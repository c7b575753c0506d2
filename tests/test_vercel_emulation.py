"""dev/vercel.py serves a project's api/ as Vercel would: routes, rewrites, headers, crons."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dev.ports import bind_socket
from dev.servers import BackgroundServer
from dev.vercel import VercelDev

ECHO = """
import json

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    body = json.dumps({"fn": NAME, "path": scope["path"], "query": scope["query_string"].decode(),
                       "auth": headers.get("authorization"), "ua": headers.get("user-agent")})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})
"""

CRON_LOG_FN = """
import json, os
from pathlib import Path

async def app(scope, receive, send):
    headers = {k.decode(): v.decode() for k, v in scope.get("headers", [])}
    if scope["type"] != "http":
        return
    with Path(os.environ["CRON_LOG"]).open("a") as log:
        log.write(json.dumps({"path": scope["path"], "auth": headers.get("authorization"),
                              "ua": headers.get("user-agent")}) + "\\n")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def echo(name: str) -> str:
    return f"NAME = {name!r}\n" + ECHO


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vercel-project")
    write(root / "api" / "hello.py", echo("hello"))
    write(root / "api" / "index.py", echo("index"))
    write(root / "api" / "_x.py", echo("private"))
    write(root / "api" / "_lib" / "helper.py", echo("helper"))
    write(root / "api" / ".hidden.py", echo("hidden"))
    write(root / "api" / "trpc.py", echo("trpc"))
    write(root / "api" / "users" / "[id].py", echo("user"))
    write(root / "api" / "cron.py", CRON_LOG_FN)
    write(root / "api" / "broken.py", "raise RuntimeError('boom at import')\n")
    write(root / "public" / "index.html", "<h1>demo</h1>")
    config = {
        "framework": None,
        "rewrites": [
            {"source": "/api/trpc/(.*)", "destination": "/api/trpc"},
            {"source": "/api/cron/:job", "destination": "/api/cron?job=:job"},
        ],
        "headers": [{"source": "/api/(.*)", "headers": [{"key": "x-sockless", "value": "yes"}]}],
        "crons": [
            {"path": "/api/cron/outbox-relay", "schedule": "* * * * *"},
            {"path": "/api/cron/cleanup", "schedule": "0 3 * * *"},
        ],
    }
    (root / "vercel.json").write_text(json.dumps(config))
    return root


@pytest.fixture(scope="module")
def served(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, VercelDev]]:
    os.environ["CRON_LOG"] = str(tmp_path_factory.mktemp("cron") / "calls.jsonl")
    sock = bind_socket(0, what="test api", env_var="-")
    host, port = sock.getsockname()[:2]
    vercel = VercelDev(project, cron_secret="s3cret", base_url=f"http://{host}:{port}")
    server = BackgroundServer(vercel, sock, name="vercel-test", lifespan="on").start()
    try:
        yield server.url, vercel
    finally:
        server.stop()


def get(base: str, path: str) -> httpx.Response:
    return httpx.get(base + path, timeout=10)


def test_each_api_file_is_a_function_at_its_path(served):
    base, _ = served
    assert get(base, "/api/hello").json()["fn"] == "hello"
    assert get(base, "/api").json()["fn"] == "index"
    user = get(base, "/api/users/42").json()
    assert (user["fn"], user["path"]) == ("user", "/api/users/42")


@pytest.mark.parametrize("path", ["/api/_x", "/api/_lib/helper", "/api/.hidden", "/api/nope"])
def test_underscore_dot_and_unknown_paths_are_json_404(served, path):
    base, _ = served
    response = get(base, path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_rewrite_reaches_target_with_the_original_path(served):
    base, _ = served
    response = get(base, "/api/trpc/poker.vote?batch=1")
    body = response.json()
    assert body["fn"] == "trpc"
    assert body["path"] == "/api/trpc/poker.vote"
    assert body["query"] == "batch=1"


def test_header_rules_apply_to_matching_paths(served):
    base, _ = served
    assert get(base, "/api/hello").headers["x-sockless"] == "yes"
    assert "x-sockless" not in get(base, "/").headers


def test_public_files_are_served(served):
    base, _ = served
    assert "<h1>demo</h1>" in get(base, "/").text


def test_function_that_fails_to_import_answers_json_500(served):
    base, _ = served
    response = get(base, "/api/broken")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "FUNCTION_INVOCATION_FAILED"
    assert "api/broken.py" in error["message"] and "boom at import" in error["message"]


def test_due_crons_are_called_like_vercel_calls_them(served):
    _, vercel = served
    log = Path(os.environ["CRON_LOG"])
    log.unlink(missing_ok=True)
    three_am = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    due = asyncio.run(vercel.run_due(three_am))
    assert sorted(job.path for job in due) == ["/api/cron/cleanup", "/api/cron/outbox-relay"]
    calls = sorted((json.loads(line) for line in log.read_text().splitlines()), key=str)
    assert {c["path"] for c in calls} == {"/api/cron/cleanup", "/api/cron/outbox-relay"}
    assert all(c["auth"] == "Bearer s3cret" for c in calls)
    assert all(c["ua"] == "vercel-cron/1.0" for c in calls)

    log.unlink()
    asyncio.run(vercel.run_due(datetime(2026, 11, 21, 3, 1, tzinfo=UTC)))
    assert [json.loads(line)["path"] for line in log.read_text().splitlines()] == [
        "/api/cron/outbox-relay"
    ]


def test_changed_code_is_served_without_a_restart(served, project):
    base, _ = served
    assert get(base, "/api/hello").json()["fn"] == "hello"
    target = project / "api" / "hello.py"
    write(target, echo("hello v2"))
    future = time.time() + 5
    os.utime(target, (future, future))
    deadline = time.monotonic() + 10
    while get(base, "/api/hello").json()["fn"] != "hello v2":
        assert time.monotonic() < deadline, "the changed function was never served"
        time.sleep(0.2)
