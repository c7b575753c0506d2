"""The CRM event models that `make types` turns into the front end's types
(lib/features/crm/events.py) hold for what the processors really publish: a signed HighLevel
delivery of each kind, then every outbox row it queued validated against the model declared
for its family and name, with no key the model does not declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter

from dev.stack import Stack
from lib.features import BUNDLE
from tests.crm.conftest import Place
from tests.crm.crm_support import (
    Ghl,
    appointment,
    contact_create,
    invoice,
    message,
    new_id,
    opportunity,
    outbox,
    task,
)


def check(family: str, event: str, data: dict[str, Any]) -> None:
    models = next(n for p, n in BUNDLE.events.items() if p.startswith(family))[event]
    errors = []
    for model in models:
        try:
            TypeAdapter(model).validate_python(data)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        fields = set(model.model_fields) if issubclass(model, BaseModel) else set()
        assert set(data) <= fields, f"{event}: keys {set(data) - fields} not in {model.__name__}"
        return
    raise AssertionError(f"{family}{event}: {data} fits no declared model: {errors}")


async def test_every_published_crm_event_fits_its_declared_model(
    stack: Stack, ghl: Ghl, place: Place
):
    loc, rep = place.location, place.rep
    contact, conversation, opp = new_id("ct"), new_id("conv"), new_id("opp")
    await ghl.send(contact_create(loc, contact, assigned_to=rep, source="Website Form - Quote"))
    await ghl.send(message(loc, contact, conversation, "Hello, a quote please"))
    await ghl.send(opportunity(loc, opp, contact, rep))
    await ghl.send(
        opportunity(loc, opp, contact, rep, type="OpportunityStatusUpdate", status="won")
    )
    await ghl.send(invoice(loc, new_id("inv"), contact, amountPaid=1200, total=1200))
    await ghl.send(
        appointment(loc, new_id("apt"), contact, rep, datetime.now(UTC) + timedelta(days=2))
    )
    await ghl.send(task(loc, new_id("task"), contact, rep))

    seen = set()
    for family, channel in (
        ("private-location-", f"private-location-{loc}"),
        ("private-user-", f"private-user-{rep}"),
    ):
        for row in outbox(stack, channel):
            check(family, row["event"], row["data"])
            seen.add(row["event"])
    assert {"lead-alert", "location-message", "project-won", "revenue-update"} <= seen
    assert {"new-message", "project-update", "payment-received", "task-update"} <= seen
    assert "appointment-update" in seen
