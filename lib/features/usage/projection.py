"""Monthly cost per provider and plan from `usage_daily` rows — pure, no I/O.

    project(rows, prices, days=14) -> Projection

The inputs are daily averages over the days the rows cover (a month is `month_days` days),
and every figure comes with the formula that made it, numbers filled in, so an operator can
check the arithmetic:

    pusher     messages/day = publishes + deliveries + Pusher webhooks; a plan fits when that
               is within its daily quota and peak connections within its cap
    ably       messages/month = (publishes + deliveries) x month; included + overage
    supabase   messages/month = (publishes + deliveries) x month; peak connections; overage
    vercel     invocations, GB-hours = ms/3.6e6 x memory, active CPU-hours = GB-hours' wall
               time x cpu share; Hobby only when no cron runs more than daily
    fly        the smallest machine whose call capacity covers the peak concurrent calls
               (average concurrency over the busy hours when no peak is known)
    voice      minutes x price per minute; openai  minutes x tokens per minute x price
    polling    clients x active seconds / interval -> invocations and database reads, priced
               as Vercel Pro

Growth: a least-squares line through the daily message counts; the free tier runs out on the
day the line crosses its quota.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from lib.features.usage.prices import Prices
from lib.features.usage.totals import REALTIME, Usage, UsageRow, runs_out, summarize, trend

__all__ = ["Projection", "UsageRow", "project"]


@dataclass
class PlanCost:
    plan: str
    usd_month: float
    fits: bool
    formula: str


@dataclass
class ProviderProjection:
    provider: str
    inputs: dict[str, float]
    plans: list[PlanCost]
    cheapest: str | None
    source: str
    read: str


@dataclass
class Projection:
    usage: Usage
    providers: list[ProviderProjection]
    free_tier: dict[str, str]
    polling: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "realtime_totals": self.realtime_totals()}

    def cheapest(self, provider: str) -> PlanCost | None:
        for found in self.providers:
            if found.provider == provider:
                fitting = [p for p in found.plans if p.fits]
                return min(fitting, key=lambda p: p.usd_month) if fitting else None
        return None

    def realtime_totals(self) -> dict[str, float]:
        """Per realtime provider: its cheapest fitting plan + Vercel's (what polling replaces)."""
        vercel = self.cheapest("vercel")
        totals = {}
        for name in REALTIME:
            plan = self.cheapest(name)
            if plan is not None and vercel is not None:
                totals[f"{name} {plan.plan} + Vercel {vercel.plan}"] = round(
                    plan.usd_month + vercel.usd_month, 2
                )
        return totals


def _cheapest(plans: list[PlanCost]) -> str | None:
    fitting = [p for p in plans if p.fits]
    return min(fitting, key=lambda p: p.usd_month).plan if fitting else None


def _money(x: float) -> float:
    return round(x, 2)


def pusher(u: Usage, prices: Prices) -> ProviderProjection:
    section = prices["pusher"]
    messages = u.publishes + u.deliveries + u.pusher_webhooks
    plans = []
    for plan in section["plans"]:
        fits = messages <= plan["messages_day"] and u.peak_connections <= plan["connections"]
        plans.append(
            PlanCost(
                plan["name"],
                float(plan["usd_month"]),
                fits,
                f"{u.publishes:g} + {u.deliveries:g} + {u.pusher_webhooks:g} = {messages:g}"
                f" msg/day vs {plan['messages_day']:,}; {u.peak_connections:g} conns vs"
                f" {plan['connections']:,}",
            )
        )
    inputs = {
        "publishes_day": u.publishes,
        "deliveries_day": u.deliveries,
        "pusher_webhooks_day": u.pusher_webhooks,
        "messages_day": messages,
        "peak_connections": u.peak_connections,
    }
    return ProviderProjection(
        "pusher", inputs, plans, _cheapest(plans), section["source"], section["read"]
    )


