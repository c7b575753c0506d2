"""Usage: what this deployment's traffic costs, measured from its own records, and its health.

rollup.py      the `usage-rollup` cron (hourly): usage_daily from the outbox, presence,
               webhook events, cron runs, broker syncs and calls (migration header:
               20261130920000_usage_daily); invocations come from lib.invocations
prices.json    every price, with its source and the date it was read
projection.py  monthly cost per provider and plan, cheapest that fits, free-tier run-out,
               the polling alternative (pure)
report.py      the projection as text (`make cost`, `python -m lib.features.usage.cost`)
health.py      ops.health and the `ops-health` cron: `system-health` / `system-alert` on
               presence-ops-{admin id} while that operator is subscribed
procedures.py  usage.projection, ops.health (ADMIN_USER_IDS)
"""

from __future__ import annotations

from lib.cron import Cleanup, CronJob
from lib.feature import Feature
from lib.features.usage import health, rollup
from lib.features.usage.events import FAMILIES
from lib.features.usage.procedures import PROCEDURES
from lib.features.usage.settings import UsageSettings
from lib.realtime.channels import ANY_ID, ChannelRule, same_user

FEATURE = Feature(
    name="usage",
    events=FAMILIES,
    procedures=PROCEDURES,
    jobs=(
        CronJob(
            name="usage-rollup",
            run=rollup.run,
            schedule="11 * * * *",
            description="Roll yesterday's and today's usage into usage_daily (peaks sampled).",
        ),
        CronJob(
            name="ops-health",
            run=health.watch,
            schedule="* * * * *",
            description="system-health (and system-alert) to operators watching presence-ops-.",
        ),
    ),
    cleanups=(Cleanup(name="usage_daily", run=rollup.cleanup),),
    channels=(ChannelRule(health.OPS_CHANNEL_PREFIX, ANY_ID, same_user),),
    settings=UsageSettings,
    migration="20261130950000",
    schema=(
        *("usage_daily", "usage_rollup", "usage_daily_list", "usage_daily_cleanup"),
        "usage_peak_sample",
        *("ops_health", "ops_health_publish", "ops_watch"),
    ),
    description="Usage metering, monthly cost projection per provider, live ops health.",
)
