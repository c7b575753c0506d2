"""The cost projection from known usage rows: every expected figure is derived here from
prices.json (the one price list), so a changed price moves the projection and these
expectations together — and a projection that ignored the file would fail."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from lib.features.usage import prices as price_list
from lib.features.usage.projection import UsageRow, project
from lib.features.usage.report import render

PRICES = price_list.load()
DAY1 = date(2026, 11, 1)
DAY2 = DAY1 + timedelta(days=1)


def day_rows(day: date, *, publishes: float, deliveries: float, **more: float) -> list[UsageRow]:
    rows = [
        UsageRow(day, "pusher", "events_published", "", publishes),
        UsageRow(day, "pusher", "deliveries_estimated", "", deliveries),
        UsageRow(day, "pusher", "webhooks", "processed", more.get("webhooks", 100)),
        UsageRow(day, "pusher", "peak_connections", "", more.get("peak", 150)),
        UsageRow(day, "vercel", "invocations", "/api/trpc", more.get("invocations", 10_000)),
        UsageRow(day, "vercel", "invocation_ms", "/api/trpc", more.get("ms", 500_000)),
    ]
    if "voice" in more:
        rows.append(UsageRow(day, "twilio", "voice_minutes", "", more["voice"]))
        rows.append(UsageRow(day, "openai", "realtime_minutes", "", more["voice"]))
    return rows


def plan(section: str, name: str) -> dict:
    return next(p for p in PRICES[section]["plans"] if p["name"] == name)


def cheapest_pusher(messages_day: float, connections: float) -> dict:
    fitting = [
        p
        for p in PRICES["pusher"]["plans"]
        if p["messages_day"] >= messages_day and p["connections"] >= connections
    ]
    return min(fitting, key=lambda p: p["usd_month"])


def test_pusher_counts_publishes_deliveries_and_its_webhooks_per_day_against_each_quota():
    rows = day_rows(DAY1, publishes=1_000, deliveries=10_000) + day_rows(
        DAY2, publishes=3_000, deliveries=30_000
    )
    result = project(rows, PRICES)
    pusher = next(p for p in result.providers if p.provider == "pusher")
    messages = 2_000 + 20_000 + 100  # daily averages
    assert pusher.inputs["messages_day"] == messages
    assert pusher.cheapest == cheapest_pusher(messages, 150)["name"]
    sandbox = PRICES["pusher"]["plans"][0]
    assert [p.fits for p in pusher.plans][0] == (
        messages <= sandbox["messages_day"] and sandbox["connections"] >= 150
    )
    # growth: 11,100 then 33,100 messages -> +22,000/day; the line meets the Sandbox quota on
    quota = sandbox["messages_day"]
    days = math.ceil((quota - 33_100) / 22_000)
    assert result.free_tier["pusher Sandbox"].startswith((DAY2 + timedelta(days=days)).isoformat())


def test_supabase_pro_charges_overage_per_million_messages_and_per_thousand_connections():
    pro, free = plan("supabase", "Pro"), plan("supabase", "Free")
    month = PRICES["month_days"]
    per_day = (pro["messages_month"] + 3_000_000) / month  # 3M over the included messages
    peak = pro["connections"] + 1_500  # 1,500 over the included connections
    rows = day_rows(DAY1, publishes=per_day / 10, deliveries=per_day * 9 / 10, peak=peak)
    supabase = next(p for p in project(rows, PRICES).providers if p.provider == "supabase")
    costs = {p.plan: p for p in supabase.plans}
    expected = (
        pro["usd_month"]
        + 3_000_000 / 1e6 * pro["overage_usd_per_million"]
        + math.ceil(1_500 / 1000) * pro["overage_usd_per_1000_connections"]
    )
    assert costs["Pro"].usd_month == round(expected, 2)
    assert not costs["Free"].fits  # no overage on Free
    assert supabase.cheapest == "Pro"
    assert free["messages_month"] < per_day * month


def test_vercel_prices_invocations_cpu_and_memory_and_refuses_hobby_for_minute_crons():
    invocations, ms = 200_000, 200_000 * 120.0
    rows = day_rows(DAY1, publishes=10, deliveries=10, invocations=invocations, ms=ms)
    vercel = next(p for p in project(rows, PRICES).providers if p.provider == "vercel")
    pro, section, month = plan("vercel", "Pro"), PRICES["vercel"], PRICES["month_days"]
    over = invocations * month - pro["invocations_month"]
    hours = ms * month / 3.6e6
    expected = (
        pro["usd_month"]
        + over / 1e6 * pro["usd_per_million_invocations"]
        + hours * section["cpu_share_of_duration"] * pro["usd_per_cpu_hour"]
        + hours * section["memory_gb"] * pro["usd_per_gb_hour"]
    )
    costs = {p.plan: p for p in vercel.plans}
    assert costs["Pro"].usd_month == round(expected, 2)
    assert not costs["Hobby"].fits  # over its invocations, and per-minute crons need Pro
    assert vercel.cheapest == "Pro"


def test_calls_cost_minutes_at_the_voice_and_openai_rates_and_size_the_bridge():
    rows = day_rows(DAY1, publishes=1, deliveries=1, voice=600)
    result = project(rows, PRICES, peak_calls=20)
    month = PRICES["month_days"]
    by_name = {p.provider: p for p in result.providers}
    assert by_name["twilio"].plans[0].usd_month == round(
        600 * month * PRICES["voice"]["usd_per_minute"]["twilio"], 2
    )
    ai = PRICES["openai"]
    per_minute = (
        ai["audio_in_tokens_per_minute"] * ai["usd_per_million_audio_in"]
        + ai["assistant_talk_share"]
        * ai["audio_out_tokens_per_minute"]
        * ai["usd_per_million_audio_out"]
    ) / 1e6
    assert by_name["openai"].plans[0].usd_month == round(600 * month * per_minute, 2)
    big_enough = [m for m in PRICES["fly"]["machines"] if m["calls"] >= 20]
    assert by_name["fly"].cheapest == min(big_enough, key=lambda m: m["usd_month"])["name"]


def test_polling_turns_clients_and_interval_into_invocations_and_reads():
    rows = day_rows(DAY1, publishes=1, deliveries=1, invocations=1_000, ms=1_000)
    poll = project(rows, PRICES, polling_clients=200).polling
    p, month = PRICES["polling"], PRICES["month_days"]
    requests_day = 200 * p["active_hours_per_day"] * 3600 / p["interval_s"]
    assert poll["requests_day"] == requests_day
    assert poll["invocations_month"] == (requests_day + 1_000) * month
    assert poll["db_reads_month"] == requests_day * month * p["db_reads_per_request"]
    text = render(project(rows, PRICES, polling_clients=200))
    assert f"200 clients x {p['active_hours_per_day']} h x 3600 / {p['interval_s']} s" in text


def test_a_changed_price_file_changes_the_projection(tmp_path: Path):
    changed = json.loads(price_list.PRICES.read_text())
    for entry in changed["pusher"]["plans"]:
        entry["usd_month"] *= 2
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(changed))
    rows = day_rows(DAY1, publishes=100_000, deliveries=300_000)
    before = project(rows, PRICES).cheapest("pusher")
    after = project(rows, price_list.load(path)).cheapest("pusher")
    assert before is not None and after is not None
    assert after.usd_month == 2 * before.usd_month


def test_every_price_section_names_its_source_and_the_date_it_was_read(tmp_path: Path):
    for name, section in PRICES.items():
        if isinstance(section, dict):
            assert section["source"] and date.fromisoformat(section["read"]), name
    broken = json.loads(price_list.PRICES.read_text())
    del broken["fly"]["read"]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="fly"):
        price_list.load(path)
