"""Chat between two users in two browser contexts: typing indicator, unread badge, read
receipts; a context taken offline gets exactly the messages it missed, once, in order; an
expiring token never breaks the session."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from tests.browser.conftest import ARTIFACTS, PROVIDERS, SignIn, grant, new_user


async def open_conversation(stack, signed_in: SignIn, *, ttl: int | None = None):
    alice, bob = new_user(), new_user()
    grant(stack, alice, 0)
    grant(stack, bob, 0)
    mine = await signed_in(alice, page="chat", ttl=ttl)
    await mine.get_by_label("New conversation with (user id)").fill(bob)
    await mine.get_by_role("button", name="Start").click()
    await mine.get_by_label("Message").wait_for()
    conversation = mine.url.split("#chat/")[1]
    theirs = await signed_in(bob, page="chat", ttl=ttl)
    return alice, bob, conversation, mine, theirs


async def send(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()


def messages(page: Page):
    return page.locator("#messages li")


@PROVIDERS
async def test_typing_unread_badge_and_read_receipts(stack, signed_in, provider):
    alice, bob, conversation, mine, theirs = await open_conversation(stack, signed_in)

    await send(mine, "hello bob")
    badge = theirs.get_by_role("navigation", name="Conversations").get_by_label("1 unread")
    await expect(badge).to_be_visible()
    await theirs.get_by_role("link", name=alice).click()
    await expect(messages(theirs)).to_have_text([f"{alice}: hello bob"])
    await expect(mine.locator("#receipt")).to_have_text(f"✓ Seen by {bob}")

    await theirs.get_by_label("Message").press_sequentially("typing…", delay=20)
    await expect(mine.locator("#typing")).to_have_text(f"{bob} is typing…")
    await expect(theirs.locator("#typing")).to_have_text("")  # never echoed to the typist
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    if provider == "pusher":
        await mine.screenshot(path=str(ARTIFACTS / "pages" / "chat-conversation.png"))


@PROVIDERS
async def test_offline_context_gets_exactly_the_missed_messages_once_in_order(
    stack, signed_in, provider
):
    alice, bob, conversation, mine, theirs = await open_conversation(stack, signed_in)
    await theirs.goto(f"/#chat/{conversation}")
    await theirs.get_by_label("Message").wait_for()
    await expect(theirs.locator("#badge")).to_have_text("live")

    await theirs.context.set_offline(True)
    await expect(theirs.locator("#badge")).to_have_text("offline")
    sent = [f"missed {n}" for n in range(5)]
    for text in sent:
        await send(mine, text)
    await expect(messages(mine)).to_have_count(5)
    await theirs.context.set_offline(False)

    await expect(messages(theirs)).to_have_text([f"{alice}: {text}" for text in sent])
    await expect(theirs.locator("#badge")).to_have_text("live")
    await asyncio.sleep(1)  # anything duplicated would have arrived by now
    await expect(messages(theirs)).to_have_count(5)


@PROVIDERS
async def test_an_expired_token_never_breaks_the_session(stack, signed_in, provider):
    """Tokens live 6 s here; the demo asks for a new one when one is about to expire (as a
    Clerk front end's getToken() does), so calls, channel authorization and history keep
    working past several expiries."""
    alice, bob, conversation, mine, theirs = await open_conversation(stack, signed_in, ttl=6)
    await theirs.goto(f"/#chat/{conversation}")
    await theirs.get_by_label("Message").wait_for()
    await send(mine, "before")
    await expect(messages(theirs)).to_have_text([f"{alice}: before"])

    await asyncio.sleep(7)  # every token the pages hold has expired
    await theirs.context.set_offline(True)
    await send(mine, "after expiry")
    await theirs.context.set_offline(False)  # resubscribes (a new token) and catches up

    await expect(messages(theirs)).to_have_text([f"{alice}: before", f"{alice}: after expiry"])
    await send(theirs, "reply")
    await expect(messages(mine)).to_have_text(
        [f"{alice}: before", f"{alice}: after expiry", f"{bob}: reply"]
    )
    await expect(mine.get_by_role("alert")).to_have_count(0)
