"""Quote views: crm.quoteLink mints a signed link; the quote page's beacons to
POST /api/crm/quote-view record the view and publish `quote-viewed` to the rep, throttled to one
event per 15 s per view (decided in SQL: a storm of concurrent beacons yields one event). The
throttle window is crossed by moving the app's clock (Services.now -> crm_quote_view's p_now),
never by sleeping. Forged, expired and malformed tokens are 401; oversized bodies 413."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from dev.stack import Stack
from lib.features.crm import quotes
from lib.features.crm.quotes import QuoteRef, quote_view
from lib.web import function
from tests.crm.conftest import Place
from tests.crm.crm_support import Ghl, contact_create, new_id, outbox
from tests.messaging.messaging_support import Trpc, data, error
from tests.outbox_support import pusher_js, sql
from tests.support import asgi_client, stack_env, stack_services


async def quote_link(ghl: Ghl, place: Place, api: Callable[[str], Trpc]) -> dict[str, Any]:
    contact = new_id("ct")
    await ghl.send(contact_create(place.location, contact, assigned_to=place.rep))
    link: dict[str, Any] = data(
        await api(place.rep).mutation(
            "crm.quoteLink",
            {"locationId": place.location, "quoteId": new_id("q"), "name": "Kitchen remodel",
             "contactId": contact},
        )
    )  # fmt: skip
    return link


def beacon(token: str, view: str, seconds: float) -> dict[str, Any]:
    return {"token": token, "viewId": view, "timeOnPage": seconds}


def views(stack: Stack, quote: str) -> list[dict[str, Any]]:
    with sql(stack) as conn:
        return conn.execute(
            "select view_id, time_on_page, beacons, events from public.crm_quote_views"
            " where quote_id = %s",
            [quote],
        ).fetchall()


async def test_a_beacon_storm_is_one_event_then_one_more_after_the_window(
    stack: Stack, token, http: httpx.AsyncClient, ghl: Ghl, place: Place, api
):  # noqa: ANN001
    link = await quote_link(ghl, place, api)
    url, mine = f"{stack.api_url}/api/crm/quote-view", f"private-user-{place.rep}"
    assert stack.realtime is not None
    async with pusher_js(
        stack.realtime, auth_endpoint=f"{stack.api_url}/api/realtime/auth", token=token(place.rep)
    ) as js:
        assert (await js.subscribe(mine))["type"] == "subscribed"

        async def send(seconds: int) -> httpx.Response:  # sendBeacon: a text/plain body
            body = json.dumps(beacon(link["token"], "page-view-1", seconds))
            return await http.post(url, content=body, headers={"content-type": "text/plain"})

        answers = await asyncio.gather(*(send(s) for s in range(50)))
        assert {a.status_code for a in answers} == {200}
        assert sum(a.json()["published"] for a in answers) == 1
        first = (await js.expect("event", channel=mine, event="quote-viewed"))["data"]["data"]
        assert (first["quoteName"], first["contactName"]) == ("Kitchen remodel", "Jane Doe")
        assert first["quoteId"] == link["quoteId"] and first["viewId"] == "page-view-1"
        assert set(first) == {"quoteId", "quoteName", "contactName", "viewedAt", "timeOnPage",
                              "viewId"}  # fmt: skip
        [view] = views(stack, link["quoteId"])
        assert (view["beacons"], view["events"], view["time_on_page"]) == (50, 1, 49)

        # the same app, its clock 16 s on: past the window, one more event with the new time
        later = stack_services(stack)
        start = later.now()
        for offset, seconds, published in ((16, 64, True), (20, 68, False), (31, 80, True)):
            moved = later.replace(clock=lambda o=offset: start + timedelta(seconds=o))
            async with asgi_client(function(POST=quote_view, services=moved)) as app:
                answer = await app.post("/api/crm/quote-view", json=beacon(
                    link["token"], "page-view-1", seconds
                ))  # fmt: skip
            assert answer.status_code == 200, answer.text
            assert answer.json()["published"] is published
        second = (await js.expect("event", channel=mine, event="quote-viewed"))["data"]["data"]
        third = (await js.expect("event", channel=mine, event="quote-viewed"))["data"]["data"]
        assert (second["timeOnPage"], third["timeOnPage"]) == (64, 80)
        assert second["viewedAt"] == first["viewedAt"]
    assert len(outbox(stack, mine, "quote-viewed")) == 3
    # another page view of the same quote is its own view: published at once
    again = await http.post(url, json=beacon(link["token"], "page-view-2", 1))
    assert again.json()["published"] is True


async def test_forged_expired_and_malformed_quote_tokens_are_401(
    stack: Stack, http: httpx.AsyncClient, ghl: Ghl, place: Place, api
):  # noqa: ANN001
    link = await quote_link(ghl, place, api)
    url = f"{stack.api_url}/api/crm/quote-view"
    secret = stack_env(stack)["CRM_QUOTE_TOKEN_SECRET"]
    good = quotes.verify(secret, link["token"])
    head, payload, signature = link["token"].split(".")
    other_quote = QuoteRef(quote=new_id("q"), contact=good.contact, location=good.location,
                           expires=good.expires)  # fmt: skip
    forged = {
        "tampered payload": f"{head}.{quotes.mint(secret, other_quote).split('.')[1]}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:-2]}AA",
        "another secret": quotes.mint("x" * 40, good),
        "expired": quotes.mint(
            secret, QuoteRef(good.quote, good.contact, good.location, int(time.time()) - 60)
        ),  # fmt: skip
        "malformed": "v1.nonsense",
        "empty": "",
    }
    for why, bad in forged.items():
        answer = await http.post(url, json=beacon(bad, "view-forged", 3))
        assert answer.status_code == 401, why
        assert answer.json()["error"]["code"] == "UNAUTHORIZED", why
    assert views(stack, good.quote) == []
    assert (await http.post(url, json=beacon(link["token"], "view-real", 3))).status_code == 200


async def test_bad_beacons_are_400_and_oversized_ones_413(
    stack: Stack, http: httpx.AsyncClient, ghl: Ghl, place: Place, api
):  # noqa: ANN001
    link = await quote_link(ghl, place, api)
    url = f"{stack.api_url}/api/crm/quote-view"
    huge = await http.post(url, json={**beacon(link["token"], "view-big-1", 1), "x": "a" * 4000})
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    for body in (b"not json", b"[1]", json.dumps(beacon(link["token"], "short", 1)).encode(),
                 json.dumps(beacon(link["token"], "view-neg-1", -5)).encode()):  # fmt: skip
        answer = await http.post(url, content=body, headers={"content-type": "text/plain"})
        assert answer.status_code == 400, body
    assert (await http.get(url)).status_code == 405


async def test_a_token_is_rate_limited_and_links_are_for_members(
    stack: Stack, http: httpx.AsyncClient, ghl: Ghl, place: Place, api
):  # noqa: ANN001
    link = await quote_link(ghl, place, api)
    url = f"{stack.api_url}/api/crm/quote-view"
    codes = [
        (await http.post(url, json=beacon(link["token"], "view-rate-1", n))).status_code
        for n in range(quotes.RATE_LIMIT + 1)
    ]
    assert codes == [200] * quotes.RATE_LIMIT + [429]
    refused = error(await api(place.outsider).mutation(
        "crm.quoteLink", {"locationId": place.location, "quoteId": new_id("q"), "name": "Deck"}
    ))  # fmt: skip
    assert refused["code"] == "FORBIDDEN"