def _monthly_messages_plans(
    name: str, u: Usage, prices: Prices
) -> tuple[dict[str, float], list[PlanCost]]:
    section = prices[name]
    month = prices["month_days"]
    messages = (u.publishes + u.deliveries) * month
    plans = []
    for plan in section["plans"]:
        extra_msgs = max(0.0, messages - plan["messages_month"])
        extra_conns = max(0.0, u.peak_connections - plan["connections"])
        msg_rate = plan.get("overage_usd_per_million")
        conn_rate = plan.get("overage_usd_per_1000_connections")
        fits = (extra_msgs == 0 or msg_rate is not None) and (
            extra_conns == 0 or conn_rate is not None
        )
        cost = plan["usd_month"]
        formula = f"{plan['usd_month']:g}"
        if extra_msgs and msg_rate is not None:
            cost += extra_msgs / 1e6 * msg_rate
            formula += f" + {extra_msgs:g}/1e6 x {msg_rate:g}"
        if extra_conns and conn_rate is not None:
            cost += math.ceil(extra_conns / 1000) * conn_rate
            formula += f" + ceil({extra_conns:g}/1000) x {conn_rate:g}"
        formula += (
            f" (({u.publishes:g} + {u.deliveries:g}) x {month} = {messages:g} msg/month vs"
            f" {plan['messages_month']:,}; {u.peak_connections:g} conns vs {plan['connections']:,})"
        )
        plans.append(PlanCost(plan["name"], _money(cost), fits, formula))
    inputs = {"messages_month": messages, "peak_connections": u.peak_connections}
    return inputs, plans


def monthly_messages(name: str, u: Usage, prices: Prices) -> ProviderProjection:
    inputs, plans = _monthly_messages_plans(name, u, prices)
    section = prices[name]
    return ProviderProjection(
        name, inputs, plans, _cheapest(plans), section["source"], section["read"]
    )


def vercel_cost(
    invocations_day: float, ms_day: float, prices: Prices, *, crons_more_than_daily: bool
) -> tuple[dict[str, float], list[PlanCost]]:
    section = prices["vercel"]
    month = prices["month_days"]
    invocations = invocations_day * month
    gb_hours = ms_day * month / 3.6e6 * section["memory_gb"]
    cpu_hours = ms_day * month / 3.6e6 * section["cpu_share_of_duration"]
    plans = []
    for plan in section["plans"]:
        cron_ok = not crons_more_than_daily or plan["cron_min_interval_s"] <= 60
        over_inv = max(0.0, invocations - plan["invocations_month"])
        over_cpu = max(0.0, cpu_hours - plan["cpu_hours_month"])
        over_gb = max(0.0, gb_hours - plan["gb_hours_month"])
        if "usd_per_million_invocations" in plan:
            cost = (
                plan["usd_month"]
                + over_inv / 1e6 * plan["usd_per_million_invocations"]
                + over_cpu * plan["usd_per_cpu_hour"]
                + over_gb * plan["usd_per_gb_hour"]
            )
            fits = cron_ok
            formula = (
                f"{plan['usd_month']:g} + {over_inv:g}/1e6"
                f" x {plan['usd_per_million_invocations']:g}"
                f" + {over_cpu:.4g} CPU-h x {plan['usd_per_cpu_hour']:g}"
                f" + {over_gb:.4g} GB-h x {plan['usd_per_gb_hour']:g}"
            )
        else:
            cost = plan["usd_month"]
            fits = cron_ok and not (over_inv or over_cpu or over_gb)
            formula = (
                f"free while {invocations:g} <= {plan['invocations_month']:,} invocations,"
                f" {cpu_hours:.4g} <= {plan['cpu_hours_month']} CPU-h,"
                f" {gb_hours:.4g} <= {plan['gb_hours_month']} GB-h"
                + ("" if cron_ok else "; per-minute crons need Pro")
            )
        plans.append(PlanCost(plan["name"], _money(cost), fits, formula))
    inputs = {
        "invocations_month": invocations,
        "gb_hours_month": gb_hours,
        "cpu_hours_month": cpu_hours,
    }
    return inputs, plans


def vercel(u: Usage, prices: Prices, *, crons_more_than_daily: bool) -> ProviderProjection:
    inputs, plans = vercel_cost(
        u.invocations, u.invocation_ms, prices, crons_more_than_daily=crons_more_than_daily
    )
    section = prices["vercel"]
    return ProviderProjection(
        "vercel", inputs, plans, _cheapest(plans), section["source"], section["read"]
    )


def fly(u: Usage, prices: Prices, *, peak_calls: float | None) -> ProviderProjection:
    section = prices["fly"]
    busy = prices["polling"]["active_hours_per_day"] * 60
    peak = peak_calls if peak_calls is not None else math.ceil(u.realtime_minutes / busy)
    plans = [
        PlanCost(
            m["name"],
            float(m["usd_month"]),
            peak <= m["calls"],
            f"{peak:g} concurrent calls vs {m['calls']} per machine"
            + (
                ""
                if peak_calls is not None
                else f" (ceil({u.realtime_minutes:g} min/day / {busy}))"
            ),
        )
        for m in section["machines"]
    ]
    return ProviderProjection(
        "fly",
        {"peak_calls": float(peak)},
        plans,
        _cheapest(plans),
        section["source"],
        section["read"],
    )


