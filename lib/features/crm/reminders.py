"""Appointment reminders without a running process (migration 20261130500600).

Each appointment has a reminder row due 15 minutes before its start. Due rows are claimed
`for update skip locked` and marked in the transaction that queues their
`appointment-reminder` event, so each fires exactly once however many claimers run at once:

- the `crm-reminders` cron (every minute where the plan allows; daily on Vercel Hobby),
- every HighLevel delivery: a processed one inside its processor's transaction
  (private.crm_emit), any other (a duplicate, an ignored type, a failed one) through `fire`
  after it is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.commands import command

if TYPE_CHECKING:
    from lib.services import Services

BATCH = 50
"""Reminders one call claims at most (the rest go with the next call)."""


async def fire(services: Services) -> dict[str, Any]:
    """Claim the due reminders, publish them; {"fired": n}."""
    result = await command(services, "crm_reminders_fire", p_limit=BATCH)
    return {"fired": int(result.get("reminders", 0))}
