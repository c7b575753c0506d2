"""Helpers for the messaging tests: tRPC calls over HTTP as a browser makes them (the stack's
/api/trpc, or an inline app), users, conversations, and rows read back with SQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from dev.stack import Stack
from tests.outbox_support import sql

WAIT_S = 10.0
"""Upper bound of any single wait (never an assertion about speed)."""

Token = Callable[[str], str]


def user(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def client_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Trpc:
    """Calls procedures on `base` (e.g. http://127.0.0.1:PORT/api/trpc) as one user."""

    http: httpx.AsyncClient
    base: str
    token: str | None
    stack: Stack | None = None
    """Where create_conversation gives the participants a profile (users must exist)."""

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    async def query(self, path: str, input: Any = None) -> httpx.Response:
        params = {} if input is None else {"input": json.dumps(input)}
        return await self.http.get(
            f"{self.base}/{path}", params=params, headers=self._headers(), timeout=30
        )

    async def mutation(self, path: str, input: Any = None) -> httpx.Response:
        content = b"" if input is None else json.dumps(input).encode()
        return await self.http.post(
            f"{self.base}/{path}",
            content=content,
            headers={**self._headers(), "content-type": "application/json"},
            timeout=30,
        )


def data(response: httpx.Response) -> Any:
    body = response.json()
    assert response.status_code == 200 and "result" in body, body
    return body["result"]["data"]


def error(response: httpx.Response) -> dict[str, Any]:
    """The tRPC error's `data` ({code, httpStatus, path}) plus its message."""
    body = response.json()
    assert "error" in body, body
    assert response.status_code == body["error"]["data"]["httpStatus"], body
    return {**body["error"]["data"], "message": body["error"]["message"]}


def profiles(stack: Stack, *users: str) -> None:
    """Make `users` exist (a profiles row, as the Clerk webhook or Supabase Auth would)."""
    with sql(stack) as conn:
        for who in users:
            conn.execute(
                "insert into public.profiles (id) values (%s) on conflict (id) do nothing", [who]
            )


async def create_conversation(
    api: Trpc, participants: list[str], title: str = "", **extra: Any
) -> dict[str, Any]:
    if api.stack is not None:
        profiles(api.stack, *participants)
    created = data(
        await api.mutation(
            "messaging.createConversation",
            {"participants": participants, "title": title, **extra},
        )
    )
    return created["conversation"]  # type: ignore[no-any-return]


async def send(api: Trpc, conversation: str, body: str, cid: str | None = None) -> dict[str, Any]:
    sent = data(
        await api.mutation(
            "messaging.send",
            {"conversationId": conversation, "clientId": cid or client_id(), "body": body},
        )
    )
    return sent  # type: ignore[no-any-return]


def outbox(stack: Stack, channel: str, event: str | None = None) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select id, event, data from public.outbox where channel = %s"
            " and (%s::text is null or event = %s) order by id",
            [channel, event, event],
        ).fetchall()


def notifications(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select message_id, status, batch_id, attempts from public.message_notifications"
            " where recipient_id = %s order by message_id",
            [recipient],
        ).fetchall()


def batches(stack: Stack, recipient: str) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select id, channel, address, status, message_count, provider_id, error"
            " from public.notification_batches where recipient_id = %s order by id",
            [recipient],
        ).fetchall()


def set_contact(
    stack: Stack, who: str, channel: str, *, phone: str | None = None, email: str | None = None
) -> None:
    with sql(stack) as conn:
        conn.execute(
            "insert into public.notification_contacts (user_id, channel, phone, email)"
            " values (%s, %s, %s, %s)",
            [who, channel, phone, email],
        )


def online(stack: Stack, who: str) -> bool:
    with sql(stack) as conn:
        row = conn.execute("select private.is_user_online(%s) as online", [who]).fetchone()
    assert row is not None
    return bool(row["online"])


async def wait_until_online(stack: Stack, who: str, expected: bool = True) -> None:
    """Poll until the realtime server's webhooks made `who` (not) online; bounded."""
    async with asyncio.timeout(WAIT_S):
        while True:
            if online(stack, who) is expected:
                return
            await asyncio.sleep(0.05)
