"""notify-offline when things break mid-round (issue 10): one batch's database failure does
not stop the others; a batch never handed to its notifier goes back to pending; a batch left
in `sending` (its run died, or could not record the outcome) is recovered by a later claim
once its lease has expired. Providers are the fakes of tests/messaging/providers.py."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import uuid4

import pytest

from dev.stack import Stack
from lib.config import Settings
from lib.db import Database
from lib.errors import DatabaseUnavailable
from lib.features.messaging.offline import NotifyPolicy, notify_offline
from lib.notify import Notification, Receipt
from lib.services import Services
from tests.messaging import providers
from tests.messaging.messaging_support import (
    batches,
    create_conversation,
    notifications,
    send,
    set_contact,
    user,
)
from tests.messaging.providers import Providers
from tests.messaging.test_messaging_notify import Api
from tests.outbox_support import sql
from tests.support import stack_services

ONE_AT_A_TIME = NotifyPolicy(concurrency=1)


@pytest.fixture(scope="module")
def services(stack: Stack) -> Services:
    return stack_services(stack, **providers.ENV)


def phone() -> str:
    return "+1555" + str(uuid4().int)[:7]


class FinishFailsFor(Database):
    """The stack's database, except that recording the outcome of `recipient`'s batch fails
    (as when PostgREST is briefly unreachable)."""

    def __init__(self, settings: Settings, recipient: str) -> None:
        super().__init__(settings)
        self.recipient = recipient
        self.recipients: dict[int, str] = {}

    async def rpc(self, name: str, **params: Any) -> Any:
        if name == "messaging_notify_finish" and self.recipients[params["p_batch"]] == (
            self.recipient
        ):
            raise DatabaseUnavailable("the database is unreachable", retry_after=2)
        result = await super().rpc(name, **params)
        if name == "messaging_notify_claim":
            self.recipients.update({row["batch"]: row["recipient"] for row in result})
        return result


def expire_lease(stack: Stack, batch: int) -> None:
    """What the clock does to a batch nobody finished: its claim is an hour old."""
    with sql(stack) as conn:
        conn.execute(
            "update public.notification_batches set created_at = now() - interval '1 hour'"
            " where id = %s",
            [batch],
        )


async def test_a_batch_whose_outcome_cannot_be_recorded_stops_nothing_and_is_recovered(
    stack: Stack,
    api: Api,
    services: Services,
):
    sender = user("ana")
    people = {user("r"): phone() for _ in range(3)}
    for who, number in people.items():
        set_contact(stack, who, "sms", phone=number)
    conversation = (await create_conversation(api(sender), list(people)))["id"]
    await send(api(sender), conversation, "news")
    unlucky, *others = people
    fake = Providers()
    flaky = FinishFailsFor(services.settings, unlucky)
    async with fake.client() as http:
        result = await notify_offline(services.replace(db=flaky, http=http), policy=ONE_AT_A_TIME)
    await flaky.aclose()

    assert result["unfinished"] >= 1
    for who in others:  # the failure before them (or after them) changed nothing for them
        assert len(fake.sms_to(people[who])) == 1
        assert [b["status"] for b in batches(stack, who)] == ["sent"]
    assert len(fake.sms_to(people[unlucky])) == 1  # sent; only its record failed
    (stuck,) = batches(stack, unlucky)
    assert stuck["status"] == "sending"

    db = Database(services.settings)
    async with fake.client() as http:
        await notify_offline(services.replace(db=db, http=http))  # within the lease: left alone
        assert [b["status"] for b in batches(stack, unlucky)] == ["sending"]
        expire_lease(stack, stuck["id"])
        await notify_offline(services.replace(db=db, http=http))
    await db.aclose()

    old, new = batches(stack, unlucky)
    assert (old["id"], old["status"]) == (stuck["id"], "failed")
    assert old["error"].startswith("lease expired")
    assert new["status"] == "sent"
    assert [(n["status"], n["batch_id"], n["attempts"]) for n in notifications(stack, unlucky)] == [
        ("batched", new["id"], 1)
    ]
    # It may have reached them before: at least once beats never (see the migration).
    assert len(fake.sms_to(people[unlucky])) == 2


class CancelsTheRun:
    """A notifier during whose first send the cron's function is stopped (as a platform
    timeout or shutdown cancels it)."""

    def __init__(self) -> None:
        self.run: asyncio.Task[Any] | None = None
        self.tried: list[str] = []

    async def send(self, notification: Notification) -> Receipt:
        self.tried.append(notification.to)
        assert self.run is not None
        self.run.cancel()
        await asyncio.Event().wait()  # cancelled right here
        raise AssertionError("unreachable")


async def test_batches_never_tried_go_back_to_pending_when_the_run_is_cancelled(
    stack: Stack,
    api: Api,
    services: Services,
):
    sender = user("ana")
    people = {user("r"): phone() for _ in range(3)}
    for who, number in people.items():
        set_contact(stack, who, "sms", phone=number)
    conversation = (await create_conversation(api(sender), list(people)))["id"]
    await send(api(sender), conversation, "news")
    db = Database(services.settings)
    notifier = CancelsTheRun()
    job = services.replace(db=db)
    notifier.run = asyncio.create_task(
        notify_offline(job, notifiers_by_channel={"sms": notifier}, policy=ONE_AT_A_TIME),
        name="notify-offline",
    )
    with contextlib.suppress(asyncio.CancelledError):
        await notifier.run
    assert notifier.run.cancelled() and len(notifier.tried) == 1

    tried = next(who for who, number in people.items() if number == notifier.tried[0])
    assert [b["status"] for b in batches(stack, tried)] == ["sending"]  # outcome unknown
    for who in set(people) - {tried}:
        assert batches(stack, who) == []  # released: as if never claimed
        assert [(n["status"], n["batch_id"], n["attempts"]) for n in notifications(stack, who)] == [
            ("pending", None, 0)
        ]

    fake = Providers()
    async with fake.client() as http:
        await notify_offline(services.replace(db=db, http=http))
    await db.aclose()
    for who in set(people) - {tried}:
        assert len(fake.sms_to(people[who])) == 1
        assert [b["status"] for b in batches(stack, who)] == ["sent"]
    assert fake.sms_to(people[tried]) == []  # within its lease: not resent
