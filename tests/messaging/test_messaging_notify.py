"""The notify-offline cron: ONE SMS or email per offline recipient summarizing what they
missed, sent through the real Twilio and SendGrid adapters on an injected httpx client whose
MockTransport speaks those providers' REST APIs (tests/messaging/providers.py); marked sent,
never sent twice (also with concurrent runs), transient failures retried, permanent or unknown
ones not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features.messaging.digest import Batch, Missed, compose, email_subject, sms_text
from lib.features.messaging.offline import NotifyPolicy, notify_offline
from lib.services import Services
from tests.messaging import providers
from tests.messaging.messaging_support import (
    Trpc,
    batches,
    create_conversation,
    data,
    notifications,
    send,
    set_contact,
    user,
)
from tests.messaging.providers import Providers
from tests.outbox_support import sql
from tests.support import stack_services

Api = Callable[[str], Trpc]
Run = Callable[..., Awaitable[dict[str, Any]]]


def phone() -> str:
    return "+1555" + str(uuid4().int)[:7]


@pytest.fixture(scope="module")
def services(stack: Stack) -> Services:
    return stack_services(stack, **providers.ENV)


@pytest.fixture(scope="module")
async def db(services: Services) -> AsyncIterator[Database]:
    database = Database(services.settings)
    yield database
    await database.aclose()


@pytest.fixture
async def fake() -> Providers:
    return Providers()


@pytest.fixture
async def run(db: Database, services: Services, fake: Providers) -> AsyncIterator[Run]:
    """run(policy=...) -> one notify-offline run on the fake providers' wire (the adapters
    the settings name, on an http client whose transport is the fake)."""
    async with fake.client() as client:
        job = services.replace(db=db, http=client)

        async def once(policy: NotifyPolicy | None = None) -> dict[str, Any]:
            return await notify_offline(job, policy=policy or NotifyPolicy())

        yield once


def named(stack: Stack, who: str, name: str) -> None:
    with sql(stack) as conn:
        conn.execute("insert into public.profiles (id, display_name) values (%s, %s)", [who, name])


async def test_an_offline_recipient_gets_one_sms_for_several_messages(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana, cleo, number = user("ana"), user("cleo"), phone()
    named(stack, ana, "Ana")
    set_contact(stack, cleo, "sms", phone=number)
    conversation = (await create_conversation(api(ana), [cleo], "Trip"))["id"]
    for body in ("are you there?", "the train leaves at 5", "see you at the station"):
        await send(api(ana), conversation, body)
    assert [n["status"] for n in notifications(stack, cleo)] == ["pending"] * 3

    result = await run()

    (sms,) = fake.sms_to(number)
    assert sms.sender == providers.FROM_NUMBER
    assert sms.body == (
        f"Chatty: 3 new messages. Ana ({ana}): see you at the station (+2 more)."
        " https://app.example.com"
    )
    (batch,) = batches(stack, cleo)
    assert (batch["status"], batch["channel"], batch["message_count"]) == ("sent", "sms", 3)
    assert batch["provider_id"].startswith("SM")
    assert {(n["status"], n["batch_id"]) for n in notifications(stack, cleo)} == {
        ("batched", batch["id"])
    }
    assert result["sent"] >= 1

    await run()  # nothing left for cleo: never a second notification
    assert len(fake.sms_to(number)) == 1


async def test_with_sms_off_nothing_is_sent_and_the_batch_says_why(
    stack: Stack, api: Api, db: Database, services: Services, fake: Providers
):
    ana, cleo, number = user("ana"), user("cleo"), phone()
    set_contact(stack, cleo, "sms", phone=number)
    conversation = (await create_conversation(api(ana), [cleo], "Quiet"))["id"]
    await send(api(ana), conversation, "hello?")
    off = stack_services(stack, **{**providers.ENV, "NOTIFY_SMS_PROVIDER": "off"})
    async with fake.client() as client:
        await notify_offline(off.replace(db=db, http=client), policy=NotifyPolicy())
    assert fake.sms_to(number) == []
    (batch,) = batches(stack, cleo)
    assert batch["status"] == "failed"
    assert "NOTIFY_SMS_PROVIDER=off" in batch["error"]


async def test_an_email_recipient_gets_one_email_listing_every_sender(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana, ben, dora = user("ana"), user("ben"), user("dora")
    address = f"{dora}@example.com"
    named(stack, ana, "Ana")
    named(stack, ben, "Ben")
    set_contact(stack, dora, "email", email=address)
    first = (await create_conversation(api(ana), [ben, dora], "Plans"))["id"]
    second = (await create_conversation(api(ben), [dora]))["id"]
    await send(api(ana), first, "lunch at noon?")
    await send(api(ben), first, "works for me")
    await send(api(ben), second, "psst, bring the cake")

    await run()

    (email,) = fake.emails_to(address)
    assert email.sender == providers.FROM_EMAIL
    assert email.subject == f"3 new messages from Ben ({ben}) and Ana ({ana})"
    assert email.text.index("lunch at noon?") < email.text.index("works for me")
    assert f'Ana ({ana}) in "Plans"' in email.text and "psst, bring the cake" in email.text
    assert email.text.rstrip().endswith("Read and reply: https://app.example.com")
    (batch,) = batches(stack, dora)
    assert email.notification == f"messaging-batch-{batch['id']}"
    assert batch["status"] == "sent"


async def test_messages_read_before_the_cron_runs_are_not_notified(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana, cleo, number = user("ana"), user("cleo"), phone()
    set_contact(stack, cleo, "sms", phone=number)
    conversation = (await create_conversation(api(ana), [cleo]))["id"]
    await send(api(ana), conversation, "one")
    latest = (await send(api(ana), conversation, "two"))["message"]["id"]
    data(
        await api(cleo).mutation(
            "messaging.markRead", {"conversationId": conversation, "messageId": latest}
        )
    )

    await run()

    assert fake.sms_to(number) == []
    assert [n["status"] for n in notifications(stack, cleo)] == ["read", "read"]
    assert batches(stack, cleo) == []


async def test_a_recipient_without_a_contact_is_skipped(stack: Stack, api: Api, run: Run):
    ana, eve = user("ana"), user("eve")
    conversation = (await create_conversation(api(ana), [eve]))["id"]
    await send(api(ana), conversation, "hello?")

    result = await run()

    (batch,) = batches(stack, eve)
    assert (batch["status"], batch["channel"], batch["address"]) == ("skipped", "none", None)
    assert result["skipped"] >= 1


async def test_concurrent_runs_notify_each_recipient_once(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana = user("ana")
    recipients = {user("r"): phone() for _ in range(6)}
    for who, number in recipients.items():
        set_contact(stack, who, "sms", phone=number)
    conversation = (await create_conversation(api(ana), list(recipients)))["id"]
    await send(api(ana), conversation, "big news")
    await send(api(ana), conversation, "bigger news")

    small = NotifyPolicy(recipients_per_claim=2, concurrency=2)
    await asyncio.gather(*(run(small) for _ in range(4)))

    for who, number in recipients.items():
        assert len(fake.sms_to(number)) == 1, who
        (batch,) = batches(stack, who)
        assert (batch["status"], batch["message_count"]) == ("sent", 2)


async def test_transient_failures_are_retried_permanent_and_unknown_ones_never(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana = user("ana")
    modes: dict[str, providers.Failure] = {
        "503": "503",
        "connect": "connect",
        "400": "400",
        "timeout": "timeout",
    }
    people = {mode: (user(f"r{mode}"), phone()) for mode in modes}
    for mode, (who, number) in people.items():
        set_contact(stack, who, "sms", phone=number)
        fake.fail[number] = modes[mode]
    conversation = (await create_conversation(api(ana), [w for w, _ in people.values()]))["id"]
    await send(api(ana), conversation, "are you getting these?")
    retry_now = NotifyPolicy(retry_s=0)

    await run(retry_now)

    def states(mode: str) -> tuple[list[str], list[str]]:
        who = people[mode][0]
        return [b["status"] for b in batches(stack, who)], [
            n["status"] for n in notifications(stack, who)
        ]

    assert states("503") == (["failed"], ["pending"])
    assert states("connect") == (["failed"], ["pending"])
    assert states("400") == (["failed"], ["dropped"])
    assert states("timeout") == (["failed"], ["dropped"])  # maybe delivered: never resent

    fake.fail.clear()
    await run(retry_now)

    for mode in ("503", "connect"):
        assert len(fake.sms_to(people[mode][1])) == 1
        assert states(mode) == (["failed", "sent"], ["batched"])
    for mode in ("400", "timeout"):
        assert fake.sms_to(people[mode][1]) == []


async def test_a_failing_provider_gives_up_after_max_attempts(
    stack: Stack, api: Api, run: Run, fake: Providers
):
    ana, cleo, number = user("ana"), user("cleo"), phone()
    set_contact(stack, cleo, "sms", phone=number)
    fake.fail[number] = "503"
    conversation = (await create_conversation(api(ana), [cleo]))["id"]
    await send(api(ana), conversation, "ping")
    policy = NotifyPolicy(retry_s=0, max_attempts=2)

    await run(policy)
    await run(policy)
    await run(policy)

    assert [b["status"] for b in batches(stack, cleo)] == ["failed", "failed"]
    assert [(n["status"], n["attempts"]) for n in notifications(stack, cleo)] == [("dropped", 2)]


async def test_the_cron_runs_over_http_with_the_default_log_notifier(stack: Stack):
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            f"{stack.api_url}/api/cron/notify-offline",
            headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
        )
    assert response.status_code == 200
    body = response.json()
    if "skipped" not in body:  # the stack's own schedule may be running it right now
        assert set(body["result"]) == {
            "rounds",
            "sent",
            "retry",
            "failed",
            "skipped",
            "released",
            "unfinished",
        }


# -- the digest ---------------------------------------------------------------------------------


def missed(sender: str, body: str, title: str = "", name: str | None = None) -> Missed:
    return Missed(
        id=1,
        conversationId=uuid4(),
        conversationTitle=title,
        senderId=sender,
        senderName=name,
        body=body,
        createdAt=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
    )


def batch(*messages: Missed, count: int | None = None, conversations: int = 1) -> Batch:
    return Batch(
        batch=7,
        recipient="r",
        channel="sms",
        address="+15550001111",
        status="sending",
        messageCount=count or len(messages),
        conversationCount=conversations,
        messages=list(messages),
    )


def test_sms_text_summarizes_and_clips():
    one = batch(missed("u1", "hello\n  there", name="Ana"))
    assert sms_text(one, app_name="App", app_url="") == "App: 1 new message. Ana (u1): hello there."
    long = batch(missed("u1", "x" * 500), count=40, conversations=3)
    text = sms_text(long, app_name="App", app_url="https://a.test")
    assert text.startswith("App: 40 new messages in 3 conversations. u1: " + "x" * 99 + "…")
    assert text.endswith("(+39 more). https://a.test")


def test_email_subject_names_senders():
    people = [missed(f"u{i}", "hi", name=n) for i, n in enumerate(["Ana", "Ben", "Cy", "Di"])]
    assert email_subject(batch(people[0])) == "New message from Ana (u0)"
    assert email_subject(batch(*people[:3])) == "3 new messages from Ana (u0), Ben (u1) and Cy (u2)"
    assert email_subject(batch(*people)) == "4 new messages from Ana (u0), Ben (u1) and 2 others"
    notification = compose(
        batch(*people, count=30).model_copy(update={"channel": "email", "address": "r@x.test"}),
        app_name="App",
        app_url="",
    )
    assert "...and 26 earlier messages." in notification.text


def test_a_sender_is_named_by_display_name_and_verified_id():
    """Display names are chosen by their owners; the id is what nobody else can have."""
    impostor = missed("user_2evil", "your account is locked, call +15550100", name="Your Bank")
    text = sms_text(batch(impostor), app_name="App", app_url="")
    assert (
        text
        == "App: 1 new message. Your Bank (user_2evil): your account is locked, call +15550100."
    )
    assert missed("u1", "hi", name="u1").sender == "u1"  # no name, or the id itself: once
    assert missed("u1", "hi", name=" \n ").sender == "u1"
    long = missed("u1", "hi", name="A" * 300).sender
    assert long.endswith("… (u1)") and len(long) == 40 + len(" (u1)")
