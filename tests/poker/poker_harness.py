"""Test harness for poker: tRPC over raw HTTP and through the official @trpc/client (Node),
pusher-js clients authorized by the real /api/realtime/auth, credits and subscriptions
arranged in SQL, and role-switched transactions for RLS checks. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from dev.stack import Stack
from tests.outbox_support import pusher_js
from tests.realtime.realtime_harness import PusherJs

ROOT = Path(__file__).resolve().parents[2]
TRPC_RUNNER = ROOT / "tests" / "js" / "trpc" / "run.js"
Token = Callable[[str], str]


def user(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# SQL ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def sql(stack: Stack) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A superuser connection (autocommit), rows as dicts."""
    assert stack.pg is not None
    with psycopg.connect(
        stack.pg.dsn, autocommit=True, connect_timeout=10, row_factory=dict_row
    ) as conn:
        yield conn


def grant(stack: Stack, who: str, amount: int, ref: str | None = None) -> dict[str, Any]:
    with sql(stack) as db:
        row = db.execute(
            "select public.credit_grant(%s, %s, 'test-grant', %s) as r",
            [who, amount, ref or uuid.uuid4().hex],
        ).fetchone()
    assert row is not None
    return dict(row["r"])


def balance(stack: Stack, who: str) -> int:
    with sql(stack) as db:
        row = db.execute("select public.credit_balance(%s) as b", [who]).fetchone()
    assert row is not None
    return int(row["b"])


def subscribe(stack: Stack, who: str, status: str, period_end: str = "now() + interval '30 days'"):
    with sql(stack) as db:
        db.execute(
            "insert into public.subscriptions (user_id, status, current_period_end)"
            f" values (%s, %s, {period_end})",
            [who, status],
        )


@contextlib.contextmanager
def as_role(
    stack: Stack, who: str | None, role: str = "authenticated"
) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A transaction running as `role` with `who`'s JWT claims; always rolled back."""
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, connect_timeout=10, row_factory=dict_row) as conn:
        try:
            claims = {"sub": who, "role": role} if who else {"role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            conn.execute(f"set local role {role}")
            yield conn
        finally:
            conn.rollback()


# tRPC over HTTP ----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        """The error's `data` (code, httpStatus, ...) plus its message."""
        assert "error" in self.body, self.body
        error = self.body["error"]
        return {**error["data"], "message": error["message"]}


class Trpc:
    """Raw tRPC wire calls (GET for queries, POST for mutations) as a signed-in user."""

    def __init__(self, http: httpx.AsyncClient, token: Token, stack: Stack) -> None:
        self.http = http
        self.token = token
        self.stack = stack

    async def call(self, kind: str, path: str, input: Any, *, as_user: str | None) -> Reply:
        headers = {"authorization": f"Bearer {self.token(as_user)}"} if as_user else {}
        url = f"/api/trpc/{path}"
        if kind == "query":
            params = {} if input is None else {"input": json.dumps(input)}
            response = await self.http.get(url, params=params, headers=headers)
        else:
            headers["content-type"] = "application/json"  # as @trpc/client sends it
            response = await self.http.post(url, content=json.dumps(input), headers=headers)
        return Reply(response.status_code, response.json())

    async def mutate(self, path: str, input: Any, *, as_user: str) -> Any:
        reply = await self.call("mutation", path, input, as_user=as_user)
        assert reply.status == 200, reply.body
        return reply.body["result"]["data"]

    async def query(self, path: str, input: Any, *, as_user: str) -> Any:
        reply = await self.call("query", path, input, as_user=as_user)
        assert reply.status == 200, reply.body
        return reply.body["result"]["data"]

    async def fails(self, kind: str, path: str, input: Any, *, as_user: str) -> dict[str, Any]:
        reply = await self.call(kind, path, input, as_user=as_user)
        assert reply.status != 200, reply.body
        return reply.error

    async def session(
        self,
        facilitator: str,
        *,
        tasks: list[str] | None = None,
        deck: dict[str, Any] | None = None,
        members: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A new session (the facilitator is granted the credit), joined by `members`."""
        grant(self.stack, facilitator, 1)
        payload: dict[str, Any] = {"name": "Sprint 42", "tasks": tasks or ["Login page"]}
        if deck is not None:
            payload["deck"] = deck
        created = await self.mutate("poker.create", payload, as_user=facilitator)
        for member in members:
            await self.mutate("poker.join", {"sessionId": created["session"]["id"]}, as_user=member)
        session: dict[str, Any] = created["session"]
        return session


# Clients in Node ---------------------------------------------------------------------------


def trpc_client(url: str, *groups: dict[str, Any]) -> list[dict[str, Any]]:
    """Run groups of calls through the official @trpc/client (tests/js/trpc/run.js); each
    group is {"link", "token", "calls": [{"type", "path", "input"}]}; groups run in turn."""
    plan = {"url": url, "timeoutMs": 20_000, "groups": list(groups)}
    done = subprocess.run(
        ["node", str(TRPC_RUNNER)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: list[dict[str, Any]] = json.loads(done.stdout)["groups"]
    return result


def mutation(path: str, input: Any) -> dict[str, Any]:
    return {"type": "mutation", "path": path, "input": input}


def query(path: str, input: Any) -> dict[str, Any]:
    return {"type": "query", "path": path, "input": input}


class Browsers:
    """pusher-js clients signed in as users, authorized by the stack's /api/realtime/auth
    with bearer-token headers (as a browser app configures them); all ended at the end."""

    def __init__(self, stack: Stack, token: Token, exits: contextlib.AsyncExitStack) -> None:
        self.stack = stack
        self.token = token
        self.exits = exits

    async def open(self, who: str) -> PusherJs:
        assert self.stack.realtime is not None
        client: PusherJs = await self.exits.enter_async_context(
            pusher_js(
                self.stack.realtime,
                auth_endpoint=f"{self.stack.api_url}/api/realtime/auth",
                token=self.token(who),
            )
        )
        return client


@contextlib.asynccontextmanager
async def browsers(stack: Stack, token: Token) -> AsyncIterator[Browsers]:
    async with contextlib.AsyncExitStack() as exits:
        yield Browsers(stack, token, exits)


async def events_until(client: PusherJs, channel: str, last: str) -> list[dict[str, Any]]:
    """The events `client` receives on `channel`, in order, up to and including the first
    named `last` (each wait bounded by the harness)."""
    received: list[dict[str, Any]] = []
    while True:
        item = await client.expect("event", channel=channel)
        received.append(item)
        if item["event"] == last:
            return received


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)
