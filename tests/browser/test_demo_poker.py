"""The poker room in two browser contexts: a vote shows as a card back in the other one,
the reveal shows every value and the statistics in both."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import ARTIFACTS, PROVIDERS, grant, new_user


def card(page: Page, value: str) -> Locator:
    return page.get_by_role("group", name="Your card").get_by_role("button", name=value, exact=True)


@PROVIDERS
async def test_two_players_vote_and_reveal(stack, signed_in, provider):
    facilitator, player = new_user(), new_user()
    grant(stack, facilitator)
    host = await signed_in(facilitator)
    await host.get_by_label("Session name").fill("Sprint 42")
    await host.get_by_label("First task").fill("Login page")
    await host.get_by_role("button", name="Create session").click()
    session_id = await host.locator("#session-id").text_content()
    assert session_id

    guest = await signed_in(player, page=f"poker/{session_id}")
    online = host.get_by_role("list", name="Members online")
    await expect(online.get_by_label(player)).to_be_visible()
    await host.get_by_role("button", name="Start voting").click()
    await card(guest, "5").click()

    # the host sees that the player voted, never which card
    voted = host.locator(f'.votes li[data-user="{player}"]')
    await expect(voted.get_by_role("img", name="voted, card hidden")).to_be_visible()
    await expect(voted.locator("strong")).to_have_count(0)  # no value shown
    await card(host, "3").click()
    await host.get_by_role("button", name="Reveal").click()

    for page in (host, guest):
        await expect(page.locator(f'.votes li[data-user="{player}"] strong')).to_have_text("5")
        await expect(page.locator(f'.votes li[data-user="{facilitator}"] strong')).to_have_text("3")
        await expect(page.locator("#stats")).to_contain_text("Average 4")
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    if provider == "pusher":
        await host.screenshot(path=str(ARTIFACTS / "pages" / "poker-revealed.png"))
    await host.get_by_label("Estimate").select_option("5")
    await host.get_by_role("button", name="Finalize").click()
    await expect(guest.get_by_role("list").filter(has_text="estimate 5")).to_be_visible()
    await expect(host.locator("#badge")).to_have_text("live")
