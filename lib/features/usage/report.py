"""A Projection as text: the inputs, each plan with its formula, the cheapest that fits."""

from __future__ import annotations

from lib.features.usage.projection import Projection


def render(p: Projection) -> str:
    u = p.usage
    lines = [
        f"Usage: {u.days} day(s) {u.first} .. {u.last} (daily averages; peaks are the highest)",
        f"  publishes {u.publishes:g}/day, deliveries (est.) {u.deliveries:g}/day,"
        f" provider calls {u.provider_calls:g}/day, peak connections {u.peak_connections:g}",
        f"  webhooks {u.webhooks:g}/day (Pusher's own {u.pusher_webhooks:g}),"
        f" invocations {u.invocations:g}/day ({u.invocation_ms:g} ms), cron runs"
        f" {u.cron_runs:g}/day, broker calls {u.broker_calls:g}/day",
        f"  voice minutes { ({k: round(v, 2) for k, v in u.voice_minutes.items()}) }/day,"
        " OpenAI Realtime minutes"
        f" {u.realtime_minutes:g}/day",
        "",
    ]
    for provider in p.providers:
        lines.append(f"{provider.provider}  (prices: {provider.source}; read {provider.read})")
        lines.append("  inputs: " + ", ".join(f"{k}={v:g}" for k, v in provider.inputs.items()))
        for plan in provider.plans:
            mark = "fits" if plan.fits else "no  "
            lines.append(f"  {mark} {plan.plan:<22} ${plan.usd_month:>9,.2f}/mo  {plan.formula}")
        lines.append(f"  cheapest that fits: {provider.cheapest or 'none'}")
        lines.append("")
    lines.append("Free tier at the current growth (least-squares line through daily messages):")
    lines.extend(f"  {name}: {when}" for name, when in p.free_tier.items())
    poll = p.polling
    realtime = "; ".join(f"{name} ${total:,.2f}/mo" for name, total in p.realtime_totals().items())
    lines += [
        "",
        "Polling instead (what the seeds compare against):",
        f"  {poll['formula']}",
        f"  invocations/month {poll['invocations_month']:,.0f}, database reads/month"
        f" {poll['db_reads_month']:,.0f}",
        f"  Vercel: cheapest {poll['cheapest']} at ${poll['usd_month'] or 0:,.2f}/mo",
        f"  Realtime instead: {realtime}",
    ]
    return "\n".join(lines)
