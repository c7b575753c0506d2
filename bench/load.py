"""Load: a closed loop of concurrent clients against the local stack's api for a fixed time —
tRPC reads and writes, signed webhooks, Pusher channel authorization — then a reconciliation
that nothing was lost (every acknowledged write stored once with its events published, every
acknowledged webhook stored and applied once).

    python -m bench.load [--seconds 60] [--concurrency 64] [--users 200]

The api runs in a child process (uvicorn serving api/ as `make dev` does, dev.vercel) so the
load generator does not share its interpreter; Postgres, PostgREST, the gateway and the
Pusher-protocol server are the stack's own processes. `--concurrency` clients, each sending
its next request as soon as the last is answered, keep the api process saturated.
bench.reliability writes the figures to docs/reliability.md (so `python -m bench` does not run
this module on its own: it has no main()); tests/outages has a short smoke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import standardwebhooks

from bench.docs_section import percentile
from dev.api_host import api_process
from dev.ports import free_port
from dev.stack import Stack, StackConfig
from dev.token import user_token

KINDS = ("read", "write", "webhook", "auth")
LIMITS = {
    # The load is many users acting fast on purpose; per-user limits are not under test here.
    "MESSAGING_SEND_RATE_LIMIT": "1000000",
    "REALTIME_AUTH_RATE_LIMIT": "1000000",
}


@dataclass
class Figures:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    sent: list[tuple[str, str]] = field(default_factory=list)
    """(conversation id, client id) of every acknowledged write."""
    hooks: list[str] = field(default_factory=list)
    """Message ids of every acknowledged webhook."""
    unanswered: list[str] = field(default_factory=list)
    """Writes and webhooks that got no answer (a dropped connection): each may have landed."""
    reconciliation: dict[str, Any] = field(default_factory=dict)
    api_cpu_s: float | None = None
    """CPU seconds the api process spent during the run (near `seconds`: one core saturated)."""

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    @property
    def errors(self) -> int:
        return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 400 or s == 0)

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 500)

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for kind in KINDS:
            values = sorted(self.latencies[kind])
            if not values:
                continue
            count = sum(self.statuses[kind].values())
            rows.append(
                {
                    "kind": kind,
                    "requests": count,
                    "per_s": count / self.seconds,
                    "p50_ms": percentile(values, 50) * 1000,
                    "p99_ms": percentile(values, 99) * 1000,
                    "errors": sum(n for s, n in self.statuses[kind].items() if s >= 400 or s == 0),
                }
            )
        return rows


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None where that is unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_stack() -> tuple[Stack, StackConfig]:
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    config.api = False
    config.api_port = free_port()
    return Stack(config).start(), config


class Load:
    def __init__(self, stack: Stack, url: str, users: int) -> None:
        self.stack = stack
        self.url = url
        self.users = [f"load{uuid.uuid4().hex[:8]}-{i}" for i in range(users)]
        self.tokens = {u: user_token(stack.config.jwt_secret, sub=u) for u in self.users}
        self.conversations: dict[str, str] = {}
        self.hook = standardwebhooks.Webhook(stack.config.webhook_secrets["CLERK_WEBHOOK_SECRET"])
        self.figures = Figures()
        self.api_pid: int | None = None

    def _auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[who]}"}

    async def prepare(self, http: httpx.AsyncClient) -> None:
        """A profile per user and one conversation each with the next user."""
        assert self.stack.pg is not None
        with psycopg.connect(self.stack.pg.dsn, autocommit=True) as conn:
            for who in self.users:
                conn.execute("insert into public.profiles (id) values (%s)", [who])
        for index, who in enumerate(self.users):
            other = self.users[(index + 1) % len(self.users)]
            response = await http.post(
                f"{self.url}/api/trpc/messaging.createConversation",
                json={"participants": [other]},
                headers=self._auth(who),
            )
            response.raise_for_status()
            self.conversations[who] = response.json()["result"]["data"]["conversation"]["id"]

    def request(self, http: httpx.AsyncClient, kind: str, who: str) -> tuple[httpx.Request, str]:
        """The next request of `kind` by `who`, and its id (a write's client id, a webhook's
        message id; "" for reads and auth)."""
        conversation = self.conversations[who]
        if kind == "read":
            query = {"input": json.dumps({"conversationId": conversation, "limit": 20})}
            url = f"{self.url}/api/trpc/messaging.list"
            return http.build_request("GET", url, params=query, headers=self._auth(who)), ""
        if kind == "write":
            client_id = str(uuid.uuid4())
            message = {"conversationId": conversation, "clientId": client_id, "body": "load"}
            url = f"{self.url}/api/trpc/messaging.send"
            return http.build_request("POST", url, json=message, headers=self._auth(who)), client_id
        if kind == "webhook":
            msg_id = f"msg_{uuid.uuid4().hex}"
            body = json.dumps(
                {"type": "user.created", "object": "event", "data": {"id": f"user_{msg_id}"}}
            )
            now = datetime.now(UTC)
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self.hook.sign(msg_id, now, body),
                "content-type": "application/json",
            }
            url = f"{self.url}/api/webhooks/clerk"
            return http.build_request("POST", url, content=body, headers=headers), msg_id
        form = {"socket_id": "1234.5678", "channel_name": f"private-user-{who}"}
        url = f"{self.url}/api/realtime/auth"
        return http.build_request("POST", url, data=form, headers=self._auth(who)), ""

    async def one(self, http: httpx.AsyncClient, kind: str, who: str) -> None:
        request, ident = self.request(http, kind, who)
        started = time.perf_counter()
        try:
            status = (await http.send(request)).status_code
        except httpx.TransportError:  # no answer: counted as an error; did it land? (reconcile)
            status = 0
            if ident:
                self.figures.unanswered.append(ident)
        self.figures.latencies[kind].append(time.perf_counter() - started)
        self.figures.statuses[kind][status] += 1
        if status == 200 and kind == "write":
            self.figures.sent.append((self.conversations[who], ident))
        if status == 200 and kind == "webhook":
            self.figures.hooks.append(ident)

    async def run(self, seconds: float, concurrency: int) -> Figures:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            await self.prepare(http)
            deadline = time.monotonic() + seconds
            started = time.monotonic()
            cpu_before = cpu_seconds(self.api_pid) if self.api_pid else None

            async def client(index: int) -> None:
                step = index
                while time.monotonic() < deadline:
                    who = self.users[step % len(self.users)]
                    await self.one(http, KINDS[step % len(KINDS)], who)
                    step += concurrency

            async with asyncio.TaskGroup() as group:
                for index in range(concurrency):
                    group.create_task(client(index))
            self.figures.seconds = time.monotonic() - started
            cpu_after = cpu_seconds(self.api_pid) if self.api_pid else None
            if cpu_before is not None and cpu_after is not None:
                self.figures.api_cpu_s = cpu_after - cpu_before
            await self.reconcile(http)
        return self.figures

    async def reconcile(self, http: httpx.AsyncClient) -> None:
        """Relay until nothing is pending, then compare what was acknowledged with what is
        stored and published."""
        assert self.stack.pg is not None
        conversations = sorted(set(self.conversations.values()))
        channels = [f"private-conversation-{c}" for c in conversations]
        cron = {"authorization": f"Bearer {self.stack.config.cron_secret}"}
        pending = -1
        deadline = time.monotonic() + 120
        with psycopg.connect(self.stack.pg.dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                pending = conn.execute(
                    "select count(*) from public.outbox where channel = any(%s)"
                    " and published_at is null",
                    [channels],
                ).fetchone()[0]
                if pending == 0:
                    break
                await http.get(f"{self.url}/api/cron/outbox-relay", headers=cron)
                await asyncio.sleep(0.5)
            messages = conn.execute(
                "select count(*), count(distinct client_id) from public.messages"
                " where conversation_id = any(%s::uuid[])",
                [conversations],
            ).fetchone()
            acknowledged = conn.execute(
                "select count(*) from public.messages where client_id = any(%s)",
                [[client_id for _, client_id in self.figures.sent]],
            ).fetchone()[0]
            landed_unanswered = conn.execute(
                "select count(*) from public.messages where client_id = any(%s)",
                [self.figures.unanswered],
            ).fetchone()[0]
            events = conn.execute(
                "select count(*), count(*) filter (where published_at is not null)"
                " from public.outbox where channel = any(%s) and event = 'new-message'",
                [channels],
            ).fetchone()
            hooks = conn.execute(
                "select count(*), count(*) filter (where status = 'processed')"
                " from public.webhook_events where provider = 'clerk' and event_id = any(%s)",
                [self.figures.hooks],
            ).fetchone()
            profiles = conn.execute(
                "select count(*) from public.profiles where id = any(%s)",
                [[f"user_{h}" for h in self.figures.hooks]],
            ).fetchone()[0]
        self.figures.reconciliation = {
            "writes_acknowledged": len(self.figures.sent),
            "acknowledged_writes_stored": acknowledged,
            "unanswered": len(self.figures.unanswered),
            "unanswered_writes_stored": landed_unanswered,
            "messages_stored": messages[0],
            "distinct_messages": messages[1],
            "new_message_events": events[0],
            "events_published": events[1],
            "outbox_pending": pending,
            "webhooks_acknowledged": len(self.figures.hooks),
            "webhook_events_stored": hooks[0],
            "webhook_events_processed": hooks[1],
            "profiles_applied": profiles,
        }


def reconciled(figures: Figures) -> bool:
    r = figures.reconciliation
    return (
        r["writes_acknowledged"] == r["acknowledged_writes_stored"]
        and r["messages_stored"] == r["distinct_messages"]
        and r["messages_stored"] == r["writes_acknowledged"] + r["unanswered_writes_stored"]
        and r["new_message_events"] == r["events_published"] == r["messages_stored"]
        and r["outbox_pending"] == 0
        and r["webhooks_acknowledged"]
        == r["webhook_events_stored"]
        == r["webhook_events_processed"]
        == r["profiles_applied"]
    )


def measure(*, seconds: float, concurrency: int, users: int) -> Figures:
    saved = dict(os.environ)  # a stack exports its env; a test session's own stack needs it back
    stack, config = start_stack()
    try:
        with api_process(stack, port=config.api_port, **LIMITS) as host:
            load = Load(stack, host.url, users)
            load.api_pid = host.pid
            return asyncio.run(load.run(seconds, concurrency))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved)


def report(figures: Figures) -> str:
    lines = [
        f"{figures.requests} requests in {figures.seconds:.1f} s = "
        f"{figures.requests / figures.seconds:.0f}/s; errors {figures.errors} "
        f"({figures.server_errors} 5xx)",
        f"api process CPU: {figures.api_cpu_s} s",
        "kind      requests   per s    p50 ms   p99 ms  errors",
    ]
    for row in figures.table():
        lines.append(
            f"{row['kind']:<9} {row['requests']:>8} {row['per_s']:>7.0f} {row['p50_ms']:>8.1f}"
            f" {row['p99_ms']:>8.1f} {row['errors']:>7}"
        )
    lines.append(f"reconciliation: {json.dumps(figures.reconciliation)}")
    lines.append(f"reconciled: {reconciled(figures)}")
    return "\n".join(lines)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args(argv)
    figures = measure(seconds=args.seconds, concurrency=args.concurrency, users=args.users)
    print(report(figures))


if __name__ == "__main__":
    cli()
