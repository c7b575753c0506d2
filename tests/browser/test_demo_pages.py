"""Every page of the demo renders for a signed-in user with accessible markup (headings,
the current page marked in the navigation, labelled tables, a live connection badge), and
leaves a screenshot of itself in test-artifacts/browser/pages/ (docs/screenshots/ holds the
copies the README shows)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import ARTIFACTS, BUNDLE, grant, new_user

PAGES = {  # hash: (link, heading, table)
    "positions": ("Positions", "Positions", "Open positions"),
    "calls": ("Calls", "Call log", "Calls"),
    "billing": ("Billing", "Billing", None),
    "chat": ("Chat", "Chat", None),
    "crm": ("CRM feed", "CRM live feed", None),
    "poker": ("Poker", "Planning poker", None),
}


async def test_every_page_renders_live_and_accessible(stack, signed_in):
    who = new_user()
    grant(stack, who, 3)
    page = await signed_in(who)
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)

    for name, (link, heading, table) in PAGES.items():
        nav = page.get_by_role("navigation", name="Pages")
        await nav.get_by_role("link", name=link, exact=True).click()
        await expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
        current = page.locator('nav a[aria-current="page"]')
        await expect(current).to_have_attribute("href", f"#{name}")
        await expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
        if table:
            await expect(page.get_by_role("table", name=table)).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "pages" / f"{name}.png"))


def test_the_committed_bundle_is_the_built_one(demo_bundle: bytes) -> None:
    """Vercel serves public/ as committed (no build step): after changing demo/ or client/,
    `make demo` and commit public/app.js."""
    assert demo_bundle == BUNDLE.read_bytes(), "public/app.js is stale: run `make demo`"
