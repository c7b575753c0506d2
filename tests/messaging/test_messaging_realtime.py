"""Messaging end to end with the official pusher-js client on the stack's Pusher-protocol
server, authorized by the real /api/realtime/auth with each user's bearer token:
new-message and unread-update arrive, read receipts reach the others, client-typing goes to the
other participant and never back to its sender, and online/offline — known only from the
server's real webhooks to /api/webhooks/pusher — decides who gets an offline notification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features.messaging.offline import notify_offline
from tests.messaging import providers
from tests.messaging.messaging_support import (
    Trpc,
    create_conversation,
    data,
    notifications,
    send,
    set_contact,
    user,
    wait_until_online,
)
from tests.messaging.providers import Providers
from tests.outbox_support import pusher_js
from tests.support import stack_services

Api = Callable[[str], Trpc]


def auth_url(stack: Stack) -> str:
    return f"{stack.api_url}/api/realtime/auth"


def subscribed(outcome: dict[str, Any]) -> bool:
    return outcome["type"] == "subscribed"


async def test_pusher_js_receives_new_message_and_unread_update(stack: Stack, token, api: Api):  # noqa: ANN001
    ana, ben = user("ana"), user("ben")
    conversation = (await create_conversation(api(ana), [ben]))["id"]
    room, inbox = f"private-conversation-{conversation}", f"private-user-{ben}"
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(ben)) as js:
        assert subscribed(await js.subscribe(room))
        assert subscribed(await js.subscribe(inbox))

        sent = await send(api(ana), conversation, "hello ben")

        message = await js.expect("event", channel=room, event="new-message")
        unread = await js.expect("event", channel=inbox, event="unread-update")
    assert message["data"]["type"] == "new-message"
    assert message["data"]["data"]["message"]["id"] == sent["message"]["id"]
    assert message["data"]["data"]["message"]["body"] == "hello ben"
    assert unread["data"]["data"]["conversationId"] == conversation
    assert unread["data"]["data"]["unread"] == 1
    assert unread["data"]["data"]["lastMessage"]["preview"] == "hello ben"


async def test_an_outsider_cannot_follow_the_conversation(stack: Stack, token, api: Api):  # noqa: ANN001
    conversation = (await create_conversation(api(user("ana")), [user("ben")]))["id"]
    assert stack.realtime is not None
    outsider = token(user("eve"))
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=outsider) as js:
        outcome = await js.subscribe(f"private-conversation-{conversation}")
    assert outcome["type"] == "subscription_error" and outcome["error"]["status"] == 403


async def test_read_receipts_reach_the_other_participants(stack: Stack, token, api: Api):  # noqa: ANN001
    ana, ben, cy = user("ana"), user("ben"), user("cy")
    conversation = (await create_conversation(api(ana), [ben, cy]))["id"]
    room = f"private-conversation-{conversation}"
    latest = (await send(api(ana), conversation, "read me"))["message"]["id"]
    assert stack.realtime is not None
    async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(cy)) as js:
        assert subscribed(await js.subscribe(room))

        data(
            await api(ben).mutation(
                "messaging.markRead", {"conversationId": conversation, "messageId": latest}
            )
        )

        receipt = await js.expect("event", channel=room, event="read-receipt")
    assert receipt["data"]["data"]["userId"] == ben
    assert receipt["data"]["data"]["lastReadMessageId"] == latest


async def test_client_typing_reaches_the_other_participant_and_is_not_echoed(
    stack: Stack,
    token,  # noqa: ANN001
    api: Api,
):
    ana, ben = user("ana"), user("ben")
    conversation = (await create_conversation(api(ana), [ben]))["id"]
    room = f"private-conversation-{conversation}"
    assert stack.realtime is not None
    address, url = stack.realtime, auth_url(stack)
    async with (
        pusher_js(address, auth_endpoint=url, token=token(ana)) as typist,
        pusher_js(address, auth_endpoint=url, token=token(ben)) as reader,
    ):
        assert subscribed(await typist.subscribe(room))
        assert subscribed(await reader.subscribe(room))

        await typist.send("trigger", channel=room, event="client-typing", data={"userId": ana})
        assert (await typist.expect("triggered", channel=room))["sent"] is True
        typing = await reader.expect("event", channel=room, event="client-typing")
        # ben answers; it reaches ana after anything the server could have echoed to her
        await reader.send("trigger", channel=room, event="client-typing", data={"userId": ben})
        answer = await typist.expect("event", channel=room, event="client-typing")

        assert typing["data"] == {"userId": ana}
        assert answer["data"] == {"userId": ben}
        assert typist.seen("event", channel=room, event="client-typing") == []
        assert reader.seen("event", channel=room, event="client-typing") == []


@pytest.fixture
async def notify_db(stack: Stack):  # noqa: ANN201
    database = Database(stack_services(stack, **providers.ENV).settings)
    yield database
    await database.aclose()


async def test_only_offline_recipients_are_notified_as_webhooks_say(
    stack: Stack,
    token,  # noqa: ANN001
    api: Api,
    notify_db: Database,
):
    """ben is online (his pusher-js holds private-user-ben: channel_occupied reached the api);
    cy never connects. Three messages: cy gets ONE SMS, ben none. ben then disconnects
    (channel_vacated) and the next message queues a notification for him too."""
    ana, ben, cy = user("ana"), user("ben"), user("cy")
    phones = {ben: "+15550100001", cy: "+15550100002"}
    for who, number in phones.items():
        set_contact(stack, who, "sms", phone=number)
    conversation = (await create_conversation(api(ana), [ben, cy]))["id"]
    fake = Providers()
    assert stack.realtime is not None

    async with fake.client() as client:
        job = stack_services(stack, **providers.ENV).replace(db=notify_db, http=client)
        async with pusher_js(stack.realtime, auth_endpoint=auth_url(stack), token=token(ben)) as js:
            assert subscribed(await js.subscribe(f"private-user-{ben}"))
            await wait_until_online(stack, ben)
            for body in ("first", "second", "third"):
                await send(api(ana), conversation, body)
            await notify_offline(job)
        assert notifications(stack, ben) == []
        assert len(fake.sms_to(phones[cy])) == 1
        assert fake.sms_to(phones[cy])[0].body.startswith("Chatty: 3 new messages.")
        assert fake.sms_to(phones[ben]) == []

        await wait_until_online(stack, ben, expected=False)
        await send(api(ana), conversation, "are you still there?")
        await notify_offline(job)
    assert [n["status"] for n in notifications(stack, ben)] == ["batched"]
    (sms,) = fake.sms_to(phones[ben])
    assert "are you still there?" in sms.body
    assert len(fake.sms_to(phones[cy])) == 2
