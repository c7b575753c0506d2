"""Daily usage rows -> daily averages (Usage), and the growth line through them — pure.

summarize(rows)                 the window's daily averages; peaks are its highest
trend(points)                   least squares: (value on the last day, growth per day)
runs_out(last, value, slope, q) the day the line reaches a daily quota
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

REALTIME = ("pusher", "supabase", "ably")


@dataclass(frozen=True)
class UsageRow:
    day: date
    provider: str
    metric: str
    dimension: str
    value: float

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> UsageRow:
        day = row["day"]
        return cls(
            day=day if isinstance(day, date) else date.fromisoformat(str(day)),
            provider=str(row["provider"]),
            metric=str(row["metric"]),
            dimension=str(row.get("dimension") or ""),
            value=float(row["value"]),
        )


@dataclass
class Usage:
    """Daily averages over the window (peaks are the window's highest)."""

    days: int
    first: date | None
    last: date | None
    publishes: float = 0.0
    deliveries: float = 0.0
    provider_calls: float = 0.0
    pusher_webhooks: float = 0.0
    webhooks: float = 0.0
    peak_connections: float = 0.0
    invocations: float = 0.0
    invocation_ms: float = 0.0
    cron_runs: float = 0.0
    broker_calls: float = 0.0
    voice_minutes: dict[str, float] = field(default_factory=dict)
    realtime_minutes: float = 0.0
    daily_messages: list[tuple[date, float]] = field(default_factory=list)
    """Pusher-counted messages per day (publishes + deliveries + Pusher webhooks), for growth."""


def summarize(rows: Iterable[UsageRow]) -> Usage:
    rows = list(rows)
    days_seen = sorted({r.day for r in rows})
    n = max(len(days_seen), 1)
    usage = Usage(
        days=len(days_seen),
        first=days_seen[0] if days_seen else None,
        last=days_seen[-1] if days_seen else None,
    )
    per_day: dict[date, float] = dict.fromkeys(days_seen, 0.0)
    for r in rows:
        realtime = r.provider in REALTIME
        if realtime and r.metric == "events_published":
            usage.publishes += r.value / n
            per_day[r.day] += r.value
        elif realtime and r.metric == "deliveries_estimated":
            usage.deliveries += r.value / n
            per_day[r.day] += r.value
        elif realtime and r.metric == "provider_calls":
            usage.provider_calls += r.value / n
        elif realtime and r.metric == "peak_connections":
            usage.peak_connections = max(usage.peak_connections, r.value)
        elif r.metric == "webhooks":
            usage.webhooks += r.value / n
            if r.provider == "pusher":
                usage.pusher_webhooks += r.value / n
                per_day[r.day] += r.value
        elif r.provider == "vercel" and r.metric == "invocations":
            usage.invocations += r.value / n
        elif r.provider == "vercel" and r.metric == "invocation_ms":
            usage.invocation_ms += r.value / n
        elif r.provider == "vercel" and r.metric == "cron_runs":
            usage.cron_runs += r.value / n
        elif r.metric == "api_calls":
            usage.broker_calls += r.value / n
        elif r.metric == "voice_minutes":
            usage.voice_minutes[r.provider] = usage.voice_minutes.get(r.provider, 0) + r.value / n
        elif r.provider == "openai" and r.metric == "realtime_minutes":
            usage.realtime_minutes += r.value / n
    usage.daily_messages = sorted(per_day.items())
    return usage


def trend(points: list[tuple[date, float]]) -> tuple[float, float]:
    """Least-squares (value on the last day, growth per day) of the daily series."""
    if not points:
        return 0.0, 0.0
    if len(points) == 1:
        return points[0][1], 0.0
    xs = [(d - points[0][0]).days for d, _ in points]
    ys = [v for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my + slope * (xs[-1] - mx), slope


def runs_out(last: date | None, today_value: float, slope: float, quota: float) -> str:
    """When the trend line reaches `quota` per day: a date, 'already over' or 'not at this
    growth'."""
    if last is None:
        return "no usage recorded"
    if today_value >= quota:
        return f"already over ({today_value:g}/day vs {quota:g})"
    if slope <= 0:
        return f"not at this growth ({today_value:g}/day, {slope:+g}/day vs {quota:g})"
    days = math.ceil((quota - today_value) / slope)
    return (
        f"{(last + timedelta(days=days)).isoformat()} (in {days} days: {today_value:g}/day"
        f" {slope:+g}/day vs {quota:g})"
    )