def calls(u: Usage, prices: Prices) -> list[ProviderProjection]:
    month = prices["month_days"]
    out = []
    voice = prices["voice"]
    for provider, minutes in sorted(u.voice_minutes.items()):
        rate = voice["usd_per_minute"].get(provider, 0.0)
        cost = minutes * month * rate
        out.append(
            ProviderProjection(
                provider,
                {"voice_minutes_month": minutes * month},
                [PlanCost("per minute", _money(cost), True, f"{minutes:g} x {month} x {rate:g}")],
                "per minute",
                voice["source"],
                voice["read"],
            )
        )
    ai = prices["openai"]
    per_minute = (
        ai["audio_in_tokens_per_minute"] * ai["usd_per_million_audio_in"]
        + ai["assistant_talk_share"]
        * ai["audio_out_tokens_per_minute"]
        * ai["usd_per_million_audio_out"]
    ) / 1e6
    minutes = u.realtime_minutes * month
    out.append(
        ProviderProjection(
            "openai",
            {"realtime_minutes_month": minutes, "usd_per_minute": per_minute},
            [
                PlanCost(
                    "gpt-realtime",
                    _money(minutes * per_minute),
                    True,
                    f"{minutes:g} min x ({ai['audio_in_tokens_per_minute']} x"
                    f" {ai['usd_per_million_audio_in']:g} + {ai['assistant_talk_share']:g} x"
                    f" {ai['audio_out_tokens_per_minute']} x"
                    f" {ai['usd_per_million_audio_out']:g})/1e6",
                )
            ],
            "gpt-realtime",
            ai["source"],
            ai["read"],
        )
    )
    return out


def polling(
    u: Usage, prices: Prices, *, clients: float | None, crons_more_than_daily: bool
) -> dict[str, Any]:
    """The same app polling instead of subscribing: every client asks every `interval_s`
    while its page is open, on top of the invocations (and crons) the app has anyway; no
    realtime provider to pay."""
    p = prices["polling"]
    month = prices["month_days"]
    n = clients if clients is not None else u.peak_connections
    requests_day = n * p["active_hours_per_day"] * 3600 / p["interval_s"]
    inputs, plans = vercel_cost(
        u.invocations + requests_day,
        u.invocation_ms + requests_day * p["duration_ms_per_request"],
        prices,
        crons_more_than_daily=crons_more_than_daily,
    )
    return {
        "clients": n,
        "interval_s": p["interval_s"],
        "active_hours_per_day": p["active_hours_per_day"],
        "formula": f"{n:g} clients x {p['active_hours_per_day']} h x 3600 / {p['interval_s']} s"
        f" = {requests_day:g} requests/day, + {u.invocations:g} the app makes anyway",
        "requests_day": requests_day,
        "invocations_month": inputs["invocations_month"],
        "db_reads_month": requests_day * month * p["db_reads_per_request"],
        "vercel": [asdict(plan) for plan in plans],
        "cheapest": _cheapest(plans),
        "usd_month": min((pl.usd_month for pl in plans if pl.fits), default=None),
        "gb_hours_month": inputs["gb_hours_month"],
        "cpu_hours_month": inputs["cpu_hours_month"],
    }


def project(
    rows: Iterable[UsageRow],
    prices: Prices,
    *,
    crons_more_than_daily: bool = True,
    peak_calls: float | None = None,
    polling_clients: float | None = None,
) -> Projection:
    u = summarize(rows)
    providers = [
        pusher(u, prices),
        monthly_messages("ably", u, prices),
        monthly_messages("supabase", u, prices),
        vercel(u, prices, crons_more_than_daily=crons_more_than_daily),
    ]
    if u.realtime_minutes or u.voice_minutes or peak_calls:
        providers.append(fly(u, prices, peak_calls=peak_calls))
        providers.extend(calls(u, prices))
    today, slope = trend(u.daily_messages)
    month = prices["month_days"]
    deliveries_share = (u.publishes + u.deliveries) / max(
        u.publishes + u.deliveries + u.pusher_webhooks, 1e-9
    )
    free_tier = {
        "pusher Sandbox": runs_out(
            u.last, today, slope, prices["pusher"]["plans"][0]["messages_day"]
        ),
        "supabase Free": runs_out(
            u.last,
            today * deliveries_share,
            slope * deliveries_share,
            prices["supabase"]["plans"][0]["messages_month"] / month,
        ),
    }
    return Projection(
        u,
        providers,
        free_tier,
        polling(u, prices, clients=polling_clients, crons_more_than_daily=crons_more_than_daily),
    )
