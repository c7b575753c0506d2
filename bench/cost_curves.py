"""Monthly cost vs users, per realtime provider (plus Vercel) and for polling, from each seed's
per-user load (bench.workloads.SEEDS) and prices.json — computed, not measured.

    python -m bench.cost_curves [--no-write]

A seed's day is divided by its concurrent users and multiplied back up for each user count;
every point is lib.features.usage.projection on that day's usage, so the curves move with the
price list. Writes docs/img/cost-vs-users.png and its table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from datetime import date

from bench import plots
from bench.docs_section import DATE, ROOT, replace_section
from bench.workloads import SEEDS, Seed, polling_prices
from lib.features.usage.projection import Projection, UsageRow, project

USERS = (10, 30, 100, 300, 1_000, 3_000, 10_000)
PANELS = ("messaging", "crm")
IMAGE = ROOT / "docs" / "img" / "cost-vs-users.png"
DAY = date(2001, 1, 1)


def usage_for(seed: Seed, users: int) -> list[UsageRow]:
    k = users / seed.concurrent
    publishes = sum(c.channels * c.events_per_channel for c in seed.channels) * k
    deliveries = sum(c.channels * c.events_per_channel * c.subscribers for c in seed.channels) * k
    rows = [
        UsageRow(DAY, "pusher", "events_published", "", publishes),
        UsageRow(DAY, "pusher", "deliveries_estimated", "", deliveries),
        UsageRow(DAY, "pusher", "peak_connections", "", users),
        UsageRow(DAY, "vercel", "invocations", "/api/trpc", seed.invocations * k),
        UsageRow(DAY, "vercel", "invocation_ms", "/api/trpc", seed.invocation_ms * k),
    ]
    rows += [
        UsageRow(DAY, provider, "webhooks", "processed", count * k)
        for provider, count in seed.webhooks.items()
    ]
    return rows


def point(seed: Seed, users: int) -> Projection:
    return project(usage_for(seed, users), polling_prices(seed), polling_clients=users)


def curves(seed: Seed) -> dict[str, list[tuple[int, float]]]:
    lines: dict[str, list[tuple[int, float]]] = {}
    for users in USERS:
        p = point(seed, users)
        vercel = p.cheapest("vercel")
        for name in ("pusher", "supabase", "ably"):
            plan = p.cheapest(name)
            if plan is not None and vercel is not None:
                lines.setdefault(f"{name} + Vercel", []).append(
                    (users, plan.usd_month + vercel.usd_month)
                )
        if p.polling["usd_month"] is not None:
            lines.setdefault("polling (Vercel)", []).append((users, p.polling["usd_month"]))
    return lines


def section(all_curves: dict[str, dict[str, list[tuple[int, float]]]], image: str) -> str:
    lines = [
        "## Monthly cost vs users: realtime providers vs polling (computed)",
        "",
        f"date {DATE}; prices.json as read on the dates it names; each seed's day "
        "(bench.workloads) scaled per concurrent user; polling at the seed's interval "
        "(bench.workloads.polling_prices) while the page is open.",
        "",
        f"![monthly cost vs users]({image})",
        "",
    ]
    for title, by_line in all_curves.items():
        labels = list(by_line)
        lines += [
            f"**{title}** (USD/month)",
            "",
            "| users | " + " | ".join(labels) + " | polling / cheapest realtime |",
            "|---" * (len(labels) + 2) + "|",
        ]
        for users in USERS:
            costs = {label: dict(by_line[label]).get(users) for label in labels}
            cells = [f"{c:,.2f}" if c is not None else "-" for c in costs.values()]
            realtime = [c for label, c in costs.items() if c and not label.startswith("polling")]
            poll = costs.get("polling (Vercel)")
            share = f"{poll / min(realtime):.1f}x" if poll and realtime else "-"
            lines.append(f"| {users:,} | " + " | ".join(cells) + f" | {share} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="plot to .data/bench only")
    args = parser.parse_args(argv)
    seeds = {s.name: s for s in SEEDS}
    all_curves = {f"{name} seed": curves(seeds[name]) for name in PANELS}
    image = ROOT / ".data" / "bench" / "cost-vs-users.png" if args.no_write else IMAGE
    print(f"plotted {plots.cost_curves(all_curves, image)}")
    text = section(all_curves, "img/cost-vs-users.png")
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('cost-curves', text)}")


if __name__ == "__main__":
    main()
