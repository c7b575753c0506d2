"""Billing, the CRM feed and the positions ticker in a real browser: buying credits through
the local Stripe checkout page updates the balance live in another open tab; a HighLevel
webhook sent by the test shows up as a toast in the location's live feed; a signed broker
push moves the ticker."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

from playwright.async_api import expect

from lib.config import load_settings
from lib.db import Database
from lib.realtime import publisher
from lib.realtime.outbox import commit_events
from tests.browser.conftest import ARTIFACTS, grant, new_user
from tests.crm.crm_support import contact_create, new_id
from tests.messaging.messaging_support import Trpc
from tests.outbox_support import sql
from tests.trading.trading_support import connect, position, push


async def test_buying_credits_updates_the_balance_live(stack, signed_in):
    who = new_user()
    grant(stack, who, 2)
    watching = await signed_in(who, page="billing")
    await expect(watching.locator("#balance")).to_have_text(re.compile(r"^\d+$"))
    before = int(await watching.locator("#balance").text_content() or "")
    after = str(before + 10)  # one pack: CREDITS_PER_PACK

    buying = await watching.context.new_page()
    await buying.goto("/#billing")
    await buying.get_by_role("button", name="Buy a credit pack").click()
    await buying.get_by_role("button", name="Pay", exact=True).click()  # the local Stripe page
    await expect(buying.get_by_role("status").filter(has_text="Payment received")).to_be_visible()

    await expect(watching.locator("#balance")).to_have_text(after)  # live: billing-updated
    await expect(buying.locator("#balance")).to_have_text(after)
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    await buying.screenshot(path=str(ARTIFACTS / "pages" / "billing-paid.png"))


async def test_a_crm_webhook_shows_up_as_a_toast_in_the_location_feed(stack, signed_in, ghl, place):
    page = await signed_in(place.rep, page=f"crm/{place.location}")
    await page.locator("#feed[data-live=true]").wait_for()

    await ghl.send(
        contact_create(
            place.location, new_id("ct"), assigned_to=place.rep, source="Website Form - Quote"
        )
    )

    toast = page.get_by_role("log", name="Notifications").get_by_text("New lead")
    await expect(toast).to_be_visible()
    await expect(page.locator("#activity li").first).to_contain_text("New lead")
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "pages" / "crm-lead.png"))


def test_the_demo_app_type_checks_against_the_generated_types() -> None:
    """demo/ is bundled by esbuild, which does not type-check: tsc --strict does, here."""
    root = Path(__file__).resolve().parents[2]
    made = subprocess.run(
        [sys.executable, "-m", "lib.rpc.typescript"], cwd=root, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [str(root / "node_modules" / ".bin" / "tsc"), "-p", "demo"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_broker_push_moves_the_positions_ticker(stack, signed_in, http, token):
    who = new_user()
    grant(stack, who, 0)
    api = Trpc(http, f"{stack.api_url}/api/trpc", token(who))
    trader = await connect(stack, api, who)
    page = await signed_in(who, page="positions")
    await page.locator("#main[data-live=true]").wait_for()

    pushed = await push(http, trader, {"id": "p-1", "positions": [position("AAPL", 10, 190.25)]})
    assert pushed.status_code == 200

    row = page.get_by_role("table", name="Open positions").get_by_role("row", name="AAPL")
    await expect(row).to_contain_text("190.25")
    await expect(page.get_by_role("log", name="Notifications")).to_contain_text("AAPL: 10")


async def test_the_call_log_shows_a_call_when_it_ends(stack, signed_in):
    """What the voice bridge does at hang-up (worker/store.py: calls_finish, then publish),
    done here directly: the call log gains the finished call live."""
    who = new_user()
    grant(stack, who, 0)
    page = await signed_in(who, page="calls")
    await expect(page.get_by_role("table", name="Calls")).to_be_visible()
    await page.locator("#main[data-live=true]").wait_for()
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    with sql(stack) as db:
        db.execute(
            "insert into public.call_numbers (number, owner_id) values (%s, %s)", [number, who]
        )
        call = db.execute(
            "select public.calls_create_outbound(%s, 'signalwire', %s,"
            " '+15552345678', 'book a demo', '{}'::jsonb, null, 1) as c",
            [who, number],
        ).fetchone()["c"]
        finished = db.execute(
            "select public.calls_finish(%s, '[]'::jsonb, 'goal_achieved', null,"
            " 'Booked a demo for Tuesday.', 'hangup', now() - interval '1 minute', now(),"
            " '{}'::jsonb) as f",
            [call["id"]],
        ).fetchone()["f"]
    settings = load_settings({**stack.env(), "REALTIME_PROVIDER": "pusher"})
    database = Database(settings)
    try:
        await commit_events(database, publisher(settings), finished["events"])
    finally:
        await database.aclose()

    row = (
        page.get_by_role("table", name="Calls")
        .get_by_role("row")
        .filter(has_text="Booked a demo for Tuesday.")
    )
    await expect(row).to_contain_text("goal_achieved")
    await expect(page.get_by_role("log", name="Notifications")).to_contain_text("Call ended")
